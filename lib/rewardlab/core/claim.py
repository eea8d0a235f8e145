"""What a pre-registered claim declares (one per contrast); each paper idea declares its own in its
``claims`` module, and :mod:`rewardlab.reporting.claims` evaluates them all into ``claims.json``."""

from __future__ import annotations

from dataclasses import dataclass

DIRECTIONS = ("higher", "lower", "equal", "not higher")
GOLD_MARGIN = (0.05, "VADER's neutral band, on whose compound scale the reader scores: its authors call a text "
                     "positive at compound ≥ 0.05 and negative at ≤ −0.05, so a gold difference under 0.05 is below "
                     "the judge's smallest step of sentiment")


@dataclass(frozen=True)
class Claim:
    """One pre-registered claim: what the paper says and the one contrast that answers it here."""

    id: str
    paper: str
    words: str  # the paper's claim as it reports it
    notebook: str  # stem of the notebook whose metrics answer it
    contrast: str  # the arms in words, "a − b"
    metric: str  # what is measured, with the step or budget (``{key}`` is filled from the metrics)
    # "higher", "lower" (a − b is claimed above / below 0), "equal" (the paper says they match) or "not higher"
    # (non-inferiority where lower is better: a − b is claimed below +margin, a is not worse by more than the margin)
    direction: str
    unit: str  # the unit of replication
    margin: float  # equivalence margin around 0, in the metric's units
    margin_reason: str
    arm: tuple  # key path of the arm's per-unit values in ``metrics``
    baseline: tuple | float  # key path of per-unit values (paired), of one number, or a number

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"claim {self.id}: direction {self.direction!r} is not one of {DIRECTIONS}")
        if not self.margin > 0:
            raise ValueError(f"claim {self.id}: margin must be > 0 (an equivalence needs a width)")

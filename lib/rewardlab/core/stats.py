"""Intervals, Holm's correction and the verdict rule: the only statistics the notebooks and the summary use.

Hand-written around scipy because the pieces must fit one rule: every interval here is computed
at an explicit confidence level, so that Holm's step-down test and the interval a verdict reads
can never disagree.

**Intervals** (level L = 1 − α):

* mean of n replicates x_i:  x̄ ± t_{n−1, 1−α/2} · s / √n, with s the sample standard deviation
  (Student t; with 3 seeds t_{2, 0.975} = 4.30, not the normal 1.96);
* paired difference of two arms measured on the same units (seeds): the interval above on
  d_i = a_i − b_i;
* a statistic that is not a mean (a Spearman correlation, a win rate over pooled items): the
  percentile bootstrap of scipy (``scipy.stats.bootstrap``), resampling units, seeded.

**p-values** behind a verdict: the two-sided one-sample t test of d = 0 for a directional claim;
for a claim of *equality* the two one-sided tests against ±margin (TOST), reported as
2·max(p₋, p₊) so that, like the two-sided test, p < α exactly when the level-(1 − α) interval lies
inside (−margin, +margin); for *not higher* the one-sided test of d < +margin, doubled, so that
p < α exactly when the level-(1 − α) interval ends below +margin.

**Holm** across the m primary contrasts of one notebook: sort the p-values, p₍₁₎ ≤ … ≤ p₍ₘ₎;
the k-th is tested at α/(m − k + 1) while every earlier one was rejected; from the first
non-rejection on, every later contrast is tested at that same level. Each contrast's interval is
taken at its level, 1 − α/(m − k + 1), so the interval excludes 0 exactly when Holm rejects.

**Verdict** from an interval [low, high] (at the level Holm gave it) and a margin m ≥ 0:

* claimed direction *higher*: **reproduced** when low > 0; **opposite** when high < 0;
* claimed direction *lower*: the mirror image;
* either direction: otherwise **equivalent** when −m < low and high < m (the difference is
  smaller than the margin), else **not resolved**. A sign that is established wins over
  equivalence (an interval inside (0, m) is "reproduced");
* claimed *equality* (the paper says two things match): **equivalent** when −m < low and high < m
  (the claim holds); **opposite** when low > m or high < −m (they differ by more than the
  margin); else **not resolved**;
* claimed *not higher* (non-inferiority on a metric where lower is better: a is not worse than b
  by more than m): **reproduced** when high < m; **opposite** when low > m; else **not resolved**.

Inequalities are strict: an interval touching 0 has not established a sign, and one touching
the margin is not inside it.

**Power line**: the half-width reached, (high − low)/2, and the units a contrast would need
(:mod:`rewardlab.core.power`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as sps

from rewardlab.core.claim import DIRECTIONS

ALPHA = 0.05
VERDICTS = ("reproduced", "opposite", "equivalent", "not resolved")


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval at ``level``, the number of units, and how it was taken."""

    estimate: float
    low: float
    high: float
    n: int
    level: float
    method: str  # "t", "paired t" or "bootstrap"
    sd: float = float("nan")  # standard deviation of the units (of the differences when paired)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _finite(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{name} is empty; record at least one replicate")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds {int(np.sum(~np.isfinite(array)))} non-finite value(s); "
                         "drop the failed replicates explicitly before computing an interval")
    return array


def t_interval(values, level: float = 1 - ALPHA, name: str = "values") -> Interval:
    """Mean and Student-t interval of replicates: x̄ ± t_{n−1, (1+L)/2} · s/√n (NaN bounds for n < 2)."""
    x = _finite(values, name)
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, float("nan"), float("nan"), 1, level, "t")
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf((1 + level) / 2, x.size - 1)) * sd / math.sqrt(x.size)
    return Interval(mean, mean - half, mean + half, int(x.size), level, "t", sd)


def paired_t_interval(a, b, level: float = 1 - ALPHA) -> Interval:
    """Mean difference a − b over units measured in both arms, with its Student-t interval.

    ``a[i]`` and ``b[i]`` must be the same unit (the same seed); ``b`` may also be a single number
    (a fixed reference such as the SFT policy's value), then this is the t interval of a − b.
    """
    a = _finite(a, "arm")
    paired = np.ndim(b) > 0
    b = _finite(b, "baseline") if paired else np.full_like(a, float(b))
    if a.shape != b.shape:
        raise ValueError(f"paired arms need the same units: {a.size} values against {b.size}")
    interval = t_interval(a - b, level, "differences")
    return Interval(**{**asdict(interval), "method": "paired t" if paired else "t"})


def bootstrap_interval(statistic: Callable, *samples, level: float = 1 - ALPHA, n_resamples: int = 9999,
                       seed: int = 0, paired: bool = True) -> Interval:
    """``statistic(*samples)`` with its percentile-bootstrap interval (scipy), resampling units.

    ``paired``: the samples are columns of the same units (resampled together), as for a Spearman
    correlation between two measurements of each unit. Seeded: the same call gives the same interval.
    """
    arrays = [_finite(s, f"sample {i}") for i, s in enumerate(samples)]
    if paired and len({a.size for a in arrays}) > 1:
        raise ValueError(f"paired samples need the same units, got sizes {[a.size for a in arrays]}")
    estimate = float(statistic(*arrays))
    result = sps.bootstrap(tuple(arrays), statistic, paired=paired, vectorized=False, confidence_level=level,
                           n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Interval(estimate, low, high, int(arrays[0].size), level, "bootstrap", float(result.standard_error))


def p_value(interval_values, direction: str, margin: float = 0.0) -> float:
    """The p-value of the test behind a verdict on units' differences (module doc): two-sided t test
    of mean 0 for a directional claim, 2·max of the TOST one-sided p-values for a claim of equality."""
    d = _finite(interval_values, "differences")
    check_direction(direction)
    if d.size < 2:
        return float("nan")
    if float(d.std(ddof=1)) == 0.0:
        mean = float(d.mean())
        if direction == "equal":
            return 0.0 if abs(mean) < margin else 1.0
        if direction == "not higher":
            return 0.0 if mean < margin else 1.0
        return 0.0 if mean != 0 else 1.0
    if direction == "equal":
        p_low = sps.ttest_1samp(d, -margin, alternative="greater").pvalue
        p_high = sps.ttest_1samp(d, margin, alternative="less").pvalue
        return float(min(1.0, 2 * max(p_low, p_high)))
    if direction == "not higher":
        return float(min(1.0, 2 * sps.ttest_1samp(d, margin, alternative="less").pvalue))
    return float(sps.ttest_1samp(d, 0.0).pvalue)


def holm_levels(p_values: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """The confidence level of each contrast's interval under Holm's step-down procedure (module doc).

    A NaN p-value (a contrast that could not be tested) is ordered last. One contrast: 1 − alpha.
    """
    p = np.asarray([np.inf if (v is None or not np.isfinite(v)) else v for v in p_values], dtype=float)
    m = p.size
    levels = [float("nan")] * m
    tested_at = None
    for k, index in enumerate(np.argsort(p, kind="stable")):
        threshold = alpha / (m - k) if tested_at is None else tested_at
        levels[index] = 1 - threshold
        if tested_at is None and not p[index] < threshold:  # strict: p = α is an interval touching 0
            tested_at = threshold  # the first non-rejection: every later contrast is tested at this level
    return levels


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: max over earlier ranks of (m − k + 1)·p₍ₖ₎, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted, running = np.empty_like(p), 0.0
    for k, index in enumerate(order):
        running = max(running, min(1.0, (p.size - k) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is not one of {DIRECTIONS}")


def verdict(low: float, high: float, direction: str, margin: float) -> str:
    """The four-outcome rule of the module doc for the interval [low, high] of a contrast."""
    check_direction(direction)
    if not (margin >= 0):
        raise ValueError(f"margin must be >= 0, got {margin}")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "not resolved"
    inside = -margin < low and high < margin
    if direction == "not higher":
        return "reproduced" if high < margin else "opposite" if low > margin else "not resolved"
    if direction == "equal":
        if inside:
            return "equivalent"
        return "opposite" if (low > margin or high < -margin) else "not resolved"
    claimed_side = low > 0 if direction == "higher" else high < 0
    other_side = high < 0 if direction == "higher" else low > 0
    if claimed_side:
        return "reproduced"
    if other_side:
        return "opposite"
    return "equivalent" if inside else "not resolved"


def t_half_width(sd, n, level: float = 1 - ALPHA) -> np.ndarray:
    """Elementwise half-width t_{n−1, (1+L)/2} · sd / √n, for bands over steps; 0 where n < 2 (no band)."""
    sd, n = np.asarray(sd, dtype=float), np.asarray(n, dtype=float)
    dof = np.where(n > 1, n - 1, 1.0)
    half = sps.t.ppf((1 + level) / 2, dof) * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1.0))
    return np.where(n > 1, half, 0.0)


def mean_interval(values, level: float = 1 - ALPHA) -> tuple[float, float]:
    """(mean, half-width) of the Student-t interval, for tables and bands; NaN half-width for n < 2.
    NaN values (a seed that never reached a threshold) are dropped."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    interval = t_interval(x, level)
    return interval.estimate, interval.half_width


def format_pm(values, digits: int = 3, level: float = 1 - ALPHA) -> str:
    """'mean ± half-width' of the t interval (just the mean for one replicate)."""
    mean, half = mean_interval(values, level)
    return f"{mean:+.{digits}f} ± {half:.{digits}f}" if math.isfinite(half) else f"{mean:+.{digits}f}"


def per_unit(frame, column: str, arms=None, arm_column: str = "method", unit_column: str = "seed") -> dict:
    """``{arm: [value per unit, in unit order]}`` from a long table with one row per arm and unit: the
    per-seed values a metrics file keeps for every arm that enters a contrast. Arms whose units
    differ are refused (a paired contrast needs the same seeds)."""
    arms = list(dict.fromkeys(frame[arm_column])) if arms is None else list(arms)
    values, units = {}, None
    for arm in arms:
        rows = frame[frame[arm_column] == arm].sort_values(unit_column)
        if units is None:
            units = rows[unit_column].tolist()
        elif rows[unit_column].tolist() != units:
            raise ValueError(f"arm {arm!r} has units {rows[unit_column].tolist()}, the first arm {units}; "
                             "run every arm on the same seeds")
        values[str(arm)] = [float(v) for v in rows[column]]
    return values

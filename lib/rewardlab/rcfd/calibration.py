"""Reward calibration from demonstrations (RCfD; Rita et al. 2024, arXiv 2404.19409).

Standard RLHF maximises R(x, y). RCfD instead rewards the policy for matching the reward of a
demonstration y_d written for the same prompt x:

    R_CfD(x, y) = - sum_k ( (R_k(x, y) - R_k(x, y_d)) / sigma_k )^2

with one term per reward R_k (a reward model, a length, ...). Each term is *calibrated* (its
distance to the demonstration's value), *whitened* (divided by sigma_k, the spread of R_k over
the demonstrations, so terms in different units weigh the same and rescaling one term changes
nothing; the mean of a z-score cancels in the difference) and the terms are *summed*. With one
term this is the paper's -(R(x, y) - R(x, y_d))^2 up to the constant 1/sigma^2. Its maximum is
at the demonstration's reward, not beyond it, so exploiting the reward model past what people
write is not paid; PPO runs it with beta = 0 (no KL sweep).

Targets. A prompt with several demonstrations is calibrated against their mean reward: since
E_d (R - R_d)^2 = (R - mean_d R_d)^2 + Var_d R_d, this is the objective of drawing one
demonstration at random, without that noise. ``target="constant"`` is the ablation that shows
what the calibration per prompt adds: every prompt's target is the mean over all demonstrations. Demonstrations are cut to ``max_words`` (the
policy's response budget) so the policy can reach their length and reward.

Written here: TRL's trainers maximise a given reward; none calibrates against demonstrations.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


RewardTerm = Callable[[Sequence[str], Sequence[str]], np.ndarray]  # (prompts, responses) -> one value each


def calibrated_reward(values, targets, scales) -> np.ndarray:
    """-sum_k ((values[:, k] - targets[:, k]) / scales[k])^2 for arrays [N, K] (a 1-D array is K = 1)."""
    values, targets = np.atleast_2d(np.asarray(values, float).T).T, np.atleast_2d(np.asarray(targets, float).T).T
    scales = np.atleast_1d(np.asarray(scales, float))
    if values.shape != targets.shape or values.shape[1] != scales.shape[0]:
        raise ValueError(f"values {values.shape}, targets {targets.shape} and scales {scales.shape} must agree: "
                         "[responses, terms], [responses, terms], [terms]")
    if not np.all(scales > 0):
        raise ValueError(f"scales must be > 0, got {scales}")
    return -(((values - targets) / scales) ** 2).sum(axis=1)


def length_term(prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
    """|y|: the response's length in words."""
    return np.array([len(r.split()) for r in responses], dtype=float)


def truncate_words(texts: Sequence[str], max_words: int | None) -> list[str]:
    """Each text cut to its first ``max_words`` words (unchanged when None)."""
    return [" ".join(t.split()[:max_words]) if max_words else t for t in texts]


def positive_demonstrations(prompts: Sequence[str], demonstrations: Sequence[str], gold_fn: Callable,
                            threshold: float, max_words: int | None = None) -> tuple[list[str], list[str]]:
    """The (prompt, demonstration) pairs whose demonstration, cut to ``max_words``, the gold judge
    scores >= ``threshold``: the demonstrations of a "write a positive review" task (Rita et al.
    calibrate IMDb sentiment against positive reviews). Raises when none is left."""
    cut = truncate_words(demonstrations, max_words)
    keep = np.flatnonzero(np.asarray(gold_fn(cut), dtype=float) >= threshold)
    if keep.size == 0:
        raise ValueError(f"no demonstration scores >= {threshold} under the gold judge; lower rcfd.positive_threshold")
    return [prompts[i] for i in keep], [demonstrations[i] for i in keep]


class CalibratedReward:
    """R_CfD as a PPO reward function: ``reward(prompts, responses)`` -> one scalar per response.

    ``terms`` maps a name to a :data:`RewardTerm`; ``prompts``/``demonstrations`` are the aligned
    columns of the training data. Built once: every term scores every demonstration, giving
    ``demo_values`` [D, K], the per-prompt ``targets`` and the whitening ``scales``. ``target="constant"``
    calibrates every prompt, seen or not, against the mean over all demonstrations instead.
    """

    def __init__(self, terms: dict[str, RewardTerm], prompts: Sequence[str], demonstrations: Sequence[str],
                 max_words: int | None = None, target: str = "prompt"):
        if target not in ("prompt", "constant"):
            raise ValueError(f"target must be 'prompt' (each prompt's demonstrations) or 'constant' (all of them), "
                             f"got {target!r}")
        if not terms:
            raise ValueError("CalibratedReward needs at least one reward term, e.g. {'reward_model': ...}")
        if len(prompts) != len(demonstrations) or not prompts:
            raise ValueError(f"got {len(prompts)} prompts and {len(demonstrations)} demonstrations; pass the two "
                             "aligned, non-empty columns of the training split")
        self.target = target
        self.names = list(terms)
        self.terms = dict(terms)
        self.demonstrations = truncate_words(demonstrations, max_words)
        self.demo_values = self._values(list(prompts), self.demonstrations, "demonstration")
        self.scales = self.demo_values.std(axis=0)
        for name, scale in zip(self.names, self.scales):
            if not scale > 0:
                raise ValueError(f"term {name!r} has the same value for every demonstration, so it cannot be "
                                 "whitened; drop it, or use demonstrations that vary in it")
        self.targets: dict[str, np.ndarray] = {}
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(prompt, []).append(i)
        for prompt, rows in groups.items():
            self.targets[prompt] = self.demo_values[rows].mean(axis=0)

    def _values(self, prompts: list[str], responses: list[str], what: str) -> np.ndarray:
        columns = []
        for name in self.names:
            values = np.asarray(self.terms[name](prompts, responses), dtype=float)
            if values.shape != (len(responses),) or not np.all(np.isfinite(values)):
                raise ValueError(f"term {name!r} must return one finite value per {what}; got shape {values.shape}"
                                 f" with {np.sum(~np.isfinite(values))} non-finite")
            columns.append(values)
        return np.stack(columns, axis=1)

    def target_values(self, prompts: Sequence[str]) -> np.ndarray:
        """The demonstrations' mean value of each term for each prompt, [N, K] (all demonstrations' mean when
        ``target="constant"``)."""
        if self.target == "constant":
            return np.tile(self.demo_values.mean(axis=0), (len(prompts), 1))
        missing = [p for p in prompts if p not in self.targets]
        if missing:
            raise KeyError(f"prompt {missing[0]!r} has no demonstration ({len(missing)} such prompts); train on "
                           "the prompts the calibration was built from")
        return np.stack([self.targets[p] for p in prompts])

    def components(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The raw term values R_k(x, y) of the responses, [N, K]."""
        return self._values(list(prompts), list(responses), "response")

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return calibrated_reward(self.components(prompts, responses), self.target_values(prompts), self.scales)

"""Reward-robust RLHF (Yan et al. 2024): PPO against a mix of a BRME's nominal reward and its worst head.

A trained BRME (:mod:`rewardlab.brme.ensemble`) gives, for each response, K Gaussian heads (mu_k, sigma_k).
Yan et al. optimise a mix of the nominal reward and the worst reward in the uncertainty set:

    R_robust(x, y) = w * r_nominal(x, y) + (1 - w) * min_k mu_k(x, y),
    r_nominal = mu_{k*},  k* = argmin_k sigma_k    (the most confident head)

``nominal_weight`` is w: **1 is standard (nominal) RLHF, 0 is pure worst-case optimisation**;
the paper finds the pure worst case over-conservative and a mix steadier than either end. PPO's
KL term to the SFT policy is added by the trainer as usual.

For comparison, the uncertainty-penalised reward of Coste et al. (2024, uncertainty-weighted
optimisation):  R_UWO = mean_k mu_k - penalty * std_k mu_k.

Each is a sequence-level reward (one scalar per response, paid on the final action).

An imperfect reward model. Notebook 10 also trains a BRME one of whose heads learned from labels of
which ``robust.label_flip`` were flipped (:func:`rewardlab.brme.training.load_brme`, ``noisy_heads``): a
noisier annotator, as real reward models have, rather than a negated head (an adversary).
Written here: no library turns a multi-head reward ensemble into a PPO reward.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.brme.ensemble import (
    head_predictions,
    nominal_reward,
    uncertainty_penalised_reward,
    worst_head_reward,
)


def _check_nominal_weight(nominal_weight: float) -> None:
    if not 0.0 <= nominal_weight <= 1.0:
        raise ValueError(f"nominal_weight must lie in [0, 1] (1 = nominal RLHF, 0 = worst head), got {nominal_weight}")


def robust_reward(mu: np.ndarray, sigma: np.ndarray, nominal_weight: float) -> np.ndarray:
    """w * mu_{argmin sigma} + (1 - w) * min_k mu_k per row of [N, K] heads; w = ``nominal_weight`` in [0, 1]."""
    _check_nominal_weight(nominal_weight)
    return nominal_weight * nominal_reward(mu, sigma) + (1.0 - nominal_weight) * worst_head_reward(mu)


class BRMEReward:
    """A PPO reward function from a BRME: ``reward(prompts, responses)`` -> one scalar per response.

    Give exactly one of ``nominal_weight`` (the robust mix above) or ``penalty`` (mean - penalty * std).
    ``last_heads`` keeps the (mu, sigma) of the latest call, for logging the spread of the heads.
    """

    def __init__(self, brme, tokenizer, *, nominal_weight: float | None = None, penalty: float | None = None,
                 batch_size: int = 256):
        if (nominal_weight is None) == (penalty is None):
            raise ValueError("give exactly one of nominal_weight= (robust mix: 1 nominal, 0 worst head) or "
                             "penalty= (mean - penalty * std of the heads)")
        if nominal_weight is not None:
            _check_nominal_weight(nominal_weight)
        if penalty is not None and penalty < 0:
            raise ValueError(f"penalty must be >= 0, got {penalty}")
        self.brme, self.tokenizer, self.batch_size = brme, tokenizer, batch_size
        self.nominal_weight, self.penalty = nominal_weight, penalty
        self.last_heads: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        mu, sigma = head_predictions(self.brme, self.tokenizer, list(prompts), list(responses), self.batch_size)
        self.last_heads = (mu, sigma)
        if self.penalty is not None:
            return uncertainty_penalised_reward(mu, self.penalty)
        return robust_reward(mu, sigma, self.nominal_weight)

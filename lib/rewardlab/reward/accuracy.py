"""How well a reward ranks responses: pair accuracy (against labels or against gold), rank correlation,
the spread of rewards over a prompt's responses, and win rates."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from rewardlab.core.stats import mean_interval


def pair_accuracy(r_chosen, r_rejected) -> float:
    """Share of pairs the reward ranks as labelled (chosen above rejected); ties count half."""
    r_chosen, r_rejected = np.asarray(r_chosen, float), np.asarray(r_rejected, float)
    return float(np.mean(r_chosen > r_rejected) + 0.5 * np.mean(r_chosen == r_rejected))


def gold_pair_accuracy(reward_a, reward_b, gold_a, gold_b) -> float:
    """Agreement of the reward's ordering with the gold judge's, over pairs gold does not tie."""
    reward_diff = np.asarray(reward_a, float) - np.asarray(reward_b, float)
    gold_diff = np.asarray(gold_a, float) - np.asarray(gold_b, float)
    keep = gold_diff != 0
    if not keep.any():
        raise ValueError("every pair is a gold tie; accuracy against gold is undefined")
    agree = np.sign(reward_diff[keep]) == np.sign(gold_diff[keep])
    return float(np.mean(agree + 0.5 * (reward_diff[keep] == 0)))


def spearman(x, y) -> float:
    """Spearman rank correlation (scipy)."""
    return float(spearmanr(np.asarray(x, float), np.asarray(y, float)).statistic)


def reward_uncertainty(scores) -> float:
    """Spread of rewards across models trained on the same pairs (different seeds).

    ``scores`` is [models, responses]. A Bradley-Terry reward is defined up to a shift and the
    models' scales differ, so each model's scores are standardised first; the result is the
    mean over responses of the standard deviation across models (0 = the models agree).
    """
    scores = np.asarray(scores, float)
    if scores.ndim != 2 or scores.shape[0] < 2:
        raise ValueError(f"need scores of shape [models >= 2, responses], got {scores.shape}")
    z = (scores - scores.mean(1, keepdims=True)) / scores.std(1, keepdims=True).clip(min=1e-12)
    return float(z.std(0, ddof=1).mean())


def win_rate(gold_a, gold_b) -> tuple[float, float]:
    """Share of items where a beats b (ties count half) and the half-width of its 95% t interval over items."""
    a, b = np.asarray(gold_a, float), np.asarray(gold_b, float)
    return mean_interval((a > b) + 0.5 * (a == b))

"""Calibration of pair probabilities: does P(a beats b) mean what it says?

A reward model turns two rewards into the probability that ``a`` is preferred over ``b``:

    Bradley-Terry (one model)     p = sigmoid(r_a - r_b)
    Gaussian reward (BRME head)   p = sigmoid((mu_a - mu_b) / sqrt(1 + pi/8 (sigma_a^2 + sigma_b^2)))   (probit approximation)
    deep ensemble (K models)      p = 1/K sum_k sigmoid(r_ak - r_bk)                                    (Lakshminarayanan et al. 2017)

The reference is the world's labelling distribution, the Bradley-Terry draw that labelled the
training pairs: q = sigmoid((g_a - g_b) / tau) with g the gold score and tau the label noise. The
scores below are the expectations over that draw, computed exactly from q (no sampled labels, so
no sampling noise between models scored on the same pairs):

    Brier      1/N sum_i (p_i - q_i)^2 + q_i (1 - q_i)
    log-loss   1/N sum_i -q_i log p_i - (1 - q_i) log(1 - p_i)
    ECE        sum_b (n_b / N) |conf_b - acc_b|   over equal-width bins of the top-label confidence
               c_i = max(p_i, 1 - p_i) on [0.5, 1];  acc_b = mean over the bin of P(the side the model
               favours wins) = q_i or 1 - q_i (Guo et al. 2017's expected calibration error, for pairs)

sklearn's ``brier_score_loss`` and ``log_loss`` take sampled 0/1 labels; with soft labels the
expected scores are one line each, so they are written here (and checked against sklearn on
sampled labels in the tests).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def bradley_terry_probability(reward_a, reward_b) -> np.ndarray:
    """p = sigmoid(r_a - r_b), per pair."""
    return 1 / (1 + np.exp(-(np.asarray(reward_a, float) - np.asarray(reward_b, float))))


def ensemble_probability(rewards_a, rewards_b) -> np.ndarray:
    """p = mean_k sigmoid(r_ak - r_bk) for [N, K] member rewards: the deep ensemble's predictive probability."""
    rewards_a, rewards_b = np.asarray(rewards_a, float), np.asarray(rewards_b, float)
    if rewards_a.shape != rewards_b.shape or rewards_a.ndim != 2:
        raise ValueError(f"member rewards must both be [N, K]; got {rewards_a.shape} and {rewards_b.shape}")
    return bradley_terry_probability(rewards_a, rewards_b).mean(1)


def gold_probability(gold_a, gold_b, tau: float) -> np.ndarray:
    """q = sigmoid((g_a - g_b) / tau): the probability that the world's labeller prefers a (tau = label noise)."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0 for a labelling distribution (got {tau}); a noiseless labeller is the limit "
                         "tau -> 0, use a small tau such as 1e-3")
    return bradley_terry_probability(np.asarray(gold_a, float) / tau, np.asarray(gold_b, float) / tau)


def _check(p, q) -> tuple[np.ndarray, np.ndarray]:
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.shape != q.shape or p.ndim != 1 or len(p) == 0:
        raise ValueError(f"p and q must be non-empty 1-d arrays of one length; got {p.shape} and {q.shape}")
    if np.any((p < 0) | (p > 1)) or np.any((q < 0) | (q > 1)):
        raise ValueError("p and q are probabilities: every value must lie in [0, 1]")
    return p, q


def brier_score(p, q) -> float:
    """Expected Brier score of p against labels drawn from q."""
    p, q = _check(p, q)
    return float(np.mean((p - q) ** 2 + q * (1 - q)))


def log_loss(p, q) -> float:
    """Expected log-loss (nats) of p against labels drawn from q; p is clipped to [1e-7, 1 - 1e-7]."""
    p, q = _check(p, q)
    p = np.clip(p, EPS, 1 - EPS)
    return float(np.mean(-(q * np.log(p) + (1 - q) * np.log(1 - p))))


def reliability(p, q, n_bins: int = 10) -> dict:
    """Top-label reliability diagram: per non-empty bin of c = max(p, 1 - p) on [0.5, 1], the mean
    confidence, the probability that the favoured side wins, and the count; ``ece`` is their weighted gap."""
    p, q = _check(p, q)
    confidence = np.maximum(p, 1 - p)
    correct = np.where(p >= 0.5, q, 1 - q)
    which = np.clip(((confidence - 0.5) * 2 * n_bins).astype(int), 0, n_bins - 1)
    bins = {"confidence": [], "accuracy": [], "count": []}
    gap = 0.0
    for b in range(n_bins):
        rows = which == b
        if rows.any():
            bins["confidence"].append(float(confidence[rows].mean()))
            bins["accuracy"].append(float(correct[rows].mean()))
            bins["count"].append(int(rows.sum()))
            gap += rows.sum() * abs(bins["confidence"][-1] - bins["accuracy"][-1])
    return {**bins, "ece": float(gap / len(p))}


def expected_calibration_error(p, q, n_bins: int = 10) -> float:
    """ECE of the top-label confidence in ``n_bins`` equal-width bins (see the module docstring)."""
    return reliability(p, q, n_bins)["ece"]


def calibration_scores(p, q, n_bins: int = 10) -> dict[str, float]:
    """{'ece', 'brier', 'log_loss'} of p against the labelling distribution q."""
    return {"ece": expected_calibration_error(p, q, n_bins), "brier": brier_score(p, q), "log_loss": log_loss(p, q)}

"""Does a reward model's uncertainty mean anything? Out-of-distribution inputs and error against gold.

Out-of-distribution responses are built from in-distribution ones so that length and vocabulary
stay comparable:

* ``shuffle_words``: the same words in a random order (bag-of-words statistics kept, syntax gone);
* ``repeat_word``: one word of the response repeated (degenerate text a policy can collapse into);
* ``random_words``: words drawn uniformly from the vocabulary.

Error against gold. A reward model's scale and offset are arbitrary, so the error of a reward
r_i is measured after the best affine map of gold into reward units (least squares over the set):

    e_i = r_i - (a * g_i + b),     (a, b) = argmin sum_i (r_i - a g_i - b)^2.

Bradley-Terry data compares responses to the *same* prompt, so it identifies a reward only up to
a per-prompt constant; ``within_prompt=True`` removes each prompt's mean residual as well.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def shuffle_words(responses: Sequence[str], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" " + " ".join(rng.permutation(r.split())) for r in responses]


def repeat_word(responses: Sequence[str], seed: int) -> list[str]:
    """Each response becomes one of its own words (chosen at random) repeated as often as it has words."""
    rng = np.random.default_rng(seed)
    out = []
    for r in responses:
        words = r.split()
        if not words:
            raise ValueError("an empty response has no word to repeat; drop empty responses first")
        out.append(" " + " ".join([words[rng.integers(len(words))]] * len(words)))
    return out


def random_words(responses: Sequence[str], vocabulary: Sequence[str], seed: int) -> list[str]:
    """Uniform draws from ``vocabulary``, as many words as each response has."""
    rng = np.random.default_rng(seed)
    vocabulary = np.asarray(vocabulary)
    return [" " + " ".join(rng.choice(vocabulary, max(1, len(r.split())))) for r in responses]


def gold_residuals(reward, gold, groups=None) -> np.ndarray:
    """e_i = r_i - (a g_i + b) with (a, b) fitted by least squares; minus each group's mean when grouped."""
    reward, gold = np.asarray(reward, float), np.asarray(gold, float)
    if reward.shape != gold.shape or reward.ndim != 1:
        raise ValueError(f"reward and gold must be 1-d and equally long; got {reward.shape} and {gold.shape}")
    slope, intercept = np.polyfit(gold, reward, 1)
    residual = reward - (slope * gold + intercept)
    if groups is not None:
        ids = np.unique(np.asarray(groups), return_inverse=True)[1]
        residual = residual - (np.bincount(ids, residual) / np.bincount(ids))[ids]
    return residual


def reliability_bins(sigma, error, n_bins: int = 10) -> dict:
    """Per quantile bin of sigma: mean sigma and root-mean-square error (equal on a calibrated model)."""
    sigma, error = np.asarray(sigma, float), np.asarray(error, float)
    edges = np.quantile(sigma, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, n_bins - 1)
    keep = [k for k in range(n_bins) if np.any(which == k)]
    return {"sigma": [float(sigma[which == k].mean()) for k in keep],
            "rms_error": [float(np.sqrt(np.mean(error[which == k] ** 2))) for k in keep],
            "count": [int(np.sum(which == k)) for k in keep]}


def gaussian_pair_probability(mu_a, sigma_a, mu_b, sigma_b) -> np.ndarray:
    """P(a > b) with Gaussian rewards integrated out: sigmoid((mu_a - mu_b) / sqrt(1 + pi/8 (sigma_a^2 + sigma_b^2)))."""
    scale = np.sqrt(1 + np.pi / 8 * (np.asarray(sigma_a) ** 2 + np.asarray(sigma_b) ** 2))
    return 1 / (1 + np.exp(-(np.asarray(mu_a) - np.asarray(mu_b)) / scale))

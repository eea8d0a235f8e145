"""How faithful is a token attribution? Two tests, against two different truths.

1. **Against the world** (the gold judge): the Spearman correlation, within one response, of a
   method's per-word token rewards with the ground-truth word credit c_i of the gold judge
   (``judge.word_credit``, which sums to the gold score). This asks whether the
   credit lands on the words that really carry the sentiment; it mixes the explainer's error
   with the reward model's own error (a proxy that misreads a word cannot be explained into
   reading it right).
2. **Against the model** (deletion, Samek et al. 2017; Petsiuk et al. 2018): delete the tokens
   with the largest token reward first, k = round(f T) of them for f on a grid in [0, 1], and
   follow the reward model's score. The curve is D(f) = R(x, y without its top-k tokens) - R(x, y);
   its area AUC = integral_0^1 D(f) df (trapezoid). A faithful method credits the tokens that hold
   the score up, so its curve falls fastest: **lower (more negative) AUC is better**. A random
   order is the chance reference; the gold credit's order shows how a reader of the world's
   truth would rank the words.

Both are reported per response, so that a mean comes with its spread.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import spearmanr

from rewardlab.shaping.masking import (
    MaskedReward,
    TokenAttribution,
    encode_examples,
)

DELETION_FRACTIONS = np.linspace(0.0, 1.0, 11)


def credit_spearman(attributions: Sequence[TokenAttribution], credits: Sequence[np.ndarray]) -> np.ndarray:
    """Per response: Spearman(token rewards per word, ground-truth word credit); NaN where either is constant."""
    out = np.full(len(attributions), np.nan)
    for i, (attribution, credit) in enumerate(zip(attributions, credits)):
        words = attribution.per_word()
        if len(words) != len(credit):
            raise ValueError(f"response {i}: {len(words)} attributed words but {len(credit)} credited words; "
                             "pass judge.word_credit(response) for the same responses in the same order")
        if np.ptp(words) > 0 and np.ptp(credit) > 0:
            out[i] = spearmanr(words, credit).statistic
    return out


def order_by(values: np.ndarray) -> np.ndarray:
    """Token indices from the largest value to the smallest (ties keep text order)."""
    return np.argsort(-np.asarray(values, dtype=float), kind="stable")


def deletion_curves(model, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                    orders: Sequence[np.ndarray], fractions: np.ndarray = DELETION_FRACTIONS,
                    mask_token_id: int | None = None, batch_size: int = 512) -> np.ndarray:
    """D[i, j] = R(x_i, y_i without its first round(f_j T_i) tokens in ``orders[i]``) - R(x_i, y_i).

    All responses and fractions go through the reward model in one batched pass.
    """
    examples = encode_examples(model, tokenizer, prompts, responses)
    if len(orders) != len(examples):
        raise ValueError(f"{len(orders)} orders for {len(examples)} responses; pass one order per response")
    f = MaskedReward(model, tokenizer, mask_token_id=mask_token_id, batch_size=batch_size)
    sequences = []
    for example, order in zip(examples, orders):
        n_tokens = len(example.response_ids)
        if sorted(np.asarray(order).tolist()) != list(range(n_tokens)):
            raise ValueError(f"an order must be a permutation of the {n_tokens} response token indices")
        keep = np.ones((len(fractions) + 1, n_tokens), dtype=bool)  # row 0: the full response
        for j, fraction in enumerate(fractions, start=1):
            keep[j, np.asarray(order)[: int(round(fraction * n_tokens))]] = False
        sequences += f.sequences(example, keep)
    rewards = f(sequences).reshape(len(examples), len(fractions) + 1)
    return rewards[:, 1:] - rewards[:, :1]


def deletion_auc(curves: np.ndarray, fractions: np.ndarray = DELETION_FRACTIONS) -> np.ndarray:
    """Area under each deletion curve over the deleted fraction (trapezoid); lower is more faithful."""
    curves = np.atleast_2d(curves)
    widths = np.diff(fractions)
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * widths).sum(axis=1)


def random_orders(lengths: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """A uniformly random deletion order per response (the chance reference)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for n in lengths]

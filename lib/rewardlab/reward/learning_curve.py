"""A reward model's learning curve: held-out accuracy against gold as the number of training pairs grows,
for the transformer reward model and for a bag-of-words logistic baseline.

The baseline is the Bradley-Terry model whose reward is linear in word counts,

    r(y) = w . c(y),    P(y_c > y_r) = sigma(w . (c(y_c) - c(y_r))),

fitted by scikit-learn's L2-regularised ``LogisticRegression`` on count differences (each pair
also enters mirrored, so the fit has no side bias). It can learn every word's valence and nothing
else: not negation, not intensifiers, not "but". Where the transformer's curve rises above the
baseline's, it has learned the rules that combine words. Each curve point trains on a random subset
of the training pairs (nested within a seed: the 2k subset contains the 1k one) and is scored on
the same held-out pairs.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.sparse import vstack
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from rewardlab.reward.accuracy import gold_pair_accuracy
from rewardlab.reward.preferences import check_preference_dataset


class BagOfWordsReward:
    """r(y) = w . c(y): a Bradley-Terry reward linear in the response's word counts (the prompt is ignored)."""

    def __init__(self, C: float = 1.0):
        self.C = C
        self.vectorizer = CountVectorizer(token_pattern=r"[^ ]+", lowercase=False)
        self.classifier = LogisticRegression(C=C, fit_intercept=False, max_iter=2000)

    def fit(self, chosen: Sequence[str], rejected: Sequence[str]) -> "BagOfWordsReward":
        self.vectorizer.fit(list(chosen) + list(rejected))
        difference = self.vectorizer.transform(chosen) - self.vectorizer.transform(rejected)
        features = vstack([difference, -difference])
        labels = np.r_[np.ones(difference.shape[0]), np.zeros(difference.shape[0])]
        self.classifier.fit(features, labels)
        return self

    def __call__(self, responses: Sequence[str]) -> np.ndarray:
        return self.vectorizer.transform(responses) @ self.classifier.coef_[0]


def heldout_gold_accuracy(reward: Callable[[Sequence[str], Sequence[str]], np.ndarray], heldout) -> float:
    """Agreement with gold on ``heldout`` of a reward called as ``reward(prompts, responses)``."""
    r_chosen = reward(heldout["prompt"], heldout["chosen"])
    r_rejected = reward(heldout["prompt"], heldout["rejected"])
    return gold_pair_accuracy(r_chosen, r_rejected, heldout["chosen_gold"], heldout["rejected_gold"])


def curve_sizes(n_pairs: int, points: int) -> list[int]:
    """``points`` training-set sizes that double up to ``n_pairs`` (64,000 and 7 points: 1,000 ... 64,000)."""
    if points < 1 or n_pairs < 2:
        raise ValueError(f"a learning curve needs points >= 1 and at least 2 training pairs, got {points} and {n_pairs}")
    return sorted({max(2, round(n_pairs / 2 ** k)) for k in range(points)})


def nested_subsets(n_rows: int, sizes: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """Row indices of a random subset per size, nested (each contains the smaller ones), from ``seed``."""
    sizes = sorted(int(s) for s in sizes)
    if not sizes or sizes[0] < 1 or sizes[-1] > n_rows:
        raise ValueError(f"learning-curve sizes must lie in 1..{n_rows} (the training pairs), got {sizes}")
    order = np.random.default_rng(seed).permutation(n_rows)
    return {size: np.sort(order[:size]) for size in sizes}


def bag_of_words_curve(train, heldout, sizes: Sequence[int], seeds: Sequence[int], C: float = 1.0) -> dict:
    """``{size: [held-out gold accuracy per seed]}`` of :class:`BagOfWordsReward` on nested subsets of ``train``
    (the fit is deterministic: the seed only draws the subsets)."""

    def fit(subset, seed):
        model = BagOfWordsReward(C).fit(subset["chosen"], subset["rejected"])
        return lambda prompts, responses: model(responses)

    return reward_model_curve(train, heldout, sizes, seeds, fit)


def reward_model_curve(train, heldout, sizes: Sequence[int], seeds: Sequence[int],
                       train_and_score: Callable) -> dict:
    """``{size: [held-out gold accuracy per seed]}`` of a reward model trained on nested subsets of ``train``.

    ``train_and_score(subset, seed)`` trains a model on the subset (through the artifact cache, so a
    re-run loads it) and returns a reward ``reward(prompts, responses)``.
    """
    check_preference_dataset(train)
    check_preference_dataset(heldout)
    curve: dict[int, list[float]] = {int(s): [] for s in sorted(sizes)}
    for seed in seeds:
        for size, rows in nested_subsets(len(train), sizes, seed).items():
            curve[size].append(heldout_gold_accuracy(train_and_score(train.select(rows), seed), heldout))
    return curve

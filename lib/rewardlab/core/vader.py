"""VADER as a gold judge, and its exact per-word credit.

VADER's compound score of a response (``world.gold_judge = "vader"``; the review world's default
is the reader, :mod:`rewardlab.core.reader`, which reads VADER on the well-formed text),

    compound = s / sqrt(s^2 + 15),   s = sum_i v_i (+ punctuation emphasis),

where v_i is word i's valence after VADER's rules. VADER is not written here, so nothing in
this project can bend it.

Ground-truth credit c_i of word i, built from VADER's own code so that sum_i c_i = compound:

* a sentiment word keeps its valence with no modifier applied (its lexicon valence);
* **negations and intensifiers**: a modifier (booster, dampener, negation, ``no``, ``least``)
  within the three words before a sentiment word gets its exact Shapley share of the change it
  makes to that word's valence. With one modifier this is simply the difference: in
  "not good", ``good`` gets +1.9 and ``not`` gets 1.9 * (-0.74) - 1.9 = -3.306, so "not"
  carries the flip; in "very good" ``very`` gets +0.293. With several modifiers, the Shapley
  value over the (at most three) modifiers, computed with all 2^k subsets, splits the
  interaction symmetrically;
* **contrast**: VADER scales the words before the first ``but`` by 0.5 and those after by
  1.5; the total change is credited to that ``but``;
* finally every credit is multiplied by compound / s so the credits sum to the compound
  score (local accuracy in the gold judge's own units). Filler words get exactly 0.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations
from typing import Sequence

import numpy as np
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    SentimentIntensityAnalyzer,
    SentiText,
    negated,
)

PLACEHOLDER = "xq"  # a word outside VADER's lexicon and rules, used to knock a modifier out


@lru_cache(maxsize=1)
def _vader():
    return SentimentIntensityAnalyzer()


class VaderJudge:
    """Gold judge of the review world: VADER compound in [-1, 1], one score per response."""

    name = "vader"

    def __call__(self, responses: Sequence[str]) -> np.ndarray:
        if isinstance(responses, str):
            raise TypeError("the judge scores a list of responses; wrap a single string in a list")
        analyzer = _vader()
        return np.array([analyzer.polarity_scores(r)["compound"] for r in responses], dtype=np.float64)

    def word_credit(self, response: str) -> np.ndarray:
        return word_credit(response)


def _word_valences(words: list[str]) -> tuple[list[float], list[float]]:
    """VADER's per-word valences before and after its ``but`` rule, from VADER's own methods."""
    analyzer = _vader()
    sentitext = SentiText(" ".join(words))
    tokens = sentitext.words_and_emoticons
    if len(tokens) != len(words):
        raise ValueError(f"VADER splits {words!r} into {len(tokens)} words, not {len(words)}")
    valences: list[float] = []
    for i, item in enumerate(tokens):
        if item.lower() in BOOSTER_DICT or (
                i < len(tokens) - 1 and item.lower() == "kind" and tokens[i + 1].lower() == "of"):
            valences.append(0.0)
            continue
        valences = analyzer.sentiment_valence(0, sentitext, item, i, valences)
    before_but = list(valences)
    return before_but, analyzer._but_check(tokens, list(valences))


def _is_modifier(word: str) -> bool:
    word = word.lower()
    return word in BOOSTER_DICT or word in ("no", "least") or negated([word])


def _valence_with(words: list[str], i: int, keep: set[int], modifiers: list[int]) -> float:
    """Valence of word i when the modifiers outside ``keep`` are replaced by a neutral word."""
    trial = [PLACEHOLDER if (j in modifiers and j not in keep) else w for j, w in enumerate(words)]
    return _vader().sentiment_valence(0, SentiText(" ".join(trial)), trial[i], i, [])[-1]


def _shapley_share(words: list[str], i: int, j: int, modifiers: list[int]) -> float:
    """Exact Shapley value of modifier j in the valence of word i, over all subsets of the others."""
    others, k, share = [m for m in modifiers if m != j], len(modifiers), 0.0
    for size in range(k):
        weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
        for subset in combinations(others, size):
            share += weight * (_valence_with(words, i, set(subset) | {j}, modifiers)
                               - _valence_with(words, i, set(subset), modifiers))
    return share


def word_credit(response: str, scale_to_compound: bool = True) -> np.ndarray:
    """Ground-truth credit of every whitespace-separated word of ``response`` (see module doc).

    Returns an array aligned with ``response.split()``; it sums to VADER's compound score
    (``scale_to_compound=True``) or to VADER's raw valence sum s.
    """
    words = response.split()
    if not words:
        return np.zeros(0)
    before_but, final = _word_valences(words)
    credit = np.zeros(len(words))
    for i, valence in enumerate(before_but):
        if valence == 0.0:
            continue
        modifiers = [j for j in range(max(0, i - 3), i) if _is_modifier(words[j])]
        shares = {j: _shapley_share(words, i, j, modifiers) for j in modifiers}
        for j, share in shares.items():
            credit[j] += share
        # Shapley efficiency: what the modifiers do not take is the word's own valence v(empty set)
        credit[i] += valence - sum(shares.values())
    lowered = [w.lower() for w in words]
    if "but" in lowered:
        credit[lowered.index("but")] += sum(final) - sum(before_but)
    total = float(sum(final))
    compound = _vader().polarity_scores(" ".join(words))["compound"]
    if not scale_to_compound:
        return credit
    factor = compound / total if total != 0 else 1 / math.sqrt(15)
    return credit * factor

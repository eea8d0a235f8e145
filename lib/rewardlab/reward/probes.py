"""A phenomenon probe set: minimal pairs that differ in one thing the gold judge reads, and a reward
model's accuracy on each kind.

Each pair shares the prompt and differs in exactly one place (``a`` an adjective of the world's
sentiment vocabulary, ``i`` an intensifier, ``d`` a dampener, ``n`` a negator):

    negation        "<a> ."                      vs  "n <a> ."
    intensifier     "i <a> ."                    vs  "<a> ."
    dampener        "d <a> ."                    vs  "<a> ."
    contrast        "<a+> but the ending was <a-> ."  vs  "<a-> but the ending was <a+> ."  (sides swapped)
    sentiment word  "<a1> ."                     vs  "<a2> ."            (two adjectives of different valence)

The gold judge orders each pair (``chosen`` is the response it scores higher; pairs it ties are
dropped), so accuracy on a phenomenon is agreement with gold on exactly that rule: VADER scales a
word after a negator by -0.74, shifts it after an intensifier or dampener, and weights the words
after "but" by 1.5 and before it by 0.5. A reward model that reads words but not these rules is
right on "sentiment word" and near chance on the others. Adjectives are the vocabulary words that
fill the world's adjective slots (``lemminflect``'s offline lexicon), so every probe finishes the prompt's
sentence in the world's grammar (:mod:`rewardlab.core.grammar`) and the reader reads it. Written here because no library generates minimal pairs for VADER's
rules.
"""

from __future__ import annotations

from typing import Callable, Sequence

import datasets
import numpy as np

from rewardlab.core.vocabulary import DAMPENERS, INTENSIFIERS, NEGATORS, is_adjective
from rewardlab.reward.models import pair_rewards

PHENOMENA = ("negation", "intensifier", "dampener", "contrast", "sentiment_word")
PROBE_PROMPT = "i thought the movie was"


def adjectives(vocabulary: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """The (word, valence) entries of ``vocabulary`` that fill the world's adjective slots
    (:func:`rewardlab.core.vocabulary.is_adjective`)."""
    return [(word, valence) for word, valence in vocabulary if is_adjective(word)]


def _responses(phenomenon: str, rng: np.random.Generator, positive: list[str], negative: list[str],
               every: list[str]) -> tuple[str, str]:
    pick = lambda words: words[rng.integers(len(words))]  # noqa: E731
    if phenomenon == "negation":
        word = pick(every)
        return f"{word} .", f"{pick(NEGATORS)} {word} ."
    if phenomenon == "intensifier":
        word = pick(every)
        return f"{pick(INTENSIFIERS)} {word} .", f"{word} ."
    if phenomenon == "dampener":
        word = pick(every)
        return f"{pick(DAMPENERS)} {word} .", f"{word} ."
    if phenomenon == "contrast":
        good, bad = pick(positive), pick(negative)
        return f"{good} but the ending was {bad} .", f"{bad} but the ending was {good} ."
    first, second = pick(every), pick(every)
    return f"{first} .", f"{second} ."


def probe_pairs(vocabulary: Sequence[tuple[str, float]], judge: Callable, n_per_phenomenon: int = 200,
                seed: int = 0, prompt: str = PROBE_PROMPT) -> datasets.Dataset:
    """``n_per_phenomenon`` gold-ordered pairs of each phenomenon in TRL's format, with a ``phenomenon`` column.

    ``vocabulary`` is the world's (word, valence) list (:func:`rewardlab.core.vocabulary.sentiment_vocabulary`);
    ``judge(responses)`` returns gold scores. Raises ValueError when the vocabulary holds too few
    adjectives of either sign to build the pairs.
    """
    if n_per_phenomenon < 1:
        raise ValueError(f"n_per_phenomenon must be >= 1, got {n_per_phenomenon}")
    adjs = adjectives(vocabulary)
    positive = [w for w, v in adjs if v > 0]
    negative = [w for w, v in adjs if v < 0]
    if len(positive) < 2 or len(negative) < 2:
        raise ValueError(f"the vocabulary has {len(positive)} positive and {len(negative)} negative adjectives; "
                         "the probes need at least 2 of each (use a larger n_sentiment_words)")
    every = positive + negative
    rng = np.random.default_rng(seed)
    rows = {key: [] for key in ("prompt", "chosen", "rejected", "chosen_gold", "rejected_gold", "phenomenon")}
    for phenomenon in PHENOMENA:
        kept, tries = 0, 0
        while kept < n_per_phenomenon:
            tries += 1
            if tries > 50 * n_per_phenomenon:
                raise ValueError(f"could not draw {n_per_phenomenon} {phenomenon} pairs that gold does not tie")
            a, b = _responses(phenomenon, rng, positive, negative, every)
            gold_a, gold_b = (float(g) for g in judge([a, b]))
            if a == b or gold_a == gold_b:
                continue
            (chosen, g_c), (rejected, g_r) = sorted(((a, gold_a), (b, gold_b)), key=lambda x: -x[1])
            for key, value in zip(rows, (prompt, " " + chosen, " " + rejected, g_c, g_r, phenomenon)):
                rows[key].append(value)
            kept += 1
    return datasets.Dataset.from_dict(rows)


def accuracy_by_phenomenon(r_chosen, r_rejected, phenomena: Sequence[str]) -> dict[str, float]:
    """Share of each phenomenon's pairs that the reward orders as gold does (ties count half)."""
    r_chosen, r_rejected, phenomena = np.asarray(r_chosen, float), np.asarray(r_rejected, float), np.asarray(phenomena)
    if not len(r_chosen) == len(r_rejected) == len(phenomena):
        raise ValueError(f"need one chosen and one rejected reward per pair; got {len(r_chosen)}, {len(r_rejected)} "
                         f"and {len(phenomena)} phenomena")
    out = {}
    for name in dict.fromkeys(phenomena.tolist()):
        rows = phenomena == name
        out[name] = float(np.mean(r_chosen[rows] > r_rejected[rows]) + 0.5 * np.mean(r_chosen[rows] == r_rejected[rows]))
    return out


def probe_accuracy(reward_model, tokenizer, probes: datasets.Dataset, batch_size: int = 256) -> dict[str, float]:
    """:func:`accuracy_by_phenomenon` of a reward model on a probe set from :func:`probe_pairs`."""
    r_chosen, r_rejected = pair_rewards(reward_model, tokenizer, probes, batch_size)
    return accuracy_by_phenomenon(r_chosen, r_rejected, probes["phenomenon"])

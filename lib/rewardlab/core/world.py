"""The review world: a seeded generator of short movie reviews that stands in for IMDb.

A review is a list of lowercase words. Its first ``prompt_words`` words are the *prompt*; the
rest (16-48 words) is the *demonstration* a policy should learn to continue with.

Why not IMDb on the tiny preset: nothing may be downloaded, and a world we generate has a
ground truth no real corpus has. Every review opens with an opinion sentence. The gold judge is a
reader (:mod:`rewardlab.core.reader`: VADER's rules on the well-formed sentences, and the world's
grammar, :mod:`rewardlab.core.grammar`, to know them), and every word's valence is known, so credit
assignment can be scored against the truth.

What makes credit assignment non-trivial:

* sentiment words drawn from VADER's lexicon across its whole valence range (-4 .. +4),
  chosen per valence bin by English word frequency (``wordfreq``), so that common words
  (``good``, ``awful``) come before lexicon oddities; each fills a slot of its own part of
  speech (adjectives after "was", sentiment verbs after "i"), so every review reads as English
  (the words and word classes: :mod:`rewardlab.core.vocabulary`);
* negations (``not``, ``never``, ``rarely``) that flip a neighbour's valence (VADER: x -0.74);
* intensifiers and dampeners (``very``, ``slightly``) that shift a neighbour (VADER: +-0.293);
* contrast (``but``): VADER halves the words before it and multiplies those after by 1.5;
* neutral filler (aspects, people, places, times) that carries no valence at all.

``so`` and ``this`` never appear: VADER treats them as special cases after ``never``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from rewardlab.core.config import Preset
from rewardlab.core.versions import WORLD_VERSION
from rewardlab.core.vocabulary import (
    ASPECTS, DAMPENERS, FILMS, INTENSIFIERS, NEGATORS, NUMBERS, PEOPLE, PLACES, PLURAL_ASPECTS, SENTIMENT_VERBS, TIMES,
    generator_vocabulary, sentiment_vocabulary,
)

class ReviewGenerator:
    """Draws reviews from a latent polarity z ~ U(-1, 1), every word in a slot of its part of speech.

    Each opinion slot picks a positive word with probability sigmoid(4z), may add a negation
    (then the surface word has the opposite sign, so the phrase still expresses the slot's
    sign) and an intensifier or dampener. Contrast sentences hold opposite opinions on the two sides
    of ``but``, the review's own on either side at random, so VADER's contrast rule (the clause after
    ``but`` weighs three times the one before) decides which way the sentence counts. About a third of the sentences are neutral filler. The frames, with ``A`` an adjective
    phrase (``[not|never|rarely] [very|slightly ...] <adjective>``) and ``V`` a sentiment verb::

        the plot was A .                 i thought the plot was A .
        it was [not] a/an A film .       <adjective> plot , <adjective> ending .
        i [never|rarely] V the plot .    the plot was A but the ending was A .
        the plot felt <adjective> and the ending felt <adjective> .
    """

    def __init__(self, preset: Preset):
        self.preset = preset
        vocab = sentiment_vocabulary(preset.world.n_sentiment_words)
        verbs = set(SENTIMENT_VERBS)
        self.positive = [w for w, v in vocab if v >= 0 and w not in verbs]
        self.negative = [w for w, v in vocab if v < 0 and w not in verbs]
        self.positive_verbs = [w for w, v in vocab if w in verbs and v >= 0]
        self.negative_verbs = [w for w, v in vocab if w in verbs and v < 0]

    def _phrase(self, rng: np.random.Generator, positive: bool, negatable: bool = True,
                modifiable: bool = True) -> list[str]:
        """``[negator] [intensifier | dampener] adjective``; the phrase's sign is ``positive``."""
        words = []
        negated = negatable and rng.random() < 0.12
        if negated:
            words.append(NEGATORS[rng.integers(len(NEGATORS))])
        u = rng.random() if modifiable else 1.0
        if u < 0.25:
            words.append(INTENSIFIERS[rng.integers(len(INTENSIFIERS))])
        elif u < 0.30:
            words.append(DAMPENERS[rng.integers(len(DAMPENERS))])
        pool = self.positive if positive != negated else self.negative
        words.append(pool[rng.integers(len(pool))])
        return words

    def _sentence(self, rng: np.random.Generator, z: float, opinion: bool = False) -> list[str]:
        """One sentence ending in "."; kinds 0-6 give an opinion, 7-9 neutral filler."""
        pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731

        def aspect_was() -> list[str]:  # "the plot was", "the effects were"
            aspect = pick(ASPECTS)
            return ["the", aspect, "were" if aspect in PLURAL_ASPECTS else "was"]

        sign = lambda: bool(rng.random() < 1 / (1 + math.exp(-4 * z)))  # noqa: E731
        kind = rng.integers(7 if opinion else 10)
        if kind == 0:
            return aspect_was() + self._phrase(rng, sign()) + ["."]
        if kind == 1:
            return ["i", "thought"] + aspect_was() + self._phrase(rng, sign()) + ["."]
        if kind == 2:  # the negator goes before the article: "it was not a very good film"
            phrase = self._phrase(rng, sign())
            negator = phrase[:1] if phrase[0] in NEGATORS else []
            rest = phrase[len(negator):]
            article = "an" if rest[0][0] in "aeiou" else "a"
            return ["it", "was"] + negator + [article] + rest + [pick(FILMS), "."]
        if kind == 3:
            return (self._phrase(rng, sign(), negatable=False, modifiable=False) + [pick(ASPECTS), ","]
                    + self._phrase(rng, sign(), negatable=False, modifiable=False) + [pick(ASPECTS), "."])
        if kind == 4:
            positive = sign()
            neg = [pick(NEGATORS[1:])] if rng.random() < 0.12 else []  # "i never loved", not "i not loved"
            verbs = self.positive_verbs if positive != bool(neg) else self.negative_verbs
            return ["i"] + neg + [pick(verbs), "the", pick(ASPECTS), "."]
        if kind == 5:  # opposite opinions on the two sides of "but", the review's own on either side
            positive, own_first = sign(), bool(rng.random() < 0.5)
            return (aspect_was() + self._phrase(rng, positive == own_first)
                    + ["but"] + aspect_was() + self._phrase(rng, positive != own_first) + ["."])
        if kind == 6:
            return (f"the {pick(ASPECTS)} felt".split() + self._phrase(rng, sign(), negatable=False)
                    + f"and the {pick(ASPECTS)} felt".split() + self._phrase(rng, sign(), negatable=False) + ["."])
        if kind == 7:
            return f"we watched it on {pick(TIMES)} with my {pick(PEOPLE)} .".split()
        if kind == 8:
            return f"it runs about {pick(NUMBERS)} minutes .".split()
        return f"i saw it at the {pick(PLACES)} with my {pick(PEOPLE)} .".split()

    def review(self, rng: np.random.Generator) -> list[str]:
        """One review whose continuation after the prompt has min..max response words."""
        p = self.preset
        lo, hi = p.world.prompt_words + p.world.min_response_words, p.world.prompt_words + p.world.max_response_words
        while True:
            z = rng.uniform(-1, 1)
            words = self.extend(rng, z, [], lo, hi)
            if words is not None:
                return words

    def extend(self, rng: np.random.Generator, z: float, prefix: list[str], lo: int, hi: int) -> list[str] | None:
        """``prefix`` and sentences of polarity z (the first an opinion when ``prefix`` is empty) up to a length
        drawn in [lo, hi] words; None when the sentences drawn cannot land in that range (draw again)."""
        target, words = rng.integers(lo, hi + 1), list(prefix)
        while len(words) < target:
            sentence = self._sentence(rng, z, opinion=not words)
            if len(words) + len(sentence) <= hi:
                words += sentence
            elif len(words) >= lo:
                break
        return words if lo <= len(words) <= hi else None


@dataclass
class World:
    """Prompts and demonstrations in train/validation/test splits with disjoint prompts.

    ``splits`` is a ``datasets.DatasetDict`` with string columns ``prompt`` and
    ``demonstration``; ``vocabulary`` lists every word the generator can emit (None for IMDb).
    """

    splits: "datasets.DatasetDict"  # noqa: F821
    vocabulary: list[str] | None


def _split_by_prompt(prompts: list[str], preset: Preset, seed: int) -> list[str]:
    """Assign every distinct prompt to one split, so no prompt is shared across splits.

    Distinct prompts are shuffled and given to validation, then test, until each holds its
    fraction of the reviews; the rest go to train.
    """
    counts: dict[str, int] = {}
    for prompt in prompts:
        counts[prompt] = counts.get(prompt, 0) + 1
    unique = sorted(counts)
    order = np.random.default_rng(seed).permutation(len(unique))
    quota = {"validation": preset.world.validation_fraction * len(prompts),
             "test": preset.world.test_fraction * len(prompts)}
    filled = {"validation": 0, "test": 0}
    split_of = {}
    for index in order:
        prompt = unique[index]
        name = next((s for s in ("validation", "test") if filled[s] < quota[s]), "train")
        split_of[prompt] = name
        if name != "train":
            filled[name] += counts[prompt]
    return [split_of[p] for p in prompts]


def _to_dataset_dict(prompts: list[str], demos: list[str], splits: list[str]):
    out = {}
    for name in ("train", "validation", "test"):
        rows = [i for i, s in enumerate(splits) if s == name]
        out[name] = datasets.Dataset.from_dict(
            {"prompt": [prompts[i] for i in rows], "demonstration": [demos[i] for i in rows]}
        )
    return datasets.DatasetDict(out)


def generate_reviews(preset: Preset, n: int | None = None, seed: int | None = None) -> list[list[str]]:
    """``n`` reviews (word lists) from the generator, reproducible from ``seed``."""
    rng = np.random.default_rng(preset.seed if seed is None else seed)
    generator = ReviewGenerator(preset)
    return [generator.review(rng) for _ in range(preset.world.n_reviews if n is None else n)]


def build_world(preset: Preset) -> World:
    """The preset's prompts and demonstrations (generated for ``review_world``, loaded for IMDb)."""
    if preset.world.source == "imdb":
        return _imdb_world(preset)
    reviews = generate_reviews(preset)
    prompts = [" ".join(r[: preset.world.prompt_words]) for r in reviews]
    demos = [" ".join(r[preset.world.prompt_words:]) for r in reviews]
    return World(_to_dataset_dict(prompts, demos, _split_by_prompt(prompts, preset, preset.seed)),
                 generator_vocabulary(preset))


def _imdb_world(preset: Preset) -> World:
    """IMDb reviews cut into a prompt (first words) and a demonstration (the next words).

    ``dataset_name`` is a Hub id (``stanfordnlp/imdb``) or a local directory written by
    ``DatasetDict.save_to_disk``; either needs a ``text`` column in a ``train`` split.
    """
    source = preset.world.dataset_name
    raw = datasets.load_from_disk(source) if Path(source).is_dir() else datasets.load_dataset(source)
    texts = [t for split in raw.values() for t in split["text"]]
    prompts, demos = [], []
    for text in texts:
        words = text.replace("<br />", " ").split()
        if len(words) < preset.world.prompt_words + preset.world.min_response_words:
            continue
        prompts.append(" ".join(words[: preset.world.prompt_words]))
        demos.append(" ".join(words[preset.world.prompt_words: preset.world.prompt_words + preset.world.max_response_words]))
    if not prompts:
        raise ValueError(f"no review in {source!r} is long enough for prompt_words + min_response_words")
    return World(_to_dataset_dict(prompts, demos, _split_by_prompt(prompts, preset, preset.seed)), None)


def world_fingerprint(preset: Preset) -> dict:
    """What identifies the world's text beyond the preset: generator version and vocabulary hash."""
    words = "" if preset.world.source == "imdb" else " ".join(generator_vocabulary(preset))
    return {"world_version": WORLD_VERSION, "vocabulary": hashlib.sha256(words.encode()).hexdigest()[:12]}



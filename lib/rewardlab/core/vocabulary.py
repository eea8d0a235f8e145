"""The review world's words: the grammar's word classes and the sentiment vocabulary drawn from VADER's lexicon.

Sentiment words come from VADER's lexicon across its whole valence range (-4 .. +4), chosen per valence bin
by English word frequency (``wordfreq``), so that common words (``good``, ``awful``) come before lexicon
oddities; each fills a slot of its own part of speech (adjectives after "was", by ``lemminflect``'s offline
lexicon; sentiment verbs after "i"), so every review reads as English. The generator that puts them into
sentences is :class:`rewardlab.core.world.ReviewGenerator`; the reader that judges them is
:mod:`rewardlab.core.reader` (with :mod:`rewardlab.core.grammar`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from lemminflect import getAllLemmas
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE
from wordfreq import zipf_frequency

from rewardlab.core.config import Preset
from rewardlab.core.vader import _vader

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS]

ASPECTS = (
    "plot story acting cast director script dialogue soundtrack music ending pacing "
    "cinematography camera editing characters effects visuals costumes lighting screenplay "
    "sequel remake premise twist climax finale opening scene performance lead actress actor "
    "tone atmosphere runtime sound writing direction production animation score "
    "makeup stunts chemistry narrator trailer franchise setting backdrop"
).split()
FILMS = "film movie picture feature drama western documentary musical biopic".split()
PEOPLE = "roommate sister brother mother father cousin wife husband son daughter neighbor uncle".split()
PLACES = "cinema theater airport library hotel office house museum station garden".split()
PLURAL_ASPECTS = frozenset("characters effects visuals costumes stunts".split())  # "the effects were"
TIMES = "monday tuesday wednesday thursday friday saturday sunday".split()
NUMBERS = "ninety eighty seventy twenty thirty forty fifty sixty".split()
SENTIMENT_VERBS = "loved hated enjoyed liked disliked adored despised admired appreciated resented".split()
INTENSIFIERS = (
    "very really extremely incredibly totally quite especially deeply highly utterly "
    "absolutely completely remarkably particularly thoroughly unbelievably"
).split()
DAMPENERS = "barely slightly somewhat almost partly occasionally marginally".split()
NEGATORS = ["not", "never", "rarely"]
CONTRAST = "but"
GRAMMAR_WORDS = (
    "the a an it was is i thought felt and with my at of for we watched saw runs about "
    "minutes in on to were".split()
)

# Lexicon entries that are VADER's rule words or the grammar's, never sentiment adjectives.
NOT_SENTIMENT = frozenset(BOOSTER_DICT) | frozenset(NEGATE) | frozenset(GRAMMAR_WORDS) | {"so", "this", "least", "kind"}

# Lexicon entries kept out of the generator (slurs, profanity, chat abbreviations).
_BLOCKED = re.compile(
    r"fuck|shit|bitch|cunt|fag|nigg|whore|slut|dick|cock|pussy|bastard|piss|asshole|retard|"
    r"dyke|twat|wank|arse|douche|jackass|dumbass|badass|hooker|rape|porn|nazi|^lol|lmao|wtf|omg|"
    r"xoxo|smh|^kia$"
)


# Adjectives by lemminflect's lexicon that do not read as "the plot was <word>" (mostly nouns or verbs
# first), and participles of events rather than qualities.
_NOT_PREDICATE = frozenset(
    "like well party united chance feeling anti damn top worth welcome straight legal missing waste criminal "
    "champion charged prize crash suspect admitted trick pretend nuts fool panic respective darling freak scare "
    "bully mock freestyle successive freelance honorary dread libertarian fascist racist damned crappy obscene "
    "suicidal infected allergic overweight bankrupt increased accepted affected engaged injured protected blocked "
    "suspended favored valued resigned fallen broke lone exempt stricken".split())


@lru_cache(maxsize=None)
def is_adjective(word: str) -> bool:
    """True when ``lemminflect``'s offline lexicon lists ``word`` as the base form of an adjective."""
    return word in getAllLemmas(word).get("ADJ", ()) and word not in _NOT_PREDICATE


@lru_cache(maxsize=4)
def sentiment_vocabulary(n_words: int) -> tuple[tuple[str, float], ...]:
    """``n_words`` (word, valence) pairs from VADER's lexicon, spread over its valence range.

    Every word fills a slot of its own part of speech: the ten sentiment verbs (``loved``,
    ``hated``, ...) fill "i <verb> the plot", and the rest are adjectives (base forms, by the
    ``lemminflect`` lexicon that ships with the package; nothing is downloaded) that fill "the plot
    was <adjective>". The lexicon's adjectives are binned by valence (width 0.5); each bin gets a
    share of the budget proportional to its size and is filled with its most frequent English words
    (``wordfreq`` Zipf frequency >= 2.5), so common words (``good``, ``awful``) come first.
    """
    lexicon = _vader().lexicon
    candidates = [
        w for w in lexicon
        if w.isalpha() and w.islower() and 3 <= len(w) <= 12 and w not in NOT_SENTIMENT and not _BLOCKED.search(w)
        and zipf_frequency(w, "en") >= 2.5 and is_adjective(w)
    ]
    edges = np.arange(-4.0, 4.0 + 1e-9, 0.5)
    chosen: dict[str, float] = {w: lexicon[w] for w in SENTIMENT_VERBS}
    budget = n_words - len(chosen)
    bins = [[w for w in candidates if lo <= lexicon[w] < hi and w not in chosen]
            for lo, hi in zip(edges[:-1], edges[1:])]
    total = sum(len(b) for b in bins)
    if total < budget:
        raise ValueError(f"n_sentiment_words={n_words} exceeds the {total + len(chosen)} usable lexicon words; "
                         f"use at most {total + len(chosen)}")
    for words in bins:
        share = int(round(budget * len(words) / total))
        words.sort(key=lambda w: (-zipf_frequency(w, "en"), w))
        chosen.update({w: lexicon[w] for w in words[:share]})
    return tuple(sorted(chosen.items()))


def generator_vocabulary(preset: Preset) -> list[str]:
    """Every word the generator can emit, sorted (the tokenizer's vocabulary minus specials)."""
    words = {w for w, _ in sentiment_vocabulary(preset.world.n_sentiment_words)}
    for group in (ASPECTS, FILMS, PEOPLE, PLACES, TIMES, NUMBERS, INTENSIFIERS,
                  DAMPENERS, NEGATORS, GRAMMAR_WORDS, [CONTRAST, ".", ","]):
        words.update(group)
    return sorted(words)

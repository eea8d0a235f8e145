"""The review world's grammar as a reader knows it: which sentences are English here.

The world generated its text (:class:`rewardlab.core.world.ReviewGenerator`, its words in :mod:`rewardlab.core.vocabulary`), so it knows its
grammar. A reader accepts a little more than the generator writes: any two clauses joined by
``and`` or ``but``, not only the pairs the generator happens to draw. With ``A`` an adjective
phrase ``[not|never|rarely] [intensifier|dampener] ADJ`` and ``ASP`` an aspect (``were`` after a
plural one; a film may be the subject too, "the movie was good")::

    sentence := clause [(and | but) clause] .   |   ADJ ASP , ADJ ASP .
    clause   := the ASP was A                    |   i thought the ASP was A
              | the ASP felt [intensifier|dampener] ADJ
              | it was [not|never|rarely] a|an [intensifier|dampener] ADJ FILM   (a/an agrees)
              | i [never|rarely] VERB the ASP    |   we watched it on DAY with my PERSON
              | it runs about NUMBER minutes     |   i saw it at the PLACE with my PERSON

``ADJ`` is a word of VADER's lexicon that ``lemminflect``'s lexicon lists as an adjective (outside
the closed classes), ``VERB`` one of the world's sentiment verbs; every other class is the world's
closed word list. "it was a totally documentary", "wonderful wonderful ." and "i thought the
lighting was rarely loved the story ." are not sentences.

The grammar is a finite union of word-class sequences, recognised by a small nondeterministic
automaton over (clause, position) states. It answers four questions about a piece of text:
``full`` (a whole sentence), ``suffix`` (the end of one: a response's first piece finishes the
prompt's sentence), ``prefix`` (the start of one: a last piece cut by the length budget) and
``infix`` (a response with no sentence end at all). Why written here: no parser ships this
world's grammar, and a regular grammar this small needs no parser library.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

from rewardlab.core.vader import _vader
from rewardlab.core.vocabulary import (
    ASPECTS, DAMPENERS, FILMS, GRAMMAR_WORDS, INTENSIFIERS, NOT_SENTIMENT, NUMBERS, PEOPLE, PLACES,
    PLURAL_ASPECTS, SENTIMENT_VERBS, TIMES, is_adjective,
)

MODES = ("full", "suffix", "prefix", "infix")
_CLASSES = {
    "ASP": set(ASPECTS) - PLURAL_ASPECTS, "ASPS": set(PLURAL_ASPECTS), "FILM": set(FILMS), "PERSON": set(PEOPLE),
    "PLACE": set(PLACES), "DAY": set(TIMES), "NUMBER": set(NUMBERS), "VERB": set(SENTIMENT_VERBS),
    "INT": set(INTENSIFIERS), "DAMP": set(DAMPENERS), "NOT": {"not"}, "NEVER": {"never", "rarely"},
}
_LITERALS = set(GRAMMAR_WORDS) | {"but", ".", ","}


@lru_cache(maxsize=None)
def word_classes(word: str) -> frozenset[str]:
    """The grammar symbols a word can stand for: its classes (``ADJ``, ``ASP`` ...), with ``_V``/``_C``
    variants for a/an agreement, and the word itself when it is one of the grammar's literals."""
    tags = {name for name, words in _CLASSES.items() if word in words}
    if word in _LITERALS:
        tags.add(word)
    if (word in _vader().lexicon and word.isalpha() and word not in NOT_SENTIMENT
            and word not in SENTIMENT_VERBS and is_adjective(word)):
        tags.add("ADJ")
    for tag in tags & {"ADJ", "INT", "DAMP"}:
        tags.add(tag + ("_V" if word[0] in "aeiou" else "_C"))
    return frozenset(tags)


def _clauses() -> list[tuple[str, ...]]:
    """Every clause of the grammar as a sequence of symbols (optional slots expanded)."""
    negation, modifier = [(), ("NOT",), ("NEVER",)], [(), ("INT",), ("DAMP",)]
    subjects = [("the", "ASP", "was"), ("the", "FILM", "was"), ("the", "ASPS", "were")]
    adjective = [n + m + ("ADJ",) for n, m in product(negation, modifier)]
    out = [s + a for s, a in product(subjects, adjective)]
    out += [("i", "thought") + s + a for s, a in product(subjects, adjective)]
    out += [("the", asp, "felt") + m + ("ADJ",) for asp, m in product(("ASP", "FILM", "ASPS"), modifier)]
    articled = [("a", "ADJ_C"), ("a", "INT_C", "ADJ"), ("a", "DAMP_C", "ADJ"),
                ("an", "ADJ_V"), ("an", "INT_V", "ADJ"), ("an", "DAMP_V", "ADJ")]
    out += [("it", "was") + n + a + ("FILM",) for n, a in product(negation, articled)]
    out += [("i",) + n + ("VERB", "the", asp) for n, asp in product([(), ("NEVER",)], ("ASP", "FILM", "ASPS"))]
    out += [tuple("we watched it on DAY with my PERSON".split()), tuple("it runs about NUMBER minutes".split()),
            tuple("i saw it at the PLACE with my PERSON".split())]
    return out


CLAUSES = _clauses()
LISTS = [("ADJ", a, ",", "ADJ", b, ".") for a, b in product(("ASP", "ASPS"), repeat=2)]
_START, _AFTER1, _BEFORE2, _AFTER2, _END = "start", "after1", "before2", "after2", "end"


def _step(states: frozenset, tags: frozenset[str]) -> frozenset:
    """One word of the automaton: the states reachable from ``states`` reading a word with ``tags``."""
    out = set()
    for state in states:
        if state == _START or state == _BEFORE2:
            phase = 1 if state == _START else 2
            out.update(_advance(phase, k, 0, CLAUSES, tags) for k in range(len(CLAUSES)))
            if state == _START:
                out.update(_advance("list", k, 0, LISTS, tags) for k in range(len(LISTS)))
        elif state == _AFTER1:
            out.add(_BEFORE2 if tags & {"and", "but"} else _END if "." in tags else None)
        elif state == _AFTER2:
            out.add(_END if "." in tags else None)
        elif state != _END:
            phase, k, i = state
            out.add(_advance(phase, k, i, LISTS if phase == "list" else CLAUSES, tags))
    out.discard(None)
    return frozenset(out)


def _advance(phase, k: int, i: int, table: list[tuple[str, ...]], tags: frozenset[str]):
    """The state after slot i of sequence k reads a word with ``tags`` (None when the slot refuses it)."""
    if table[k][i] not in tags:
        return None
    if i + 1 < len(table[k]):
        return (phase, k, i + 1)
    return {1: _AFTER1, 2: _AFTER2, "list": _END}[phase]


def _all_states() -> frozenset:
    inner = {(phase, k, i) for phase in (1, 2) for k, c in enumerate(CLAUSES) for i in range(1, len(c))}
    inner |= {("list", k, i) for k, c in enumerate(LISTS) for i in range(1, len(c))}
    return frozenset(inner | {_START, _AFTER1, _BEFORE2, _AFTER2})


_ANYWHERE = _all_states()


@lru_cache(maxsize=1 << 16)
def _accepts(symbols: tuple[frozenset[str], ...], mode: str) -> bool:
    states = _ANYWHERE if mode in ("suffix", "infix") else frozenset({_START})
    for tags in symbols:
        states = _step(states, tags)
        if not states:
            return False
    return _END in states if mode in ("full", "suffix") else True


def well_formed(words, mode: str = "full") -> bool:
    """Whether ``words`` (a list, or a string split on spaces) is a sentence of the world's grammar
    (``mode="full"``), the end of one (``"suffix"``), its start (``"prefix"``) or a piece of one
    (``"infix"``). Every state of the automaton reaches a sentence end, so a prefix is any word
    sequence the automaton can read from the start."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    words = words.split() if isinstance(words, str) else list(words)
    if not words:
        return mode != "full"
    return _accepts(tuple(word_classes(w) for w in words), mode)

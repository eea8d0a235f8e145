"""The reader's gold judge: the world's grammar, what a reader values, exact word credit."""

import dataclasses
import itertools

import numpy as np
import pytest

from rewardlab.core.grammar import well_formed
from rewardlab.core.judges import ReaderJudge, VaderJudge, load_gold_judge
from rewardlab.core.reader import BROKEN, KEPT, PENALTY, READER_PAIRS, REPEATED, read, reader_word_credit
from rewardlab.core.world import generate_reviews

@pytest.mark.parametrize("better, worse", READER_PAIRS)
def test_natural_reviews_rank_above_degenerate_ones(better, worse):
    reader = ReaderJudge()
    assert reader([better])[0] > reader([worse])[0]


def test_vader_alone_is_fooled_by_the_degenerate_texts():
    """Why the reader exists: VADER scores most of the degenerate texts at least as high as the natural ones."""
    vader = VaderJudge()
    degenerate = READER_PAIRS[:12]
    fooled = sum(vader([worse])[0] >= vader([better])[0] for better, worse in degenerate)
    assert fooled >= 8


@pytest.mark.parametrize("text", [
    "the plot was good .", "the effects were not very good .", "i thought the plot was slightly dull .",
    "it was not an excellent film .", "it was a very bad film .", "it was an incredibly good movie .",
    "good plot , awful ending .", "i never loved the plot .", "the plot felt warm and the cast felt weak .",
    "the plot was good but the acting was bad .", "we watched it on monday with my sister .",
    "it runs about ninety minutes .", "i saw it at the cinema with my mother .",
    "i saw it at the cinema with my mother and the plot was good .",
])
def test_grammar_accepts_the_worlds_sentences(text):
    assert well_formed(text)


@pytest.mark.parametrize("text", [
    "it was a totally documentary .", "i thought the lighting was rarely loved the story .",
    "wonderful wonderful wonderful wonderful .", "it was an good film .", "it was a excellent film .",
    "the effects was good .", "the plot were good .", "i not loved the plot .", "the plot was good",
    "the plot was very very good .", "the plot was good and the acting was bad and the music was fine .",
    "loved the plot .", "the plot good .",
])
def test_grammar_refuses_what_breaks_it(text):
    assert not well_formed(text)


def test_sentence_pieces_at_the_edges():
    assert well_formed("good .", "suffix") and well_formed("was good but the plot was bad .", "suffix")
    assert not well_formed("good good .", "suffix")
    assert well_formed("the plot was", "prefix") and not well_formed("plot the was", "prefix")
    assert well_formed("plot was", "infix") and not well_formed("was was", "infix")
    with pytest.raises(ValueError, match="mode"):
        well_formed("the plot was good .", "middle")


def test_every_generated_review_is_well_formed_and_read_as_vader_reads_it(smoke_preset):
    reviews = generate_reviews(smoke_preset, n=400, seed=3)
    prompt_words = smoke_preset.world.prompt_words
    responses = [" ".join(r[prompt_words:]) for r in reviews]
    assert all(read(" ".join(r)).well_formed_share == 1.0 for r in reviews)
    readings = [read(r) for r in responses]
    assert all(reading.well_formed_share == 1.0 for reading in readings)
    assert not any(BROKEN in reading.fates for reading in readings)
    reader, vader = ReaderJudge()(responses), VaderJudge()(responses)
    no_repeats = np.array([REPEATED not in reading.fates for reading in readings])
    assert no_repeats.mean() > 0.8
    assert np.allclose(reader[no_repeats], vader[no_repeats])
    assert np.corrcoef(reader, vader)[0, 1] >= 0.95
    # a demonstration cut by the length budget ends inside a sentence: still nothing broken
    assert not any(BROKEN in read(" ".join(r.split()[:9])).fates for r in responses)


def test_penalties_fall_on_the_words_that_cause_them():
    reading = read("the plot was good . good good plot was . the plot was good .")
    assert reading.fates == tuple([KEPT] * 5 + [BROKEN] * 5 + [REPEATED] * 5)
    assert reading.penalty == pytest.approx(PENALTY * 10 / 15)
    assert reading.gold == pytest.approx(VaderJudge()(["the plot was good ."])[0] - 10 / 15)
    credit = reader_word_credit("the plot was good . good good plot was . the plot was good .")
    assert np.allclose(credit[5:], -PENALTY / 15)
    # a sentiment word used again reads as neutral and is charged
    reading = read("the plot was good . the cast was good .")
    assert reading.fates[8] == REPEATED and reading.kept_text.split()[8] == "xq"
    assert reading.gold == pytest.approx(VaderJudge()(["the plot was good . the cast was xq ."])[0] - 1 / 10)


def test_word_credit_sums_to_the_gold_exactly(smoke_preset):
    texts = [" ".join(r[4:]) for r in generate_reviews(smoke_preset, n=150, seed=9)]
    texts += [worse for _, worse in READER_PAIRS] + ["", ".", "the", "good good"]
    rng = np.random.default_rng(0)
    words = " ".join(texts).split()
    texts += [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 30, size=60)]  # word salad
    reader = ReaderJudge()
    for text in texts:
        credit = reader.word_credit(text)
        assert credit.shape == (len(text.split()),)
        assert credit.sum() == pytest.approx(reader([text])[0], abs=1e-9)


def test_enumerated_short_texts_score_inside_the_range():
    vocabulary = ["the", "plot", "was", "good", "not", ".", "bad", "but"]
    reader = ReaderJudge()
    for n in range(1, 5):
        for words in itertools.product(vocabulary, repeat=n):
            text = " ".join(words)
            score = reader([text])[0]
            assert -1 - PENALTY - 1e-9 <= score <= 1 + 1e-9
            assert reader.word_credit(text).sum() == pytest.approx(score, abs=1e-9)


def test_the_preset_picks_its_judge(smoke_preset):
    assert smoke_preset.world.gold_judge == "reader"
    assert isinstance(load_gold_judge(smoke_preset), ReaderJudge)
    vader = dataclasses.replace(smoke_preset, world=dataclasses.replace(smoke_preset.world, gold_judge="vader"))
    assert isinstance(load_gold_judge(vader), VaderJudge)
    imdb = dataclasses.replace(smoke_preset, world=dataclasses.replace(smoke_preset.world, source="imdb"))
    with pytest.raises(ValueError, match="classifier"):
        load_gold_judge(imdb)
    with pytest.raises(TypeError, match="list"):
        ReaderJudge()("a single string")

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from rewardlab.core import tokenizer as T
from rewardlab.core import vocabulary as V
from rewardlab.core import world as W
from rewardlab.core.presets import load_preset

LEXICON = SentimentIntensityAnalyzer().lexicon


def test_generator_is_deterministic_per_seed(smoke_preset):
    first = W.generate_reviews(smoke_preset, n=50, seed=3)
    assert first == W.generate_reviews(smoke_preset, n=50, seed=3)
    assert first != W.generate_reviews(smoke_preset, n=50, seed=4)


def test_vocabulary_size_and_valence_spread():
    preset = load_preset("tiny")
    vocabulary = V.generator_vocabulary(preset)
    assert len(vocabulary) >= 700
    valences = [v for _, v in V.sentiment_vocabulary(preset.world.n_sentiment_words)]
    assert min(valences) < -3 and max(valences) > 3
    assert sum(-1 < v < 1 for v in valences) > 100  # weak words too, not only extremes
    for word in V.NEGATORS + V.INTENSIFIERS + V.DAMPENERS + [V.CONTRAST]:
        assert word in vocabulary
    assert "so" not in vocabulary and "this" not in vocabulary  # VADER special-cases them


def test_every_sentiment_word_fills_a_slot_of_its_part_of_speech(smoke_preset):
    vocabulary = dict(V.sentiment_vocabulary(600))
    adjectives = {w for w in vocabulary if w not in V.SENTIMENT_VERBS}
    assert all(V.is_adjective(w) for w in adjectives) and abs(len(adjectives) - 590) <= 8  # shares are rounded per valence bin
    assert not {"bias", "exclusion", "errors", "distorted", "like"} & set(vocabulary)  # nouns, verbs, participles
    for review in W.generate_reviews(smoke_preset, n=200, seed=0):
        for i, word in enumerate(review):
            if word in adjectives:  # after was/were/felt, an article, a modifier, or before an aspect
                before, after = review[i - 1] if i else "", review[i + 1] if i + 1 < len(review) else ""
                assert (before in {"was", "were", "felt", "a", "an"} | set(V.NEGATORS + V.INTENSIFIERS + V.DAMPENERS)
                        or after in V.ASPECTS), " ".join(review)
            elif word in V.SENTIMENT_VERBS:
                assert review[i - 1] in {"i", "never", "rarely"} and review[i + 1] == "the"
            elif word in ("a", "an"):
                assert (word == "an") == (review[i + 1][0] in "aeiou")
            elif word in V.ASPECTS and i + 1 < len(review) and review[i + 1] in ("was", "were"):
                assert (review[i + 1] == "were") == (word in V.PLURAL_ASPECTS)


def test_filler_words_carry_no_valence():
    filler = V.ASPECTS + V.FILMS + V.PEOPLE + V.PLACES + V.TIMES + V.NUMBERS + V.GRAMMAR_WORDS
    assert [w for w in filler if w in LEXICON] == []


def test_review_lengths_and_prompts(smoke_preset):
    reviews = W.generate_reviews(smoke_preset, n=300, seed=0)
    responses = [len(r) - smoke_preset.world.prompt_words for r in reviews]
    assert min(responses) >= 16 and max(responses) <= 48
    assert len(set(responses)) > 10  # a spread of lengths
    vocabulary = set(V.generator_vocabulary(smoke_preset))
    assert all(w in vocabulary for r in reviews for w in r)


def test_reviews_span_the_gold_range(smoke_world):
    from rewardlab.core.judges import VaderJudge

    gold = VaderJudge()(smoke_world.splits["train"]["demonstration"])
    assert gold.min() < -0.5 and gold.max() > 0.5 and abs(gold.mean()) < 0.3


def test_splits_have_disjoint_prompts(smoke_world, smoke_preset):
    prompts = {name: set(split["prompt"]) for name, split in smoke_world.splits.items()}
    assert not prompts["train"] & prompts["validation"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["validation"] & prompts["test"]
    total = sum(len(s) for s in smoke_world.splits.values())
    assert total == smoke_preset.world.n_reviews
    assert abs(len(smoke_world.splits["test"]) / total - smoke_preset.world.test_fraction) < 0.05
    assert all(len(p.split()) == smoke_preset.world.prompt_words for p in smoke_world.splits["train"]["prompt"])


def test_tokenizer_round_trip_one_token_per_word(smoke_preset, smoke_world, tmp_path):
    tokenizer = T.build_tokenizer(smoke_preset)
    assert len(tokenizer) == len(V.generator_vocabulary(smoke_preset)) + 4
    for text in smoke_world.splits["test"]["demonstration"][:20]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(text.split()) and tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
    assert tokenizer("zzzz unseenword")["input_ids"] == [tokenizer.unk_token_id] * 2
    tokenizer.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    text = smoke_world.splits["train"]["demonstration"][0]
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert (reloaded.pad_token, reloaded.bos_token, reloaded.eos_token) == ("<pad>", "<bos>", "<eos>")


def test_load_tokenizer_is_cached(smoke_preset):
    first = T.load_tokenizer(smoke_preset)
    assert first.get_vocab() == T.load_tokenizer(smoke_preset).get_vocab()


def test_imdb_loading_path_with_a_local_dataset(tmp_path):
    import datasets

    long_review = " ".join(f"word{i}" for i in range(60))
    texts = [long_review.replace("word0", f"start{i}") for i in range(40)] + ["too short"]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": texts, "label": [0] * 41})}).save_to_disk(tmp_path / "imdb")
    preset = load_preset("tiny", world={"source": "imdb", "dataset_name": str(tmp_path / "imdb"), "prompt_words": 8})
    world = W.build_world(preset)
    assert world.vocabulary is None
    total = sum(len(s) for s in world.splits.values())
    assert total == 40  # the short review is dropped
    row = world.splits["train"][0]
    assert len(row["prompt"].split()) == 8 and len(row["demonstration"].split()) == 48


def test_sentiment_vocabulary_too_large_raises():
    with pytest.raises(ValueError, match="exceeds"):
        V.sentiment_vocabulary(100000)


def test_the_reviews_own_opinion_sits_on_either_side_of_but(smoke_preset):
    """World v4: a contrast sentence holds opposite opinions, the review's own before or after "but" at
    random, so VADER's contrast rule (after "but" weighs 3x before) decides how the sentence counts."""
    analyzer, generator, rng = SentimentIntensityAnalyzer(), W.ReviewGenerator(smoke_preset), np.random.default_rng(0)
    own_first = []
    while len(own_first) < 200:
        sentence = generator._sentence(rng, z=1.0, opinion=True)  # z = 1: the review's opinion is positive (98%)
        if "but" in sentence:
            cut = sentence.index("but")
            before, after = (analyzer.polarity_scores(" ".join(part))["compound"]
                             for part in (sentence[:cut], sentence[cut + 1:]))
            assert before * after < 0, " ".join(sentence)  # the two sides disagree
            own_first.append(before > 0)
    assert 0.35 < np.mean(own_first) < 0.65

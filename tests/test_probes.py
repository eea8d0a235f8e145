"""The phenomenon probe set: minimal pairs ordered by gold, one difference each, and accuracy per phenomenon."""

from collections import Counter

import numpy as np
import pytest

from rewardlab.core.judges import VaderJudge
from rewardlab.core.vocabulary import DAMPENERS, INTENSIFIERS, NEGATORS, sentiment_vocabulary
from rewardlab.reward import probes as R
from rewardlab.reward.models import build_reward_model
from rewardlab.reward.preferences import check_preference_dataset


@pytest.fixture(scope="module")
def probe_set():
    return R.probe_pairs(sentiment_vocabulary(600), VaderJudge(), n_per_phenomenon=30, seed=0)


def test_every_phenomenon_gets_its_pairs_in_trl_format_ordered_by_gold(probe_set):
    check_preference_dataset(probe_set)
    assert Counter(probe_set["phenomenon"]) == {name: 30 for name in R.PHENOMENA}
    assert all(c > r for c, r in zip(probe_set["chosen_gold"], probe_set["rejected_gold"]))
    judge = VaderJudge()
    assert np.allclose(judge([c.strip() for c in probe_set["chosen"]]), probe_set["chosen_gold"])
    assert set(probe_set["prompt"]) == {R.PROBE_PROMPT}


def test_each_pair_differs_only_in_its_phenomenon(probe_set):
    modifiers = {"negation": set(NEGATORS), "intensifier": set(INTENSIFIERS), "dampener": set(DAMPENERS)}
    for row in probe_set:
        a, b = row["chosen"].split(), row["rejected"].split()
        kind = row["phenomenon"]
        if kind in modifiers:  # one response is the other with one modifier in front
            longer, shorter = (a, b) if len(a) > len(b) else (b, a)
            assert len(longer) == len(shorter) + 1 and longer[1:] == shorter and longer[0] in modifiers[kind]
        elif kind == "contrast":  # the same words, the sides of "but" swapped
            assert sorted(a) == sorted(b) and a[1] == b[1] == "but" and a[0] == b[-2] and a[-2] == b[0]
        else:  # one sentiment word for another
            assert len(a) == len(b) == 2 and a[0] != b[0] and a[1] == b[1] == "."


def test_probes_are_seeded_and_refuse_what_they_cannot_build():
    vocabulary = sentiment_vocabulary(600)
    first = R.probe_pairs(vocabulary, VaderJudge(), 5, seed=3)
    assert first.to_dict() == R.probe_pairs(vocabulary, VaderJudge(), 5, seed=3).to_dict()
    assert first["chosen"] != R.probe_pairs(vocabulary, VaderJudge(), 5, seed=4)["chosen"]
    assert all(w in {"good", "bad", "great"} for w, _ in R.adjectives([("good", 1.9), ("bad", -2.5), ("great", 3.1),
                                                                         ("exclusion", -1.0)]))
    with pytest.raises(ValueError, match="positive and .* negative adjectives"):
        R.probe_pairs([("good", 1.9), ("bad", -2.5)], VaderJudge(), 5)
    with pytest.raises(ValueError, match="n_per_phenomenon"):
        R.probe_pairs(vocabulary, VaderJudge(), 0)


def test_accuracy_by_phenomenon_counts_ties_half_and_checks_lengths():
    accuracy = R.accuracy_by_phenomenon([1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 2.0, 0.0], ["a", "a", "b", "b"])
    assert accuracy == {"a": 0.5, "b": 0.75}
    with pytest.raises(ValueError, match="one chosen and one rejected"):
        R.accuracy_by_phenomenon([1.0], [0.0, 1.0], ["a"])


def test_probe_accuracy_scores_a_reward_model(smoke_preset, smoke_policy, probe_set):
    model = build_reward_model(smoke_preset, smoke_policy[1], seed=0).eval()
    accuracy = R.probe_accuracy(model, smoke_policy[1], probe_set)
    assert set(accuracy) == set(R.PHENOMENA) and all(0.0 <= a <= 1.0 for a in accuracy.values())


def test_the_reader_reads_every_probe_as_vader_does(probe_set):
    """Each probe finishes the prompt's sentence in the world's grammar, so the reader gold is VADER's."""
    from rewardlab.core.judges import ReaderJudge

    responses = [r.strip() for r in list(probe_set["chosen"]) + list(probe_set["rejected"])]
    assert np.allclose(ReaderJudge()(responses), VaderJudge()(responses))

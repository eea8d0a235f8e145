"""The learning curve's pieces: doubling sizes, nested subsets, the bag-of-words Bradley-Terry baseline."""

import datasets
import numpy as np
import pytest

from rewardlab.reward import learning_curve as L


def _pairs(n: int, seed: int = 0) -> datasets.Dataset:
    """Pairs whose gold is the count of "good" minus the count of "bad" (a word-valence world)."""
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("prompt", "chosen", "rejected", "chosen_gold", "rejected_gold")}
    while len(rows["prompt"]) < n:
        a, b = (list(rng.choice(["good", "bad", "plot", "film"], size=6)) for _ in range(2))
        ga, gb = a.count("good") - a.count("bad"), b.count("good") - b.count("bad")
        if ga == gb:
            continue
        (c, gc), (r, gr) = sorted(((a, ga), (b, gb)), key=lambda x: -x[1])
        for key, value in zip(rows, ("p", " " + " ".join(c), " " + " ".join(r), float(gc), float(gr))):
            rows[key].append(value)
    return datasets.Dataset.from_dict(rows)


def test_curve_sizes_double_up_to_the_training_pairs():
    assert L.curve_sizes(64000, 7) == [1000, 2000, 4000, 8000, 16000, 32000, 64000]
    assert L.curve_sizes(80, 3) == [20, 40, 80]
    with pytest.raises(ValueError, match="points >= 1"):
        L.curve_sizes(100, 0)


def test_subsets_are_nested_seeded_and_checked():
    subsets = L.nested_subsets(100, [10, 50, 100], seed=1)
    assert set(subsets[10]) <= set(subsets[50]) <= set(subsets[100]) == set(range(100))
    assert np.array_equal(subsets[50], L.nested_subsets(100, [50], seed=1)[50])
    assert not np.array_equal(subsets[50], L.nested_subsets(100, [50], seed=2)[50])
    with pytest.raises(ValueError, match=r"sizes must lie in 1\.\.100"):
        L.nested_subsets(100, [200], seed=0)


def test_bag_of_words_learns_word_valences_and_its_curve_rises():
    train, heldout = _pairs(400, seed=0), _pairs(200, seed=1)
    model = L.BagOfWordsReward().fit(train["chosen"], train["rejected"])
    assert model(["good good"])[0] > model(["plot film"])[0] > model(["bad bad"])[0]
    curve = L.bag_of_words_curve(train, heldout, [8, 400], seeds=[0, 1])
    assert set(curve) == {8, 400} and all(len(v) == 2 for v in curve.values())
    assert np.mean(curve[400]) > 0.95 and np.mean(curve[400]) > np.mean(curve[8])


def test_reward_model_curve_calls_the_trainer_per_size_and_seed():
    train, heldout = _pairs(100), _pairs(50, seed=1)
    calls = []

    def train_and_score(subset, seed):
        calls.append((len(subset), seed))
        return lambda prompts, responses: np.array([r.count("good") - r.count("bad") for r in responses], float)

    curve = L.reward_model_curve(train, heldout, [25, 50], [0, 1], train_and_score)
    assert calls == [(25, 0), (50, 0), (25, 1), (50, 1)]
    assert curve == {25: [1.0, 1.0], 50: [1.0, 1.0]}

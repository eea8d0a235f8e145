"""The batched Shapley estimators: exact on additive games, near the exact values on a game with interactions,
the same estimand as the ``shap`` package on a reward model, and each repeated coalition scored once."""

import itertools
import math

import numpy as np
import pytest

from rewardlab.shaping import estimators
from rewardlab.shaping.masking import Example, MaskedReward, encode_examples


class Game:
    """A stand-in for MaskedReward: v(S) = sum of ``weights`` over S + ``pair`` if tokens 0 and 1 are both in S."""

    batch_size = 512

    def __init__(self, weights, pair=0.0):
        self.weights, self.pair, self.evals = np.asarray(weights, float), pair, 0

    def sequences(self, example, keep):
        return [tuple(np.flatnonzero(row)) for row in np.atleast_2d(keep)]

    def __call__(self, sequences):
        self.evals += len(sequences)
        return np.array([self.weights[list(s)].sum() + (self.pair if {0, 1} <= set(s) else 0.0) for s in sequences])

    def exact(self):
        n = len(self.weights)
        phi = np.zeros(n)
        for t in range(n):
            others = [u for u in range(n) if u != t]
            for k in range(n):
                for subset in itertools.combinations(others, k):
                    weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                    with_t = self([(*subset, t)])[0]
                    phi[t] += weight * (with_t - self([subset])[0])
        return phi


class TripleGame(Game):
    """Game plus ``triple`` when tokens 2, 3 and 4 are all in S."""

    def __init__(self, weights, pair, triple):
        super().__init__(weights, pair)
        self.triple = triple

    def __call__(self, sequences):
        base = super().__call__(sequences)
        return base + np.array([self.triple if {2, 3, 4} <= set(s) else 0.0 for s in sequences])


def _example(n):
    return Example([1], list(range(10, 10 + n)), [f"w{i}" for i in range(n)], np.arange(n), n)


@pytest.mark.parametrize("estimator", [estimators.permutation_shap, estimators.kernel_shap, estimators.first_last_shap,
                                       estimators.first_position_shap])
def test_an_additive_game_is_recovered_exactly_and_credit_sums_to_the_reward(estimator):
    game = Game([0.5, -1.0, 2.0, 0.25, 0.0, -0.75])
    result = estimator(game, [_example(6)], max_evals=24, seed=1)[0]
    assert np.allclose(result.scores, game.weights, atol=1e-6)
    assert result.scores.sum() == pytest.approx(game.weights.sum())  # v(full) - v(empty), v(empty) = 0
    assert result.token_rewards.sum() == pytest.approx(result.reward)


@pytest.mark.parametrize("estimator", [estimators.permutation_shap, estimators.kernel_shap])
def test_an_interaction_is_shared_as_the_shapley_values_share_it(estimator):
    game = Game([0.3, -0.2, 0.1, 0.4, -0.5], pair=1.0)  # tokens 0 and 1 split the +1 between them
    exact = Game(game.weights, 1.0).exact()
    assert exact[:2] == pytest.approx(game.weights[:2] + 0.5)
    result = estimator(game, [_example(5)], max_evals=400, seed=0)[0]
    assert np.allclose(result.scores, exact, atol=0.08)
    assert result.scores.sum() == pytest.approx(exact.sum())  # efficiency holds for every draw


def test_first_and_last_position_is_exact_without_three_way_interactions():
    """Pairwise interactions are shared exactly as Shapley shares them, by a deterministic 2T + 2 evaluations;
    leave-one-out alone would give each partner the whole interaction."""
    game = Game([0.3, -0.2, 0.1, 0.4, -0.5], pair=1.0)
    exact, game.evals = game.exact(), 0
    result = estimators.first_last_shap(game, [_example(5)])[0]
    assert np.allclose(result.scores, exact, atol=1e-12)
    assert game.evals == result.rm_evals == 2 * 5 + 2


def test_first_position_spreads_a_pairwise_interaction_over_all_tokens():
    """Without leave-one-out, a pair's interaction b is seen by no singleton: efficiency spreads it as b / T
    over every token, where Shapley gives b / 2 to each partner. T + 2 evaluations."""
    game = Game([0.3, -0.2, 0.1, 0.4, -0.5], pair=1.0)
    game.evals = 0
    result = estimators.first_position_shap(game, [_example(5)])[0]
    assert np.allclose(result.scores, game.weights + 1.0 / 5, atol=1e-12)
    assert game.evals == result.rm_evals == 5 + 2


@pytest.mark.parametrize("leave_one_out", [True, False])
def test_the_prefix_cached_position_values_equal_scoring_every_coalition(smoke_policy, smoke_preset, smoke_world,
                                                                         leave_one_out):
    from rewardlab.reward.models import build_reward_model

    _, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=2).eval()
    prompts = list(dict.fromkeys(smoke_world.splits["test"]["prompt"]))[:5]
    responses = [" ".join(r.split()[:k]) for r, k in zip(smoke_world.splits["test"]["demonstration"][:5], [1, 3, 9, 6, 12])]
    examples = encode_examples(model, tokenizer, prompts, responses)
    cached = estimators.position_values(model, examples, tokenizer.eos_token_id, leave_one_out)
    keeps = [np.concatenate([np.zeros((1, n), bool), np.ones((1, n), bool), np.eye(n, dtype=bool),
                             *([~np.eye(n, dtype=bool)] if leave_one_out else [])])
             for n in (len(e.response_ids) for e in examples)]
    whole = estimators.score_coalitions(MaskedReward(model, tokenizer), examples, keeps)
    for a, b in zip(cached, whole):
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)


def test_a_repeated_coalition_is_scored_once():
    game = Game(np.ones(3))
    results = estimators.kernel_shap(game, [_example(3), _example(3)], max_evals=64, seed=0)
    assert game.evals == sum(r.rm_evals for r in results) <= 2 * 2**3  # at most the 8 coalitions of 3 tokens


def test_the_estimators_estimate_what_the_shap_package_estimates():
    """One estimand: on a game with a pairwise and a three-way interaction, ``shap.PermutationExplainer``
    (through ``attribution.shap_attributions``), ``shap.KernelExplainer`` and our batched permutation and
    kernel estimators all land on the exact Shapley values (by enumeration). First-last gives the
    three-way interaction 1/2 to each of its tokens where Shapley gives 1/3 (and spreads the excess
    evenly, for efficiency); nothing else differs."""
    import shap

    from rewardlab.shaping.attribution import shap_attributions

    game = TripleGame([0.3, -0.2, 0.1, 0.4, -0.5, 0.2, -0.1], pair=1.0, triple=-0.9)
    exact, example = game.exact(), _example(7)
    estimates = {"shap package, permutation": shap_attributions(game, [example], max_evals=6000)[0].scores,
                 "permutation": estimators.permutation_shap(game, [example], 6000, seed=1)[0].scores,
                 "kernel": estimators.kernel_shap(game, [example], 6000, seed=1)[0].scores}
    explainer = shap.KernelExplainer(lambda z: game(game.sequences(example, np.asarray(z) > 0.5)), np.zeros((1, 7)))
    estimates["shap package, kernel"] = explainer.shap_values(np.ones((1, 7)), nsamples=6000, l1_reg=False,
                                                              silent=True)[0]
    for name, values in estimates.items():
        assert np.allclose(values, exact, atol=0.03), (name, values, exact)
    first_last = estimators.first_last_shap(game, [example])[0].scores
    shift = np.zeros(7)
    shift[[2, 3, 4]] = -0.9 * (1 / 2 - 1 / 3)  # then the efficiency gap is spread over all 7 tokens
    assert np.allclose(first_last, exact + shift - shift.sum() / 7, atol=1e-9)


def test_first_last_agrees_with_exact_shapley_values_on_a_reward_model(smoke_policy, smoke_preset, smoke_world):
    """Responses of 8 tokens: exact Shapley values by enumerating all 256 coalitions of the reward model's game."""
    from rewardlab.reward.models import build_reward_model

    _, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=3).eval()
    prompts = list(dict.fromkeys(smoke_world.splits["test"]["prompt"]))[:3]
    responses = [" ".join(r.split()[:8]) for r in smoke_world.splits["test"]["demonstration"][:3]]
    examples = encode_examples(model, tokenizer, prompts, responses)
    first_last = estimators.first_last_shap(MaskedReward(model, tokenizer), examples)
    f = MaskedReward(model, tokenizer)
    for example, estimate in zip(examples, first_last):
        n = len(example.response_ids)
        coalitions = np.array(list(itertools.product([False, True], repeat=n)))
        v = dict(zip(map(tuple, coalitions), estimators.score_coalitions(f, [example], [coalitions])[0]))
        exact = np.zeros(n)
        for z in coalitions[~coalitions.all(1)]:
            weight = math.factorial(z.sum()) * math.factorial(n - z.sum() - 1) / math.factorial(n)
            for t in np.flatnonzero(~z):
                with_t = z.copy()
                with_t[t] = True
                exact[t] += weight * (v[tuple(with_t)] - v[tuple(z)])
        assert np.corrcoef(estimate.scores, exact)[0, 1] > 0.95
        assert estimate.scores.sum() == pytest.approx(exact.sum(), abs=1e-5)

from itertools import combinations
from math import factorial

import numpy as np
import pytest
import torch

from rewardlab.shaping import attribution as A
from rewardlab.shaping import faithfulness as F
from rewardlab.reward.models import build_reward_model, forward_with_internals, score


@pytest.fixture(scope="module")
def tokenizer(smoke_policy):
    return smoke_policy[1]


@pytest.fixture(scope="module")
def model(smoke_preset, tokenizer):
    torch.manual_seed(0)
    return build_reward_model(smoke_preset, tokenizer, seed=3).eval()


@pytest.fixture(scope="module")
def pairs(smoke_pairs):
    return list(smoke_pairs["prompt"][:5]), list(smoke_pairs["chosen"][:5])


@pytest.mark.parametrize("method", A.METHODS)
def test_token_rewards_sum_to_the_reward_and_line_up_with_the_tokens(method, model, tokenizer, pairs):
    prompts, responses = pairs
    results = A.attribute(method, model, tokenizer, prompts, responses, max_evals=200, num_samples=40)
    rewards = score(model, tokenizer, prompts, responses)
    for result, response, reward in zip(results, responses, rewards):
        n_words = len(response.split())  # the tiny tokenizer: one token per word
        assert result.method == method and len(result.tokens) == len(result.scores) == len(result.token_rewards) == n_words
        assert result.per_word().shape == (n_words,)
        assert result.reward == pytest.approx(reward, abs=1e-5)
        assert result.token_rewards.sum() == pytest.approx(reward, abs=1e-5)  # local accuracy
        assert result.rm_evals >= 1 and result.seconds >= 0


def test_shap_matches_exact_shapley_values_on_a_short_response(model, tokenizer, pairs):
    prompt, response = pairs[0][0], " ".join(pairs[1][0].split()[:4])
    example = A.encode_examples(model, tokenizer, [prompt], [response])[0]
    f = A.MaskedReward(model, tokenizer)
    n = len(example.response_ids)
    coalitions = [set(c) for size in range(n + 1) for c in combinations(range(n), size)]
    values = f(f.sequences(example, np.array([[t in c for t in range(n)] for c in coalitions])))
    value = {frozenset(c): v for c, v in zip(coalitions, values)}
    exact = np.zeros(n)
    for t in range(n):
        for c in coalitions:
            if t not in c:
                weight = factorial(len(c)) * factorial(n - len(c) - 1) / factorial(n)
                exact[t] += weight * (value[frozenset(c | {t})] - value[frozenset(c)])
    estimate = A.attribute("shap", model, tokenizer, [prompt], [response], max_evals=2000)[0]
    assert estimate.info["base_value"] == pytest.approx(value[frozenset()], abs=1e-5)
    assert np.allclose(estimate.scores, exact, atol=0.1 * np.abs(exact).max() + 1e-4)


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_sampled_methods_are_deterministic_per_seed(method, model, tokenizer, pairs):
    prompts, responses = pairs
    run = lambda seed: np.concatenate([r.scores for r in A.attribute(
        method, model, tokenizer, prompts[:3], responses[:3], max_evals=120, num_samples=30, seed=seed)])
    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_attention_is_the_last_layers_eos_row_over_the_response_normalised(model, tokenizer, pairs):
    prompts, responses = pairs
    results = A.attribute("attention", model, tokenizer, prompts, responses)
    for result, prompt, response in zip(results, prompts, responses):
        assert (result.scores >= 0).all() and result.scores.sum() == pytest.approx(1.0)
        inside = forward_with_internals(model, tokenizer, prompt, response)
        start = inside["response_start"]
        row = inside["attentions"][-1].mean(dim=0)[-1, start:-1].numpy()
        assert np.allclose(result.scores, row / row.sum(), atol=1e-6)
        assert np.allclose(result.token_rewards, result.scores * result.reward)


def test_lime_scores_its_neighbourhood_in_one_pass_and_counts_it(model, tokenizer, pairs):
    prompts, responses = pairs
    masks = A.lime_masks(7, 50, np.random.default_rng(0))
    assert masks[0].all() and (~masks[1:]).sum(axis=1).min() >= 1
    results = A.attribute("lime", model, tokenizer, prompts, responses, num_samples=50)
    assert [r.rm_evals for r in results] == [50] * len(prompts)
    assert all(0 <= r.info["r2"] <= 1 for r in results)


def test_masking_deletes_or_replaces_tokens(model, tokenizer, pairs):
    example = A.encode_examples(model, tokenizer, pairs[0][:1], pairs[1][:1])[0]
    keep = np.ones((1, len(example.response_ids)), dtype=bool)
    keep[0, :2] = False
    deleted = A.MaskedReward(model, tokenizer).sequences(example, keep)[0]
    replaced = A.MaskedReward(model, tokenizer, mask_token_id=tokenizer.unk_token_id).sequences(example, keep)[0]
    assert len(deleted) == len(example.prompt_ids) + len(example.response_ids) - 1
    assert replaced[len(example.prompt_ids): len(example.prompt_ids) + 2] == [tokenizer.unk_token_id] * 2
    assert deleted[-1] == replaced[-1] == tokenizer.eos_token_id


def test_bad_input_gets_a_clear_error(model, tokenizer, pairs):
    prompt = pairs[0][0]
    with pytest.raises(ValueError, match="empty response"):
        A.attribute("lime", model, tokenizer, [prompt], ["   "])
    with pytest.raises(ValueError, match="context of 64"):
        A.attribute("attention", model, tokenizer, [prompt], [" ".join(["good"] * 70)])
    with pytest.raises(ValueError, match="2T \\+ 1"):
        A.attribute("shap", model, tokenizer, [prompt], [" ".join(["good"] * 30)], max_evals=50)
    with pytest.raises(ValueError, match="unknown attribution method"):
        A.attribute("gradients", model, tokenizer, [prompt], ["good"])
    with pytest.raises(TypeError, match="lists"):
        A.attribute("lime", model, tokenizer, prompt, "good")
    unknown = A.attribute("lime", model, tokenizer, [prompt], ["a zzyzxq good film"], num_samples=20)[0]
    assert unknown.tokens[1] == tokenizer.unk_token and len(unknown.scores) == 4  # unknown word -> <unk>


def test_deletion_curves_start_at_zero_and_share_their_end(model, tokenizer, pairs):
    prompts, responses = pairs
    lengths = [len(r.split()) for r in responses]
    forward = [np.arange(n) for n in lengths]
    backward = [np.arange(n)[::-1] for n in lengths]
    a = F.deletion_curves(model, tokenizer, prompts, responses, forward)
    b = F.deletion_curves(model, tokenizer, prompts, responses, backward)
    assert a.shape == (len(prompts), len(F.DELETION_FRACTIONS))
    assert np.allclose(a[:, 0], 0) and np.allclose(a[:, -1], b[:, -1])
    assert F.deletion_auc(np.array([[0.0, -1.0, -1.0]]), np.array([0.0, 0.5, 1.0]))[0] == pytest.approx(-0.75)
    with pytest.raises(ValueError, match="permutation"):
        F.deletion_curves(model, tokenizer, prompts[:1], responses[:1], [np.zeros(lengths[0], dtype=int)])


def test_credit_spearman_per_response(model, tokenizer, pairs):
    results = A.attribute("attention", model, tokenizer, pairs[0][:2], pairs[1][:2])
    perfect = F.credit_spearman(results, [r.token_rewards for r in results])
    assert np.allclose(perfect, 1.0)
    flat = F.credit_spearman(results[:1], [np.zeros(len(results[0].tokens))])
    assert np.isnan(flat[0])
    with pytest.raises(ValueError, match="credited words"):
        F.credit_spearman(results[:1], [np.zeros(2)])
    assert list(F.order_by([0.1, 3.0, -1.0, 3.0])) == [1, 3, 0, 2]


def test_explorer_switches_method_and_reports_bad_input(model, tokenizer, pairs):
    from rewardlab.core.judges import word_credit
    from rewardlab.shaping.views import GOLD, AttributionExplorer

    explorer = AttributionExplorer(model, tokenizer, *pairs, gold_credit=word_credit, max_evals=120, num_samples=30)
    shap_view = explorer.view.value
    assert "reward R(x, y)" in shap_view and "<span" in shap_view
    explorer.method.value = "attention"
    assert explorer.view.value != shap_view
    explorer.method.value = GOLD
    assert "gold score" in explorer.view.value
    explorer.choice.value = 2
    assert explorer.response.value == pairs[1][2]
    explorer.method.value = "lime"
    explorer.response.value = "  "
    assert "empty response" in explorer.view.value


def test_token_heatmap_figure(pairs):
    import matplotlib

    matplotlib.use("Agg")
    from rewardlab.shaping.views import plot_token_credit

    words = pairs[1][0].split()
    ax = plot_token_credit(words, {"a": np.arange(len(words)) - 3.0, "b": np.ones(len(words))}, words_per_line=8)
    assert len(ax.patches) == 2 * len(words)


def test_lime_fit_is_lime_base_in_closed_form():
    """``lime_fit`` gives ``LimeBase.explain_instance_with_data``'s intercept, coefficients and score."""
    from functools import partial

    from lime.lime_base import LimeBase
    from sklearn.metrics.pairwise import pairwise_distances

    from rewardlab.shaping.attribution import LIME_KERNEL_WIDTH, lime_fit, lime_masks

    rng = np.random.default_rng(0)
    data = lime_masks(12, 64, rng).astype(float)
    labels = data @ rng.normal(size=12) + 0.3 * rng.normal(size=64)
    kernel = partial(lambda d, width: np.sqrt(np.exp(-(d ** 2) / width ** 2)), width=LIME_KERNEL_WIDTH)
    distances = pairwise_distances(data, data[:1], metric="cosine").ravel() * 100
    intercept, weights, score, _ = LimeBase(kernel, random_state=0).explain_instance_with_data(
        data, labels[:, None], distances, label=0, num_features=12, feature_selection="none")
    expected = np.zeros(12)
    for feature, weight in weights:
        expected[feature] = weight
    got_intercept, got, got_score = lime_fit(data, labels)
    assert np.allclose(got, expected, atol=1e-8) and got_intercept == pytest.approx(intercept, abs=1e-8)
    assert got_score == pytest.approx(score, abs=1e-8)


def test_masked_reward_scores_what_the_reward_model_scores(smoke_policy, smoke_preset, smoke_world):
    """rewardlab's GPT-2 pass inside ``MaskedReward`` gives HF's ``GPT2ForSequenceClassification`` scores."""
    from rewardlab.reward.models import build_reward_model, score
    from rewardlab.shaping.masking import MaskedReward, encode_examples

    _, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=4).eval()
    prompts = list(dict.fromkeys(smoke_world.splits["test"]["prompt"]))[:6]
    responses = [" ".join(r.split()[:k]) for r, k in zip(smoke_world.splits["test"]["demonstration"][:6],
                                                         [1, 4, 9, 15, 2, 30])]
    f = MaskedReward(model, tokenizer, batch_size=4)
    examples = encode_examples(model, tokenizer, prompts, responses)
    ours = f([s for e in examples for s in f.sequences(e, np.ones((1, len(e.response_ids)), bool))])
    assert np.allclose(ours, score(model, tokenizer, prompts, responses), atol=1e-4)
    assert f.evals == 6

"""Oracle shaping: PPO on the gold reward with gold, SHAP or corrupted word credit."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from rewardlab.core.judges import ReaderJudge, VaderJudge, word_credit
from rewardlab.rl import rollouts as R
from rewardlab.shaping.faithfulness import credit_spearman
from rewardlab.shaping.oracle import oracle_credit, oracle_reward_fn

JUDGE = VaderJudge()


@pytest.fixture(scope="module")
def rollout(smoke_policy, smoke_world):
    policy, tokenizer, _ = smoke_policy
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:12]
    torch.manual_seed(0)
    return R.sample_rollout(policy, tokenizer, prompts, max_new_tokens=12), tokenizer


@pytest.mark.parametrize("judge", [VaderJudge(), ReaderJudge()], ids=["vader", "reader"])
@pytest.mark.parametrize("credit", ["sparse", "gold", "shap", "noisy"])
def test_every_credit_pays_the_gold_score_on_the_policy_tokens(credit, judge, rollout):
    sample, tokenizer = rollout
    reward_fn = oracle_reward_fn(credit, judge, tokenizer, noise=1.0, scale=0.3, seed=4)
    placed = R.token_reward_tensor(reward_fn(sample.prompts, sample.responses), sample, step=1, name=credit)
    assert placed.sum(dim=1).numpy() == pytest.approx(judge(sample.responses), abs=1e-5)


@pytest.mark.parametrize("judge", [VaderJudge(), ReaderJudge()], ids=["vader", "reader"])
def test_gold_credit_is_the_judges_word_credit(judge, rollout):
    sample, tokenizer = rollout
    gold = oracle_credit("gold", judge, tokenizer, sample.prompts, sample.responses)
    for attribution, response in zip(gold, sample.responses):
        assert attribution.per_word() == pytest.approx(judge.word_credit(response), abs=1e-9)


def test_noise_lowers_the_faithfulness_of_gold_credit(rollout):
    sample, tokenizer = rollout
    prompts, responses = sample.prompts, sample.responses
    credits = [word_credit(r) for r in responses]
    gold = oracle_credit("gold", JUDGE, tokenizer, prompts, responses)
    for attribution, credit in zip(gold, credits):
        assert attribution.per_word() == pytest.approx(credit, abs=1e-9)
    faithfulness = {}
    for noise in (0.3, 3.0, np.inf):
        noisy = oracle_credit("noisy", JUDGE, tokenizer, prompts, responses, noise=noise, scale=0.3,
                              rng=np.random.default_rng(0))
        faithfulness[noise] = np.nanmean(credit_spearman(noisy, credits))
    assert 1.0 > faithfulness[0.3] > faithfulness[3.0] > faithfulness[np.inf]
    again = oracle_credit("noisy", JUDGE, tokenizer, prompts, responses, noise=3.0, scale=0.3,
                          rng=np.random.default_rng(0))
    assert np.nanmean(credit_spearman(again, credits)) == faithfulness[3.0]  # the same generator, the same noise


def test_shap_of_the_judge_puts_a_negation_on_the_word_that_flips(smoke_policy):
    _, tokenizer, _ = smoke_policy
    responses = ["the plot was not good"]
    assert JUDGE(responses)[0] < 0
    shap = oracle_credit("shap", JUDGE, tokenizer, ["review :"], responses)[0].per_word()
    gold = word_credit(responses[0])
    assert shap[3] < 0 < shap[4] and gold[3] < 0 < gold[4]  # "not" carries the flip in both
    assert spearmanr(shap, gold).statistic > 0.5


def test_bad_oracle_requests_name_the_fix(smoke_policy):
    _, tokenizer, _ = smoke_policy
    with pytest.raises(ValueError, match="unknown oracle credit"):
        oracle_reward_fn("exact", JUDGE, tokenizer)
    with pytest.raises(ValueError, match="noise > 0"):
        oracle_credit("noisy", JUDGE, tokenizer, ["a"], ["good"], noise=0.0, rng=np.random.default_rng(0))


def test_dose_slopes_are_per_replicate_least_squares_slopes_of_the_gain():
    from rewardlab.shaping.study import dose_slopes

    values = {"base": [0.0, 1.0], "a": [0.2, 1.1], "b": [0.6, 1.3]}
    slopes = dose_slopes(values, {"a": 0.0, "b": 1.0}, "base")
    assert slopes == pytest.approx([0.4, 0.2])
    with pytest.raises(ValueError, match="two arms of different faithfulness"):
        dose_slopes(values, {"a": 0.5, "b": 0.5}, "base")

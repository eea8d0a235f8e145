import numpy as np
import pytest
import torch

from rewardlab.rcfd import calibration as rcfd
from rewardlab.rcfd.alignment import kde_log_density, reward_alignment
from rewardlab.rl.evaluation import kl_to_reference


def test_calibrated_reward_is_minus_the_whitened_squared_distance_summed_over_terms():
    values = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    targets = np.array([[2.0, 20.0]] * 3)
    # one demo-sd off in each term costs 1 per term: -(1 + 1), and matching the demonstration is the maximum 0
    assert rcfd.calibrated_reward(values, targets, [1.0, 10.0]).tolist() == [-2.0, -2.0, 0.0]
    # one term, unwhitened: the paper's -(R - R_d)^2
    assert rcfd.calibrated_reward([0.5, -1.0], [1.0, 1.0], [1.0]).tolist() == [-0.25, -4.0]
    with pytest.raises(ValueError, match="must agree"):
        rcfd.calibrated_reward(values, targets, [1.0])
    with pytest.raises(ValueError, match="> 0"):
        rcfd.calibrated_reward(values, targets, [1.0, 0.0])


def _toy_terms(scale=1.0):
    """R = number of 'good' words, and the length in words (two terms in different units)."""
    return {"good": lambda p, r: scale * np.array([x.split().count("good") for x in r], float),
            "length": rcfd.length_term}


PROMPTS = ["a", "a", "b", "c"]
DEMOS = ["good good film", "good film here now", "good plot", "bad plot but good"]


def test_whitening_makes_each_term_unit_free_and_targets_average_a_prompts_demonstrations():
    reward = rcfd.CalibratedReward(_toy_terms(), PROMPTS, DEMOS)
    scaled = rcfd.CalibratedReward(_toy_terms(scale=100.0), PROMPTS, DEMOS)
    responses = ["good good good", "film", "good good plot here"]
    prompts = ["a", "b", "c"]
    # rescaling a term (a reward model's logits, words vs tokens) leaves R_CfD unchanged
    assert scaled(prompts, responses) == pytest.approx(reward(prompts, responses))
    # the scales are each term's spread over the demonstrations ("good" count, words)
    assert reward.scales == pytest.approx(np.array([[2, 3], [1, 4], [1, 2], [1, 4]]).std(axis=0))
    # prompt "a" has two demonstrations: its target is their mean, which differs from the average of
    # the two single-demonstration losses only by the constant Var_d R_d (same gradient, less noise)
    assert reward.target_values(["a"])[0].tolist() == [1.5, 3.5]
    values = reward.components(["a"], ["good good good"])
    per_demo = [rcfd.calibrated_reward(values, reward.demo_values[[i]], reward.scales)[0] for i in (0, 1)]
    variance = ((reward.demo_values[[0, 1]] - reward.demo_values[[0, 1]].mean(0)) ** 2).mean(0) / reward.scales**2
    assert reward(["a"], ["good good good"])[0] == pytest.approx(np.mean(per_demo) + variance.sum())


def test_calibration_refuses_what_it_cannot_calibrate_and_cuts_demonstrations_to_the_budget():
    reward = rcfd.CalibratedReward(_toy_terms(), PROMPTS, DEMOS, max_words=3)
    assert reward.demonstrations == ["good good film", "good film here", "good plot", "bad plot but"]
    with pytest.raises(KeyError, match="prompt 'zzz' has no demonstration"):
        reward(["zzz"], ["good"])
    with pytest.raises(ValueError, match="term 'length' has the same value for every demonstration"):
        rcfd.CalibratedReward({"length": rcfd.length_term}, ["a", "b"], ["x y", "z w"])
    with pytest.raises(ValueError, match="aligned"):
        rcfd.CalibratedReward(_toy_terms(), ["a"], ["x", "y"])
    with pytest.raises(ValueError, match="at least one reward term"):
        rcfd.CalibratedReward({}, ["a"], ["x"])
    with pytest.raises(ValueError, match="term 'bad' must return one finite value"):
        rcfd.CalibratedReward({"bad": lambda p, r: np.full(len(r), np.nan)}, ["a", "b"], ["x", "y z"])
    prompts, demos = rcfd.positive_demonstrations(PROMPTS, DEMOS, lambda r: np.array([x.count("good") - x.count("bad")
                                                                                      for x in r], float), 1, max_words=2)
    assert (prompts, demos) == (["a", "a", "b"], DEMOS[:3])  # "bad plot" (cut to 2 words) is not positive
    with pytest.raises(ValueError, match="lower rcfd.positive_threshold"):
        rcfd.positive_demonstrations(PROMPTS, DEMOS, lambda r: np.zeros(len(r)), 1)
    with pytest.raises(ValueError, match="target must be 'prompt'"):
        rcfd.CalibratedReward(_toy_terms(), PROMPTS, DEMOS, target="global")


def test_the_constant_target_is_the_mean_over_all_demonstrations_for_every_prompt():
    terms = {"good": _toy_terms()["good"]}
    per_prompt = rcfd.CalibratedReward(terms, ["a", "a", "b"], ["good good", "good", "bad"])
    constant = rcfd.CalibratedReward(terms, ["a", "a", "b"], ["good good", "good", "bad"], target="constant")
    assert per_prompt.target_values(["a", "b"])[:, 0].tolist() == [1.5, 0.0]
    assert constant.target_values(["a", "b", "unseen"])[:, 0].tolist() == [1.0, 1.0, 1.0]
    # a response at the global mean is perfect under the constant target, off by 0.5 under prompt a's
    assert constant(["a"], ["good"])[0] == 0.0 and per_prompt(["a"], ["good"])[0] < 0


def test_a_demonstration_gets_the_maximum_reward_under_a_reward_model(smoke_preset, smoke_policy, smoke_world):
    from rewardlab.rl.rollouts import sample_rollout, token_reward_tensor
    from rewardlab.reward.models import build_reward_model, reward_function

    policy, tokenizer, _ = smoke_policy
    reward_model = build_reward_model(smoke_preset, tokenizer, seed=1).eval()
    train = smoke_world.splits["train"]
    prompts, demos = list(train["prompt"])[:20], list(train["demonstration"])[:20]
    keep = [i for i, p in enumerate(prompts) if prompts.count(p) == 1][:5]
    reward = rcfd.CalibratedReward({"reward_model": reward_function(reward_model, tokenizer),
                                    "length": rcfd.length_term}, prompts, demos)
    at_demo = reward([prompts[i] for i in keep], [reward.demonstrations[i] for i in keep])
    assert at_demo == pytest.approx(np.zeros(len(keep)), abs=1e-6)
    torch.manual_seed(0)
    rollout = sample_rollout(policy, tokenizer, [prompts[i] for i in keep], max_new_tokens=8)
    sampled = reward(rollout.prompts, rollout.responses)
    assert np.all(sampled <= 0) and np.all(np.isfinite(sampled))
    placed = token_reward_tensor(sampled, rollout, step=1, name="rcfd")  # a scalar per response: a PPO reward
    assert placed.sum(1).numpy() == pytest.approx(sampled, abs=1e-5)


def test_alignment_A_matches_the_kl_of_known_distributions():
    rng = np.random.default_rng(0)
    grid = np.linspace(-8, 8, 2001)
    assert np.trapezoid(np.exp(kde_log_density(rng.normal(size=500), grid)), grid) == pytest.approx(1.0, abs=1e-3)
    base = rng.normal(0, 1, 4000)
    # KL(N(0,1) || N(1,1)) = 1/2; KL(N(0,1) || N(0,2^2)) = log 2 + 1/8 - 1/2 = 0.318; the reverse is 0.807
    assert reward_alignment(base, rng.normal(1, 1, 4000)) == pytest.approx(0.5, abs=0.05)
    assert reward_alignment(base, rng.normal(0, 2, 4000)) == pytest.approx(np.log(2) - 3 / 8, abs=0.03)
    # the reverse (true 0.807) is overestimated: where the demonstrations reach past every policy sample,
    # rho_pi is the kernel's thin tail (documented); the asymmetry of KL is still there
    assert 1.5 - np.log(2) < reward_alignment(rng.normal(0, 2, 4000), base) < 1.2
    assert reward_alignment(base, rng.normal(0, 1, 4000)) < 0.01
    # a policy that collapsed onto one reward is far from the demonstrations, yet A stays finite
    collapsed = reward_alignment(base, np.full(256, 0.3))
    assert np.isfinite(collapsed) and collapsed > reward_alignment(base, rng.normal(0.3, 0.5, 256)) > 0.1
    with pytest.raises(ValueError, match="policy_rewards needs >= 2 finite"):
        reward_alignment(base, [1.0, np.nan])
    with pytest.raises(ValueError, match="same reward"):
        reward_alignment(np.ones(10), base)


def test_kl_to_reference_is_zero_against_itself_and_positive_against_another_policy(smoke_policy, smoke_world):
    import copy

    from rewardlab.rl.rollouts import sample_rollout

    policy, tokenizer, _ = smoke_policy
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:16] * 8
    other = copy.deepcopy(policy)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    torch.manual_seed(0)
    rollout = sample_rollout(other, tokenizer, prompts, max_new_tokens=6)
    assert kl_to_reference(other, other, rollout) == pytest.approx(np.zeros(len(prompts)), abs=1e-6)
    assert kl_to_reference(other, policy, rollout).mean() > 0.1  # E_pi[log pi - log pi_ref] = KL >= 0

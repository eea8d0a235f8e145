import numpy as np
import pytest

from rewardlab.brme.robust import BRMEReward, robust_reward

MU = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 2.0]])
SIGMA = np.array([[0.3, 0.1, 0.9], [0.2, 0.5, 0.4]])


def test_the_two_endpoints_are_nominal_rlhf_and_the_worst_head():
    nominal = np.array([-2.0, 0.0])  # mu of the lowest-sigma head: head 1 in row 0, head 0 in row 1
    worst = np.array([-2.0, 0.0])
    assert robust_reward(MU, SIGMA, nominal_weight=1.0).tolist() == nominal.tolist()
    assert robust_reward(MU, SIGMA, nominal_weight=0.0).tolist() == worst.tolist()
    # where the most confident head is not the lowest, the mix moves linearly between the two
    sigma = np.array([[0.1, 0.5, 0.9], [0.5, 0.1, 0.4]])  # nominal = 1.0 and 3.0; worst = -2.0 and 0.0
    assert robust_reward(MU, sigma, 1.0).tolist() == [1.0, 3.0]
    assert robust_reward(MU, sigma, 0.0).tolist() == [-2.0, 0.0]
    assert robust_reward(MU, sigma, 0.8) == pytest.approx([0.8 * 1 + 0.2 * -2, 0.8 * 3 + 0.2 * 0])
    # more weight on the nominal reward never lowers it: the worst head is a lower bound of every head
    weights = np.linspace(0, 1, 6)
    assert np.all(np.diff([robust_reward(MU, sigma, w) for w in weights], axis=0) >= 0)
    with pytest.raises(ValueError, match=r"nominal_weight must lie in \[0, 1\] \(1 = nominal RLHF, 0 = worst head\)"):
        robust_reward(MU, sigma, 1.5)


def test_brme_reward_is_a_ppo_reward_and_says_which_objective(smoke_preset, smoke_policy, smoke_world):
    import torch

    from rewardlab.brme.ensemble import BRME, head_predictions, uncertainty_penalised_reward
    from rewardlab.rl.rollouts import sample_rollout, token_reward_tensor
    from rewardlab.reward.models import build_reward_model

    policy, tokenizer, _ = smoke_policy
    torch.manual_seed(0)
    brme = BRME(build_reward_model(smoke_preset, tokenizer, seed=1), n_heads=3, hidden=8).eval()
    with pytest.raises(ValueError, match="exactly one of nominal_weight"):
        BRMEReward(brme, tokenizer)
    with pytest.raises(ValueError, match="exactly one of nominal_weight"):
        BRMEReward(brme, tokenizer, nominal_weight=0.5, penalty=1.0)
    with pytest.raises(ValueError, match="penalty must be >= 0"):
        BRMEReward(brme, tokenizer, penalty=-1.0)
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:6]
    rollout = sample_rollout(policy, tokenizer, prompts, max_new_tokens=8)
    mu, sigma = head_predictions(brme, tokenizer, rollout.prompts, rollout.responses)
    robust = BRMEReward(brme, tokenizer, nominal_weight=0.4)
    rewards = robust(rollout.prompts, rollout.responses)
    assert rewards == pytest.approx(robust_reward(mu, sigma, 0.4))
    assert robust.last_heads[0] == pytest.approx(mu)
    uwo = BRMEReward(brme, tokenizer, penalty=1.0)(rollout.prompts, rollout.responses)
    assert uwo == pytest.approx(uncertainty_penalised_reward(mu, 1.0))
    placed = token_reward_tensor(rewards, rollout, step=1, name="robust")
    assert placed.sum(1).numpy() == pytest.approx(rewards, abs=1e-5)


def test_peak_to_final_drop_measures_how_far_a_run_fell_from_its_best():
    from rewardlab.rl.evaluation import peak_to_final_drop

    assert peak_to_final_drop([0, 1, 2, 3], window=1) == 0.0  # still rising: no drop
    assert peak_to_final_drop([0, 4, 1, 1], window=1) == 3.0
    assert peak_to_final_drop([0, 4, 1, 1], window=2) == pytest.approx(2.5 - 1.0)  # trailing means .. 2, 2.5, 1
    with pytest.raises(ValueError, match="window"):
        peak_to_final_drop([1, 2], window=3)

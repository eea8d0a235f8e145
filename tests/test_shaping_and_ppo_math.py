import numpy as np
import pytest
import torch

from rewardlab.rl import ppo
from rewardlab.shaping import shapes as S


def test_sparse_uniform_and_abc_sum_to_the_reward():
    assert np.array_equal(S.sparse(2.0, 3), [0, 0, 2.0])
    assert np.allclose(S.uniform(3.0, 4), 0.75)
    attention = np.array([0.5, 0.3, 0.2])
    reward = -1.5
    abc = S.shape_rewards("abc", [reward], [3], explained={"attention": [attention * reward]})[0]
    textbook = (1 - 0.8) * reward * np.array([0, 0, 1]) + 0.8 * reward * attention  # Chan et al. 2024
    assert np.allclose(abc, textbook) and abc.sum() == pytest.approx(reward)
    with pytest.raises(ValueError, match="at least one token"):
        S.sparse(1.0, 0)


def test_mixture_lies_on_the_simplex_and_keeps_the_sum():
    reward = 0.9
    explained = {"shap": np.array([0.5, -0.1, 0.5]), "lime": np.array([0.3, 0.3, 0.3]),
                 "attention": np.array([0.45, 0.45, 0.0])}
    weights = {"shap": 0.4, "lime": 0.3, "attention": 0.2, "sparse": 0.1}
    mixed = S.mixture(reward, explained, weights)
    expected = 0.4 * explained["shap"] + 0.3 * explained["lime"] + 0.2 * explained["attention"] + [0, 0, 0.09]
    assert np.allclose(mixed, expected) and mixed.sum() == pytest.approx(reward)
    with pytest.raises(ValueError, match="simplex"):
        S.mixture(reward, explained, {"shap": 0.5, "lime": 0.6})
    with pytest.raises(ValueError, match="unknown mixture weight"):
        S.check_weights({"gradients": 1.0})
    with pytest.raises(ValueError, match="needs lime"):
        S.shape_rewards("mixture", [reward], [3], explained={"shap": [explained["shap"]]},
                        weights={"shap": 0.5, "lime": 0.5})
    with pytest.raises(ValueError, match="2 token rewards for 3 tokens"):
        S.shape_rewards("shap", [reward], [3], explained={"shap": [np.zeros(2)]})
    with pytest.raises(ValueError, match="unknown shape"):
        S.shape_rewards("dense", [reward], [3])


def test_gae_matches_a_hand_computed_case_with_padding():
    rewards = torch.tensor([[1.0, 0.0, 2.0], [1.0, 0.0, 5.0]])
    values = torch.tensor([[0.5, 0.2, 0.1], [0.5, 0.2, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    advantages, returns = ppo.gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # row 0: delta = (0.68, -0.11, 1.9); A_2 = 1.9, A_1 = -0.11 + 0.72 * 1.9, A_0 = 0.68 + 0.72 * A_1
    a1 = -0.11 + 0.72 * 1.9
    assert torch.allclose(advantages[0], torch.tensor([0.68 + 0.72 * a1, a1, 1.9]))
    assert torch.allclose(returns[0], advantages[0] + values[0])
    # row 1: the padded token carries nothing back: delta_1 = 0 - 0.2, A_0 = 0.68 + 0.72 * (-0.2)
    assert torch.allclose(advantages[1], torch.tensor([0.68 - 0.72 * 0.2, -0.2, 0.0]))
    assert returns[1, 2] == 0


def test_gae_with_gamma_and_lambda_one_is_the_monte_carlo_return():
    torch.manual_seed(0)
    rewards, values = torch.randn(4, 6), torch.randn(4, 6)
    mask = torch.ones(4, 6)
    advantages, returns = ppo.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    reward_to_go = rewards.flip(1).cumsum(1).flip(1)
    assert torch.allclose(returns, reward_to_go, atol=1e-6)
    assert torch.allclose(advantages, reward_to_go - values, atol=1e-6)


@pytest.mark.parametrize("shape", ["sparse", "uniform", "abc", "shap", "mixture"])
def test_shaping_leaves_the_return_of_a_response_unchanged(shape):
    rng = np.random.default_rng(1)
    rewards, lengths = [1.3, -0.4], [5, 3]
    explained = {name: [] for name in S.EXPLAINERS}
    for reward, length in zip(rewards, lengths):
        for name in S.EXPLAINERS:
            raw = rng.normal(size=length) if name != "attention" else rng.dirichlet(np.ones(length))
            explained[name].append(raw * reward if name == "attention" else raw + (reward - raw.sum()) / length)
    weights = {"shap": 0.3, "lime": 0.3, "attention": 0.2, "sparse": 0.2}
    shaped = S.shape_rewards(shape, rewards, lengths, explained=explained, weights=weights)
    padded = torch.zeros(2, 5)
    mask = torch.zeros(2, 5)
    for i, tokens in enumerate(shaped):
        padded[i, : len(tokens)] = torch.tensor(tokens, dtype=torch.float32)
        mask[i, : len(tokens)] = 1
    logprobs, ref = torch.randn(2, 5), torch.randn(2, 5)
    token_rewards, kl = ppo.per_token_rewards(padded, logprobs, ref, mask, kl_coef=0.1)
    _, returns = ppo.gae(token_rewards, torch.randn(2, 5) * mask, mask, gamma=1.0, lam=1.0)
    # the return from the first token: the sequence reward minus the KL penalty, whatever the shape
    assert torch.allclose(returns[:, 0], torch.tensor(rewards) - 0.1 * kl.sum(1), atol=1e-5)


def test_kl_term_is_per_token_and_zero_on_padding():
    shaped = torch.tensor([[0.0, 1.0, 0.0]])
    logprobs, ref = torch.tensor([[-1.0, -2.0, -3.0]]), torch.tensor([[-1.5, -1.0, -7.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    rewards, kl = ppo.per_token_rewards(shaped, logprobs, ref, mask, kl_coef=0.2)
    assert torch.allclose(kl, torch.tensor([[0.5, -1.0, 0.0]]))
    assert torch.allclose(rewards, torch.tensor([[-0.1, 1.2, 0.0]]))


def test_policy_loss_clips_the_ratio():
    old = torch.zeros(1, 3)
    advantages = torch.tensor([[1.0, 1.0, -1.0]])
    mask = torch.ones(1, 3)
    inside = torch.log(torch.tensor([[1.1, 0.9, 1.0]]))
    loss, fraction = ppo.policy_loss(inside, old, advantages, mask, clip_range=0.2)
    assert loss.item() == pytest.approx(-(1.1 + 0.9 - 1.0) / 3) and fraction.item() == 0
    outside = torch.log(torch.tensor([[1.5, 1.5, 0.5]])).requires_grad_()
    loss, fraction = ppo.policy_loss(outside, old, advantages, mask, clip_range=0.2)
    # token 0: A > 0, ratio above 1 + eps -> clipped, no gradient; token 1 likewise;
    # token 2: A < 0, ratio below 1 - eps -> clipped as well
    assert loss.item() == pytest.approx(-(1.2 + 1.2 - 0.8) / 3) and fraction.item() == 1
    loss.backward()
    assert torch.allclose(outside.grad, torch.zeros(1, 3))


def test_value_loss_clips_around_the_old_value():
    old, returns, mask = torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2)
    values = torch.tensor([[0.1, 2.0]])
    # token 0: max((0.1-1)^2, (0.1-1)^2) = 0.81; token 1: max((2-1)^2, (0.2-1)^2) = 1
    assert ppo.value_loss(values, old, returns, mask, clip_range=0.2).item() == pytest.approx(0.5 * (0.81 + 1.0) / 2)


def test_whitening_and_adaptive_kl():
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    white = ppo.masked_whiten(values, mask)
    assert ppo.masked_mean(white, mask).item() == pytest.approx(0, abs=1e-6)
    assert ppo.masked_mean(white ** 2, mask).item() == pytest.approx(1, abs=1e-4) and white[0, 3] == 0
    assert ppo.masked_mean(ppo.masked_whiten(values, mask, shift_mean=False), mask).item() == pytest.approx(2.0)
    assert ppo.update_kl_coef(0.1, mean_kl=12.0, target=6.0, n_responses=64, horizon=640) == pytest.approx(0.102)
    assert ppo.update_kl_coef(0.1, mean_kl=3.0, target=6.0, n_responses=64, horizon=640) == pytest.approx(0.098)

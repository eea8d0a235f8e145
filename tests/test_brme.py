import math

import numpy as np
import pytest
import torch

from rewardlab.brme import ensemble as B
from rewardlab.brme import probes as U
from rewardlab.brme import training as Tr
from rewardlab.core.presets import load_preset
from rewardlab.reward.models import build_reward_model, load_reward_model, score


@pytest.fixture(scope="module")
def pairs(smoke_pairs):
    return smoke_pairs


@pytest.fixture(scope="module")
def backbone(smoke_preset, smoke_policy):
    return build_reward_model(smoke_preset, smoke_policy[1], seed=0).eval()


def test_heads_give_one_gaussian_per_head_with_positive_sigma(smoke_preset, smoke_policy, pairs, backbone):
    tokenizer = smoke_policy[1]
    brme = B.BRME(backbone, n_heads=4, hidden=8)
    mu, sigma = B.head_predictions(brme, tokenizer, pairs["prompt"], pairs["chosen"], batch_size=16)
    assert mu.shape == sigma.shape == (len(pairs), 4)
    assert (sigma > 0).all()
    huge = brme.heads_forward(torch.full((3, backbone.config.hidden_size), -1e4))[1]
    assert (huge >= B.SIGMA_FLOOR).all()  # softplus underflows to 0; the floor keeps sigma > 0
    with pytest.raises(ValueError, match="at least one head"):
        B.BRME(backbone, n_heads=0)


def test_stacked_heads_are_k_separate_mlps_with_the_same_draws():
    torch.manual_seed(3)
    heads = B.GaussianHeads(n_heads=3, width=6, hidden=4)
    torch.manual_seed(3)
    mlps = [torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.GELU(), torch.nn.Linear(4, 2)) for _ in range(3)]
    features = torch.randn(5, 6)
    mu, sigma = heads(features)
    assert mu.shape == sigma.shape == (5, 3) and len(heads) == 3 and heads.hidden == 4
    for k, mlp in enumerate(mlps):
        assert torch.equal(heads.w1[k], mlp[0].weight.T) and torch.equal(heads.b2[k], mlp[2].bias)
        m, s = mlp(features).unbind(-1)
        assert torch.allclose(mu[:, k], m, atol=1e-6)
        assert torch.allclose(sigma[:, k], torch.nn.functional.softplus(s) + B.SIGMA_FLOOR, atol=1e-6)
    mu[:, 1].sum().backward()  # a head's output reads its own slice only
    assert heads.w1.grad[1].abs().sum() > 0 and heads.w1.grad[[0, 2]].abs().sum() == 0


def test_features_reproduce_the_stage1_score(smoke_policy, pairs, backbone):
    tokenizer = smoke_policy[1]
    brme = B.BRME(backbone, n_heads=2, hidden=8)
    _, r1 = B._features_of(brme, tokenizer, pairs["prompt"], pairs["chosen"], batch_size=7)
    assert np.allclose(r1.numpy(), score(backbone, tokenizer, pairs["prompt"], pairs["chosen"]), atol=1e-5)


def test_nominal_worst_and_penalised_rewards():
    mu = np.array([[1.0, 2.0, 3.0], [4.0, -1.0, 0.0]])
    sigma = np.array([[0.5, 0.1, 0.9], [0.2, 0.3, 0.1]])
    assert B.nominal_reward(mu, sigma).tolist() == [2.0, 0.0]  # the mean of the head with the smallest sigma
    assert B.worst_head_reward(mu).tolist() == [1.0, -1.0]
    assert B.uncertainty_penalised_reward(mu, 2.0) == pytest.approx(mu.mean(1) - 2 * mu.std(1))
    assert B.uncertainty_penalised_reward(mu, 0.0) == pytest.approx(mu.mean(1))
    with pytest.raises(ValueError, match="both be"):
        B.nominal_reward(mu, sigma[:, :2])
    with pytest.raises(ValueError, match=">= 0"):
        B.uncertainty_penalised_reward(mu, -1)


def test_gaussian_preference_nll():
    delta = torch.tensor([2.0, -1.0, 0.0])
    zero = torch.zeros(3)
    # sigma -> 0 gives the Bradley-Terry loss
    assert torch.allclose(B.gaussian_preference_nll(delta, zero, zero, zero), -torch.nn.functional.logsigmoid(delta))
    # large sigma pushes every pair towards a coin flip, -log 1/2
    wide = B.gaussian_preference_nll(delta, torch.full((3,), 1e3), zero, torch.full((3,), 1e3))
    assert torch.allclose(wide, torch.full((3,), math.log(2)), atol=1e-2)
    # the gradient raises sigma on a pair the means get wrong and lowers it on one they get right
    sigma = torch.ones(2, requires_grad=True)
    B.gaussian_preference_nll(torch.tensor([3.0, -3.0]), sigma, torch.zeros(2), torch.ones(2)).sum().backward()
    assert sigma.grad[0] > 0 and sigma.grad[1] < 0


def test_stage2_losses():
    mu_c, mu_r = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    sigma = torch.full((1, 2), 1e-6)
    r1_c, r1_r = torch.tensor([1.5]), torch.tensor([0.5])
    losses = B.brme_pair_losses(mu_c, sigma, mu_r, sigma, r1_c, r1_r, anchor=2.0)
    bt = -torch.nn.functional.logsigmoid(mu_c - mu_r)
    anchor = torch.tensor([[(0.25 + 0.25) / 2, (0.25 + 0.25) / 2]]) * 2.0
    assert losses.shape == (1, 2) and torch.allclose(losses, bt + anchor, atol=1e-5)
    # reparameterised MSE: its mean over eps is (mu - r)^2 + sigma^2, minimised at sigma = 0
    generator = torch.Generator().manual_seed(0)
    mu, sig, target = torch.full((200000,), 1.0), torch.full((200000,), 0.5), torch.zeros(200000)
    assert B.reparameterised_mse(mu, sig, target, generator).mean().item() == pytest.approx(1.25, rel=0.01)
    with pytest.raises(ValueError, match="unknown BRME loss"):
        B.brme_pair_losses(mu_c, sigma, mu_r, sigma, r1_c, r1_r, 1.0, loss="hinge")


def test_a_flipped_pair_is_read_the_other_way_round():
    mu_c, mu_r = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0]])
    sigma, r1_c, r1_r = torch.full((1, 2), 0.3), torch.tensor([1.0]), torch.tensor([0.0])
    flip = torch.tensor([[False, True]])
    losses = B.brme_pair_losses(mu_c, sigma, mu_r, sigma, r1_c, r1_r, anchor=0.5, flip=flip)
    swapped = B.brme_pair_losses(mu_r, sigma, mu_c, sigma, r1_r, r1_c, anchor=0.5)
    unflipped = B.brme_pair_losses(mu_c, sigma, mu_r, sigma, r1_c, r1_r, anchor=0.5)
    assert losses[0, 0] == unflipped[0, 0] and losses[0, 1] == pytest.approx(swapped[0, 1].item())
    assert losses[0, 1] > losses[0, 0]  # the flipped head is told the lower reward won


def test_shards_give_each_prompt_to_one_head():
    prompts = [f"p{i // 3}" for i in range(3000)]  # 1,000 prompts, three pairs each
    w = B.shard_weights(prompts, 4, seed=0)
    assert w.shape == (3000, 4) and torch.equal(w.sum(1), torch.ones(3000))
    assert torch.equal(w[0::3], w[1::3]) and torch.equal(w[0::3], w[2::3])  # a prompt's pairs stay together
    assert w.mean(0).tolist() == pytest.approx([0.25] * 4, abs=0.04)
    assert torch.equal(w, B.shard_weights(prompts, 4, seed=0)) and not torch.equal(w, B.shard_weights(prompts, 4, seed=1))


def test_flipped_labels_touch_only_the_noisy_heads():
    flips = B.flipped_labels(20000, 3, noisy_heads=[1], fraction=0.35, seed=0)
    assert flips.dtype == torch.bool and not flips[:, [0, 2]].any()
    assert flips[:, 1].float().mean().item() == pytest.approx(0.35, abs=0.01)
    assert not B.flipped_labels(100, 3, noisy_heads=[], fraction=0.35, seed=0).any()
    with pytest.raises(ValueError, match="carry no signal"):
        B.flipped_labels(10, 3, [0], 0.5, seed=0)
    with pytest.raises(ValueError, match="must index"):
        B.flipped_labels(10, 3, [3], 0.3, seed=0)


def test_standardised_heads_share_the_stage1_scale(backbone):
    brme = B.BRME(backbone, n_heads=3, hidden=8)
    features = torch.randn(500, backbone.config.hidden_size)
    stage1 = 2.0 + 0.5 * torch.randn(500)
    B.standardise_heads(brme, features, stage1)
    mu, sigma = brme.heads_forward(features)
    assert torch.allclose(mu.mean(0), stage1.mean().expand(3), atol=1e-4)
    assert torch.allclose(mu.std(0), stage1.std().expand(3), atol=1e-4)
    _, raw_sigma = brme.heads(features)
    assert torch.allclose(sigma, raw_sigma * brme.head_scale, atol=1e-6)  # sigma in the same units


def test_bootstrap_weights():
    w = B.bootstrap_weights(5000, 3, seed=4)
    assert w.shape == (5000, 3) and w.mean().item() == pytest.approx(1.0, abs=0.05)
    assert (w == 0).float().mean().item() == pytest.approx(math.exp(-1), abs=0.03)  # ~37% of pairs out of bag
    assert torch.equal(w, B.bootstrap_weights(5000, 3, seed=4)) and not torch.equal(w[:, 0], w[:, 1])


def test_split_for_calibration_keeps_prompts_apart(pairs):
    stage1, calibration = Tr.split_for_calibration(pairs, 0.25, seed=0)
    assert len(stage1) + len(calibration) == len(pairs) and len(calibration) > 0
    assert not set(stage1["prompt"]) & set(calibration["prompt"])
    with pytest.raises(ValueError, match="brme_calibration_fraction"):
        Tr.split_for_calibration(pairs, 0.001, seed=0)


def test_training_is_deterministic_and_each_loss_behaves(smoke_policy, pairs, backbone):
    from rewardlab.core.presets import load_preset

    tokenizer = smoke_policy[1]
    preset = load_preset("tiny", smoke=True, brme={"heads": 3, "hidden": 8, "epochs": 30, "batch_size": 16})
    stage1, calibration = Tr.split_for_calibration(pairs, 0.3, seed=0)
    model, log = Tr.train_brme(preset, tokenizer, backbone, stage1, calibration, seed=0)
    _, again = Tr.train_brme(preset, tokenizer, backbone, stage1, calibration, seed=0)
    assert log == again and len(log["loss"]) == 30
    assert log["loss"][-1] < log["loss"][0]
    _, mse_log = Tr.train_brme(preset, tokenizer, backbone, pairs, seed=0, loss="reparameterised_mse")
    assert mse_log["mean_sigma"][-1] < 0.5 * mse_log["mean_sigma"][0]  # sigma collapses under the reparameterised MSE
    assert not any(p.requires_grad for p in model.reward_model.parameters())  # stage 2 leaves the backbone alone


def test_a_noisy_head_learns_alone_from_its_flipped_labels(smoke_policy, pairs, backbone):
    from rewardlab.core.presets import load_preset

    tokenizer = smoke_policy[1]
    preset = load_preset("tiny", smoke=True, brme={"heads": 3, "hidden": 8, "epochs": 10, "batch_size": 16})
    stage1, calibration = Tr.split_for_calibration(pairs, 0.3, seed=0)
    clean, _ = Tr.train_brme(preset, tokenizer, backbone, stage1, calibration, seed=0)
    noisy, _ = Tr.train_brme(preset, tokenizer, backbone, stage1, calibration, seed=0, noisy_heads=[0], label_flip=0.45)
    same = lambda k: all(torch.equal(a[k], b[k]) for a, b in zip(clean.heads.parameters(), noisy.heads.parameters()))
    assert same(1) and same(2) and not same(0)  # the heads' losses are separate: only head 0 saw flipped labels
    assert torch.equal(clean.head_scale[1:], noisy.head_scale[1:]) and not torch.equal(clean.head_scale, noisy.head_scale)


def test_cached_brme_round_trip(smoke_preset, smoke_policy, pairs):
    tokenizer = smoke_policy[1]
    train, calibration = Tr.split_for_calibration(pairs, 0.3, seed=0)  # stands in for the validation-prompt pairs
    model, stage1_log, log = Tr.load_brme(smoke_preset, tokenizer, train, seed=0, progress=False,
                                          calibration_dataset=calibration)
    again, _, log_again = Tr.load_brme(smoke_preset, tokenizer, train, seed=0, progress=False,
                                       calibration_dataset=calibration)
    assert log == log_again and len(again.heads) == smoke_preset.brme.heads
    first = B.head_predictions(model, tokenizer, pairs["prompt"], pairs["chosen"])
    second = B.head_predictions(again, tokenizer, pairs["prompt"], pairs["chosen"])
    assert np.allclose(first[0], second[0]) and np.allclose(first[1], second[1])
    with pytest.raises(ValueError, match="unknown BRME loss"):
        Tr.load_brme(smoke_preset, tokenizer, pairs, loss="hinge")
    with pytest.raises(ValueError, match="needs calibration_dataset"):
        Tr.load_brme(smoke_preset, tokenizer, train, seed=0, progress=False)
    # the default backbone is the Bradley-Terry model on every training pair: the same weights as load_reward_model's
    backbone, _ = load_reward_model(smoke_preset, tokenizer, train, seed=0, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(backbone.state_dict().values(), model.reward_model.state_dict().values()))
    # a stage 1 the caller trained (the frontier's proxy) is used as it is, and the heads train on its pairs
    other, _ = load_reward_model(smoke_preset, tokenizer, train, seed=5, progress=False)
    given, given_log, _ = Tr.load_brme(smoke_preset, tokenizer, train, seed=0, progress=False,
                                       calibration_dataset=calibration, stage1=other)
    assert given_log is None
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), given.reward_model.state_dict().values()))
    split = load_preset("tiny", smoke=True, brme={"calibration": "split"})
    with pytest.raises(ValueError, match="stage1= needs"):
        Tr.load_brme(split, tokenizer, train, seed=0, progress=False, stage1=other)


def test_out_of_distribution_text():
    responses = [" the film was very good .", " not bad at all"]
    shuffled = U.shuffle_words(responses, seed=0)
    assert [sorted(s.split()) for s in shuffled] == [sorted(r.split()) for r in responses]
    repeated = U.repeat_word(responses, seed=0)
    assert all(len(set(r.split())) == 1 and len(r.split()) == len(o.split()) for r, o in zip(repeated, responses))
    drawn = U.random_words(responses, ["a", "b"], seed=0)
    assert [len(d.split()) for d in drawn] == [6, 4] and set(" ".join(drawn).split()) <= {"a", "b"}
    with pytest.raises(ValueError, match="empty response"):
        U.repeat_word([" "], seed=0)


def test_gold_residuals_and_reliability():
    gold = np.array([0.1, 0.5, -0.3, 0.9])
    assert np.allclose(U.gold_residuals(3 * gold - 1, gold), 0, atol=1e-12)  # an affine map of gold has no error
    noisy = 3 * gold + np.array([0.2, -0.2, 0.4, -0.4])
    within = U.gold_residuals(noisy, gold, groups=["a", "a", "b", "b"])
    assert within[:2].sum() == pytest.approx(0) and within[2:].sum() == pytest.approx(0)
    with pytest.raises(ValueError, match="equally long"):
        U.gold_residuals([1, 2], [1, 2, 3])
    bins = U.reliability_bins(np.arange(100.0), np.full(100, 2.0), n_bins=4)
    assert bins["count"] == [25, 25, 25, 25] and bins["rms_error"] == [2.0] * 4
    assert U.gaussian_pair_probability(1.0, 0.0, 0.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)))
    from rewardlab.reward.calibration import log_loss  # the cross-entropy against gold probabilities, one home

    assert log_loss([0.5], [1.0]) == pytest.approx(math.log(2))


def test_pair_features_are_read_once_per_backbone_and_pairs(smoke_policy, pairs, backbone, monkeypatch):
    tokenizer, calls = smoke_policy[1], []
    original = Tr._features_of
    monkeypatch.setattr(Tr, "_features_of", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(Tr, "_FEATURES", Tr.OrderedDict())
    first = Tr._pair_features(B.BRME(backbone, n_heads=2, hidden=8), tokenizer, pairs, batch_size=16)
    again = Tr._pair_features(B.BRME(backbone, n_heads=3, hidden=4), tokenizer, pairs, batch_size=16)  # same backbone
    assert len(calls) == 1 and all(torch.equal(a, b) for a, b in zip(first, again))
    Tr._pair_features(B.BRME(backbone, n_heads=2, hidden=8), tokenizer, pairs.select(range(5)), batch_size=16)
    assert len(calls) == 2  # other pairs: read again

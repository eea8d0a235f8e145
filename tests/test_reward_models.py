import numpy as np
import pytest
import torch

from rewardlab.rl.evaluation import best_of_n, kl_best_of_n
from rewardlab.reward.accuracy import gold_pair_accuracy, pair_accuracy, reward_uncertainty, spearman, win_rate
from rewardlab.reward.batching import PromptGroupedBatches, unique_texts
from rewardlab.reward.models import (
    _rewards,
    batch_pair_rewards,
    bradley_terry_loss,
    build_reward_model,
    encode_for_reward,
    forward_with_internals,
    load_reward_model,
    pair_rewards,
    score,
    train_reward_model,
)


def without_timing(log):
    return {k: v for k, v in log.items() if k != "train_seconds"}


@pytest.fixture(scope="module")
def pairs(smoke_pairs):
    return smoke_pairs


def test_bradley_terry_loss_values():
    rc, rr = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    expected = -(np.log(1 / (1 + np.exp(-2))) + np.log(0.5)) / 2
    assert bradley_terry_loss(rc, rr).item() == pytest.approx(expected, rel=1e-6)
    centred = bradley_terry_loss(rc, rr, center_coefficient=0.1).item()
    assert centred == pytest.approx(expected + 0.1 * (4 + 0) / 2, rel=1e-6)


def test_loss_gradient_pushes_chosen_up():
    rc, rr = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    bradley_terry_loss(rc, rr).backward()
    assert (rc.grad < 0).all() and (rr.grad > 0).all()


def test_encoding_matches_trl_text(smoke_preset):
    from rewardlab.core.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(smoke_preset)
    ids = encode_for_reward(tokenizer, ["the plot was"], [" good ."])[0]
    assert ids == tokenizer("the plot was good .<eos>", add_special_tokens=False)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id
    with pytest.raises(ValueError, match="empty response"):
        encode_for_reward(tokenizer, ["the plot was"], ["  "])


def test_training_learns_and_is_deterministic(smoke_preset, smoke_policy, pairs):
    _, tokenizer, _ = smoke_policy
    from rewardlab.core.presets import load_preset

    preset = load_preset("tiny", smoke=True, **{"reward_model.epochs": 6})
    model, log = train_reward_model(preset, tokenizer, pairs, pairs, seed=0, progress=False)
    assert log["train_loss"][-1] < log["train_loss"][0]
    assert log["eval_accuracy"][-1] > 0.7  # fits its own training pairs
    _, again = train_reward_model(preset, tokenizer, pairs, pairs, seed=0, progress=False)
    assert without_timing(again) == without_timing(log)
    assert log["train_seconds"] > 0


def test_score_is_batch_invariant_and_shapes(smoke_preset, smoke_policy, pairs):
    _, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=0).eval()
    full = score(model, tokenizer, pairs["prompt"], pairs["chosen"], batch_size=64)
    one = score(model, tokenizer, pairs["prompt"][:5], pairs["chosen"][:5], batch_size=1)
    assert full.shape == (len(pairs),) and np.allclose(full[:5], one, atol=1e-5)
    internals = forward_with_internals(model, tokenizer, pairs["prompt"][0], pairs["chosen"][0])
    T = len(internals["input_ids"])
    assert internals["reward"] == pytest.approx(full[0], abs=1e-5)
    assert len(internals["attentions"]) == smoke_preset.reward_model.n_layer
    assert internals["attentions"][0].shape == (smoke_preset.reward_model.n_head, T, T)
    assert internals["hidden_states"][-1].shape == (T, smoke_preset.reward_model.n_embd)
    assert internals["tokens"][internals["response_start"]:-1] == pairs["chosen"][0].split()


def test_prompt_grouped_batches_keep_prompts_whole_and_cover_every_pair_once():
    prompts = ["a"] * 5 + ["b"] * 3 + ["c"] * 4 + ["d"] * 4
    lengths = list(range(len(prompts)))
    sampler = PromptGroupedBatches(prompts, lengths, batch_size=8, seed=0)
    assert sampler.prompts_per_batch == 2 and len(sampler) == 2
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(row for batch in epoch for row in batch) == list(range(len(prompts)))
        for batch in epoch:  # a prompt's pairs are never split over batches
            assert all(prompts.count(prompts[row]) == sum(prompts[r] == prompts[row] for r in batch) for row in batch)
    assert list(PromptGroupedBatches(prompts, lengths, 8, seed=0)) == first  # the seed fixes the order
    assert any(list(PromptGroupedBatches(prompts, lengths, 8, seed=s)) != first for s in range(1, 6))


def test_deduplicated_pair_rewards_equal_scoring_each_text(smoke_preset, smoke_policy, pairs):
    _, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=0).eval()
    texts, chosen_index, rejected_index = unique_texts(pairs["prompt"], pairs["chosen"], pairs["rejected"])
    assert len(texts) < 2 * len(pairs)  # the smoke pairs share responses (4 per prompt, 2 pairs per prompt)
    ids = encode_for_reward(tokenizer, [p for p, _ in texts], [r for _, r in texts])
    rows = np.arange(12)
    with torch.no_grad():
        r_chosen, r_rejected = batch_pair_rewards(model, ids, chosen_index, rejected_index, rows,
                                                  tokenizer.pad_token_id, "cpu")
        each = _rewards(model, encode_for_reward(tokenizer, pairs["prompt"][:12], pairs["chosen"][:12])
                        + encode_for_reward(tokenizer, pairs["prompt"][:12], pairs["rejected"][:12]),
                        tokenizer.pad_token_id, "cpu")
    assert torch.allclose(torch.cat([r_chosen, r_rejected]), each, atol=1e-5)
    rc, rr = pair_rewards(model, tokenizer, pairs)
    assert np.allclose(rc, score(model, tokenizer, pairs["prompt"], pairs["chosen"]), atol=1e-5)
    assert np.allclose(rr, score(model, tokenizer, pairs["prompt"], pairs["rejected"]), atol=1e-5)


def test_reward_model_can_start_from_the_sft_backbone(smoke_preset, smoke_policy):
    policy, tokenizer, _ = smoke_policy
    model = build_reward_model(smoke_preset, tokenizer, seed=0, backbone=policy)
    for mine, theirs in zip(model.transformer.state_dict().values(), policy.transformer.state_dict().values()):
        assert torch.equal(mine, theirs)
    other = build_reward_model(smoke_preset, tokenizer, seed=1, backbone=policy)
    assert not torch.equal(model.score.weight, other.score.weight)  # a fresh head per seed
    assert model.config.num_labels == 1 and model.config.resid_pdrop == smoke_preset.reward_model.dropout


def test_cached_reward_model_round_trip(smoke_preset, smoke_policy, pairs):
    _, tokenizer, _ = smoke_policy
    model, log = load_reward_model(smoke_preset, tokenizer, pairs, seed=0, progress=False)
    again, log_again = load_reward_model(smoke_preset, tokenizer, pairs, seed=0, progress=False)
    assert log == log_again
    assert np.allclose(score(model, tokenizer, pairs["prompt"], pairs["chosen"]),
                       score(again, tokenizer, pairs["prompt"], pairs["chosen"]))


def test_training_rejects_bad_data(smoke_preset, smoke_policy):
    import datasets

    _, tokenizer, _ = smoke_policy
    with pytest.raises(ValueError, match="lacks column"):
        train_reward_model(smoke_preset, tokenizer, datasets.Dataset.from_dict({"text": ["a"]}), progress=False)


def test_pair_metrics():
    assert pair_accuracy([1, 2, 0], [0, 3, 0]) == pytest.approx((1 + 0 + 0.5) / 3)
    assert gold_pair_accuracy([1, 0, 5], [0, 1, 5], [0.5, 0.9, 0.3], [0.1, 0.2, 0.3]) == 0.5
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    same = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    assert reward_uncertainty(same) == pytest.approx(0.0, abs=1e-12)
    assert reward_uncertainty(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])) > 1
    assert kl_best_of_n([1, 2]).tolist() == pytest.approx([0.0, np.log(2) - 0.5])
    proxy = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    gold = np.array([[0.0, 0.5, -1.0], [1.0, 0.0, 0.0]])
    bon = best_of_n(proxy, gold, [1, 3], length=np.array([[5, 6, 7], [8, 9, 10]]))
    assert bon["proxy"] == [1.0, 2.0] and bon["gold"] == [0.5, 0.0]
    assert bon["length"] == [6.5, 7.5]  # any other score is read off the same picks
    rate, half = win_rate([1, 0, 0.5, 2], [0, 1, 0.5, 1])
    assert rate == pytest.approx((1 + 0 + 0.5 + 1) / 4) and half > 0


def test_trl_reward_trainer_trains_the_same_model(smoke_preset, smoke_policy, pairs):
    from rewardlab.core.presets import load_preset
    from rewardlab.rl.trl_peers import train_with_trl_reward_trainer

    _, tokenizer, _ = smoke_policy
    preset = load_preset("tiny", smoke=True, **{"reward_model.epochs": 6})
    _, before = train_reward_model(preset, tokenizer, pairs, seed=0, progress=False)
    model, seconds = train_with_trl_reward_trainer(preset, tokenizer, pairs, seed=0)
    _, after = train_reward_model(preset, tokenizer, pairs, seed=0, progress=False)
    assert without_timing(before) == without_timing(after)  # a TRL run leaves no state behind that changes rewardlab's training
    assert seconds > 0 and type(model).__name__ == "GPT2ForSequenceClassification"
    rc, rr = (score(model, tokenizer, pairs["prompt"], pairs[c]) for c in ("chosen", "rejected"))
    assert pair_accuracy(rc, rr) > 0.7  # fits its training pairs, as rewardlab's loop does

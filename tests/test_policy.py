import numpy as np
import pytest
import torch

from rewardlab.core.presets import load_preset
from rewardlab.core.policy import load_sft_policy, response_logprobs, sample, train_sft
from rewardlab.core.tokenizer import build_tokenizer


def test_sft_lowers_the_validation_loss(smoke_policy):
    _, tokenizer, log = smoke_policy
    assert log["step"][-1] == 20
    assert log["val_loss"][-1] < log["val_loss"][0]  # still falling between the two evaluations
    # 20 smoke steps beat a uniform guess over the vocabulary (log V nats) by over a nat: the model learned the text
    assert log["val_loss"][-1] < np.log(len(tokenizer)) - 1.0


def test_sft_is_deterministic(smoke_preset, smoke_world):
    tokenizer = build_tokenizer(smoke_preset)
    preset = load_preset("tiny", smoke=True, sft={"steps": 6, "eval_every": 3})
    _, first = train_sft(preset, tokenizer, smoke_world, progress=False)
    _, second = train_sft(preset, tokenizer, smoke_world, progress=False)
    assert first == second


def test_sampling_is_reproducible(smoke_policy, smoke_world):
    model, tokenizer, _ = smoke_policy
    prompts = smoke_world.splits["test"]["prompt"][:12]
    a = sample(model, tokenizer, prompts, seed=1, max_new_tokens=10, batch_size=5)
    assert a == sample(model, tokenizer, prompts, seed=1, max_new_tokens=10, batch_size=5)
    assert a != sample(model, tokenizer, prompts, seed=2, max_new_tokens=10, batch_size=5)
    assert len(a) == 12 and all(len(r.split()) <= 10 for r in a)
    vocabulary = set(tokenizer.get_vocab())
    assert all(w in vocabulary for r in a for w in r.split())
    top1 = sample(model, tokenizer, prompts[:3], seed=0, top_k=1, max_new_tokens=5)
    assert top1 == sample(model, tokenizer, prompts[:3], seed=9, top_k=1, max_new_tokens=5)  # greedy


def test_response_logprobs_shapes_and_batch_invariance(smoke_policy):
    model, tokenizer, _ = smoke_policy
    prompts = ["the plot was", "i thought the", "it was a"]
    responses = ["very good .", "acting was bad", "film"]
    logprobs, mask = response_logprobs(model, tokenizer, prompts, responses, batch_size=64)
    assert logprobs.shape == mask.shape == (3, 3)
    assert mask.sum(1).tolist() == [3, 3, 1]
    assert (logprobs[mask == 0] == 0).all() and (logprobs[mask == 1] < 0).all()
    one_by_one, _ = response_logprobs(model, tokenizer, prompts, responses, batch_size=1)
    assert torch.allclose(logprobs, one_by_one, atol=1e-5)
    with_eos, eos_mask = response_logprobs(model, tokenizer, prompts, responses, append_eos=True)
    assert eos_mask.sum(1).tolist() == [4, 4, 2]
    assert torch.allclose(with_eos[:, :3] * mask, logprobs, atol=1e-5)


def test_response_logprobs_with_grad(smoke_policy):
    model, tokenizer, _ = smoke_policy
    logprobs, mask = response_logprobs(model, tokenizer, ["the plot was"], ["good ."], grad=True)
    (logprobs * mask).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad()


def test_mismatched_lengths_raise(smoke_policy):
    model, tokenizer, _ = smoke_policy
    with pytest.raises(ValueError, match="one prompt per response"):
        response_logprobs(model, tokenizer, ["a", "b"], ["c"])


def test_pretrained_loading_path_with_a_locally_saved_model(tmp_path, smoke_preset, smoke_world):
    """The paper preset loads `gpt2` by name; the same code loads a folder saved here."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(smoke_preset)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=128,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "local-gpt2")
    tokenizer.save_pretrained(tmp_path / "local-gpt2")
    preset = load_preset("tiny", smoke=True, sft={"base": str(tmp_path / "local-gpt2"), "steps": 4, "eval_every": 2})
    model, loaded_tokenizer, log = load_sft_policy(preset, world=smoke_world, progress=False)
    assert model.config.n_embd == 32 and len(loaded_tokenizer) == len(tokenizer)
    assert len(log["val_loss"]) == 2 and np.isfinite(log["val_loss"]).all()
    assert len(sample(model, loaded_tokenizer, ["the plot was"], seed=0, max_new_tokens=4)) == 1

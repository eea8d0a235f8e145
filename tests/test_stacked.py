"""The stacked GPT-2 and its trainer: HF's numbers, the cache's numbers, and a seed's numbers whatever its stack."""

import dataclasses

import numpy as np
import pytest
import torch

from rewardlab.rl import rollouts as R
from rewardlab.rl.stacked import StackedGPT2
from rewardlab.rl.trainer import train_ppo, train_ppo_seeds


@pytest.fixture(scope="module")
def setup(smoke_preset, smoke_policy, smoke_world):
    policy, tokenizer, _ = smoke_policy
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:40]
    return smoke_preset.shaping.ppo, policy, tokenizer, prompts


def _blue(tokenizer, word="the"):
    def reward_fn(prompts, responses):
        return [np.array([1.0 if w == word else 0.0 for w in tokenizer.tokenize(" " + r)]) for r in responses]
    return reward_fn


def test_the_stacked_forward_is_hf_gpt2_and_the_cache_changes_nothing(setup):
    """Logits equal ``GPT2LMHeadModel``'s on real positions of a left-padded batch (float rounding apart),
    and the log-probs recorded while sampling with the KV cache equal those of a full forward pass."""
    _, policy, tokenizer, prompts = setup
    torch.manual_seed(0)
    rollout = R.sample_rollout(policy, tokenizer, ["a", *prompts[:5]], max_new_tokens=7)  # "a": left padding
    assert rollout.attention_mask[0, 0] == 0
    positions = (rollout.attention_mask.cumsum(-1) - 1).clamp(min=0)
    stacked = StackedGPT2([policy])
    with torch.no_grad():
        expected = policy(input_ids=rollout.sequences, attention_mask=rollout.attention_mask,
                          position_ids=positions).logits
        w = stacked.weights()
        got = stacked.logits(w, stacked.hidden(w, rollout.sequences[None], positions[None],
                                               rollout.attention_mask[None].bool()))[0]
    real = rollout.attention_mask.bool()
    assert torch.allclose(got[real], expected[real], atol=1e-4)

    ids, mask = R.encode_prompts(tokenizer, ["a", *prompts[:5]])
    blocked = R.blocked_actions(stacked.config.vocab_size, 7, R.suppressed_ids(tokenizer), tokenizer.eos_token_id)
    sample = R.sample_stacked(stacked, ids[None], mask[None], tokenizer.pad_token_id, 7,
                              [torch.Generator().manual_seed(3)], blocked, tokenizer.eos_token_id)
    attention = torch.cat([mask[None], sample["action_mask"]], dim=-1)
    with torch.no_grad():
        logprobs, _, entropy = R.stacked_action_stats(stacked, sample["sequences"], attention,
                                                      sample["action_mask"], blocked)
    assert torch.allclose(sample["logprobs"], logprobs, atol=1e-5)
    assert torch.allclose(sample["entropy"] * sample["action_mask"], entropy * sample["action_mask"], atol=1e-5)


def test_inverse_cdf_sampling_never_draws_a_zero_probability_token_and_has_the_right_frequencies():
    probs = torch.tensor([[[0.0, 0.5, 0.0, 0.3, 0.2, 0.0]]]).expand(1, 3, 6)
    edges = torch.tensor([0.0, 0.5, 1.0 - 2.0**-53], dtype=torch.float64)  # 0, a boundary, the largest u below 1
    assert R.inverse_cdf_sample(probs, [edges]).tolist() == [[1, 3, 4]]
    generator = torch.Generator().manual_seed(0)
    many = probs[:, :1].expand(1, 20000, 6)
    draws = R.inverse_cdf_sample(many, [torch.rand(20000, generator=generator, dtype=torch.float64)])
    counts = torch.bincount(draws[0], minlength=6).double() / 20000
    assert counts[[0, 2, 5]].sum() == 0
    assert torch.allclose(counts, probs[0, 0].double(), atol=0.015)


def test_a_seed_trained_in_a_stack_gets_bit_for_bit_what_it_gets_alone(setup):
    """The test of item 3: seed 5 among seeds 0, 5 and 7 (each with its own reward) and seed 5 alone
    give the same log, to the last bit, and the same weights."""
    config, policy, tokenizer, prompts = setup
    config = dataclasses.replace(config, steps=3, kl_target=0.5)  # the adaptive KL coefficient is per seed too
    alone = train_ppo(config, policy, tokenizer, _blue(tokenizer), prompts, seed=5, progress=False)
    stack = train_ppo_seeds(config, policy, tokenizer, [_blue(tokenizer, "a"), _blue(tokenizer), _blue(tokenizer, "is")],
                            prompts, seeds=[0, 5, 7], progress=False)
    for key, values in alone.log.items():
        if key not in ("seconds", "reward_seconds"):
            np.testing.assert_array_equal(values, stack[1].log[key], err_msg=key)  # NaN == NaN here
    assert alone.samples == stack[1].samples
    assert stack[0].log["proxy_reward"] != stack[1].log["proxy_reward"]  # the other seeds did their own runs
    for (name, a), b in zip(alone.model.state_dict().items(), stack[1].model.state_dict().values()):
        assert torch.equal(a, b), name


def test_the_stacked_trainer_refuses_what_it_cannot_run(setup):
    config, policy, tokenizer, prompts = setup
    with pytest.raises(ValueError, match="one reward_fn per seed"):
        train_ppo_seeds(config, policy, tokenizer, [_blue(tokenizer)], prompts, seeds=[0, 1], progress=False)
    with pytest.raises(ValueError, match="repeat"):
        train_ppo_seeds(config, policy, tokenizer, [_blue(tokenizer)] * 2, prompts, seeds=[3, 3], progress=False)
    with pytest.raises(TypeError, match="GPT-2"):
        StackedGPT2([torch.nn.Linear(2, 2)])
    exported = StackedGPT2([policy]).export(0)  # a stack exports the weights it holds
    assert all(torch.equal(a, b) for a, b in zip(exported.state_dict().values(), policy.state_dict().values()))

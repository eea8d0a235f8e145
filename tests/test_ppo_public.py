"""The per-token PPO through its public interface (``rewardlab.rl``), on models that are not the review world's.

Each fixture builds a tiny GPT-2 (one layer, width 32) over a toy tokenizer, saves both to a
temporary folder and loads them back with ``AutoModelForCausalLM`` / ``AutoTokenizer``: the path
a user with any locally saved causal LM takes. Nothing is downloaded.
"""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from rewardlab.rl import LOG_KEYS, PPOConfig, PPOResult, train_ppo

COLOURS = "red orange yellow green blue indigo violet black white grey".split()
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
PROMPTS = [" ".join(np.random.default_rng(i).choice(COLOURS, 3)) for i in range(20)]
# 8 steps of 16 responses: a few seconds on two CPU cores; beta = 0 so only the reward pulls
CONFIG = PPOConfig(steps=8, batch_size=16, minibatch_size=8, epochs=2, learning_rate=1e-2, max_new_tokens=8,
                   kl_coef=0.0)
TIMING = ("seconds", "reward_seconds")


def _save_and_reload(path, core: Tokenizer):
    """A tiny random GPT-2 over ``core``'s vocabulary, saved with its tokenizer to ``path`` and loaded back."""
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>",
                                        bos_token="<bos>", eos_token="<eos>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=1, n_head=2,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: these tiny models run fastest on one thread


@pytest.fixture(scope="module")
def colour_lm(tmp_path_factory):
    """Word-level: one token per colour word, so re-tokenising a response gives back its tokens."""
    core = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(SPECIALS + COLOURS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _save_and_reload(tmp_path_factory.mktemp("colour-lm"), core)


@pytest.fixture(scope="module")
def subword_lm(tmp_path_factory):
    """Byte-level BPE trained on the colour words: ``"Ġbl" "ue"`` and ``"Ġblue"`` are both tokens."""
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator([" ".join(COLOURS)] * 10, trainers.BpeTrainer(vocab_size=80, special_tokens=SPECIALS))
    return _save_and_reload(tmp_path_factory.mktemp("subword-lm"), core)


def blue_reward(prompts, responses):
    """+1 on every "blue", paid on that token (the tokenizer is word-level: one token per word)."""
    return [np.array([1.0 if word == "blue" else 0.0 for word in response.split()]) for response in responses]


def _assert_same_log(a, b):
    """Equal logs, timings aside (NaN equals NaN: gold_reward without a gold_fn)."""
    np.testing.assert_equal({k: v for k, v in a.items() if k not in TIMING},
                            {k: v for k, v in b.items() if k not in TIMING})


def test_ppo_learns_a_per_token_reward_and_the_model_saves(colour_lm, tmp_path):
    policy, tokenizer = colour_lm
    result = train_ppo(CONFIG, policy, tokenizer, blue_reward, PROMPTS, seed=0, name="blue", progress=False)
    assert isinstance(result, PPOResult)
    assert set(result.log) == set(LOG_KEYS)
    assert all(len(result.log[key]) == CONFIG.steps for key in LOG_KEYS)
    assert result.log["step"] == list(range(1, CONFIG.steps + 1))
    assert [s[0] for s in result.samples] == result.log["step"]
    rewards = result.log["proxy_reward"]  # "blue"s per response: about 0.5 for the random policy, at most 8
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 3.0, rewards

    result.model.save_pretrained(tmp_path / "trained")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "trained")
    ids = tokenizer("<bos> red blue green", add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, result.model(ids).logits)
        assert not torch.allclose(policy(ids).logits, result.model(ids).logits)  # trained a copy


def test_the_same_seed_gives_the_same_run(colour_lm):
    policy, tokenizer = colour_lm
    config = PPOConfig(steps=3, batch_size=8, minibatch_size=4, epochs=1, max_new_tokens=6)
    first, second, other = (train_ppo(config, policy, tokenizer, blue_reward, PROMPTS, seed=seed, progress=False)
                            for seed in (7, 7, 8))
    _assert_same_log(first.log, second.log)
    assert first.samples == second.samples
    assert first.samples != other.samples


def test_a_reward_of_the_wrong_length_raises_naming_the_step(colour_lm):
    policy, tokenizer = colour_lm
    calls = []

    def late_bad_reward(prompts, responses):  # right for two steps, then one token reward too many
        calls.append(1)
        rewards = blue_reward(prompts, responses)
        return rewards if len(calls) < 3 else [np.append(r, 0.0) for r in rewards]

    config = PPOConfig(steps=4, batch_size=4, minibatch_size=4, epochs=1, max_new_tokens=6)
    with pytest.raises(ValueError, match=r"step 3: reward 'late' gave \d+ token rewards for response 0, expected"):
        train_ppo(config, policy, tokenizer, late_bad_reward, PROMPTS, name="late", progress=False)


def test_a_reward_fn_with_tokens_gets_the_generated_tokens_and_the_run_is_unchanged(colour_lm):
    policy, tokenizer = colour_lm
    config = PPOConfig(steps=3, batch_size=8, minibatch_size=4, epochs=1, max_new_tokens=6)
    seen = []

    def blue_tokens(prompts, responses, tokens):
        seen.append((list(responses), tokens))
        return [np.array([1.0 if t == "blue" else 0.0 for t in row]) for row in tokens]

    with_tokens = train_ppo(config, policy, tokenizer, blue_tokens, PROMPTS, seed=4, progress=False)
    plain = train_ppo(config, policy, tokenizer, blue_reward, PROMPTS, seed=4, progress=False)
    assert len(seen) == config.steps
    for responses, tokens in seen:  # word-level: the tokens are the words of the text
        assert tokens == [response.split() for response in responses]
    _assert_same_log(with_tokens.log, plain.log)  # same RNG use, same numbers

    passed = []

    def keywords(prompts, responses, **kwargs):  # only a parameter named `tokens` opts in
        passed.append(kwargs)
        return [0.0] * len(responses)

    train_ppo(PPOConfig(steps=1, batch_size=4, minibatch_size=4, epochs=1, max_new_tokens=4), policy, tokenizer,
              keywords, PROMPTS, progress=False)
    assert passed == [{}]


def test_tokens_keep_rewards_aligned_with_a_subword_tokenizer(subword_lm):
    """Re-tokenising the decoded text need not give back the generated tokens (a trap the `tokens`
    parameter avoids); per-token and per-sequence rewards over `tokens` line up with the actions."""
    policy, tokenizer = subword_lm
    config = PPOConfig(steps=3, batch_size=16, minibatch_size=8, epochs=1, max_new_tokens=8)

    def retokenised(prompts, responses):
        return [np.ones(len(tokenizer.tokenize(response))) for response in responses]

    with pytest.raises(ValueError, match="step 1: reward 'retokenised' gave .* a `tokens` parameter"):
        train_ppo(config, policy, tokenizer, retokenised, PROMPTS, name="retokenised", progress=False)

    seen = []

    def per_token(prompts, responses, tokens):
        seen.append((list(responses), tokens))
        return [np.array([1.0 if t.startswith("Ġ") else 0.0 for t in row]) for row in tokens]

    result = train_ppo(config, policy, tokenizer, per_token, PROMPTS, progress=False)
    assert all(np.isfinite(result.log["policy_loss"]))
    merged = 0
    for responses, tokens in seen:
        for response, row in zip(responses, tokens):
            assert " ".join(tokenizer.convert_tokens_to_string(row).split()) == response
            merged += len(tokenizer.tokenize(response)) != len(row)
    assert merged > 0  # the trap was there to avoid

    def length(prompts, responses, *, tokens):  # a scalar per response, keyword-only `tokens`
        return [float(len(row)) for row in tokens]

    result = train_ppo(config, policy, tokenizer, length, PROMPTS, progress=False)
    assert result.log["proxy_reward"] == pytest.approx(result.log["response_tokens"])

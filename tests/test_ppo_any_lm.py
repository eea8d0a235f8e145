"""Per-token PPO on any Hugging Face causal LM: tiny random Llama, Qwen2, GPT-NeoX, OPT and GPT-2 models.

Each model is built from a config, saved to a temporary folder with a toy tokenizer and loaded back with
``AutoModelForCausalLM`` / ``AutoTokenizer``: the path of a user with a locally saved model. Nothing is
downloaded. GPT-2 runs on the stacked path (:mod:`rewardlab.rl.stacked`), the others, and GPT-2 under
LoRA, through their own forward (:mod:`rewardlab.rl.causal_lm`).
"""

import copy

import numpy as np
import pytest
import torch
from peft import LoraConfig, PeftModel
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForCausalLM, GPT2Config, GPTNeoXConfig, LlamaConfig, OPTConfig,
                          PreTrainedTokenizerFast, Qwen2Config)

from rewardlab.rl import PPOConfig, rollouts as R, train_ppo, train_ppo_seeds, word_rewards_on_tokens

COLOURS = "red orange yellow green blue indigo violet black white grey".split()
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
PROMPTS = [" ".join(np.random.default_rng(i).choice(COLOURS, 1 + i % 3)) for i in range(20)]  # 1-3 words: padding
CONFIG = PPOConfig(steps=8, batch_size=16, minibatch_size=8, epochs=2, learning_rate=1e-2, max_new_tokens=8,
                   kl_coef=0.0)
TIMING = ("seconds", "reward_seconds")


def _config(arch: str, tokenizer):
    ids = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=64)
    return {
        "llama": lambda: LlamaConfig(**small, num_key_value_heads=2, **ids),
        "qwen2": lambda: Qwen2Config(**small, num_key_value_heads=2, **ids),
        "gpt_neox": lambda: GPTNeoXConfig(**small, **ids),
        "opt": lambda: OPTConfig(hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4,
                                 word_embed_proj_dim=16, max_position_embeddings=64, **ids),  # project_out: 32 -> 16
        "gpt2": lambda: GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64, **ids),
    }[arch]()


def _tokenizer(core: Tokenizer):
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>",
                                   eos_token="<eos>")


def _word_level() -> Tokenizer:
    core = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(SPECIALS + COLOURS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return core


def _byte_level_bpe() -> Tokenizer:
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator([" ".join(COLOURS)] * 10, trainers.BpeTrainer(vocab_size=80, special_tokens=SPECIALS))
    return core


def _saved(path, arch: str, core: Tokenizer):
    tokenizer = _tokenizer(core)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(_config(arch, tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    # the toy tokenizer's own class: AutoTokenizer would rebuild Qwen2's byte-level BPE around its vocabulary
    return AutoModelForCausalLM.from_pretrained(path), PreTrainedTokenizerFast.from_pretrained(path)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: these tiny models run fastest on one thread


@pytest.fixture(scope="module", params=["llama", "qwen2", "gpt_neox", "opt", "gpt2"])
def colour_lm(request, tmp_path_factory):
    return request.param, *_saved(tmp_path_factory.mktemp(request.param), request.param, _word_level())


def blue_reward(prompts, responses, tokens):
    """+1 on every generated "blue" token, paid on that token."""
    return [np.array([1.0 if t == "blue" else 0.0 for t in row]) for row in tokens]


def _p_blue(model, tokenizer) -> float:
    """Mean probability of "blue" as the first response token over the prompts."""
    ids, mask = R.encode_prompts(tokenizer, PROMPTS)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    return float(logits.softmax(-1)[:, tokenizer.convert_tokens_to_ids("blue")].mean())


def _same_log(a, b):
    np.testing.assert_equal({k: v for k, v in a.items() if k not in TIMING}, {k: v for k, v in b.items() if k not in TIMING})


def test_sampling_with_the_cache_scores_what_a_full_forward_scores(colour_lm):
    """Left-padded prompts, position ids and the model's own KV cache: the log-probs and values recorded while
    sampling equal those of one forward pass over the finished sequences."""
    arch, policy, tokenizer = colour_lm
    stack = R.as_stack(policy, value_head=True)
    with torch.no_grad():  # a value head that is not zero, so values are compared too
        (stack.per_seed[0]["value__weight"] if arch == "gpt2" else stack.value.weight).normal_()
    ids, mask = R.encode_prompts(tokenizer, PROMPTS[:6])
    assert mask[:, 0].min() == 0  # left padding present
    blocked = R.blocked_actions(stack.vocab_size, 7, R.suppressed_ids(tokenizer), tokenizer.eos_token_id)
    sample = R.sample_stacked(stack, ids[None], mask[None], tokenizer.pad_token_id, 7,
                              [torch.Generator().manual_seed(3)], blocked, tokenizer.eos_token_id)
    attention = torch.cat([mask[None], sample["action_mask"]], dim=-1)
    with torch.no_grad():
        logprobs, values, _ = R.stacked_action_stats(stack, sample["sequences"], attention, sample["action_mask"], blocked)
    actions = sample["action_mask"].bool()
    assert torch.allclose(sample["logprobs"][actions], logprobs[actions], atol=1e-5)
    assert torch.allclose(sample["values"][actions], values[actions], atol=1e-5)
    assert values[actions].abs().max() > 0


def test_ppo_trains_every_architecture_and_a_token_reward_raises_that_token(colour_lm, tmp_path):
    arch, policy, tokenizer = colour_lm
    before = _p_blue(policy, tokenizer)
    result = train_ppo(CONFIG, policy, tokenizer, blue_reward, PROMPTS, seed=0, progress=False)
    rewards = result.log["proxy_reward"]  # "blue"s per response: about 0.6 for the random policy, at most 8
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 2.0, (arch, rewards)
    assert _p_blue(result.model, tokenizer) > before + 0.2, arch
    assert _p_blue(policy, tokenizer) == before  # the caller's model is untouched
    result.model.save_pretrained(tmp_path / "trained")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "trained")
    assert type(reloaded) is type(policy)
    assert _p_blue(reloaded, tokenizer) == pytest.approx(_p_blue(result.model, tokenizer), abs=1e-6)


def test_seeds_trained_together_get_bit_for_bit_what_they_get_alone(colour_lm):
    arch, policy, tokenizer = colour_lm
    config = PPOConfig(steps=3, batch_size=8, minibatch_size=4, epochs=1, max_new_tokens=6)
    together = train_ppo_seeds(config, policy, tokenizer, [blue_reward] * 2, PROMPTS, seeds=[3, 4], progress=False)
    alone = train_ppo(config, policy, tokenizer, blue_reward, PROMPTS, seed=4, progress=False)
    _same_log(together[1].log, alone.log)
    assert together[1].samples == alone.samples and together[0].samples != alone.samples
    for (name, a), b in zip(alone.model.state_dict().items(), together[1].model.state_dict().values()):
        assert torch.equal(a, b), (arch, name)


# attention and the LM head: a random tiny model moves its next-token distribution fastest through its head
LORA_TARGETS = {"llama": ["q_proj", "v_proj", "lm_head"], "qwen2": ["q_proj", "v_proj", "lm_head"],
                "gpt_neox": ["query_key_value", "lm_head"], "opt": ["q_proj", "v_proj", "lm_head"],
                "gpt2": ["c_attn", "lm_head"]}


def test_lora_trains_only_the_adapters_and_the_reference_is_the_untouched_base(colour_lm, tmp_path):
    arch, policy, tokenizer = colour_lm
    original = {k: v.clone() for k, v in policy.state_dict().items()}
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS[arch], lora_dropout=0.0)
    result = train_ppo(CONFIG, policy, tokenizer, blue_reward, PROMPTS, seed=0, peft_config=lora, progress=False)
    assert isinstance(result.model, PeftModel)
    assert np.mean(result.log["proxy_reward"][-3:]) > np.mean(result.log["proxy_reward"][:3]) + 1.0, arch
    trained = result.model.state_dict()
    adapters = [k for k in trained if "lora_" in k]
    assert adapters and any(not torch.all(trained[k] == 0) for k in adapters if "lora_B" in k)
    base = {k.replace("base_model.model.", "").replace(".base_layer", ""): v for k, v in trained.items()
            if "lora_" not in k}
    assert set(original) <= set(base)
    for name, value in original.items():  # no base weight moved
        assert torch.equal(base[name], value), (arch, name)
    with result.model.disable_adapter():  # the reference: the base model, as it was
        assert _p_blue(result.model, tokenizer) == pytest.approx(_p_blue(policy, tokenizer), abs=1e-6)
    assert _p_blue(result.model, tokenizer) > _p_blue(policy, tokenizer) + 0.1
    result.model.save_pretrained(tmp_path / "adapters")
    reloaded = PeftModel.from_pretrained(copy.deepcopy(policy), tmp_path / "adapters")  # loading wraps its base
    assert _p_blue(reloaded, tokenizer) == pytest.approx(_p_blue(result.model, tokenizer), abs=1e-6)


def test_a_word_level_reward_model_pays_a_byte_level_bpe_policy_on_its_own_tokens(tmp_path):
    """A reward model with another tokenizer: a word-level scorer (its own vocabulary) gives +1 to every word it
    knows; ``word_rewards_on_tokens`` pays each word's score on the last policy token that writes the word."""
    policy, tokenizer = _saved(tmp_path / "bpe-llama", "llama", _byte_level_bpe())
    scorer_vocab = _tokenizer(_word_level())
    seen = []

    def word_scorer(prompts, responses, tokens):
        rows = []
        for response, row in zip(responses, tokens):
            word_ids = scorer_vocab(response, add_special_tokens=False)["input_ids"]  # the scorer's own tokenizer
            word_scores = [0.0 if i == scorer_vocab.unk_token_id else 1.0 for i in word_ids]
            rows.append(word_rewards_on_tokens(row, word_scores, tokenizer))
            seen.append((response, row, word_scores, rows[-1]))
        return rows

    result = train_ppo(CONFIG, policy, tokenizer, word_scorer, PROMPTS, seed=0, progress=False)
    assert np.mean(result.log["proxy_reward"][-3:]) > np.mean(result.log["proxy_reward"][:3]) + 1.0
    split = 0
    for response, row, word_scores, rewards in seen:
        assert rewards.sum() == sum(word_scores) == sum(word in COLOURS for word in response.split())
        for k in np.flatnonzero(rewards):  # paid on the token that ends a colour word
            assert tokenizer.convert_tokens_to_string(list(row[: k + 1])).split()[-1] in COLOURS
            assert k + 1 == len(row) or tokenizer.convert_tokens_to_string([row[k + 1]]).startswith(" ")
        split += sum(len(tokenizer.tokenize(" " + w)) > 1 for w in response.split())
    assert split > 0  # some words took several policy tokens
    with pytest.raises(ValueError, match="2 word rewards for a response of 1 words"):
        word_rewards_on_tokens(["Ġbl", "ue"], [1.0, 0.0], tokenizer)


def test_bad_models_tokenizers_and_configs_are_refused_by_name(tmp_path):
    policy, tokenizer = _saved(tmp_path / "llama", "llama", _word_level())
    with pytest.raises(TypeError, match="causal language model with its LM head"):
        train_ppo(CONFIG, policy.model, tokenizer, blue_reward, PROMPTS, progress=False)
    tokenizer.pad_token = None
    with pytest.raises(ValueError, match=r"no pad token.*tokenizer.pad_token = tokenizer.eos_token"):
        train_ppo(CONFIG, policy, tokenizer, blue_reward, PROMPTS, progress=False)
    with pytest.raises(ValueError, match="'PPOConfig.learning_rate' must be a finite number"):
        PPOConfig(learning_rate=float("nan"))
    with pytest.raises(ValueError, match=r"PPOConfig.batch_size \(4\) must be a multiple of PPOConfig.minibatch_size"):
        PPOConfig(batch_size=4, minibatch_size=8)
    with pytest.raises(ValueError, match="'PPOConfig.steps' must be positive"):
        PPOConfig(steps=0)

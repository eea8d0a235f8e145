"""Per-token PPO on a Hugging Face causal LM, with LoRA and several seeds: a tiny random Llama, under a minute on CPU.

    python examples/ppo_any_lm.py [output folder]          # or: accelerate launch examples/ppo_any_lm.py

docs/ppo.md walks through it; tests/test_examples.py runs it. Nothing is downloaded: the model and its
tokenizer are built here. With a real model, load both instead:
``AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M")`` and ``AutoTokenizer.from_pretrained(...)``.
"""

import sys
from pathlib import Path

from rewardlab.rl import PPOConfig, train_ppo, train_ppo_seeds  # first: it pins torch's CPU kernels (same seed, same numbers)

import torch
from peft import LoraConfig, PeftModel
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

out = Path(sys.argv[1] if len(sys.argv) > 1 else "ppo-example")
torch.set_num_threads(1)  # a model this small runs fastest on one thread

# --- a tiny model and its tokenizer (one token per colour word) ---
colours = "red orange yellow green blue indigo violet black white grey".split()
core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["<pad>", "<unk>", "<s>", "</s>", *colours])}, "<unk>"))
core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                    eos_token="</s>")
torch.manual_seed(0)
policy = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      bos_token_id=2, eos_token_id=3, pad_token_id=0))
prompts = ["red", "green blue", "white black grey", "violet", "orange yellow"]

# --- per-token PPO: +1 on every "blue" token, paid on that token ---
def reward_fn(prompts, responses, tokens):
    return [[1.0 if token == "blue" else 0.0 for token in row] for row in tokens]

config = PPOConfig(steps=10, batch_size=16, minibatch_size=8, learning_rate=1e-2, max_new_tokens=8, kl_coef=0.0)
result = train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=0, progress=False)
print("blue per response, first and last step:", result.log["proxy_reward"][0], result.log["proxy_reward"][-1])
result.model.save_pretrained(out / "full")
tokenizer.save_pretrained(out / "full")

# --- LoRA: only the adapters train; the KL reference is the same model with its adapters off ---
lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "lm_head"], lora_dropout=0.0)
adapted = train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=0, peft_config=lora, progress=False)
print("LoRA, blue per response, first and last step:", adapted.log["proxy_reward"][0], adapted.log["proxy_reward"][-1])
adapted.model.save_pretrained(out / "lora")
reloaded = PeftModel.from_pretrained(LlamaForCausalLM(policy.config), out / "lora")  # adapters onto a base model

# --- seeds: each run's numbers are those it gets alone ---
runs = train_ppo_seeds(config, policy, tokenizer, [reward_fn] * 3, prompts, seeds=[0, 1, 2], progress=False)
print("final blue per response by seed:", [run.log["proxy_reward"][-1] for run in runs])

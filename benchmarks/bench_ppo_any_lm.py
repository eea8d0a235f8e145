"""Per-token PPO on a tiny Llama against TRL's RLOOTrainer, and the stacked GPT-2 path against seed by seed.

A random Llama (2 layers, width 128, 4 heads: the tiny preset's policy size) over a word-level vocabulary of
2,000 words, built here (nothing downloaded). The reward is one scalar per response (how many of its words
are in the first tenth of the vocabulary), so both trainers get the same signal. Same batch (64 responses),
response length (20 tokens), learning rate, KL coefficient, epochs and minibatches
(:func:`rewardlab.rl.trl_peers.train_with_trl_rloo` matches them). Contenders alternate per repeat;
samples/s = rollouts x batch / seconds (rewardlab: the sum of its steps' seconds; TRL: ``trainer.train()``).

Then the two paths of ``train_ppo_seeds`` on the same-sized GPT-2: ``--seeds`` seeds as one stacked model
against the same seeds one after another through HF's forward (:class:`rewardlab.rl.causal_lm.CausalLMPolicy`,
the path every other architecture takes), samples/s counting every seed's responses.

    .venv/bin/python benchmarks/bench_ppo_any_lm.py [--steps 10] [--repeats 2] [--seeds 4] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile

from side_by_side import add_json_flag, run_side_by_side, summarise, write_json

WORDS = 2000


def _world():
    """(tokenizer, Llama, GPT-2, prompts, score_fn, token_reward): the tiny random models and the reward."""
    import numpy as np
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = [f"w{i}" for i in range(WORDS)]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["<pad>", "<unk>", "<s>", "</s>", *words])}, "<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                        eos_token="</s>")
    ids = dict(vocab_size=len(tokenizer), bos_token_id=2, eos_token_id=3, pad_token_id=0)
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=4, **ids))
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=128, n_layer=2, n_head=4, n_positions=64, **ids))
    folder = tempfile.mkdtemp(prefix="bench-llama-")  # TRL builds its KL reference from the model's saved path
    llama.save_pretrained(folder)
    llama = LlamaForCausalLM.from_pretrained(folder)
    rng = np.random.default_rng(0)
    prompts = [" ".join(rng.choice(words, 4)) for _ in range(500)]
    good = set(words[: WORDS // 10])

    def score_fn(prompts, texts):
        return [float(sum(w in good for w in t.split())) for t in texts]

    def token_reward(prompts, responses):  # the same scalar, paid at the end
        return score_fn(prompts, responses)

    return tokenizer, llama, gpt2, prompts, score_fn, token_reward


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    add_json_flag(parser)
    args = parser.parse_args(argv)

    from rewardlab.rl import PPOConfig, train_ppo, train_ppo_seeds  # first: it pins torch's CPU kernels
    from rewardlab.rl.causal_lm import CausalLMPolicy
    from rewardlab.rl.trainer import _train
    from rewardlab.rl.trl_peers import train_with_trl_rloo

    import numpy as np
    import torch

    tokenizer, llama, gpt2, prompts, score_fn, token_reward = _world()
    ppo = PPOConfig(steps=args.steps, batch_size=64, minibatch_size=16, max_new_tokens=20, learning_rate=1e-4)
    samples = args.steps * ppo.batch_size
    print(f"{args.steps} rollouts x {ppo.batch_size} responses of <= {ppo.max_new_tokens} tokens; "
          f"torch threads {torch.get_num_threads()}")

    def rewardlab_llama(repeat: int):
        result = train_ppo(ppo, llama, tokenizer, token_reward, prompts, seed=repeat, progress=False)
        return samples / sum(result.log["seconds"]), float(np.mean(result.log["proxy_reward"][-3:]))

    def trl_rloo_llama(repeat: int):
        _, log, seconds = train_with_trl_rloo(None, ppo, llama, tokenizer, None, prompts, seed=repeat, score_fn=score_fn)
        return samples / seconds, float(np.mean(log["proxy_reward"][-3:]))

    rows = run_side_by_side({"rewardlab": rewardlab_llama, "trl-rloo": trl_rloo_llama}, args.repeats,
                            "samples/s", "proxy reward, last 3 rollouts", warmup=1)
    comparison = summarise(rows, "samples/s", "proxy reward, last 3 rollouts")

    seeds = list(range(args.seeds))

    def stacked(repeat: int):
        results = train_ppo_seeds(ppo, gpt2, tokenizer, [token_reward] * len(seeds), prompts, seeds=seeds,
                                  progress=False)
        final = float(np.mean([np.mean(r.log["proxy_reward"][-3:]) for r in results]))
        return samples / sum(results[0].log["seconds"]), final  # a step's seconds: the stacked step's / seeds

    def one_by_one(repeat: int):
        seconds, finals = 0.0, []
        for seed in seeds:
            torch.manual_seed(seed)
            model = CausalLMPolicy(gpt2, value_head=True)
            result = _train(ppo, model, model.reference(gpt2), [token_reward], [seed], tokenizer=tokenizer,
                            prompts=prompts, name="reward", gold_fn=None, track={}, device="cpu", progress=False,
                            evaluation=None)[0]
            seconds += sum(result.log["seconds"])
            finals.append(np.mean(result.log["proxy_reward"][-3:]))
        return len(seeds) * samples / seconds, float(np.mean(finals))

    quality = "proxy reward, last 3 rollouts, mean over seeds"
    path_rows = run_side_by_side({"stacked": stacked, "seed-by-seed": one_by_one}, args.repeats, "samples/s", quality)
    paths = summarise(path_rows, "samples/s", quality)
    out = {"settings": {"steps": args.steps, "repeats": args.repeats, "seeds": args.seeds, "batch": ppo.batch_size,
                        "max_new_tokens": ppo.max_new_tokens, "threads": torch.get_num_threads()},
           "llama_vs_trl_rloo": comparison, "stacked_vs_seed_by_seed": paths}
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()

"""Where a PPO step's time goes: sampling, reward and attribution, reference pass, minibatch passes, optimiser.

Runs ``rewardlab.rl.trainer.train_ppo_seeds`` on the tiny preset (SFT policy, reward model seed 0)
for each (shape, seeds) in ``--configs`` and times the parts of every step by wrapping the
functions the trainer calls (wall clock, so the parts add up to the step):

* ``sampling``: ``rollouts.sample_stacked`` (KV-cached sampling; it also records the rollout
  policy's log-probs, entropy and values) and ``to_rollout`` (decoding);
* ``reward``: the ``reward_fn`` calls (reward-model scoring, and the attribution of a dense shape);
* ``reference``: the frozen reference's log-probs, one pass per rollout;
* ``minibatch forward`` / ``backward``: the ``epochs x batch / minibatch`` passes with gradients;
* ``clip + Adam``: per-seed gradient clipping and the optimiser step;
* ``other``: the rest of the step (GAE, whitening, losses, the gold judge, logging).

Seconds are per seed-step (a stacked step's time divided by its seeds). The matrix arithmetic
floor is printed beside them: the multiply-adds a step needs, at the rate this machine's
``torch.mm`` reaches on the step's largest product.

    .venv/bin/python benchmarks/profile_ppo.py [--steps 10] [--configs sparse:1,shap:1,shap:1:package,...] [--json PATH]
"""

from __future__ import annotations

import argparse
import collections
import time

from side_by_side import BENCH_PPO, add_json_flag, write_json

PARTS = ("sampling", "reward", "reference", "minibatch forward", "backward", "clip + Adam", "other")


def matmul_rate(rows: int, inner: int, cols: int, repeats: int = 50) -> float:
    """FLOP/s of ``torch.mm`` on a [rows, inner] x [inner, cols] product on this machine."""
    import torch

    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(5):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * rows * inner * cols * repeats / (time.perf_counter() - start)


def step_flops(config, n_layer: int, d: int, vocab: int, prompt: int) -> float:
    """Multiply-adds x 2 of one seed-step: sampling, the reference pass, and epochs of forward + backward (x3)."""
    per_token = 2 * (12 * n_layer * d * d)  # attention projections and MLP of every layer
    head = 2 * d * vocab  # the tied LM head, on action positions
    tokens = config.batch_size * (prompt + config.max_new_tokens)
    actions = config.batch_size * config.max_new_tokens
    one_pass = tokens * per_token + actions * head
    return one_pass * (2 + 3 * config.epochs)  # sampling ~ one pass, reference one pass, training 3 per epoch


def profile(shape: str, seeds: int, steps: int, stack, preset, estimator: str) -> dict:
    import dataclasses

    import accelerate
    import torch

    from rewardlab.rl import trainer
    from rewardlab.shaping.shapes import shaped_reward_fn

    times: dict[str, float] = collections.defaultdict(float)
    saved = {}

    def wrap(owner, name, part_of):
        original = getattr(owner, name)
        saved[(owner, name)] = original

        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = original(*args, **kwargs)
            times[part_of(*args, **kwargs) if callable(part_of) else part_of] += time.perf_counter() - start
            return out
        setattr(owner, name, timed)

    wrap(trainer, "sample_stacked", "sampling")
    wrap(trainer, "to_rollout", "sampling")
    wrap(trainer, "stacked_action_stats", lambda *a, **k: "minibatch forward" if torch.is_grad_enabled() else "reference")
    wrap(accelerate.Accelerator, "backward", "backward")
    wrap(torch.nn.utils, "clip_grad_norm_", "clip + Adam")
    wrap(torch.optim.AdamW, "step", "clip + Adam")
    try:
        ppo = dataclasses.replace(preset.shaping.ppo, steps=steps)
        fns = [shaped_reward_fn(shape, stack.reward_model(), stack.tokenizer, seed=seed,
                                shap_max_evals=preset.shaping.shap_max_evals, shap_estimator=estimator,
                                lime_num_samples=preset.shaping.lime_num_samples) for seed in range(seeds)]
        start = time.perf_counter()
        results = trainer.train_ppo_seeds(ppo, stack.policy, stack.tokenizer, fns, stack.train_prompts,
                                          seeds=list(range(seeds)), gold_fn=stack.judge, progress=False)
        total = time.perf_counter() - start
    finally:
        for (owner, name), original in saved.items():
            setattr(owner, name, original)
    times["reward"] = sum(sum(r.log["reward_seconds"]) for r in results)
    times["other"] = total - sum(times.values())
    per = steps * seeds
    return {"shape": shape, "seeds": seeds, "steps": steps, "estimator": estimator if shape == "shap" else "",
            "seconds_per_seed_step": total / per,
            "parts": {part: times[part] / per for part in PARTS}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--configs", default="sparse:1,shap:1,shap:1:first-position,shap:1:package,lime:1,sparse:10,shap:10,lime:10",
                        help="shape:seeds[:SHAP estimator] items; the estimator defaults to the preset's")
    add_json_flag(parser)
    args = parser.parse_args(argv)

    from rewardlab.core.presets import load_preset
    from rewardlab.stack import load_stack

    preset = load_preset("tiny", **BENCH_PPO)
    stack = load_stack(preset, progress=False)
    stack.judge  # noqa: B018  (loaded before any clock)
    rows = []
    for item in args.configs.split(","):
        shape, seeds, *estimator = item.split(":")
        row = profile(shape, int(seeds), args.steps, stack, preset, estimator[0] if estimator else
                      preset.shaping.shap_estimator)
        rows.append(row)
        parts = "  ".join(f"{k} {v:.3f}" for k, v in row["parts"].items())
        print(f"{shape:7s} {row['estimator']:10s} x{row['seeds']:<3d} {row['seconds_per_seed_step']:.3f} s per seed-step: {parts}", flush=True)
    sft, ppo = preset.sft, preset.shaping.ppo
    vocab = stack.policy.config.vocab_size
    prompt = max(len(stack.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in stack.train_prompts[:2000]) + 1
    flops = step_flops(ppo, sft.n_layer, sft.n_embd, vocab, prompt)
    rate = matmul_rate(ppo.minibatch_size * 10 * (prompt + ppo.max_new_tokens), sft.n_embd, 4 * sft.n_embd)
    floor = {"flops_per_seed_step": flops, "matmul_flops_per_s": rate, "floor_seconds": flops / rate}
    print(f"arithmetic floor: {flops / 1e9:.1f} GFLOP per seed-step at {rate / 1e9:.0f} GFLOP/s (torch.mm) "
          f"= {flops / rate:.3f} s")
    settings = {"steps": args.steps, "configs": args.configs, "batch_size": ppo.batch_size,
                "max_new_tokens": ppo.max_new_tokens, "epochs": ppo.epochs, "minibatch_size": ppo.minibatch_size,
                "shap_max_evals": preset.shaping.shap_max_evals, "lime_num_samples": preset.shaping.lime_num_samples,
                "shap_estimator": preset.shaping.shap_estimator,
                "n_layer": sft.n_layer, "n_embd": sft.n_embd, "vocabulary": vocab, "prompt_tokens": prompt}
    return write_json(args.json, {"bench": "profile", "settings": settings, "rows": rows, "floor": floor})


if __name__ == "__main__":
    main()

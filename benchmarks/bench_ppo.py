"""PPO throughput: rewardlab's per-token PPO vs TRL's RLOOTrainer, and what attribution costs a step.

Same SFT policy (tiny preset), same reward model (Bradley-Terry, seed 0), same prompts, batch
(``ppo_batch_size`` = 64 responses per rollout), response length (``ppo_max_new_tokens`` = 20),
learning rate, KL coefficient and update passes (4 epochs of 16-response minibatches); see
:func:`rewardlab.rl.trl_peers.train_with_trl_rloo` for the matching. Contenders, in turn per repeat:

* ``rewardlab``: ``ppo_trainer.train_ppo`` with the sparse reward (sum of its per-step seconds);
* ``trl-rloo``: ``trl.RLOOTrainer`` (the seconds of ``trainer.train()``).

Samples per second = rollouts x batch / seconds; the quality column is the mean proxy reward of
the last 5 rollouts. Then ``--stack-seeds`` seeds of the same sparse run trained as one stacked
model (``train_ppo_seeds``, what the grid runner does): its samples/s counts every seed's
responses. Then, one run per dense shape (``--shapes``; ``shap:package`` is SHAP by shap's
permutation explainer instead of the preset's in-loop estimator), the share of a PPO step spent
inside ``reward_fn`` (scoring + attribution) and the step's time against the sparse run's
(``--shape-steps`` rollouts each, default ``--steps``). ``main()`` returns all of it (the
comparison as ``side_by_side.summarise`` gives it, the stacked run under ``"stacked"``, the
shapes' rows under ``"shapes"``) with the settings; ``--json PATH`` writes that dict.

    .venv/bin/python benchmarks/bench_ppo.py [--steps 40] [--repeats 3] [--stack-seeds 10]
        [--shapes abc,shap,shap:package,lime] [--shape-steps N] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from side_by_side import BENCH_PPO, add_json_flag, run_side_by_side, summarise, write_json


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", default="abc,shap,shap:package,lime")
    parser.add_argument("--stack-seeds", type=int, default=10, help="seeds of the stacked run (0: skip it)")
    parser.add_argument("--shape-steps", type=int, default=None, help="rollouts per shape run; default: --steps")
    add_json_flag(parser)
    args = parser.parse_args(argv)

    import numpy as np

    from rewardlab.core.presets import load_preset
    from rewardlab.rl.trainer import train_ppo, train_ppo_seeds
    from rewardlab.rl.trl_peers import train_with_trl_rloo
    from rewardlab.shaping.shapes import shaped_reward_fn
    from rewardlab.stack import load_stack

    preset = load_preset("tiny", **{**BENCH_PPO, "shaping.ppo.steps": args.steps})
    stack = load_stack(preset, progress=False)
    policy, tokenizer, reward_model, prompts = stack.policy, stack.tokenizer, stack.reward_model(), stack.train_prompts
    ppo = preset.shaping.ppo
    samples = args.steps * ppo.batch_size
    print(f"{args.steps} rollouts x {ppo.batch_size} responses of <= {ppo.max_new_tokens} tokens, "
          f"{ppo.epochs} epochs of {ppo.minibatch_size}-response minibatches")

    def rewardlab_run(repeat: int):
        fn = shaped_reward_fn("sparse", reward_model, tokenizer)
        log = train_ppo(ppo, policy, tokenizer, fn, prompts, seed=repeat, name="sparse", progress=False).log
        return samples / sum(log["seconds"]), float(np.mean(log["proxy_reward"][-5:]))

    def rloo_run(repeat: int):
        _, log, seconds = train_with_trl_rloo(preset, ppo, policy, tokenizer, reward_model, prompts, seed=repeat)
        return samples / seconds, float(np.mean(log["proxy_reward"][-5:]))

    results = run_side_by_side({"rewardlab": rewardlab_run, "trl-rloo": rloo_run}, args.repeats, "samples/s",
                               "final proxy", warmup=0)

    stacked = None
    if args.stack_seeds:
        fns = [shaped_reward_fn("sparse", reward_model, tokenizer) for _ in range(args.stack_seeds)]
        start = time.perf_counter()
        logs = [r.log for r in train_ppo_seeds(ppo, policy, tokenizer, fns, prompts, seeds=list(range(args.stack_seeds)),
                                               name="sparse", progress=False)]
        seconds = time.perf_counter() - start
        trl_median = statistics.median(m for m, _ in results["trl-rloo"])
        stacked = {"seeds": args.stack_seeds, "seconds": seconds, "samples_per_s": args.stack_seeds * samples / seconds,
                   "ratio_to_trl_median": args.stack_seeds * samples / seconds / trl_median,
                   "final_proxy_median": statistics.median(float(np.mean(log["proxy_reward"][-5:])) for log in logs)}
        print(f"\nrewardlab, {args.stack_seeds} seeds stacked: {stacked['samples_per_s']:.0f} samples/s, "
              f"{stacked['ratio_to_trl_median']:.2f}x TRL RLOO's median", flush=True)

    shape_steps = args.shape_steps or args.steps
    shape_ppo = dataclasses.replace(ppo, steps=shape_steps)
    print(f"\nshare of a PPO step inside reward_fn (scoring + attribution), one run each of {shape_steps} steps, "
          "seed 0:")
    shapes = []
    for item in ["sparse"] + [s for s in args.shapes.split(",") if s]:
        shape, *estimator = item.split(":")
        estimator = estimator[0] if estimator else preset.shaping.shap_estimator
        fn = shaped_reward_fn(shape, reward_model, tokenizer, shap_max_evals=preset.shaping.shap_max_evals,
                              lime_num_samples=preset.shaping.lime_num_samples, shap_estimator=estimator)
        start = time.perf_counter()
        log = train_ppo(shape_ppo, policy, tokenizer, fn, prompts, seed=0, name=shape, progress=False).log
        total = time.perf_counter() - start
        row = {"shape": f"shap ({estimator})" if shape == "shap" else shape, "seconds": total,
               "median_step": statistics.median(log["seconds"]),
               "reward_share": sum(log["reward_seconds"]) / sum(log["seconds"]),
               "samples_per_s": shape_steps * ppo.batch_size / total}
        row["step_ratio_to_sparse"] = row["median_step"] / shapes[0]["median_step"] if shapes else 1.0
        shapes.append(row)
        print(f"{row['shape']:16s} {total:6.1f} s for {shape_steps} steps, median step {row['median_step']:.2f} s, "
              f"reward_fn {row['reward_share']:.0%} of the step, {row['samples_per_s']:.0f} samples/s")

    settings = {"repeats": args.repeats, "steps": args.steps, "shape_steps": shape_steps, "prompts": len(prompts),
                **{f"ppo_{k}": getattr(ppo, k) for k in ("batch_size", "max_new_tokens", "learning_rate", "kl_coef",
                                                           "epochs", "minibatch_size")},
                "ppo_shap_max_evals": preset.shaping.shap_max_evals,
                "ppo_lime_num_samples": preset.shaping.lime_num_samples,
                "ppo_shap_estimator": preset.shaping.shap_estimator, "stack_seeds": args.stack_seeds}
    return write_json(args.json, {"bench": "ppo", "settings": settings,
                                  **summarise(results, "samples/s", "final proxy"), "stacked": stacked,
                                  "shapes": shapes})


if __name__ == "__main__":
    main()

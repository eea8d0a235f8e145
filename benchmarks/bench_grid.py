"""A grid of sparse PPO runs (1 method x ``--seeds`` seeds x ``--steps`` steps): today's runner vs a base commit's.

The studies run grids, so this is the speed that decides how many seeds a study can afford. Both
contenders call ``rewardlab.rl.runs.run_methods`` on the same tiny-preset stack (SFT policy,
reward model seed 0, training and evaluation prompts): training and the final evaluation of every
run, timed from the call to its return. ``base`` is the runner of the commit ``--base`` (by default
the one issue 21 started from: per-seed HF ``generate`` and forward passes, seeds spread over
``runs.workers`` = 2 forked processes of one thread each), checked out into a temporary git
worktree and imported from there; ``current`` is this checkout's (the seeds of a method trained
as one stacked model, :func:`rewardlab.rl.trainer.train_ppo_seeds`) with ``--current-workers``
(default 2, the preset's ``runs.workers``: the method's seeds split into two stacks, one
one-thread process each; 1: in-process, two threads). Each contender runs in its own subprocess, in turn, ``--repeats``
times; the artifact cache is shared, so neither trains an SFT policy or reward model.

Quality column: the mean final gold over the seeds (the two runners draw different random
numbers, so they agree in distribution, not run by run); the report adds Welch's t interval of
the difference over the seeds.

    .venv/bin/python benchmarks/bench_grid.py [--seeds 10] [--steps 40] [--repeats 1] [--base COMMIT] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from side_by_side import BENCH_PPO, add_json_flag, run_side_by_side, summarise, write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE_COMMIT = "dffbc93"  # main when issue 21 started


def run_grid(seeds: int, steps: int, workers: int) -> dict:
    """One grid in this process with whichever ``rewardlab`` is on the path; returns seconds and final gold."""
    import numpy as np

    from rewardlab.core.presets import load_preset
    from rewardlab.rl.runs import Method, run_methods
    from rewardlab.shaping.shapes import shaped_reward_fn
    from rewardlab.stack import load_stack

    preset = load_preset("tiny", **{**BENCH_PPO, "shaping.ppo.steps": steps, "runs.workers": workers})
    stack = load_stack(preset, progress=False)
    reward_model, tokenizer = stack.reward_model(), stack.tokenizer
    stack.eval_prompts, stack.judge  # noqa: B018  (loaded before the clock starts)
    methods = {"sparse": Method(lambda seed: shaped_reward_fn("sparse", reward_model, tokenizer))}
    start = time.perf_counter()
    _, summary = run_methods(preset, preset.shaping.ppo, stack.policy, tokenizer, reward_model, stack.train_prompts,
                             stack.eval_prompts, stack.judge, methods, list(range(seeds)), progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "train_seconds": float(summary["seconds"].sum()),
            "final_gold": [float(g) for g in summary["final_gold"]], "mean_final_gold": float(np.mean(summary["final_gold"]))}


def subprocess_grid(lib: Path, seeds: int, steps: int, workers: int) -> dict:
    """:func:`run_grid` in a fresh interpreter importing ``rewardlab`` from ``lib``."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "PYTHONPATH": str(lib),
               "REWARDLAB_ARTIFACTS": os.environ.get("REWARDLAB_ARTIFACTS", str(ROOT / "artifacts"))}
        subprocess.run([sys.executable, __file__, "--child", out.name, "--seeds", str(seeds), "--steps", str(steps),
                        "--current-workers", str(workers)], env=env, check=True, cwd=HERE)
        return json.loads(Path(out.name).read_text())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--base", default=BASE_COMMIT)
    parser.add_argument("--base-workers", type=int, default=2)
    parser.add_argument("--current-workers", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one grid, write JSON here
    add_json_flag(parser)
    args = parser.parse_args(argv)
    if args.child:
        Path(args.child).write_text(json.dumps(run_grid(args.seeds, args.steps, args.current_workers)))
        return {}

    worktree = Path(tempfile.mkdtemp(prefix="rewardlab-base-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.base], cwd=ROOT, check=True,
                   capture_output=True)
    runs: dict[str, list[dict]] = {"current": [], "base": []}
    try:
        def contender(name: str, lib: Path, workers: int):
            def run(repeat: int):
                result = subprocess_grid(lib, args.seeds, args.steps, workers)
                runs[name].append(result)
                return result["seconds"], result["mean_final_gold"]
            return run

        results = run_side_by_side({"current": contender("current", ROOT / "lib", args.current_workers),
                                    "base": contender("base", worktree / "lib", args.base_workers)},
                                   args.repeats, "s", "mean final gold")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    base_commit = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip()
    settings = {"repeats": args.repeats, "seeds": args.seeds, "steps": args.steps, "base_commit": base_commit,
                "base_workers": args.base_workers, "current_workers": args.current_workers}
    return write_json(args.json, {"bench": "grid", "settings": settings, **summarise(results, "s", "mean final gold"),
                                  "runs": runs})


if __name__ == "__main__":
    main()

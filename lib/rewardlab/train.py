"""Training from the command line, one process or many: ``python -m rewardlab.train`` / ``accelerate launch``.

    python -m rewardlab.train prepare --preset tiny          # once: the artifact cache the stages below need
    python -m rewardlab.train sft --preset tiny --output runs/sft
    python -m rewardlab.train reward-model --preset tiny --seed 0 --output runs/rm
    python -m rewardlab.train ppo --preset tiny --shape lime --seed 0 --output runs/ppo-lime
    accelerate launch --num_processes 4 -m rewardlab.train ppo --preset paper --shape shap --output runs/ppo-shap

The notebooks call the same functions; this entry point is for scaling one training run out.
Under ``accelerate launch`` every process runs this module: ``sft`` and ``reward-model`` are
data-parallel (each process a shard of every batch, gradients averaged by ``accelerate``), and
``ppo`` samples one rollout of ``shaping.ppo.batch_size`` per process per step (so the effective batch
is processes x that batch size) with the logged scalars averaged over processes. What a stage
needs from earlier stages (the world, the SFT policy, the preference data and reward model) comes
from the artifact cache, which ``prepare`` fills in one process: building an entry means training,
and a training inside one process of a launch would wait forever on the others, so a launch
that finds the cache cold stops with that command (:func:`rewardlab.core.artifacts.cached`). Only the
main process writes ``--output``: the model (``save_pretrained``, with its tokenizer) and
``log.json`` (the per-step log).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from accelerate import PartialState

from rewardlab.core.artifacts import atomic_write_text
from rewardlab.core.config import resolve_device
from rewardlab.core.policy import train_sft
from rewardlab.core.presets import load_preset
from rewardlab.core.tokenizer import load_tokenizer
from rewardlab.reward.models import train_reward_model
from rewardlab.rl.trainer import train_ppo
from rewardlab.shaping.shapes import SHAPES, shaped_reward_fn
from rewardlab.stack import load_stack

STAGES = ("prepare", "sft", "reward-model", "ppo")


def run(stage: str, preset, seed: int, shape: str = "sparse"):
    """Train ``stage``; returns (model, tokenizer, log). ``prepare`` only loads (building on first use) what
    ``ppo`` needs, through the same loader the notebooks and the BO trials use (:func:`rewardlab.stack.load_stack`)."""
    progress = PartialState().is_main_process
    stack = load_stack(preset, progress=False)
    if stage == "sft":
        tokenizer = load_tokenizer(preset)
        model, log = train_sft(preset, tokenizer, stack.world, progress=progress)
        return model, tokenizer, log
    if stage == "prepare":
        return stack.reward_model(), stack.tokenizer, {}
    if stage == "reward-model":
        model, log = train_reward_model(preset, stack.tokenizer, stack.train_pairs, seed=seed,
                                        eval_dataset=stack.heldout_pairs, progress=progress)
        return model, stack.tokenizer, log
    study = preset.shaping
    reward_fn = shaped_reward_fn(shape, stack.reward_model(), stack.tokenizer, seed=seed,
                                 shap_max_evals=study.shap_max_evals, lime_num_samples=study.lime_num_samples,
                                 shap_estimator=study.shap_estimator)
    result = train_ppo(study.ppo, stack.policy, stack.tokenizer, reward_fn, stack.train_prompts, seed=seed,
                       name=shape, gold_fn=stack.judge, device=resolve_device(preset), progress=progress)
    return result.model, stack.tokenizer, result.log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.train", description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", default="sparse", help=f"ppo only: one of {', '.join(SHAPES)}")
    parser.add_argument("--steps", type=int, default=None, help="ppo only: PPO steps (default: the preset's)")
    parser.add_argument("--smoke", action="store_true", help="smoke sizes: seconds")
    parser.add_argument("--output", type=Path, default=None, help="folder for the model and log.json (not for prepare)")
    args = parser.parse_args(argv)
    if args.output is None and args.stage != "prepare":
        parser.error(f"{args.stage} needs --output, the folder for the trained model and its log")
    if args.shape not in SHAPES or args.shape == "mixture":
        parser.error(f"--shape {args.shape!r}: choose one of {', '.join(s for s in SHAPES if s != 'mixture')}")
    overrides = {"shaping.ppo.steps": args.steps} if args.steps else {}
    preset = load_preset(args.preset, smoke=args.smoke, **overrides)
    # first: a CPU-only state must be asked for, or the processes of a CPU launch each run alone
    state = PartialState(cpu=resolve_device(preset) == "cpu")
    model, tokenizer, log = run(args.stage, preset, args.seed, args.shape)
    if args.output is None:
        print(f"[train] the artifact cache holds what preset {preset.name!r} needs")
    elif state.is_main_process:
        args.output.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(args.output)
        tokenizer.save_pretrained(args.output)
        log = {k: list(v) if not isinstance(v, (int, float, str)) else v for k, v in dict(log).items()}
        atomic_write_text(args.output / "log.json", json.dumps(
            {"stage": args.stage, "preset": preset.name, "seed": args.seed, "shape": args.shape,
             "processes": state.num_processes, "log": log}, default=float) + "\n")
        print(f"[train] {args.stage} ({state.num_processes} process(es)) -> {args.output}")
    state.wait_for_everyone()
    return 0


if __name__ == "__main__":
    sys.exit(main())

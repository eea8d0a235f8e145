"""Training from the command line, one process or many: ``python -m rewardlab.train`` / ``accelerate launch``.

    python -m rewardlab.train prepare --preset tiny          # once: the artifact cache the stages below need
    python -m rewardlab.train sft --preset tiny --output runs/sft
    python -m rewardlab.train reward-model --preset tiny --seed 0 --output runs/rm
    python -m rewardlab.train ppo --preset tiny --shape lime --seed 0 --output runs/ppo-lime
    accelerate launch --num_processes 4 -m rewardlab.train ppo --preset paper --shape shap --output runs/ppo-shap

The notebooks call the same functions; this entry point is for scaling one training run out.
Under ``accelerate launch`` every process runs this module: ``sft`` and ``reward-model`` are
data-parallel (each process a shard of every batch, gradients averaged by ``accelerate``), and
``ppo`` samples one rollout of ``ppo_batch_size`` per process per step (so the effective batch
is processes x ``ppo_batch_size``) with the logged scalars averaged over processes. What a stage
needs from earlier stages (the world, the SFT policy, the preference data and reward model) comes
from the artifact cache, which ``prepare`` fills in one process: building an entry means training,
and a training inside one process of a launch would wait forever on the others, so a launch
that finds the cache cold stops with that command (:func:`rewardlab.artifacts.cached`). Only the
main process writes ``--output``: the model (``save_pretrained``, with its tokenizer) and
``log.json`` (the per-step log).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .artifacts import atomic_write_text

STAGES = ("prepare", "sft", "reward-model", "ppo")


def run(stage: str, preset, seed: int, shape: str = "sparse"):
    """Train ``stage``; returns (model, tokenizer, log). ``prepare`` only loads (building on first use) what
    ``ppo`` needs, through the same :func:`rewardlab.ppo_experiments.shaping_setup` the notebooks' BO trials use."""
    from accelerate import PartialState

    from .ppo_experiments import shaping_setup

    progress = PartialState().is_main_process
    if stage == "sft":
        from .policy import train_sft
        from .world import build_world, load_tokenizer

        tokenizer = load_tokenizer(preset)
        model, log = train_sft(preset, tokenizer, build_world(preset), progress=progress)
        return model, tokenizer, log
    setup = shaping_setup(preset)  # world, SFT policy, judge, preference data, reward model of seed preset.seed
    if stage == "prepare":
        return setup["reward_model"], setup["tokenizer"], {}
    if stage == "reward-model":
        from .preferences import load_preference_data
        from .reward_models import train_reward_model
        from .world import build_world

        train_pairs, heldout_pairs = load_preference_data(preset, setup["policy"], setup["tokenizer"],
                                                          build_world(preset), setup["judge"], progress=False)
        model, log = train_reward_model(preset, setup["tokenizer"], train_pairs, seed=seed, eval_dataset=heldout_pairs,
                                        progress=progress)
        return model, setup["tokenizer"], log
    from .ppo_trainer import train_ppo
    from .shaping import shaped_reward_fn

    reward_fn = shaped_reward_fn(shape, setup["reward_model"], setup["tokenizer"], seed=seed,
                                 shap_max_evals=preset.ppo_shap_max_evals, lime_num_samples=preset.ppo_lime_num_samples)
    result = train_ppo(preset, setup["policy"], setup["tokenizer"], reward_fn, setup["train_prompts"], seed=seed,
                       name=shape, gold_fn=setup["judge"], progress=progress)
    return result.model, setup["tokenizer"], result.log


def main(argv: list[str] | None = None) -> int:
    from accelerate import PartialState

    from .config import load_preset, resolve_device
    from .shaping import SHAPES

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
    overrides = {"ppo_steps": args.steps} if args.steps else {}
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

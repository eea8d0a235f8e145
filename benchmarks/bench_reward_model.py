"""Reward-model training throughput: rewardlab's loop vs TRL's RewardTrainer, side by side.

Same model class and initialisation seed, same preference pairs (the first ``--pairs`` of the tiny
preset's standard training pairs: all 64,000 would take 45 minutes at 5 repeats), same epochs, batch size, learning rate and schedule, alternating A B A B in
one process. Reports pairs per second (pairs x epochs / seconds of the training loop: the
tokenisation before it is excluded for both, as TRL's Trainer reports train_runtime), the
pairwise ratio, and the held-out accuracy each reaches. ``main()`` returns them (see
``side_by_side.summarise``) with the settings; ``--json PATH`` writes that dict.

    .venv/bin/python benchmarks/bench_reward_model.py [--repeats 5] [--warmup 1] [--pairs 8000] [--epochs 1] [--json PATH]

Run it alone: two torch processes on two cores slow each other down several-fold.
"""

from __future__ import annotations

import argparse

from side_by_side import add_json_flag, run_side_by_side, summarise, write_json


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first")
    parser.add_argument("--pairs", type=int, default=8000, help="the first this many of the tiny preset's training pairs")
    parser.add_argument("--epochs", type=int, default=None, help="default: the tiny preset's reward_model.epochs")
    add_json_flag(parser)
    args = parser.parse_args(argv)

    import rewardlab  # first: it pins torch's CPU kernels before torch loads (rewardlab.core.kernels)
    import torch

    from rewardlab.core.presets import load_preset
    from rewardlab.core.judges import load_gold_judge
    from rewardlab.reward.accuracy import gold_pair_accuracy
    from rewardlab.core.policy import load_sft_policy
    from rewardlab.reward.preferences import load_preference_data
    from rewardlab.reward.models import pair_rewards, train_reward_model
    from rewardlab.rl.trl_peers import train_with_trl_reward_trainer
    from rewardlab.core.world import build_world

    preset = load_preset("tiny", **({"reward_model.epochs": args.epochs} if args.epochs else {}))
    world = build_world(preset)
    policy, tokenizer, _ = load_sft_policy(preset, world=world, progress=False)
    train, heldout = load_preference_data(preset, policy, tokenizer, world, load_gold_judge(preset), progress=False)
    train = train.select(range(min(args.pairs, len(train))))
    work = len(train) * preset.reward_model.epochs
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {len(train)} pairs x "
          f"{preset.reward_model.epochs} epochs, batch {preset.reward_model.batch_size} pairs, model {preset.reward_model.n_layer}x{preset.reward_model.n_embd}")

    def accuracy(model):
        rc, rr = pair_rewards(model, tokenizer, heldout)
        return gold_pair_accuracy(rc, rr, heldout["chosen_gold"], heldout["rejected_gold"])

    def ours(seed):
        model, log = train_reward_model(preset, tokenizer, train, seed=seed, progress=False)
        return work / log["train_seconds"], accuracy(model)

    def trl(seed):
        model, seconds = train_with_trl_reward_trainer(preset, tokenizer, train, seed=seed)
        return work / seconds, accuracy(model)

    results = run_side_by_side({"rewardlab": ours, "TRL": trl}, args.repeats, "pairs/s", "held-out accuracy",
                               warmup=args.warmup)
    settings = {"repeats": args.repeats, "warmup": args.warmup, "train_pairs": len(train),
                "heldout_pairs": len(heldout), "torch": torch.__version__, "threads": torch.get_num_threads(),
                **{f"rm_{k}": getattr(preset.reward_model, k) for k in ("epochs", "batch_size", "n_layer", "n_embd",
                                                                        "learning_rate")}}
    return write_json(args.json, {"bench": "reward_model", "settings": settings,
                                  **summarise(results, "pairs/s", "held-out accuracy")})


if __name__ == "__main__":
    main()

"""The sweep that chose the tiny preset's reward model (issue 20): held-out accuracy against gold, Spearman
with gold, probe accuracy per phenomenon and training seconds, one configuration per call.

A pool of preference pairs is sampled once from the tiny preset's SFT policy (every training prompt,
8 responses each, 128,000 pairs with the preset's label noise; 6,000 noiseless held-out pairs over the
test prompts) and saved; each call trains one reward model on the pool's first ``--pairs`` pairs with
rewardlab's loop and prints one JSON line. ``--response-only`` blanks the prompt for training and
scoring (the model reads the response alone, as the gold judge does).

    .venv/bin/python benchmarks/sweep_reward_model.py --pool /tmp/rm-pool            # build the pool (~4 min)
    .venv/bin/python benchmarks/sweep_reward_model.py --pool /tmp/rm-pool --pairs 64000 --n-embd 128 --n-head 4 --epochs 1

Run it alone: two torch processes on two cores slow each other down several-fold.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def build_pool(stack, folder: Path) -> None:
    from rewardlab.reward.preferences import draw_pairs, label_pairs, sample_chain

    generation = dict(temperature=1.0, top_k=0, max_new_tokens=stack.preset.sampling.max_new_tokens,
                      batch_size=256, progress=False)
    for split, budget, tau in (("test", 6000, 0.0), ("train", 128000, stack.preset.preferences.label_noise_tau)):
        prompts = list(dict.fromkeys(stack.world.splits[split]["prompt"]))
        groups = sample_chain(stack.policy, stack.tokenizer, prompts, 8, seed=11, **generation)
        pairs = draw_pairs(groups, budget, seed=12)
        label_pairs(groups, pairs, stack.judge, tau, 13, "chain").save_to_disk(folder / split)
        print(f"{split}: {len(prompts)} prompts, {len(pairs)} pairs", flush=True)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=Path, required=True, help="folder of the pair pool (built when absent)")
    parser.add_argument("--pairs", type=int, default=None, help="train on the pool's first this many pairs")
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--response-only", action="store_true")
    parser.add_argument("--init-sft", action="store_true", help="start from the SFT policy's transformer")
    args = parser.parse_args(argv)

    import datasets
    import numpy as np

    from rewardlab.core.presets import load_preset
    from rewardlab.core.vocabulary import sentiment_vocabulary
    from rewardlab.reward import models as M
    from rewardlab.reward.accuracy import gold_pair_accuracy, spearman
    from rewardlab.reward.probes import probe_accuracy, probe_pairs
    from rewardlab.stack import load_stack

    preset = load_preset("tiny", reward_model=dict(n_embd=args.n_embd, n_layer=args.n_layer, n_head=args.n_head,
                                                   epochs=args.epochs, learning_rate=args.learning_rate,
                                                   batch_size=args.batch_size))
    stack = load_stack(preset, progress=False)
    if not (args.pool / "train").exists():
        build_pool(stack, args.pool)
    if args.pairs is None:
        return None
    train = datasets.load_from_disk(str(args.pool / "train")).select(range(args.pairs))
    test = datasets.load_from_disk(str(args.pool / "test"))
    if args.response_only:
        train, test = (d.map(lambda row: {"prompt": ""}) for d in (train, test))
    start = time.perf_counter()
    model, log = M.train_reward_model(preset, stack.tokenizer, train, seed=args.seed, progress=False,
                                        backbone=stack.policy if args.init_sft else None)
    wall = time.perf_counter() - start
    r_chosen, r_rejected = M.pair_rewards(model, stack.tokenizer, test)
    responses = list(dict.fromkeys(zip(list(test["prompt"]) * 2, list(test["chosen"]) + list(test["rejected"]))))
    rewards = M.score(model, stack.tokenizer, [p for p, _ in responses], [r for _, r in responses])
    gold = stack.judge([r.strip() for _, r in responses])
    probes = probe_pairs(sentiment_vocabulary(preset.world.n_sentiment_words), stack.judge, 200, seed=0)
    row = {**{k: v for k, v in vars(args).items() if k != "pool"},
           "heldout_accuracy": round(gold_pair_accuracy(r_chosen, r_rejected, test["chosen_gold"], test["rejected_gold"]), 4),
           "gold_spearman": round(spearman(rewards, gold), 4),
           "probe_accuracy": {k: round(v, 3) for k, v in probe_accuracy(model, stack.tokenizer, probes).items()},
           "train_seconds": round(log["train_seconds"], 1), "wall_seconds": round(wall, 1),
           "n_heldout_pairs": len(test), "mean_response_words": float(np.mean([len(r.split()) for _, r in responses]))}
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()

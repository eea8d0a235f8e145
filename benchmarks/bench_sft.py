"""SFT of the tiny policy: rewardlab's accelerate loop vs transformers' Trainer, side by side.

Both train the same GPT-2 config on the same tokenised reviews for the same number of steps,
batch size, learning rate and schedule shape, in the same process, alternating A B A B so that
drift of this noisy machine hits both. Reports seconds per run (min / median / max), the
median ratio rewardlab / Trainer, and the final validation loss of each. ``main()`` returns them
(see ``side_by_side.summarise``) with the settings; ``--json PATH`` writes that dict.

    .venv/bin/python benchmarks/bench_sft.py [--repeats 3] [--steps 400] [--json PATH]

Target (issue 2): SFT of the tiny policy within 2 minutes on the 2-core machine.
"""

from __future__ import annotations

import argparse
import time

import rewardlab  # noqa: F401  first: it pins torch's CPU kernels before torch loads (rewardlab.core.kernels)
import torch
from side_by_side import add_json_flag, run_side_by_side, summarise, write_json


def run_rewardlab(preset, tokenizer, world):
    from rewardlab.core.policy import train_sft

    start = time.perf_counter()
    _, log = train_sft(preset, tokenizer, world, progress=False)
    return time.perf_counter() - start, log["val_loss"][-1]


def run_trainer(preset, tokenizer, world):
    """transformers.Trainer on the same model config, data, steps, batch and learning rate."""
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_utils import set_seed

    from rewardlab.core.policy import build_policy_model, encode, pad_right, token_loss

    set_seed(preset.seed)
    train = world.splits["train"]
    sequences, _ = encode(tokenizer, train["prompt"], train["demonstration"], append_eos=True)

    def collate(batch):
        ids, mask = pad_right([b["input_ids"] for b in batch], tokenizer.pad_token_id)
        return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}

    args = TrainingArguments(
        output_dir="/tmp/rewardlab-bench-trainer", max_steps=preset.sft.steps,
        per_device_train_batch_size=preset.sft.batch_size, learning_rate=preset.sft.learning_rate,
        warmup_steps=preset.sft.warmup_steps, lr_scheduler_type="cosine", weight_decay=0.01,
        max_grad_norm=1.0, use_cpu=True, report_to=[], save_strategy="no", logging_strategy="no",
        disable_tqdm=True, seed=preset.seed, dataloader_drop_last=True,
    )
    model = build_policy_model(preset, tokenizer)
    trainer = Trainer(model=model, args=args, train_dataset=[{"input_ids": s} for s in sequences],
                      data_collator=collate)
    validation = world.splits["validation"]
    start = time.perf_counter()
    trainer.train()
    # rewardlab's loop evaluates once at its last step; time the same evaluation here.
    val_loss = token_loss(model.eval(), tokenizer, validation["prompt"], validation["demonstration"],
                          preset.sampling.eval_batch_size)
    return time.perf_counter() - start, val_loss


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="default: the tiny preset's sft_steps")
    add_json_flag(parser)
    args = parser.parse_args(argv)
    from rewardlab.core.presets import load_preset
    from rewardlab.core.tokenizer import build_tokenizer
    from rewardlab.core.world import build_world

    overrides = {"sft.steps": args.steps} if args.steps else {}
    # The Trainer has no mid-run evaluation here; give rewardlab's loop one evaluation too.
    preset = load_preset("tiny", **overrides)
    preset = load_preset("tiny", **{**overrides, "sft.eval_every": preset.sft.steps})
    world, tokenizer = build_world(preset), build_tokenizer(preset)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, steps {preset.sft.steps}, "
          f"batch {preset.sft.batch_size}, train reviews {len(world.splits['train'])}")
    results = run_side_by_side({"rewardlab": lambda r: run_rewardlab(preset, tokenizer, world),
                                "trainer": lambda r: run_trainer(preset, tokenizer, world)},
                               args.repeats, "s", "final validation loss")
    settings = {"repeats": args.repeats, "train_reviews": len(world.splits["train"]), "vocabulary": len(tokenizer),
                "torch": torch.__version__, "threads": torch.get_num_threads(),
                **{f"sft_{k}": getattr(preset.sft, k) for k in ("steps", "batch_size", "learning_rate", "warmup_steps")},
                "n_layer": preset.sft.n_layer, "n_embd": preset.sft.n_embd}
    return write_json(args.json, {"bench": "sft", "settings": settings,
                                  **summarise(results, "s", "final validation loss")})


if __name__ == "__main__":
    main()

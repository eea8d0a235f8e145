"""A reward-model training step as ``reward.models`` takes it now vs before issue 45: fused GELU and fused AdamW.

``current``: GPT-2's GELU as torch's fused "gelu_pytorch_tanh" (``reward.models.FUSED_GELU``) and
``torch.optim.AdamW(fused=True)``; ``before``: HF's "gelu_new" and the default (per-tensor) AdamW. Both GELUs are GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); "gelu_new" writes it as
seven elementwise ops, each a tensor autograd keeps for the backward pass, torch's ``F.gelu(approximate="tanh")``
is one kernel. The powered profile put 28% of the reward model's forward time on that line, and 5% of its
training time in AdamW's step. ``--only-activation`` keeps the default AdamW in both (the GELU alone).

The step: the tiny/powered preset's reward model (2 layers, width 128, 8 heads, 754-token vocabulary), forward
and backward of a batch shaped like ``reward.models.batch_pair_rewards``'s (48 texts of up to 36 tokens, a
third of them shorter and right-padded), the same initial weights for both contenders; ``--steps`` steps per
repeat, the contenders alternating (A B A B). Quality column: the largest difference of the two models'
rewards on the batch, in millionths (the same function up to float rounding).

    .venv/bin/python benchmarks/bench_rm_step.py [--repeats 5] [--steps 20] [--only-activation] [--threads N]
        [--texts 48] [--json PATH]
"""

from __future__ import annotations

import argparse
import time

import rewardlab  # noqa: F401  first: it pins torch's CPU kernels before torch loads (rewardlab.core.kernels)
import torch
from side_by_side import add_json_flag, run_side_by_side, summarise, write_json
from transformers import GPT2Config, GPT2ForSequenceClassification


def reward_model(activation: str):
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=754, n_positions=64, n_embd=128, n_layer=2, n_head=8, num_labels=1, pad_token_id=0,
                        bos_token_id=2, eos_token_id=3, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        activation_function=activation)
    config._attn_implementation = "eager"
    return GPT2ForSequenceClassification(config)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only-activation", action="store_true", help="the default AdamW for both contenders")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: rewardlab's pin, 2)")
    parser.add_argument("--texts", type=int, default=48, help="texts per step (48: 32 pairs, as reward.models batches them)")
    add_json_flag(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 754, (args.texts, 36), generator=generator)
    mask = torch.ones_like(ids)
    mask[::3, 24:] = 0
    ids[mask == 0] = 0
    models = {"current": reward_model("gelu_pytorch_tanh"), "before": reward_model("gelu_new")}
    with torch.no_grad():
        rewards = {name: m(input_ids=ids, attention_mask=mask).logits for name, m in models.items()}
    gap = float((rewards["current"] - rewards["before"]).abs().max()) * 1e6  # in millionths

    def contender(name: str):
        model = models[name]
        fused = name == "current" and not args.only_activation
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, fused=fused)

        def run(repeat: int):
            start = time.perf_counter()
            for _ in range(args.steps):
                optimizer.zero_grad()
                model(input_ids=ids, attention_mask=mask).logits.pow(2).mean().backward()
                optimizer.step()
            return (time.perf_counter() - start) / args.steps * 1000, gap
        return run

    rows = run_side_by_side({"current": contender("current"), "before": contender("before")}, args.repeats,
                            unit="ms/step", quality="max reward difference x 1e6", warmup=1)
    settings = {"repeats": args.repeats, "steps": args.steps, "texts": ids.shape[0], "tokens": ids.shape[1],
                "only_activation": args.only_activation, "threads": torch.get_num_threads()}
    return write_json(args.json, {**summarise(rows, unit="ms/step", quality="max reward difference x 1e6"),
                                  "settings": settings})


if __name__ == "__main__":
    main()

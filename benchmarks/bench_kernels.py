"""What the reproducibility pins cost: a reward-model training step with the pinned AVX2 kernels vs the machine's own.

``rewardlab.core.kernels`` pins torch, MKL and oneDNN to AVX2 (and torch to two threads) before torch loads, so
that every x86 machine computes the same numbers. On a machine with AVX-512 the unpinned kernels are faster and
round differently. Each repeat runs one fresh process per contender (the kernels are chosen when torch loads),
alternating pinned / unpinned; a process times ``--steps`` training steps of the tiny/powered preset's reward model
(``bench_rm_step.reward_model``, fused GELU and fused AdamW as ``reward.models`` trains it) after one untimed step.
One process per contender runs untimed first. Quality column: the largest difference of the two contenders'
rewards after the steps, in millionths (0 where the machine has no AVX-512: then both run the same kernels).
Both run two threads (the pinned count): this times the kernels alone.

    .venv/bin/python benchmarks/bench_kernels.py [--repeats 3] [--steps 20] [--json PATH]
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

from side_by_side import add_json_flag, run_side_by_side, summarise, write_json

# the machine's best kernels, set explicitly so that rewardlab's import (which only fills unset variables) keeps them;
# torch, MKL and oneDNN fall back to the best the CPU has where it lacks AVX-512
UNPINNED = {"ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AUTO", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
            "ONEDNN_MAX_CPU_ISA": "ALL"}


def child(steps: int, out: str) -> None:
    """Time ``steps`` reward-model training steps in this process; write ms/step, the kernels and the rewards."""
    import torch
    from bench_rm_step import reward_model

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 754, (48, 36), generator=generator)
    mask = torch.ones_like(ids)
    mask[::3, 24:] = 0
    ids[mask == 0] = 0
    model = reward_model("gelu_pytorch_tanh")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, fused=True)

    def step():
        optimizer.zero_grad()
        model(input_ids=ids, attention_mask=mask).logits.pow(2).mean().backward()
        optimizer.step()
    step()  # untimed: lazy initialisation
    start = time.perf_counter()
    for _ in range(steps):
        step()
    ms = (time.perf_counter() - start) / steps * 1000
    with torch.no_grad():
        rewards = model(input_ids=ids, attention_mask=mask).logits.flatten().tolist()
    Path(out).write_text(json.dumps({"ms": ms, "kernels": str(torch.backends.cpu.get_cpu_capability()),
                                     "rewards": rewards}))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args(argv)
    if args.child:
        import rewardlab  # noqa: F401  pins whatever the parent left unset
        child(args.steps, args.child)
        return {}
    here = Path(__file__).resolve().parent
    last: dict[str, dict] = {}
    kernels: dict[str, str] = {}

    def contender(name: str):
        env = {**os.environ, **(UNPINNED if name == "unpinned" else {})}
        if name == "pinned":  # the pins rewardlab sets when the variables are unset
            env = {k: v for k, v in env.items() if k not in UNPINNED}

        def run(repeat: int):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                subprocess.run([sys.executable, str(here / "bench_kernels.py"), "--steps", str(args.steps),
                                "--child", out.name], env=env, check=True, cwd=here)
                result = json.loads(Path(out.name).read_text())
            last[name], kernels[name] = result, result["kernels"]
            other = last.get("pinned" if name == "unpinned" else "unpinned")
            gap = max(abs(a - b) for a, b in zip(result["rewards"], other["rewards"])) * 1e6 if other else 0.0
            return result["ms"], gap
        return run

    rows = run_side_by_side({"unpinned": contender("unpinned"), "pinned": contender("pinned")}, args.repeats,
                            unit="ms/step", quality="max reward difference x 1e6", warmup=1)
    settings = {"repeats": args.repeats, "steps": args.steps, "kernels": kernels,
                "threads": os.environ.get("OMP_NUM_THREADS", "2 (pinned)")}
    return write_json(args.json, {**summarise(rows, unit="ms/step", quality="max reward difference x 1e6"),
                                  "settings": settings})


if __name__ == "__main__":
    main()

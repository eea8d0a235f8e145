"""BRME stage 2: K heads as one batched module (GaussianHeads) vs a Python loop over K MLPs (issue 45).

Times one epoch of the calibrated head training of ``rewardlab.brme.training.train_brme`` on random
features of the powered tier's shapes (64,000 training pairs, 8,000 calibration pairs, width 128,
K = 5 heads of 64 hidden units, 256 pairs a step), the two contenders alternating (A B A B):

* ``loop``: the heads as a ``ModuleList`` of K ``Linear -> GELU -> Linear`` MLPs, called one by one,
  four times a step (chosen, rejected, calibration chosen, calibration rejected): the code before
  ``GaussianHeads``;
* ``batched``: ``GaussianHeads`` (one ``baddbmm`` per layer), one call a step on the four blocks at once.

Both start from the same draws and are checked to give the same losses within float error, so the
comparison is of the arithmetic's shape only.

    .venv/bin/python benchmarks/bench_brme_heads.py [--repeats 3] [--pairs 64000] [--json PATH]
"""

from __future__ import annotations

import argparse
import time

import rewardlab  # noqa: F401  (pins the kernels before torch is used)
import torch

from rewardlab.brme.ensemble import SIGMA_FLOOR, GaussianHeads, brme_pair_losses, gaussian_preference_nll
from side_by_side import add_json_flag, run_side_by_side, summarise, write_json

WIDTH, K, HIDDEN, BATCH = 128, 5, 64, 256


class LoopHeads(torch.nn.Module):
    """The former layout: K separate MLPs, evaluated in a Python loop."""

    def __init__(self):
        super().__init__()
        self.mlps = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.Linear(WIDTH, HIDDEN), torch.nn.GELU(),
                                                            torch.nn.Linear(HIDDEN, 2)) for _ in range(K))

    def forward(self, features):
        outputs = [mlp(features).unbind(-1) for mlp in self.mlps]
        mu = torch.stack([m for m, _ in outputs], 1)
        sigma = torch.stack([torch.nn.functional.softplus(s) + SIGMA_FLOOR for _, s in outputs], 1)
        return mu, sigma


def epoch(heads, batched: bool, data, seed: int = 0) -> float:
    """One epoch of train_brme's calibrated loop; returns the mean loss."""
    f_c, f_r, r1_c, r1_r, g_c, g_r = data
    optimizer = torch.optim.Adam(heads.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    order, cal_order = torch.randperm(len(f_c), generator=generator), torch.randperm(len(g_c), generator=generator)
    cal_batch, total = max(1, BATCH * len(g_c) // len(f_c)), 0.0
    for step, start in enumerate(range(0, len(f_c), BATCH)):
        rows = order[start: start + BATCH]
        cal = cal_order[(step * cal_batch) % len(g_c):][:cal_batch]
        if batched:
            mu, sigma = heads(torch.cat([f_c[rows], f_r[rows], g_c[cal], g_r[cal]]))
            sizes = [len(rows), len(rows), len(cal), len(cal)]
            (mu_c, mu_r, m_c, m_r), (_, _, s_c, s_r) = mu.split(sizes), sigma.split(sizes)
        else:
            (mu_c, _), (mu_r, _) = heads(f_c[rows]), heads(f_r[rows])
            (m_c, s_c), (m_r, s_r) = heads(g_c[cal]), heads(g_r[cal])
        floor = torch.full_like(mu_c, SIGMA_FLOOR)
        loss = (brme_pair_losses(mu_c, floor, mu_r, floor, r1_c[rows], r1_r[rows], 0.0).mean(0).sum()
                + gaussian_preference_nll(m_c.detach(), s_c, m_r.detach(), s_r).mean(0).sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / (step + 1)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=64000)
    add_json_flag(parser)
    args = parser.parse_args(argv)
    generator = torch.Generator().manual_seed(0)
    n, m = args.pairs, args.pairs // 8
    data = [torch.randn(n, WIDTH, generator=generator), torch.randn(n, WIDTH, generator=generator),
            torch.randn(n, generator=generator), torch.randn(n, generator=generator),
            torch.randn(m, WIDTH, generator=generator), torch.randn(m, WIDTH, generator=generator)]

    def contender(batched: bool):
        def run(repeat: int):
            torch.manual_seed(repeat)
            heads = GaussianHeads(K, WIDTH, HIDDEN) if batched else LoopHeads()
            start = time.perf_counter()
            loss = epoch(heads, batched, data, seed=repeat)
            return time.perf_counter() - start, loss
        return run

    rows = run_side_by_side({"batched": contender(True), "loop": contender(False)}, args.repeats,
                            unit="s/epoch", quality="mean loss")
    for (_, batched_loss), (_, loop_loss) in zip(rows["batched"], rows["loop"]):  # same draws, same arithmetic
        if abs(batched_loss - loop_loss) > 1e-4 * abs(loop_loss):
            raise AssertionError(f"the contenders' losses differ: {batched_loss} vs {loop_loss}")
    settings = {"repeats": args.repeats, "pairs": n, "calibration_pairs": m, "width": WIDTH, "heads": K,
                "hidden": HIDDEN, "batch": BATCH, "threads": torch.get_num_threads()}
    return write_json(args.json, {**summarise(rows, unit="s/epoch", quality="mean loss"), "settings": settings})

if __name__ == "__main__":
    main()

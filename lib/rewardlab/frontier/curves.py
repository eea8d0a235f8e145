"""Reading runs on the gold-against-√KL plane: trajectories, matched-KL gold, the KL-penalty frontier, contrasts.

A run's **trajectory** is its held-out evaluations, (d_t, g_t) with d = √KL(π_t ‖ π_SFT) and g the reader gold,
started at the SFT policy (0, g_SFT). Its **gold at √KL = k** is read where the trajectory first reaches k,
linearly between the two evaluations around it (NaN if it never does): stopping the run there is early stopping
at that KL budget. Its **endpoint** is its last evaluation.

The **KL-penalty frontier** of one replicate is the piecewise-linear curve through the SFT point (β = ∞) and the
endpoints of the β arms, ordered by √KL: for a KL budget, the gold that the β spending it reaches, interpolated
between the two β around it. Beyond the largest endpoint (β = 0's, normally) it stays at that endpoint's gold:
the penalty family spends no more. No β is chosen from the results, so the frontier carries no selection bias
(an upper envelope over β would).

A defence's **contrast** against the frontier, per replicate (paired): its endpoint's gold minus the frontier
at its endpoint's √KL: is the gold it buys more than a KL penalty buys for the same KL? Early stopping has a
path, not one endpoint: its contrast is the mean of g_{β=0}(k) − frontier(k) over the budgets k = q·d_end, q in
``EARLY_STOP_FRACTIONS``, with d_end the β = 0 run's own final √KL (Gao et al.: a KL penalty acts like early
stopping). Fractions rather than fixed budgets, so that every run reaches them at any preset's size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.rl.evaluation import gold_at_kl

EARLY_STOP_FRACTIONS = (0.25, 0.5, 0.75)  # early stopping's budgets, as fractions of the β = 0 run's final √KL


def trajectory(run: pd.DataFrame, sft_gold: float) -> tuple[np.ndarray, np.ndarray]:
    """(d, g) of one run's held-out evaluations (``eval_kl``, ``eval_gold`` columns), the SFT point first."""
    evaluated = run[run["eval_gold"].notna()].sort_values("step")
    d = np.sqrt(evaluated["eval_kl"].clip(lower=0).to_numpy(dtype=float))
    return np.concatenate([[0.0], d]), np.concatenate([[sft_gold], evaluated["eval_gold"].to_numpy(dtype=float)])


def penalty_frontier(endpoints: Sequence[tuple[float, float]], sft_gold: float, levels) -> np.ndarray:
    """The KL-penalty frontier (module doc) through (0, ``sft_gold``) and the β arms' ``endpoints`` (d, g), at
    each of ``levels``."""
    points = sorted([(0.0, float(sft_gold)), *((float(d), float(g)) for d, g in endpoints)])
    d, g = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return np.interp(np.asarray(levels, float), d, g)  # flat beyond the last endpoint


def run_points(steps: pd.DataFrame, sft_gold: float) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """(method, seed) -> trajectory, for every run of a per-step log."""
    return {(method, int(seed)): trajectory(run, sft_gold) for (method, seed), run in steps.groupby(["method", "seed"])}


def frontier_readings(steps: pd.DataFrame, sft_gold: float, levels: Sequence[float], beta_names: Sequence[str],
                      early_stop_arm: str) -> dict:
    """Everything the frontier notebook records, per arm and replicate (seeds in sorted order):

    ``gold_at_sqrt_kl`` {arm: {level: [gold]}} along each trajectory; ``endpoint_sqrt_kl`` / ``endpoint_gold``
    {arm: [...]}; ``best_gold`` / ``sqrt_kl_at_best`` {arm: [...]} (the highest evaluation and where); ``penalty``
    {level: [frontier gold]}; ``minus_penalty`` {arm: [endpoint gold − frontier at its √KL]} for every arm not in
    the β family; ``early_stop_minus_penalty`` [...] (module doc)."""
    points = run_points(steps, sft_gold)
    seeds = sorted({seed for _, seed in points})
    arms = list(dict.fromkeys(steps["method"]))
    out = {"seeds": seeds, "gold_at_sqrt_kl": {}, "endpoint_sqrt_kl": {}, "endpoint_gold": {}, "best_gold": {},
           "sqrt_kl_at_best": {}, "penalty": {}, "minus_penalty": {}}
    for arm in arms:
        paths = [points[arm, s] for s in seeds]
        out["gold_at_sqrt_kl"][arm] = {f"{k:g}": [gold_at_kl(d, g, k) for d, g in paths] for k in levels}
        out["endpoint_sqrt_kl"][arm] = [float(d[-1]) for d, _ in paths]
        out["endpoint_gold"][arm] = [float(g[-1]) for _, g in paths]
        out["best_gold"][arm] = [float(np.max(g[1:])) for _, g in paths]
        out["sqrt_kl_at_best"][arm] = [float(d[1:][np.argmax(g[1:])]) for d, g in paths]
    frontiers = []
    for i, seed in enumerate(seeds):
        ends = [(out["endpoint_sqrt_kl"][b][i], out["endpoint_gold"][b][i]) for b in beta_names]
        frontiers.append(lambda levels, ends=ends: penalty_frontier(ends, sft_gold, levels))
    out["penalty"] = {f"{k:g}": [float(f([k])[0]) for f in frontiers] for k in levels}
    for arm in arms:
        if arm in beta_names:
            continue
        out["minus_penalty"][arm] = [float(g - f([d])[0]) for g, d, f in
                                     zip(out["endpoint_gold"][arm], out["endpoint_sqrt_kl"][arm], frontiers)]
    early = []
    for i, seed in enumerate(seeds):
        d, g = points[early_stop_arm, seed]
        budgets = [q * d[-1] for q in EARLY_STOP_FRACTIONS]
        early.append(float(np.mean([gold_at_kl(d, g, k) - frontiers[i]([k])[0] for k in budgets])))
    out["early_stop_minus_penalty"] = early
    return out


def mean_path(paths: Sequence[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> np.ndarray:
    """[replicates, len(grid)] gold of each trajectory read at every √KL of ``grid`` (NaN where not reached)."""
    return np.array([[gold_at_kl(d, g, k) for k in grid] for d, g in paths])

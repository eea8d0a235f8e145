"""The frontier notebook's tables and its figure: gold against √KL for every arm, read from the metrics and runs."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.core.stats import format_pm, mean_interval, t_half_width
from rewardlab.frontier.curves import mean_path, penalty_frontier, run_points


def matched_kl_table(metrics: dict) -> pd.DataFrame:
    """Per arm: mean gold (± 95% t half-width over the replicates that reach it) where its trajectory reaches each
    √KL level, the KL-penalty frontier there, and the best gold each arm reaches with the √KL where it does."""
    rows = {}
    penalty = metrics["penalty_frontier_at_sqrt_kl"]
    rows["KL-penalty frontier"] = {f"gold at √KL={k}": format_pm(np.array(v, dtype=float)) for k, v in penalty.items()}
    for arm, levels in metrics["frontier_gold_at_sqrt_kl"].items():
        row = {}
        for k, values in levels.items():
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
            reached = values[np.isfinite(values)]
            row[f"gold at √KL={k}"] = (format_pm(reached) if len(reached) > 1 else "—") + \
                ("" if len(reached) == len(values) else f" ({len(reached)}/{len(values)})")
        best = np.array(metrics["best_gold_by_arm_by_replicate"][arm], dtype=float)
        row["best gold"] = format_pm(best)
        row["√KL at best"] = f"{np.sqrt(np.array(metrics['kl_at_best_by_arm_by_replicate'][arm])).mean():.2f}"
        row["√KL at end"] = f"{np.mean(metrics['endpoint_sqrt_kl_by_arm_by_replicate'][arm]):.2f}"
        row["gold at end"] = format_pm(np.array(metrics["endpoint_gold_by_arm_by_replicate"][arm], dtype=float))
        rows[arm] = row
    return pd.DataFrame(rows).T.fillna("")


def ranking_table(metrics: dict) -> pd.DataFrame:
    """Every arm outside the β family, ranked by its endpoint's gold minus the KL-penalty frontier at its √KL
    (mean, 95% t interval, uncorrected; the declared contrasts' Holm-corrected verdicts are in the claims table),
    with early stopping's matched-budget difference beside them."""
    rows = []
    values = dict(metrics["minus_penalty_by_replicate"])
    values["early stopping (β=0 at ¼, ½, ¾ of its √KL)"] = metrics["early_stop_minus_penalty_by_replicate"]
    for arm, diffs in values.items():
        diffs = np.array([np.nan if v is None else v for v in diffs], dtype=float)
        diffs = diffs[np.isfinite(diffs)]
        if len(diffs) < 2:
            continue
        mean, half = mean_interval(diffs)
        rows.append({"arm": arm, "gold − frontier": mean, "low": mean - half, "high": mean + half,
                     "replicates": len(diffs)})
    return pd.DataFrame(rows).sort_values("gold − frontier", ascending=False).set_index("arm").round(3)


def plot_frontier(ax, steps: pd.DataFrame, metrics: dict, arms: Sequence[str], colors: dict, beta_names: Sequence[str],
                  sft_gold: float, points: int = 40) -> None:
    """Gold against √KL: the KL-penalty frontier (black, band over replicates) through the β endpoints, and the mean
    trajectory of every arm in ``arms`` (band: 95% t over the replicates that reach each √KL), its endpoint marked."""
    paths = run_points(steps, sft_gold)
    seeds = metrics["seed_ids"]
    ends = np.array(metrics["endpoint_sqrt_kl_by_arm_by_replicate"][beta_names[0]])  # the largest KL, normally
    top = float(np.max([np.max(metrics["endpoint_sqrt_kl_by_arm_by_replicate"][a]) for a in arms] + [ends.max()]))
    grid = np.linspace(0, top, points)
    frontier = np.array([penalty_frontier([(metrics["endpoint_sqrt_kl_by_arm_by_replicate"][b][i],
                                            metrics["endpoint_gold_by_arm_by_replicate"][b][i]) for b in beta_names],
                                          sft_gold, grid) for i in range(len(seeds))])
    half = t_half_width(frontier.std(0, ddof=1), len(seeds)) if len(seeds) > 1 else 0
    ax.plot(grid, frontier.mean(0), color="black", lw=2.5, label="KL-penalty frontier (β endpoints)")
    ax.fill_between(grid, frontier.mean(0) - half, frontier.mean(0) + half, color="black", alpha=0.12)
    for arm in arms:
        gold = mean_path([paths[arm, s] for s in seeds], grid)
        counts = np.isfinite(gold).sum(0)
        shown = counts >= max(2, len(seeds) // 2)
        mean = np.where(shown, np.nanmean(np.where(np.isfinite(gold), gold, np.nan), 0), np.nan)
        sd = np.nanstd(gold, 0, ddof=1) if len(seeds) > 1 else np.zeros(len(grid))
        band = np.where(shown, t_half_width(np.nan_to_num(sd), np.maximum(counts, 2)), np.nan)
        ax.plot(grid, mean, color=colors[arm], lw=1.4, label=arm)
        ax.fill_between(grid, mean - band, mean + band, color=colors[arm], alpha=0.08)
        end_d = np.mean(metrics["endpoint_sqrt_kl_by_arm_by_replicate"][arm])
        end_g = np.mean(metrics["endpoint_gold_by_arm_by_replicate"][arm])
        ax.plot([end_d], [end_g], "o", color=colors[arm], markersize=6, markeredgecolor="black")
    ax.axhline(sft_gold, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="√KL to the SFT policy (held-out prompts)", ylabel="reader gold (held-out prompts)")

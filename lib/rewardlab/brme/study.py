"""The reward-robust RLHF study (notebook 09): PPO against a BRME for several nominal weights, its table
and its metrics (the names the claims in :mod:`rewardlab.brme.claims` read are written here).

Arms: ``w=<w>`` trains on w r_nominal + (1 - w) min_k mu_k (:class:`rewardlab.brme.robust.BRMEReward`),
``UWO`` on mean - lambda std (Coste et al.); every run also logs the nominal and the worst-head
reward of its rollouts. Stability: the drop from the run's peak (5-step trailing mean) of the gold
curve to its final value (:func:`rewardlab.rl.evaluation.peak_to_final_drop`).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from rewardlab.brme.robust import BRMEReward
from rewardlab.core.stats import format_pm, mean_interval, per_unit
from rewardlab.rl.evaluation import peak_to_final_drop
from rewardlab.rl.runs import Method, run_methods
from rewardlab.stack import Stack


def robust_methods(stack: Stack, brme, weights: Sequence[float], corrupt_heads=()) -> dict[str, Method]:
    """One arm per nominal weight w (``w=<w>``) and the UWO reference, against ``brme``."""
    preset, tokenizer, batch = stack.preset, stack.tokenizer, stack.preset.sampling.eval_batch_size
    methods = {f"w={w:g}": Method(lambda seed, w=w: BRMEReward(brme, tokenizer, nominal_weight=w, corrupt_heads=corrupt_heads,
                                                                 batch_size=batch)) for w in weights}
    methods["UWO"] = Method(lambda seed: BRMEReward(brme, tokenizer, penalty=preset.robust.uwo_penalty,
                                                    corrupt_heads=corrupt_heads, batch_size=batch))
    return methods


def run_robust(stack: Stack, weights: Sequence[float], seeds: Sequence[int], corrupt_heads=(),
               progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO (``preset.robust.ppo``) for every arm and seed against the stack's BRME (seed ``preset.seed``),
    evaluated by the stack's reward model and gold judge; adds ``drop`` and ``peak_gold`` to the summary."""
    preset, tokenizer, brme = stack.preset, stack.tokenizer, stack.brme()
    ppo = preset.robust.ppo
    track = {"nominal": BRMEReward(brme, tokenizer, nominal_weight=1.0, batch_size=preset.sampling.eval_batch_size),
             "worst_head": BRMEReward(brme, tokenizer, nominal_weight=0.0, batch_size=preset.sampling.eval_batch_size)}
    steps, summary = run_methods(preset, ppo, stack.policy, tokenizer, stack.reward_model(), stack.train_prompts,
                                 stack.eval_prompts, stack.judge, robust_methods(stack, brme, weights, corrupt_heads),
                                 seeds, track=track, progress=progress)
    drops = {key: peak_to_final_drop(run["gold_reward"].to_numpy(), window=min(5, len(run)))
             for key, run in steps.groupby(["method", "seed"])}
    summary["drop"] = [drops[(m, s)] for m, s in zip(summary["method"], summary["seed"])]
    summary["peak_gold"] = [steps[(steps["method"] == m) & (steps["seed"] == s)]["gold_reward"]
                            .rolling(min(5, ppo.steps)).mean().max() for m, s in zip(summary["method"], summary["seed"])]
    return steps, summary


def robust_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm: final gold, peak gold, drop, final proxy, naturalness (mean ± 95% half-width over seeds), KL,
    distinct-2 and length."""
    rows = []
    for method in dict.fromkeys(frame["method"]):
        runs = frame[frame["method"] == method]
        rows.append({"method": method, "final gold": format_pm(runs["final_gold"]), "peak gold (rollouts)": format_pm(runs["peak_gold"]),
                     "drop peak -> final": format_pm(runs["drop"]), "final proxy (BT RM)": format_pm(runs["final_proxy"]),
                     "naturalness NLL": format_pm(runs["final_naturalness_nll"], 2), "KL": f"{runs['final_kl'].mean():.1f}",
                     "distinct-2": f"{runs['final_distinct_2'].mean():.3f}", "words": f"{runs['final_response_words'].mean():.1f}"})
    return pd.DataFrame(rows).set_index("method")


def robust_metrics(summary: pd.DataFrame, corrupted: pd.DataFrame, *, weights: Sequence[float], ppo_steps: int,
                   head_spread: float, worst_is_other: float, gap: float) -> dict:
    """Notebook 09's metrics: per-weight means, the corrupted-ensemble comparison and the per-seed values the
    declared claims read (``final_gold_by_seed``, ``corrupted_final_gold_by_seed``)."""
    clean = summary.groupby("method")["final_gold"].mean()
    corrupted_by = corrupted.groupby("method")["final_gold"].mean()
    resist = {m: float(corrupted_by[m] - clean[m]) for m in corrupted_by.index}

    def arm(w):
        return summary["method"] == f"w={w:g}"

    return {
        "seeds": int(summary["seed"].nunique()), "ppo_steps": ppo_steps, "nominal_weights": list(weights),
        "head_spread": head_spread, "worst_head_is_not_nominal": worst_is_other, "nominal_minus_worst_sd": gap,
        "final_gold_by_alpha": {str(w): float(summary.loc[arm(w), "final_gold"].mean()) for w in weights},
        "final_gold_ci95_by_alpha": {str(w): mean_interval(summary.loc[arm(w), "final_gold"])[1] for w in weights},
        "peak_to_final_drop_by_alpha": {str(w): float(summary.loc[arm(w), "drop"].mean()) for w in weights},
        "naturalness_by_alpha": {str(w): float(summary.loc[arm(w), "final_naturalness_nll"].mean()) for w in weights},
        "uwo_final_gold": float(summary.loc[summary["method"] == "UWO", "final_gold"].mean()),
        "uwo_peak_to_final_drop": float(summary.loc[summary["method"] == "UWO", "drop"].mean()),
        "corrupted_final_gold_by_method": {m: float(v) for m, v in corrupted_by.items()},
        "corrupted_minus_clean_final_gold": resist,
        # per seed (seeds in order), what the declared claims read
        "seed_ids": sorted(int(s) for s in summary["seed"].unique()),
        "final_gold_by_seed": per_unit(summary, "final_gold"),
        "corrupted_final_gold_by_seed": per_unit(corrupted, "final_gold"),
    }

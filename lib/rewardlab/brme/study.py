"""The reward-robust RLHF study (notebook 10): PPO against a BRME for several nominal weights, its A/A
noise floor, its table and its metrics (the names the claims in :mod:`rewardlab.brme.claims` read are
written here).

Arms: ``w=<w>`` trains on w r_nominal + (1 - w) min_k mu_k (:class:`rewardlab.brme.robust.BRMEReward`),
``UWO`` on mean - lambda std (Coste et al.). Every arm runs on the same PPO seeds (paired by seed). The
A/A arm ``w=1 (A/A)`` trains on exactly the nominal reward again, on other seeds: the paired difference
``w=1 (A/A)`` - ``w=1`` is what two arms with the same reward differ by at this number of seeds, the noise
floor against which any other contrast is read. Every run also logs the nominal and the worst-head
reward of its rollouts, and a held-out evaluation every ``robust.eval_every`` steps (gold, KL and the
nominal reward, on fixed prompts with common random numbers). Stability: the drop from the peak of the
held-out gold curve to its final value (:func:`rewardlab.rl.evaluation.peak_to_final_drop`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.brme.ensemble import nominal_reward, worst_head_reward
from rewardlab.brme.robust import BRMEReward
from rewardlab.core.stats import format_pm, mean_interval, paired_t_interval, per_unit
from rewardlab.rl.evaluation import peak_to_final_drop
from rewardlab.reward.models import state_fingerprint
from rewardlab.rl.runs import AA_SEED_OFFSET, Method, grid_cache_key, run_methods
from rewardlab.rl.held_out import Evaluation
from rewardlab.stack import Stack

AA_ARM = "w=1 (A/A)"


def head_statistics(mu: np.ndarray, sigma: np.ndarray, noisy_head: int | None = None) -> dict[str, float]:
    """How far apart the heads are on a set of responses ([N, K] means and sds), in sd of the nominal reward:
    ``head_spread_sd`` = mean_i std_k mu_ik / sd_i(nominal), ``nominal_minus_worst_sd``, how often the worst head is
    not the nominal one, the lowest correlation of a head with the nominal reward; with ``noisy_head``, how often
    that head is the nominal and the worst one."""
    nominal = nominal_reward(mu, sigma)
    scale = nominal.std()
    out = {"head_spread_sd": float(mu.std(1).mean() / scale),
           "nominal_minus_worst_sd": float((nominal - worst_head_reward(mu)).mean() / scale),
           "worst_head_is_not_nominal": float(np.mean(mu.argmin(1) != sigma.argmin(1))),
           "lowest_head_correlation": float(min(np.corrcoef(mu[:, k], nominal)[0, 1] for k in range(mu.shape[1])))}
    if noisy_head is not None:
        out.update(noisy_head_is_nominal=float(np.mean(sigma.argmin(1) == noisy_head)),
                   noisy_head_is_worst=float(np.mean(mu.argmin(1) == noisy_head)))
    return out


def robust_methods(stack: Stack, brme, weights: Sequence[float], uwo: bool = True) -> dict[str, Method]:
    """One arm per nominal weight w (``w=<w>``) and, with ``uwo``, the UWO reference, against ``brme``."""
    preset, tokenizer, batch = stack.preset, stack.tokenizer, stack.preset.sampling.eval_batch_size
    methods = {f"w={w:g}": Method(lambda seed, w=w: BRMEReward(brme, tokenizer, nominal_weight=w, batch_size=batch))
               for w in weights}
    if uwo:
        methods["UWO"] = Method(lambda seed: BRMEReward(brme, tokenizer, penalty=preset.robust.uwo_penalty,
                                                        batch_size=batch))
    return methods


def run_robust(stack: Stack, brme, weights: Sequence[float], seeds: Sequence[int], *, uwo: bool = True,
               progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO (``preset.robust.ppo``) for every arm and seed against ``brme``, evaluated by the stack's reward
    model and gold judge; adds ``drop`` and ``peak_gold`` (of the held-out gold curve) to the summary."""
    preset, tokenizer = stack.preset, stack.tokenizer
    robust, batch = preset.robust, preset.sampling.eval_batch_size
    nominal = BRMEReward(brme, tokenizer, nominal_weight=1.0, batch_size=batch)
    track = {"nominal": nominal, "worst_head": BRMEReward(brme, tokenizer, nominal_weight=0.0, batch_size=batch)}
    evaluation = Evaluation(stack.eval_prompts[: robust.eval_prompts], every=robust.eval_every, seed=preset.seed + 12345,
                            scores={"nominal": nominal})
    steps, summary = run_methods(preset, robust.ppo, stack.policy, tokenizer, stack.reward_model(), stack.train_prompts,
                                 stack.eval_prompts, stack.judge, robust_methods(stack, brme, weights, uwo), seeds,
                                 track=track, evaluation=evaluation, progress=progress,
                                 cache_key=grid_cache_key("robust", brme=state_fingerprint(brme), weights=list(weights),
                                                          uwo=uwo))
    curves = {key: run.dropna(subset=["eval_gold"])["eval_gold"].to_numpy() for key, run in steps.groupby(["method", "seed"])}
    summary["drop"] = [peak_to_final_drop(curves[m, s], window=1) for m, s in zip(summary["method"], summary["seed"])]
    summary["peak_gold"] = [float(np.max(curves[m, s])) for m, s in zip(summary["method"], summary["seed"])]
    return steps, summary


def run_aa(stack: Stack, brme, seeds: Sequence[int], progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The A/A arm: nominal RLHF (w = 1) again on seeds ``seed + AA_SEED_OFFSET``, labelled ``AA_ARM`` and
    re-indexed to the primary seeds, so that it pairs with ``w=1`` by position."""
    steps, summary = run_robust(stack, brme, [1.0], [s + AA_SEED_OFFSET for s in seeds], uwo=False, progress=progress)
    for frame in (steps, summary):
        frame["method"] = AA_ARM
        frame["seed"] = frame["seed"] - AA_SEED_OFFSET
    return steps, summary


def robust_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm: final gold, peak held-out gold, drop, final proxy, naturalness (mean ± 95% half-width over
    seeds), KL, distinct-2 and length."""
    rows = []
    for method in dict.fromkeys(frame["method"]):
        runs = frame[frame["method"] == method]
        rows.append({"method": method, "final gold": format_pm(runs["final_gold"]), "peak gold (held out)": format_pm(runs["peak_gold"]),
                     "drop peak -> final": format_pm(runs["drop"]), "final proxy (BT RM)": format_pm(runs["final_proxy"]),
                     "naturalness NLL": format_pm(runs["final_naturalness_nll"], 2), "KL": f"{runs['final_kl'].mean():.1f}",
                     "distinct-2": f"{runs['final_distinct_2'].mean():.3f}", "words": f"{runs['final_response_words'].mean():.1f}"})
    return pd.DataFrame(rows).set_index("method")


def paired_contrasts(summary: pd.DataFrame, baseline: str, column: str = "final_gold") -> pd.DataFrame:
    """Every arm minus ``baseline`` in ``column``, paired by seed: estimate and 95% Student-t interval."""
    base = summary[summary["method"] == baseline].set_index("seed")[column]
    rows = []
    for method in dict.fromkeys(summary["method"]):
        if method == baseline:
            continue
        arm = summary[summary["method"] == method].set_index("seed")[column].reindex(base.index)
        interval = paired_t_interval(arm.to_numpy(), base.to_numpy())
        rows.append({"contrast": f"{method} − {baseline}", "estimate": interval.estimate, "low": interval.low,
                     "high": interval.high, "half-width": (interval.high - interval.low) / 2, "seeds": interval.n})
    return pd.DataFrame(rows).set_index("contrast")


def robust_metrics(summary: pd.DataFrame, noisy: pd.DataFrame, *, weights: Sequence[float], ppo, heads: dict) -> dict:
    """Notebook 10's metrics: per-arm means, the A/A noise floor, the label-noise comparison and the per-seed
    values the declared claims read (``final_gold_by_seed``, ``noisy_final_gold_by_seed``). ``heads`` holds
    the ensembles' spread statistics on SFT samples."""

    def arm(frame, method, column="final_gold"):
        return frame.loc[frame["method"] == method, column]

    aa = paired_contrasts(summary, "w=1").loc[f"{AA_ARM} − w=1"]
    return {
        "replicates": int(summary["seed"].nunique()), "ppo_steps": ppo.steps, "kl_coef": ppo.kl_coef,
        "nominal_weights": list(weights), **heads,
        "final_gold_by_arm": {m: float(arm(summary, m).mean()) for m in dict.fromkeys(summary["method"])},
        "final_gold_ci95_by_arm": {m: mean_interval(arm(summary, m))[1] for m in dict.fromkeys(summary["method"])},
        "peak_to_final_drop_by_arm": {m: float(arm(summary, m, "drop").mean()) for m in dict.fromkeys(summary["method"])},
        "naturalness_by_arm": {m: float(arm(summary, m, "final_naturalness_nll").mean()) for m in dict.fromkeys(summary["method"])},
        "aa_final_gold_difference": float(aa["estimate"]), "aa_final_gold_half_width": float(aa["half-width"]),
        "noisy_final_gold_by_arm": {m: float(arm(noisy, m).mean()) for m in dict.fromkeys(noisy["method"])},
        "noisy_peak_to_final_drop_by_arm": {m: float(arm(noisy, m, "drop").mean()) for m in dict.fromkeys(noisy["method"])},
        # per seed (seeds in order), what the declared claims read
        "seed_ids": sorted(int(s) for s in summary["seed"].unique()),
        "final_gold_by_seed": per_unit(summary, "final_gold"),
        "noisy_final_gold_by_seed": per_unit(noisy, "final_gold"),
    }

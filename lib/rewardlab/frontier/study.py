"""The frontier study (notebook 11): every arm of :mod:`rewardlab.frontier.arms` on every replicate, then the
readings of :mod:`rewardlab.frontier.curves` and the per-replicate values its claims read.

Order of the runs, each a grid of :func:`rewardlab.rl.runs.run_methods` (seeds stacked, jobs cached):

1. every arm but the dense one on the replicate seeds, and the A/A arm on the seeds + ``AA_SEED_OFFSET``;
2. β* = the β whose arm ends with the highest mean final gold over the replicates (a setting of the dense arm,
   which is compared with the whole frontier, never with that β alone), then the dense arm at β*.

All arms train on the prompts of the RCfD demonstrations (the RCfD arms need a demonstration per prompt, and
every arm sees the same prompts) and are evaluated on held-out prompts with demonstrations, every
``frontier.eval_every`` steps on the first ``frontier.eval_prompts`` of them (common random numbers), and at the
end on all of them. **Tuned β** for Rita et al.'s alignment claim: for replicate r, the β with the lowest mean
alignment A over the *other* replicates (leave-one-out: tuned on n − 1 ≥ 2 search replicates, never on the
replicate it is compared on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.core.policy import sample
from rewardlab.frontier.arms import (AA_ARM, AA_SEED_OFFSET, ProxyFamily, aa_arm, arm_rewards, beta_arm, dense_arm,
                                     replicate_of)
from rewardlab.frontier.curves import frontier_readings
from rewardlab.rcfd.alignment import reward_alignment
from rewardlab.rcfd.calibration import truncate_words
from rewardlab.rcfd.demonstrations import study_demonstrations
from rewardlab.rl.evaluation import distinct_n, evaluate_policy, naturalness_nll
from rewardlab.rl.runs import grid_cache_key, run_methods
from rewardlab.rl.held_out import Evaluation, PerSeed
from rewardlab.stack import Stack

TUNED = "tuned β"  # the alignment record of each replicate's leave-one-out tuned β


@dataclass
class Setup:
    """What every arm shares: the replicate seeds, the proxy family, the training prompts (RCfD's), the held-out
    prompts and demonstrations, the SFT policy's final evaluation and the held-out evaluation."""

    seeds: list[int]
    family: ProxyFamily
    train_prompts: list[str]
    eval_prompts: list[str]
    demo_prompts: list[str]  # held-out demonstrations (several per prompt) ...
    demo_texts: list[str]  # ... cut to the response budget
    sft: dict  # evaluate_policy of the SFT policy on eval_prompts, per response
    evaluation: Evaluation


def replicate_seeds(stack: Stack) -> list[int]:
    return [stack.preset.seed + r for r in range(stack.preset.frontier.replicates)]


def prepare(stack: Stack) -> Setup:
    """Demonstrations, SFT samples (the scale of every reward), the proxy family (built here, before any fork)
    and the SFT policy's evaluation."""
    preset, frontier = stack.preset, stack.preset.frontier
    budget = frontier.ppo.max_new_tokens
    demos = study_demonstrations(preset, stack.world, stack.judge, preset.runs.eval_prompts, max_words=budget)
    sft_prompts = stack.train_prompts[: frontier.sft_samples]
    sft_responses = sample(stack.policy, stack.tokenizer, sft_prompts, seed=preset.seed + 11,
                           temperature=preset.sampling.temperature, top_k=preset.sampling.top_k, max_new_tokens=budget,
                           batch_size=preset.sampling.eval_batch_size)  # the Gao notebook's: one scale for both
    seeds = replicate_seeds(stack)
    family = ProxyFamily(stack, seeds, (sft_prompts, sft_responses), demos["train"], budget)
    family.build()
    eval_prompts = list(dict.fromkeys(demos["eval"][0]))
    sft = evaluate_policy(stack.policy, stack.tokenizer, eval_prompts, family.proxy(seeds[0]), stack.judge,
                          stack.policy, budget, batch_size=preset.sampling.eval_batch_size, per_response=True)
    policy, tokenizer, batch = stack.policy, stack.tokenizer, preset.sampling.eval_batch_size

    def naturalness(prompts, responses):
        values = naturalness_nll(policy, tokenizer, prompts, responses, batch)
        return np.full(len(values), np.nanmean(values))

    evaluation = Evaluation(eval_prompts[: frontier.eval_prompts], every=frontier.eval_every, seed=preset.seed + 4242,
                            scores={"proxy": PerSeed(lambda seed: family.z(replicate_of(seed))),
                                    "naturalness_nll": naturalness,
                                    "distinct_2": lambda prompts, responses: [distinct_n(responses, 2)] * len(responses)})
    return Setup(seeds, family, list(demos["train"][0]), eval_prompts, list(demos["eval"][0]),
                 truncate_words(demos["eval"][1], budget), sft, evaluation)


def _grid(stack: Stack, setup: Setup, methods: dict, seeds: Sequence[int], name: str, progress: bool):
    preset = stack.preset
    return run_methods(preset, preset.frontier.ppo, stack.policy, stack.tokenizer, setup.family.proxy(setup.seeds[0]),
                       setup.train_prompts, setup.eval_prompts, stack.judge, methods, seeds, per_response=True,
                       evaluation=setup.evaluation, progress=progress,
                       cache_key=grid_cache_key(f"frontier-{name}", arms=sorted(methods),
                                                overrides={m: methods[m].overrides for m in methods}))


def best_beta(summary: pd.DataFrame, betas: Sequence[float]) -> float:
    """β* of the dense arm: the β arm with the highest mean final gold over the replicates."""
    means = [summary.loc[summary["method"] == beta_arm(b), "final_gold"].mean() for b in betas]
    return float(betas[int(np.nanargmax(means))])


def run_frontier(stack: Stack, setup: Setup, betas: Sequence[float], progress: bool = True):
    """Every arm on every replicate (module doc); returns (per-step log, per-run summary, β*)."""
    if 0.0 not in betas:
        raise ValueError(f"betas must hold 0.0 (no penalty: the early-stopping arm and the A/A pair); got {list(betas)}")
    steps, summary = _grid(stack, setup, arm_rewards(setup.family, betas), setup.seeds, "arms", progress)
    aa_steps, aa_summary = _grid(stack, setup, aa_arm(setup.family), [s + AA_SEED_OFFSET for s in setup.seeds], "aa",
                                 progress)
    for frame in (aa_steps, aa_summary):
        frame["seed"] = frame["seed"] - AA_SEED_OFFSET  # paired with the β = 0 arm by replicate
    beta_star = best_beta(summary, betas)
    dense_steps, dense_summary = _grid(stack, setup, dense_arm(setup.family, beta_star), setup.seeds, "dense", progress)
    steps = pd.concat([steps, aa_steps, dense_steps], ignore_index=True)
    summary = pd.concat([summary, aa_summary, dense_summary], ignore_index=True)
    return steps, _with_replicate_scores(setup, summary), beta_star


def demo_scores(setup: Setup) -> dict[int, np.ndarray]:
    """Each replicate's raw proxy R on the held-out demonstrations."""
    return {s: np.asarray(setup.family.raw(s)(setup.demo_prompts, setup.demo_texts), dtype=float) for s in setup.seeds}


def replicate_scores(setup: Setup, seeds, responses_by_run, demos: dict[int, np.ndarray]) -> tuple[list, list]:
    """Per run (its replicate's seed, its responses to the held-out prompts): the mean z-proxy, on the scale it was
    paid on, and the alignment A of its raw scores with the demonstrations' (Rita et al.)."""
    z, alignment = [], []
    for seed, responses in zip(seeds, responses_by_run):
        raw = np.asarray(setup.family.raw(seed)(setup.eval_prompts, responses), dtype=float)
        z.append(float(setup.family.standardise(seed, raw).mean()))
        alignment.append(reward_alignment(demos[seed], raw))
    return z, alignment


def _with_replicate_scores(setup: Setup, summary: pd.DataFrame) -> pd.DataFrame:
    """Each run's final responses scored by its own replicate's proxy (``final_proxy_z``, ``A``)."""
    summary = summary.copy()
    summary["final_proxy_z"], summary["A"] = replicate_scores(setup, summary["seed"], summary["final_responses"],
                                                              demo_scores(setup))
    return summary


def per_replicate(summary: pd.DataFrame, column: str) -> dict[str, list[float]]:
    """{arm: [value per replicate, seeds sorted]}."""
    return {arm: runs.sort_values("seed")[column].astype(float).tolist()
            for arm, runs in summary.groupby("method", sort=False)}


def tuned_beta_alignment(summary: pd.DataFrame, betas: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per replicate (seeds sorted): the leave-one-out tuned β (module doc) and its alignment A there."""
    table = pd.DataFrame({b: summary[summary["method"] == beta_arm(b)].sort_values("seed")["A"].to_numpy()
                          for b in betas})
    chosen, values = [], []
    for r in range(len(table)):
        others = table.drop(index=r).mean()
        beta = float(others.idxmin())
        chosen.append(beta)
        values.append(float(table.loc[r, beta]))
    return chosen, values


def sft_scores(setup: Setup) -> dict:
    """The SFT policy on the held-out prompts (gold, naturalness, each replicate's z-proxy and alignment) and the
    held-out demonstrations' mean z-proxy per replicate (RCfD's target level)."""
    demos = demo_scores(setup)
    z, alignment = replicate_scores(setup, setup.seeds, [setup.sft["responses"]] * len(setup.seeds), demos)
    gold_path = float(np.mean(setup.sft["gold_scores"][: len(setup.evaluation.prompts)]))
    return {"sft_final_gold": setup.sft["gold"], "sft_naturalness": setup.sft["naturalness_nll"],
            "sft_distinct_2": setup.sft["distinct_2"], "sft_gold_eval_prompts": gold_path,
            "sft_proxy_z_by_replicate": z, "sft_alignment_A_by_replicate": alignment,
            "demo_proxy_z_by_replicate": [float(setup.family.standardise(s, demos[s]).mean()) for s in setup.seeds]}


def frontier_metrics(setup: Setup, steps: pd.DataFrame, summary: pd.DataFrame, betas: Sequence[float],
                     beta_star: float, levels: Sequence[float]) -> dict:
    """The notebook's metrics: the frontier readings, the per-replicate values every claim reads, the A/A floor."""
    sft = sft_scores(setup)
    readings = frontier_readings(steps, sft["sft_gold_eval_prompts"], levels, [beta_arm(b) for b in betas],
                                 beta_arm(0.0))
    alignment = per_replicate(summary, "A")
    chosen, alignment[TUNED] = tuned_beta_alignment(summary, betas)
    final_gold = per_replicate(summary, "final_gold")
    aa = np.array(final_gold[AA_ARM]) - np.array(final_gold[beta_arm(0.0)])
    aa_path = np.array(readings["endpoint_gold"][AA_ARM]) - np.array(readings["endpoint_gold"][beta_arm(0.0)])
    return {
        "replicates": len(setup.seeds), "seed_ids": setup.seeds, "ppo_steps": setup.family.stack.preset.frontier.ppo.steps,
        "betas": list(betas), "beta_star_dense": beta_star, "sqrt_kl_levels": list(levels),
        "members": setup.family.stack.preset.frontier.members, "proxy_pairs": setup.family.pairs,
        **sft,
        "frontier_gold_at_sqrt_kl": readings["gold_at_sqrt_kl"], "penalty_frontier_at_sqrt_kl": readings["penalty"],
        "endpoint_sqrt_kl_by_arm_by_replicate": readings["endpoint_sqrt_kl"],
        "endpoint_gold_by_arm_by_replicate": readings["endpoint_gold"],
        "best_gold_by_arm_by_replicate": readings["best_gold"],
        "kl_at_best_by_arm_by_replicate": {a: [d ** 2 for d in v] for a, v in readings["sqrt_kl_at_best"].items()},
        "minus_penalty_by_replicate": readings["minus_penalty"],
        "early_stop_minus_penalty_by_replicate": readings["early_stop_minus_penalty"],
        "final_gold_by_replicate": final_gold, "final_proxy_z_by_replicate": per_replicate(summary, "final_proxy_z"),
        "naturalness_by_replicate": per_replicate(summary, "final_naturalness_nll"),
        "distinct_2_by_replicate": per_replicate(summary, "final_distinct_2"),
        "final_kl_by_replicate": per_replicate(summary, "final_kl"),
        "alignment_A_by_replicate": alignment, "tuned_beta_by_replicate": chosen,
        "tuned_beta_on_grid_edge": [b in (min(betas), max(betas)) for b in chosen],
        "aa_final_gold_difference": float(aa.mean()), "aa_final_gold_sd": float(aa.std(ddof=1)) if len(aa) > 1 else None,
        "aa_endpoint_gold_difference": float(aa_path.mean()),
        "aa_final_gold_by_replicate": aa.tolist(),
    }

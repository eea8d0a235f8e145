"""The dense-shaping studies: reward shapes compared under PPO (notebook 07) and one BO trial (notebook 08).

Each run starts from the stack's SFT policy and trains with the study's PPO config; arms differ
only in the reward and how it is spread over the tokens. Two families of arms:

* reward-model arms (``RM_ARMS``): the Bradley-Terry reward model's score R, spread by a shape of
  :mod:`rewardlab.shaping.shapes`;
* oracle arms (``ORACLE_ARMS``): the gold judge's own score, with credit of known quality
  (:mod:`rewardlab.shaping.oracle`): the upper bound of what dense credit buys, and a dose ladder.

Unit of replication: the **replicate** r = 0, 1, ...: PPO seed ``preset.seed + r`` and, for the
reward-model arms, **its own reward model**: the Bradley-Terry proxy of seed ``preset.seed + r`` on
``gao.middle_pairs`` training pairs (:func:`replicate_reward_model`), the middle proxy that notebooks 06
and 11 train too, so the cache holds it once. Before, replicate r used notebook 02's model of seed
``r mod 3``: ten replicates rested on three reward models while the t interval counted ten units. A model
of every training pair per replicate would cost minutes each; the middle proxy costs seconds, and is the
weaker reward model (about 0.77 held-out accuracy against 0.85), the one over-optimisation bites. Every
arm runs every replicate (paired contrasts). Every trained policy is evaluated on the same held-out prompts with
the same sampling seed (:func:`rewardlab.rl.evaluation.evaluate_policy`), and during training every
few steps (:class:`rewardlab.rl.held_out.Evaluation`). TRL's ``RLOOTrainer`` on the sequence reward
runs beside them on a few seeds as the external reference.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.core.config import resolve_device
from rewardlab.core.stats import per_unit
from rewardlab.gao.study import proxy_model
from rewardlab.rl.evaluation import evaluate_policy, held_out_summary
from rewardlab.reward.models import reward_function
from rewardlab.rl.runs import AA_SEED_OFFSET, Method, grid_cache_key, run_methods, torch_threads
from rewardlab.rl.scale import score_scale, standardised
from rewardlab.rl.held_out import Evaluation
from rewardlab.rl.trainer import train_ppo_seeds
from rewardlab.rl.trl_peers import train_with_trl_rloo
from rewardlab.shaping.attribution import attribute
from rewardlab.shaping.faithfulness import credit_spearman
from rewardlab.shaping.oracle import oracle_credit, oracle_reward_fn
from rewardlab.shaping.shapes import shaped_reward_fn
from rewardlab.stack import Stack, shared_stack


RM_ARMS = ("sparse", "uniform", "abc", "shap", "lime")
ORACLE_NOISE = 1.0  # the noisy oracle arm's sigma, in units of oracle.credit_scale
# the dose ladder: gold word credit plus Gaussian noise of sigma (credit_scale units), from exact (0) to pure noise
ORACLE_ARMS = {"oracle-sparse": ("sparse", 0.0), "oracle-gold": ("gold", 0.0), "oracle-shap": ("shap", 0.0),
               "oracle-noisy-0.5": ("noisy", 0.5), "oracle-noisy": ("noisy", ORACLE_NOISE),
               "oracle-noisy-2": ("noisy", 2.0), "oracle-noise": ("noisy", math.inf)}
# notebook 07's arms, declared with its claims: every arm a claim reads, and a graded dose ladder (exact credit,
# SHAP of gold, gold + noise of sigma 0.5 and 2, pure noise), so the dose-response slope rests on graded credit
# rather than on good credit against noise. Uniform (ABC without its attention) and oracle-noisy (sigma 1) cost
# one arm each more than the notebook's budget holds; the library keeps them.
AA_ARM = "sparse (A/A)"  # sparse PPO again, PPO seed s + AA_SEED_OFFSET on replicate s's reward model: the noise floor
STUDY_ARMS = ("sparse", "abc", "shap", "lime", "oracle-sparse", "oracle-gold", "oracle-shap", "oracle-noisy-0.5",
              "oracle-noisy-2", "oracle-noise")


def replicate_seeds(stack: Stack, replicates: int) -> list[int]:
    """The PPO seeds of replicates 0 .. replicates - 1 (``preset.seed + r``)."""
    return [stack.preset.seed + r for r in range(replicates)]


def replicate_reward_model(stack: Stack, seed: int):
    """The reward model of the replicate whose PPO seed is ``seed``: the middle proxy of that seed
    (``gao.middle_pairs`` pairs, :func:`rewardlab.gao.study.proxy_model`); see the module doc."""
    return proxy_model(stack, stack.preset.gao.middle_pairs, seed)


def study_methods(stack: Stack, arms: Sequence[str], credit_scale: float = 1.0,
                  sft: tuple[Sequence[str], Sequence[str]] | None = None) -> dict[str, Method]:
    """A :class:`rewardlab.rl.runs.Method` per arm: a reward-model shape (``RM_ARMS``, on the replicate's reward
    model) or an oracle credit (``ORACLE_ARMS``; ``credit_scale`` is the noisy arms' unit). With ``sft`` (SFT
    samples as prompts and responses) every arm pays its score standardised on them (:mod:`rewardlab.rl.scale`),
    so that reward-model and oracle arms train on one scale."""
    study, tokenizer = stack.preset.shaping, stack.tokenizer
    unknown = [a for a in arms if a not in RM_ARMS and a not in ORACLE_ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {list(RM_ARMS) + list(ORACLE_ARMS)}")
    scales: dict = {}

    def on_scale(reward_fn, source, score_fn):
        if sft is None:
            return reward_fn
        if source not in scales:
            scales[source] = score_scale(score_fn, *sft)
        return standardised(reward_fn, *scales[source])

    def rm_arm(shape):
        def reward_for(seed):
            model = replicate_reward_model(stack, seed)
            return on_scale(shaped_reward_fn(shape, model, tokenizer, seed=seed, shap_max_evals=study.shap_max_evals,
                                             lime_num_samples=study.lime_num_samples,
                                             shap_estimator=study.shap_estimator),
                            seed, reward_function(model, tokenizer))
        return Method(reward_for)

    def oracle_arm(credit, noise):
        return Method(lambda seed: on_scale(oracle_reward_fn(credit, stack.judge, tokenizer, noise=noise,
                                                             scale=credit_scale, seed=seed),
                                            "gold", lambda prompts, responses: stack.judge(responses)))

    return {arm: rm_arm(arm) if arm in RM_ARMS else oracle_arm(*ORACLE_ARMS[arm]) for arm in arms}


def run_grid(stack: Stack, arms: Sequence[str], replicates: int, *, credit_scale: float = 1.0,
             evaluation: Evaluation | None = None, rloo_seeds: Sequence[int] = (),
             sft: tuple[Sequence[str], Sequence[str]] | None = None, aa: bool = False,
             progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO (``preset.shaping.ppo``) for every (arm, replicate) (:func:`rewardlab.rl.runs.run_methods`), plus TRL's
    RLOO on ``rloo_seeds`` (reward model of the preset's seed) as the external reference; returns (per-step log,
    per-run summary). The summary's proxy is the preset's reward model on the held-out responses.

    ``aa``: also the A/A arm ``AA_ARM``, sparse PPO again on PPO seeds s + ``AA_SEED_OFFSET`` with replicate s's
    reward model, re-indexed to s: (A/A − sparse) per replicate is what two arms with the same reward differ by
    at this number of replicates, the floor every contrast of the grid stands on."""
    preset, reward_model, tokenizer = stack.preset, stack.reward_model(), stack.tokenizer
    study = preset.shaping
    for seed in replicate_seeds(stack, replicates) if set(arms) & set(RM_ARMS) else []:
        replicate_reward_model(stack, seed)  # loaded (or trained) here, not once per forked worker
    steps, summary = run_methods(preset, study.ppo, stack.policy, tokenizer, reward_model, stack.train_prompts,
                                 stack.eval_prompts, stack.judge, study_methods(stack, arms, credit_scale, sft),
                                 replicate_seeds(stack, replicates), evaluation=evaluation, progress=progress,
                                 cache_key=grid_cache_key("shaping", arms=list(arms), credit_scale=credit_scale,
                                                          standardised_on=None if sft is None else len(sft[1])))
    steps, summary = [steps], [summary]
    if aa:
        sparse = study_methods(stack, ["sparse"], credit_scale, sft)["sparse"]
        aa_steps, aa_summary = run_methods(
            preset, study.ppo, stack.policy, tokenizer, reward_model, stack.train_prompts, stack.eval_prompts,
            stack.judge, {AA_ARM: Method(lambda seed: sparse.reward_fn(seed - AA_SEED_OFFSET))},
            [s + AA_SEED_OFFSET for s in replicate_seeds(stack, replicates)], evaluation=evaluation, progress=progress,
            cache_key=grid_cache_key("shaping-aa", credit_scale=credit_scale,
                                     standardised_on=None if sft is None else len(sft[1])))
        for frame in (aa_steps, aa_summary):
            frame["seed"] = frame["seed"] - AA_SEED_OFFSET  # paired with the sparse arm by replicate
        steps.append(aa_steps), summary.append(aa_summary)
    for seed in rloo_seeds:
        model, log, seconds = train_with_trl_rloo(preset, study.ppo, stack.policy, tokenizer, reward_model,
                                                  stack.train_prompts, seed=seed, gold_fn=stack.judge)
        steps.append(pd.DataFrame({"method": "trl_rloo", "seed": seed,
                                   "step": list(range(1, len(log["proxy_reward"]) + 1)), **log}))
        final = evaluate_policy(model, tokenizer, stack.eval_prompts, reward_model, stack.judge, stack.policy,
                                study.ppo.max_new_tokens, batch_size=preset.sampling.eval_batch_size)
        summary.append(pd.DataFrame([{"method": "trl_rloo", "seed": seed, "seconds": seconds,
                                      "reward_seconds": float("nan"), **{f"final_{k}": v for k, v in final.items()}}]))
    return pd.concat(steps, ignore_index=True), pd.concat(summary, ignore_index=True)


def credit_faithfulness(stack: Stack, arms: Sequence[str], prompts: Sequence[str], responses: Sequence[str], *,
                        credit_scale: float = 1.0, seed: int = 0) -> dict[str, float]:
    """Mean over ``responses`` of the Spearman correlation of each dense arm's per-word credit with the gold word
    credit (:func:`rewardlab.shaping.faithfulness.credit_spearman`): the dose of the dose-response. Reward-model
    arms use replicate ``seed``'s reward model and the study's explainer settings; sparse and uniform credit no
    word."""
    study, tokenizer = stack.preset.shaping, stack.tokenizer
    credits = [stack.judge.word_credit(r) for r in responses]
    out = {}
    for arm in arms:
        if arm in ("sparse", "uniform", "oracle-sparse"):
            continue
        if arm in ORACLE_ARMS:
            credit, noise = ORACLE_ARMS[arm]
            attributions = oracle_credit(credit, stack.judge, tokenizer, prompts, responses, noise=noise,
                                         scale=credit_scale, rng=np.random.default_rng([seed, 22]))
        else:
            attributions = attribute({"abc": "attention"}.get(arm, arm), replicate_reward_model(stack, seed), tokenizer,
                                     prompts, responses, max_evals=study.shap_max_evals, num_samples=study.lime_num_samples,
                                     seed=seed, estimator=study.shap_estimator)
        out[arm] = float(np.nanmean(credit_spearman(attributions, credits)))
    return out


def dose_slopes(values: dict[str, Sequence[float]], faithfulness: dict[str, float], baseline: str) -> np.ndarray:
    """Per replicate r, the least-squares slope of the gain y_a,r = values[a][r] - values[baseline][r] against
    the arms' faithfulness x_a, over the arms in ``faithfulness``: sum_a (x_a - xbar)(y_a,r - ybar_r) /
    sum_a (x_a - xbar)^2. Needs two arms of different faithfulness."""
    arms = list(faithfulness)
    x = np.array([faithfulness[a] for a in arms], dtype=float)
    if len(arms) < 2 or np.ptp(x) == 0:
        raise ValueError(f"a slope needs at least two arms of different faithfulness; got {faithfulness}")
    gains = np.array([values[a] for a in arms], dtype=float) - np.asarray(values[baseline], dtype=float)[None]
    centred = x - x.mean()
    return (centred[:, None] * (gains - gains.mean(0))).sum(0) / (centred ** 2).sum()


def mixture_method(stack: Stack, weights: dict[str, float], study) -> Method:
    """The BO study's arm for a mixture of explainer credits (``study`` = ``preset.bo``), on the preset's reward model."""
    return Method(lambda seed: shaped_reward_fn("mixture", stack.reward_model(), stack.tokenizer, weights=weights,
                                                shap_max_evals=study.shap_max_evals,
                                                lime_num_samples=study.lime_num_samples,
                                                shap_estimator=study.shap_estimator, seed=seed))


def shape_trial(spec: dict, preset, threads: int = 1) -> dict:
    """One trial of the BO study (``preset.bo``): the mixture ``spec["weights"]``, one PPO run per seed of
    ``spec["seeds"]``, trained as one stack.

    Objective: the mean held-out gold (the mean of the evaluations every ``preset.shaping.eval_every``
    steps on the held-out prompts with a fixed sampling seed), averaged over the seeds: the learning
    speed that shaping is meant to buy. Runs with ``threads`` torch threads whether it runs in-process
    or in a worker, so a trial's numbers do not depend on how many run at once. The stack is loaded
    once per process.
    """
    stack, study = shared_stack(preset), preset.bo
    seeds = list(spec["seeds"])
    evaluation = Evaluation(stack.eval_prompts[: preset.shaping.eval_prompts], every=preset.shaping.eval_every)
    with torch_threads(threads):
        reward_fn = mixture_method(stack, spec["weights"], study).reward_fn
        results = train_ppo_seeds(study.ppo, stack.policy, stack.tokenizer, [reward_fn(s) for s in seeds],
                                  stack.train_prompts, seeds=seeds, name=f"mixture {spec['weights']}",
                                  gold_fn=stack.judge, device=resolve_device(preset), progress=False,
                                  evaluation=evaluation)
    curves = [[g for g in r.log["eval_gold"] if g == g] for r in results]  # the evaluated steps (NaN elsewhere)
    means = [float(np.mean(c)) for c in curves]
    return {"objective": float(np.mean(means)), "objective_by_seed": means,
            "final_gold": float(np.mean([c[-1] for c in curves])),
            "seconds": float(sum(np.sum(r.log["seconds"]) for r in results)),
            "gold_curve": [float(g) for g in np.mean(curves, axis=0)]}


def confirm_mixtures(stack: Stack, candidates: dict[str, dict[str, float]], seeds: Sequence[int],
                     progress: bool = True, aa: str | None = None) -> pd.DataFrame:
    """The BO study's confirmation: every candidate mixture on fresh ``seeds`` (``preset.bo.ppo``; a candidate's
    seeds stacked), evaluated as the trials are; one row per (candidate, seed) with ``mean_eval_gold``, the
    final evaluation (``final_*``) and seconds. ``aa``: the name of a candidate to run again on seeds
    s + ``AA_SEED_OFFSET``, as ``"<name> (A/A)"`` re-indexed to s (the noise floor of the paired contrasts)."""
    preset = stack.preset
    evaluation = Evaluation(stack.eval_prompts[: preset.shaping.eval_prompts], every=preset.shaping.eval_every)

    def confirm(named: dict, run_seeds: Sequence[int], label: str) -> pd.DataFrame:
        methods = {name: mixture_method(stack, weights, preset.bo) for name, weights in named.items()}
        steps, summary = run_methods(preset, preset.bo.ppo, stack.policy, stack.tokenizer, stack.reward_model(),
                                     stack.train_prompts, stack.eval_prompts, stack.judge, methods, run_seeds,
                                     evaluation=evaluation, progress=progress,
                                     cache_key=grid_cache_key(label, candidates=named))
        return summary.merge(held_out_summary(steps), on=["method", "seed"], how="left")

    frames = [confirm(candidates, seeds, "bo-confirm")]
    if aa is not None:
        again = confirm({f"{aa} (A/A)": candidates[aa]}, [s + AA_SEED_OFFSET for s in seeds], "bo-confirm-aa")
        again["seed"] = again["seed"] - AA_SEED_OFFSET
        frames.append(again)
    return pd.concat(frames, ignore_index=True)


def dense_metrics(summary: pd.DataFrame, *, arms: Sequence[str], sft_gold: float, ppo_steps: int, eval_every: int,
                  reward_models: int, faithfulness: dict[str, float], credit_scale: float) -> dict:
    """Notebook 07's metrics. Per arm ``<metric>_<arm>`` means (TRL's RLOO as ``trl_rloo_<metric>``); per
    replicate, for every arm, what the declared claims read (``<metric>_by_replicate``); the dose-response
    (``dose_*``: each dense oracle arm's faithfulness and mean gain over sparse gold, and the per-replicate
    slopes of :func:`dose_slopes`).

    ``summary`` has one row per (arm, seed) with the final evaluation (``final_*``), the held-out curve
    (:func:`rewardlab.rl.evaluation.held_out_summary`) and the run's seconds.
    """
    replicates = sorted(int(s) for s in summary.loc[summary["method"].isin(arms), "seed"].unique())
    metrics = {"replicates": len(replicates), "replicate_seeds": replicates, "ppo_steps": ppo_steps,
               "eval_every": eval_every, "reward_models": reward_models, "sft_final_gold": sft_gold,
               "credit_scale": credit_scale, "arms": list(arms)}
    columns = [c for c in ("mean_eval_gold", "final_gold", "final_proxy", "trained_reward_final", "eval_gold_at_kl",
                           "final_naturalness_nll", "final_kl", "seconds") if c in summary]
    for method in [*arms, *(["trl_rloo"] if "trl_rloo" in set(summary["method"]) else [])]:
        runs = summary[summary["method"] == method]
        for column in columns:
            if runs[column].notna().any():
                key = f"{column}_{method}" if method != "trl_rloo" else f"trl_rloo_{column}"
                metrics[key] = float(runs[column].mean())
    for column in columns:
        if column != "seconds":
            metrics[f"{column}_by_replicate"] = per_unit(summary[summary["method"].isin(arms)], column, arms)
    values = metrics["mean_eval_gold_by_replicate"]
    if AA_ARM in set(summary["method"]) and "sparse" in values:
        aa = per_unit(summary[summary["method"].isin([AA_ARM, "sparse"])], "mean_eval_gold", [AA_ARM, "sparse"])
        gap = np.subtract(aa[AA_ARM], aa["sparse"])
        metrics["aa_mean_eval_gold_by_replicate"] = aa[AA_ARM]
        metrics["aa_mean_eval_gold_difference"] = float(gap.mean())
        metrics["aa_mean_eval_gold_sd"] = float(gap.std(ddof=1)) if len(gap) > 1 else None
    dose = {arm: x for arm, x in faithfulness.items() if arm in ORACLE_ARMS}
    if "oracle-sparse" in values and len(dose) >= 2:
        metrics["dose_faithfulness"] = dict(faithfulness)
        metrics["dose_gain"] = {arm: float(np.mean(np.subtract(values[arm], values["oracle-sparse"]))) for arm in dose}
        metrics["dose_slope_by_replicate"] = dose_slopes(values, dose, "oracle-sparse").tolist()
    return metrics

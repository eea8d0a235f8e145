"""The dense-shaping studies: reward shapes compared under PPO (notebook 06) and one BO trial (notebook 07).

Each run starts from the stack's SFT policy, trains on the stack's reward model (seed
``preset.seed``) with the study's PPO config, and differs only in how R is spread over the tokens
(and in the seed); every trained policy is evaluated on the same held-out prompts
(:func:`rewardlab.rl.evaluation.evaluate_policy`). TRL's ``RLOOTrainer`` on the sequence reward runs
beside them as the external reference.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.core.config import resolve_device
from rewardlab.core.stats import mean_interval, per_unit
from rewardlab.rl.evaluation import evaluate_policy
from rewardlab.rl.runs import Method, run_methods, torch_threads
from rewardlab.rl.trainer import train_ppo
from rewardlab.rl.trl_peers import train_with_trl_rloo
from rewardlab.shaping.shapes import shaped_reward_fn
from rewardlab.stack import Stack, shared_stack


def run_grid(stack: Stack, shapes: Sequence[str], seeds: Sequence[int], *, with_rloo: bool = True,
             progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO (``preset.shaping.ppo``) for every (shape, seed) (:func:`rewardlab.rl.runs.run_methods`), plus TRL's
    RLOO per seed as the external reference; returns (per-step log, per-run summary)."""
    preset, reward_model, tokenizer = stack.preset, stack.reward_model(), stack.tokenizer
    study = preset.shaping

    def shape_method(shape):
        return Method(lambda seed: shaped_reward_fn(shape, reward_model, tokenizer, seed=seed,
                                                    shap_max_evals=study.shap_max_evals,
                                                    lime_num_samples=study.lime_num_samples,
                                                    shap_estimator=study.shap_estimator))

    steps, summary = run_methods(preset, study.ppo, stack.policy, tokenizer, reward_model, stack.train_prompts,
                                 stack.eval_prompts, stack.judge, {shape: shape_method(shape) for shape in shapes},
                                 seeds, progress=progress)
    steps, summary = [steps], [summary]
    for seed in seeds if with_rloo else []:
        model, log, seconds = train_with_trl_rloo(preset, study.ppo, stack.policy, tokenizer, reward_model,
                                                  stack.train_prompts, seed=seed, gold_fn=stack.judge)
        steps.append(pd.DataFrame({"method": "trl_rloo", "seed": seed,
                                   "step": list(range(1, len(log["proxy_reward"]) + 1)), **log}))
        final = evaluate_policy(model, tokenizer, stack.eval_prompts, reward_model, stack.judge, stack.policy,
                                study.ppo.max_new_tokens, batch_size=preset.sampling.eval_batch_size)
        summary.append(pd.DataFrame([{"method": "trl_rloo", "seed": seed, "seconds": seconds,
                                      "reward_seconds": float("nan"), **{f"final_{k}": v for k, v in final.items()}}]))
    return pd.concat(steps, ignore_index=True), pd.concat(summary, ignore_index=True)


def shape_trial(spec: dict, preset, threads: int = 1) -> dict:
    """One inner run of the BO study (``preset.bo``): the mixture ``spec["weights"]`` with seed ``spec["seed"]``.

    Objective: the AUC of the gold curve (mean gold reward of the rollouts over all steps), the
    learning speed that shaping is meant to buy; the held-out final gold is returned beside it.
    Runs with ``threads`` torch threads whether it runs in-process or in a worker, so a trial's
    numbers do not depend on how many run at once. The stack is loaded once per process.
    """
    stack, study = shared_stack(preset), preset.bo
    with torch_threads(threads):
        reward_fn = shaped_reward_fn("mixture", stack.reward_model(), stack.tokenizer, weights=spec["weights"],
                                     shap_max_evals=study.shap_max_evals, lime_num_samples=study.lime_num_samples,
                                     shap_estimator=study.shap_estimator,
                                     seed=spec["seed"])
        result = train_ppo(study.ppo, stack.policy, stack.tokenizer, reward_fn, stack.train_prompts,
                           seed=spec["seed"], name=f"mixture {spec['weights']}", gold_fn=stack.judge,
                           device=resolve_device(preset), progress=False)
        final = evaluate_policy(result.model, stack.tokenizer, stack.eval_prompts, stack.reward_model(), stack.judge,
                                stack.policy, study.ppo.max_new_tokens, batch_size=preset.sampling.eval_batch_size)
    gold = result.log["gold_reward"]
    return {"objective": float(np.mean(gold)), "final_gold": final["gold"],
            "final_naturalness_nll": final["naturalness_nll"], "seconds": float(np.sum(result.log["seconds"])),
            "gold_curve": [float(g) for g in gold]}


def dense_metrics(summary: pd.DataFrame, *, sft_gold: float, gold_threshold: float, ppo_steps: int,
                  methods: Sequence[str]) -> dict:
    """Notebook 06's metrics: per arm ``<name>_<method>`` (TRL's RLOO as ``trl_rloo_<name>``) and the per-seed
    values the declared claims read (``auc_gold_by_seed``, ``final_gold_by_seed``, ``final_proxy_by_seed``).

    ``summary`` has one row per (method, seed) with the final evaluation, the learning speed
    (:func:`rewardlab.rl.evaluation.learning_speed`) and the run's seconds.
    """
    metrics = {"gold_threshold": gold_threshold, "sft_final_gold": sft_gold, "seeds": int(summary["seed"].nunique()),
               "ppo_steps": ppo_steps}
    for method in methods:
        runs = summary[summary["method"] == method]
        seconds_per_step = runs["seconds"] / ppo_steps
        values = {
            "final_gold": runs["final_gold"].mean(), "final_gold_ci95": mean_interval(runs["final_gold"])[1],
            "final_naturalness_nll": runs["final_naturalness_nll"].mean(),
            "steps_to_threshold": runs["steps_to_threshold"].mean(),
            "threshold_reached": int(runs["steps_to_threshold"].notna().sum()),
            "seconds_to_threshold": (runs["steps_to_threshold"] * seconds_per_step).mean(),
            "auc_gold": runs["auc_gold"].mean(), "auc_gold_ci95": mean_interval(runs["auc_gold"])[1],
            "seconds_per_run": runs["seconds"].mean(),
        }
        if method != "trl_rloo":
            values["reward_fn_share"] = float((runs["reward_seconds"] / runs["seconds"]).mean())
        for name, value in values.items():  # the RLOO reference is recorded as trl_rloo_<name>
            metrics[f"trl_rloo_{name}" if method == "trl_rloo" else f"{name}_{method}"] = value
    # per-seed values of every arm (seeds in order), so each verdict can be recomputed from the metrics file
    metrics["seed_ids"] = sorted(int(s) for s in summary["seed"].unique())
    for column in ("auc_gold", "final_gold", "final_proxy"):
        metrics[f"{column}_by_seed"] = per_unit(summary, column, methods)
    return metrics

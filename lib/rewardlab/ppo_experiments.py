"""Comparing reward shapes under PPO: a grid of runs (shape x seed), evaluation, learning-speed summaries.

Each run starts from the same SFT policy, trains on the same reward model with the same PPO
settings, and differs only in how R is spread over the tokens (and in the seed). Summaries:

* **gold / proxy vs step**: the mean gold (VADER) and proxy (reward-model) reward of each
  step's rollout of ``ppo_batch_size`` responses;
* **steps to threshold**: the first step at which the trailing ``window``-step mean of the gold
  curve reaches ``threshold`` (NaN when it never does); the window damps the noise of a single
  64-response batch;
* **AUC of gold**: the mean of the gold curve over all steps (area under it, per step): high when
  a shape learns early *and* holds on;
* **final evaluation**: the trained policy samples one response for each of a fixed set of
  held-out prompts with a fixed seed; gold reward, proxy reward, naturalness (NLL under the SFT
  policy), distinct-2 and length are measured on those responses, the same way for every run
  (and for TRL's RLOO, the external reference).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .judges import distinct_n, naturalness_nll
from .reward_models import score


def steps_to_threshold(gold_curve: Sequence[float], threshold: float, window: int = 3) -> float:
    """First step (1-based) whose trailing ``window``-step mean of ``gold_curve`` is >= ``threshold``."""
    curve = np.asarray(gold_curve, dtype=float)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    for step in range(window, len(curve) + 1):
        if curve[step - window: step].mean() >= threshold:
            return float(step)
    return float("nan")


def evaluate_policy(model, tokenizer, prompts: Sequence[str], reward_model, gold_fn: Callable, sft_policy,
                    max_new_tokens: int, seed: int = 12345, batch_size: int = 256) -> dict:
    """Gold, proxy, naturalness NLL, distinct-2 and length of one sampled response per prompt.

    Sampled as PPO samples (:func:`rewardlab.ppo_trainer.sample_rollout`), from ``seed``, without
    touching the caller's random state.
    """
    from .ppo_trainer import sample_rollout

    prompts, responses = list(prompts), []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for begin in range(0, len(prompts), batch_size):
            responses += sample_rollout(model, tokenizer, prompts[begin: begin + batch_size], max_new_tokens).responses
    return {
        "gold": float(np.mean(gold_fn(responses))),
        "proxy": float(np.mean(score(reward_model, tokenizer, prompts, responses, batch_size))),
        "naturalness_nll": float(np.nanmean(naturalness_nll(sft_policy, tokenizer, prompts, responses, batch_size))),
        "distinct_2": distinct_n(responses, 2),
        "response_words": float(np.mean([len(r.split()) for r in responses])),
        "example": responses[0],
    }


def run_grid(preset, policy, tokenizer, reward_model, prompts: Sequence[str], eval_prompts: Sequence[str],
             gold_fn: Callable, shapes: Sequence[str], seeds: Sequence[int], *, with_rloo: bool = True,
             progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO for every (shape, seed), plus TRL's RLOO per seed; returns (per-step log, per-run summary).

    The per-step frame has one row per (method, seed, step) with the trainer's ``LOG_KEYS``; the
    summary one row per (method, seed) with the final evaluation and the run's wall-clock seconds.
    """
    from tqdm.auto import tqdm

    from .ppo_trainer import train_ppo
    from .shaping import shaped_reward_fn
    from .trl_peers import train_with_trl_rloo

    steps, summary = [], []
    runs = [(shape, seed) for seed in seeds for shape in shapes] + ([("trl_rloo", s) for s in seeds] if with_rloo else [])
    for method, seed in tqdm(runs, desc="runs", disable=not progress):
        if method == "trl_rloo":
            model, log, seconds = train_with_trl_rloo(preset, policy, tokenizer, reward_model, prompts, seed=seed,
                                                      gold_fn=gold_fn)
            log = {"step": list(range(1, len(log["proxy_reward"]) + 1)), **log}
            reward_seconds = float("nan")
        else:
            reward_fn = shaped_reward_fn(method, reward_model, tokenizer, shap_max_evals=preset.ppo_shap_max_evals,
                                         lime_num_samples=preset.ppo_lime_num_samples, seed=seed)
            result = train_ppo(preset, policy, tokenizer, reward_fn, prompts, seed=seed, name=method, gold_fn=gold_fn,
                               progress=False)
            model, log = result.model, result.log
            seconds, reward_seconds = float(np.sum(log["seconds"])), float(np.sum(log["reward_seconds"]))
        steps.append(pd.DataFrame({"method": method, "seed": seed, **log}))
        final = evaluate_policy(model, tokenizer, eval_prompts, reward_model, gold_fn, policy, preset.ppo_max_new_tokens,
                                batch_size=preset.eval_batch_size)
        summary.append({"method": method, "seed": seed, "seconds": seconds, "reward_seconds": reward_seconds,
                        **{f"final_{k}": v for k, v in final.items()}})
    return pd.concat(steps, ignore_index=True), pd.DataFrame(summary)


def learning_speed(steps: pd.DataFrame, threshold: float, window: int = 3) -> pd.DataFrame:
    """Per (method, seed): steps to the gold threshold and the AUC (mean) of the gold curve."""
    rows = []
    for (method, seed), run in steps.groupby(["method", "seed"], sort=False):
        gold = run.sort_values("step")["gold_reward"].to_numpy()
        rows.append({"method": method, "seed": seed, "steps_to_threshold": steps_to_threshold(gold, threshold, window),
                     "auc_gold": float(gold.mean())})
    return pd.DataFrame(rows)

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


_SETUPS: dict = {}  # per process: what every inner run of a study shares, loaded once


def shaping_setup(preset) -> dict:
    """The world's prompts, SFT policy, gold judge and reward model (seed ``preset.seed``) of a preset,
    from the artifact cache, loaded once per process (BO workers reuse it across trials)."""
    from .judges import load_gold_judge
    from .policy import load_sft_policy
    from .preferences import load_preference_data
    from .reward_models import load_reward_model
    from .world import build_world

    key = preset.config_hash()
    if key not in _SETUPS:
        world = build_world(preset)
        policy, tokenizer, _ = load_sft_policy(preset, world=world, progress=False)
        judge = load_gold_judge(preset)
        train_pairs, heldout_pairs = load_preference_data(preset, policy, tokenizer, world, judge, progress=False)
        reward_model = load_reward_model(preset, tokenizer, train_pairs, seed=preset.seed, eval_dataset=heldout_pairs,
                                         progress=False)[0]
        _SETUPS[key] = {
            "policy": policy, "tokenizer": tokenizer, "judge": judge, "reward_model": reward_model,
            "train_prompts": list(world.splits["train"]["prompt"]),
            "eval_prompts": list(dict.fromkeys(world.splits["validation"]["prompt"]))[: preset.ppo_eval_prompts],
        }
    return _SETUPS[key]


def shape_trial(spec: dict, preset, threads: int = 1) -> dict:
    """One inner PPO run of a reward-shape study: the mixture ``spec["weights"]`` with seed ``spec["seed"]``.

    Objective: the AUC of the gold curve (mean gold reward of the rollouts over all steps), the
    learning speed that shaping is meant to buy; the held-out final gold is returned beside it.
    Runs with ``threads`` torch threads whether it runs in-process or in a worker, so a trial's
    numbers do not depend on how many run at once.
    """
    from .ppo_trainer import train_ppo
    from .shaping import shaped_reward_fn

    setup = shaping_setup(preset)
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        reward_fn = shaped_reward_fn("mixture", setup["reward_model"], setup["tokenizer"], weights=spec["weights"],
                                     shap_max_evals=preset.ppo_shap_max_evals,
                                     lime_num_samples=preset.ppo_lime_num_samples, seed=spec["seed"])
        result = train_ppo(preset, setup["policy"], setup["tokenizer"], reward_fn, setup["train_prompts"],
                           seed=spec["seed"], name=f"mixture {spec['weights']}", gold_fn=setup["judge"], progress=False)
        final = evaluate_policy(result.model, setup["tokenizer"], setup["eval_prompts"], setup["reward_model"],
                                setup["judge"], setup["policy"], preset.ppo_max_new_tokens, batch_size=preset.eval_batch_size)
    finally:
        torch.set_num_threads(saved_threads)
    gold = result.log["gold_reward"]
    return {"objective": float(np.mean(gold)), "final_gold": final["gold"],
            "final_naturalness_nll": final["naturalness_nll"], "seconds": float(np.sum(result.log["seconds"])),
            "gold_curve": [float(g) for g in gold]}

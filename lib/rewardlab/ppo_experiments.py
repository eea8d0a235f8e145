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

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .metrics import distinct_n, kl_to_reference, naturalness_nll
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


def peak_to_final_drop(gold_curve: Sequence[float], window: int = 5) -> float:
    """Stability of a run: max over steps of the trailing ``window``-step mean of gold, minus its final value
    (0 when the run ends at its best; large when it peaked and then fell, as over-optimisation does)."""
    curve = np.asarray(gold_curve, dtype=float)
    if window < 1 or len(curve) < window:
        raise ValueError(f"need a window in [1, {len(curve)}] (the curve's length), got {window}")
    smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
    return float(smooth.max() - smooth[-1])


def evaluate_policy(model, tokenizer, prompts: Sequence[str], reward_model, gold_fn: Callable, sft_policy,
                    max_new_tokens: int, seed: int = 12345, batch_size: int = 256, per_response: bool = False) -> dict:
    """Gold, proxy, naturalness NLL, distinct-2, length and KL to the SFT policy of one sampled response per prompt.

    Sampled as PPO samples (:func:`rewardlab.ppo_trainer.sample_rollout`), from ``seed``, without
    touching the caller's random state. ``kl`` is the mean over responses of sum_t log pi - log pi_SFT
    (:func:`rewardlab.metrics.kl_to_reference`). With ``per_response`` the responses and their
    gold and proxy scores are returned too (``responses``, ``gold_scores``, ``proxy_scores``).
    """
    from .ppo_trainer import sample_rollout

    prompts, responses, kl = list(prompts), [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for begin in range(0, len(prompts), batch_size):
            rollout = sample_rollout(model, tokenizer, prompts[begin: begin + batch_size], max_new_tokens)
            responses += rollout.responses
            kl.append(kl_to_reference(model, sft_policy, rollout))
    gold = np.asarray(gold_fn(responses), dtype=float)
    proxy = np.asarray(score(reward_model, tokenizer, prompts, responses, batch_size), dtype=float)
    out = {
        "gold": float(gold.mean()),
        "proxy": float(proxy.mean()),
        "naturalness_nll": float(np.nanmean(naturalness_nll(sft_policy, tokenizer, prompts, responses, batch_size))),
        "distinct_2": distinct_n(responses, 2),
        "response_words": float(np.mean([len(r.split()) for r in responses])),
        "kl": float(np.concatenate(kl).mean()),
        "example": responses[0],
    }
    if per_response:
        out.update(responses=responses, gold_scores=gold, proxy_scores=proxy)
    return out


@dataclass(frozen=True)
class Method:
    """One PPO configuration of a grid: its reward function for a seed, and preset overrides
    (for example ``{"ppo_kl_coef": 0.0}``); every other setting is the preset's."""

    reward_fn: Callable[[int], Callable]
    overrides: dict = field(default_factory=dict)


def run_methods(preset, policy, tokenizer, reward_model, prompts: Sequence[str], eval_prompts: Sequence[str],
                gold_fn: Callable, methods: dict[str, Method], seeds: Sequence[int], *, per_response: bool = False,
                track: dict[str, Callable] | None = None, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO for every (method, seed) from the same SFT policy; returns (per-step log, per-run summary).

    The per-step frame has one row per (method, seed, step) with the trainer's ``LOG_KEYS``; the
    summary one row per (method, seed) with the final evaluation (``final_*``, see
    :func:`evaluate_policy`; with ``per_response`` also each response's scores) and the run's
    seconds. ``track`` adds logged-only per-step means (see :func:`rewardlab.ppo_trainer.train_ppo`).

    With ``preset.ppo_workers`` > 1 the runs go to that many forked worker processes, each with one
    torch thread (measured once on the 2-core machine, two 8-step runs: 1.15x sooner than one after
    another with 2 threads each for the sparse reward, 1.23x for SHAP; not a benchmark). Fork, not spawn, because a method's reward function is any closure
    over loaded models, which spawn would have to pickle. A run's numbers depend only on its seed
    and the preset, not on which worker ran it or in what order.
    """
    from tqdm.auto import tqdm

    jobs = [(seed, name) for seed in seeds for name in methods]
    _FORKED_JOBS.update(preset=preset, policy=policy, tokenizer=tokenizer, reward_model=reward_model,
                        prompts=prompts, eval_prompts=eval_prompts, gold_fn=gold_fn, methods=methods,
                        per_response=per_response, track=track, threads=1 if preset.ppo_workers > 1 else None)
    results = {}
    try:
        with tqdm(total=len(jobs), desc="runs", disable=not progress) as bar:
            if preset.ppo_workers <= 1:
                for job in jobs:
                    results[job] = _run_one(job)
                    bar.update(1)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor, as_completed

                with ProcessPoolExecutor(preset.ppo_workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_quiet_worker) as pool:
                    futures = {pool.submit(_run_one, job): job for job in jobs}
                    for future in as_completed(futures):
                        results[futures[future]] = future.result()
                        bar.update(1)
    finally:
        _FORKED_JOBS.clear()
    steps = [results[job][0] for job in jobs]
    return pd.concat(steps, ignore_index=True), pd.DataFrame([results[job][1] for job in jobs])


_FORKED_JOBS: dict = {}  # what run_methods' workers inherit through fork (closures cannot be pickled)


def _quiet_worker() -> None:
    """A forked worker writes nothing to the parent's streams (a notebook kernel's output channels)."""
    import os
    import sys

    sys.stdout = sys.stderr = open(os.devnull, "w")


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch threads (None: unchanged), then restore the count."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads or saved)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _run_one(job: tuple[int, str]) -> tuple[pd.DataFrame, dict]:
    from .ppo_trainer import train_ppo

    seed, name = job
    jobs = _FORKED_JOBS
    preset, method = jobs["preset"], jobs["methods"][name]
    with torch_threads(jobs["threads"]):
        run_preset = dataclasses.replace(preset, **method.overrides)
        result = train_ppo(run_preset, jobs["policy"], jobs["tokenizer"], method.reward_fn(seed), jobs["prompts"],
                           seed=seed, name=name, gold_fn=jobs["gold_fn"], track=jobs["track"], progress=False)
        final = evaluate_policy(result.model, jobs["tokenizer"], jobs["eval_prompts"], jobs["reward_model"],
                                jobs["gold_fn"], jobs["policy"], preset.ppo_max_new_tokens,
                                batch_size=preset.eval_batch_size, per_response=jobs["per_response"])
    summary = {"method": name, "seed": seed, "seconds": float(np.sum(result.log["seconds"])),
               "reward_seconds": float(np.sum(result.log["reward_seconds"])),
               **{f"final_{k}": v for k, v in final.items()}}
    return pd.DataFrame({"method": name, "seed": seed, **result.log}), summary


def run_grid(preset, policy, tokenizer, reward_model, prompts: Sequence[str], eval_prompts: Sequence[str],
             gold_fn: Callable, shapes: Sequence[str], seeds: Sequence[int], *, with_rloo: bool = True,
             progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO for every (shape, seed) (:func:`run_methods`), plus TRL's RLOO per seed as the external reference."""
    from .shaping import shaped_reward_fn
    from .trl_peers import train_with_trl_rloo

    def shape_method(shape):
        return Method(lambda seed: shaped_reward_fn(shape, reward_model, tokenizer, seed=seed,
                                                    shap_max_evals=preset.ppo_shap_max_evals,
                                                    lime_num_samples=preset.ppo_lime_num_samples))

    steps, summary = run_methods(preset, policy, tokenizer, reward_model, prompts, eval_prompts, gold_fn,
                                 {shape: shape_method(shape) for shape in shapes}, seeds, progress=progress)
    steps, summary = [steps], [summary]
    for seed in seeds if with_rloo else []:
        model, log, seconds = train_with_trl_rloo(preset, policy, tokenizer, reward_model, prompts, seed=seed,
                                                  gold_fn=gold_fn)
        steps.append(pd.DataFrame({"method": "trl_rloo", "seed": seed,
                                   "step": list(range(1, len(log["proxy_reward"]) + 1)), **log}))
        final = evaluate_policy(model, tokenizer, eval_prompts, reward_model, gold_fn, policy, preset.ppo_max_new_tokens,
                                batch_size=preset.eval_batch_size)
        summary.append(pd.DataFrame([{"method": "trl_rloo", "seed": seed, "seconds": seconds,
                                      "reward_seconds": float("nan"), **{f"final_{k}": v for k, v in final.items()}}]))
    return pd.concat(steps, ignore_index=True), pd.concat(summary, ignore_index=True)


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
    with torch_threads(threads):
        reward_fn = shaped_reward_fn("mixture", setup["reward_model"], setup["tokenizer"], weights=spec["weights"],
                                     shap_max_evals=preset.ppo_shap_max_evals,
                                     lime_num_samples=preset.ppo_lime_num_samples, seed=spec["seed"])
        result = train_ppo(preset, setup["policy"], setup["tokenizer"], reward_fn, setup["train_prompts"],
                           seed=spec["seed"], name=f"mixture {spec['weights']}", gold_fn=setup["judge"], progress=False)
        final = evaluate_policy(result.model, setup["tokenizer"], setup["eval_prompts"], setup["reward_model"],
                                setup["judge"], setup["policy"], preset.ppo_max_new_tokens, batch_size=preset.eval_batch_size)
    gold = result.log["gold_reward"]
    return {"objective": float(np.mean(gold)), "final_gold": final["gold"],
            "final_naturalness_nll": final["naturalness_nll"], "seconds": float(np.sum(result.log["seconds"])),
            "gold_curve": [float(g) for g in gold]}


def best_of_n_curve(policy, tokenizer, prompts: Sequence[str], reward_model, gold_fn: Callable, max_n: int,
                    max_new_tokens: int, seed: int = 12345, batch_size: int = 256) -> dict:
    """Best-of-n against the proxy, n = 1, 2, 4, ..., ``max_n``: the other way to spend KL (Gao et al. 2022).

    ``max_n`` responses per prompt are sampled as PPO samples them; for each n the proxy's pick
    among the first n gives the mean proxy, gold, naturalness NLL and length
    (:func:`rewardlab.metrics.best_of_n`), and KL(best-of-n || policy) = log n - (n - 1)/n.
    """
    from .metrics import best_of_n, kl_best_of_n
    from .ppo_trainer import sample_rollout

    flat_prompts, responses = [p for p in prompts for _ in range(max_n)], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for begin in range(0, len(flat_prompts), batch_size):
            responses += sample_rollout(policy, tokenizer, flat_prompts[begin: begin + batch_size], max_new_tokens).responses
    shape = (len(prompts), max_n)
    proxy = np.asarray(score(reward_model, tokenizer, flat_prompts, responses, batch_size)).reshape(shape)
    gold = np.asarray(gold_fn(responses), dtype=float).reshape(shape)
    nll = naturalness_nll(policy, tokenizer, flat_prompts, responses, batch_size).reshape(shape)
    words = np.array([len(r.split()) for r in responses], dtype=float).reshape(shape)
    ns = [2**k for k in range(int(np.log2(max_n)) + 1)]
    curve = best_of_n(proxy, gold, ns, naturalness_nll=nll, response_words=words)
    curve["kl"] = kl_best_of_n(ns).tolist()
    return curve

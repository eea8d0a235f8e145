"""A grid of PPO runs (method x seed) from one SFT policy, in-process or in forked worker processes.

Each run starts from the same SFT policy, trains on the reward of its method with the method's
PPO config, and is evaluated the same way on the same held-out prompts
(:func:`rewardlab.rl.evaluation.evaluate_policy`). The seeds of one method train together as one
stacked model (:func:`rewardlab.rl.trainer.train_ppo_seeds`), which gives each seed the numbers
it would get alone and shares the per-call overhead among them. With fewer methods than workers,
a method's seeds are split into that many stacks, one per worker: two one-thread processes on two
cores run this workload about 1.3x faster than one two-thread process (benchmarks/RESULTS.md).
A run's numbers depend only on its seed and its config, not on which worker ran it, in which
stack or in what order: with ``workers`` > 1 every run, in a worker or not, uses one torch
thread. Workers are
forked, not spawned, because a method's reward function is any closure over loaded models,
which spawn would have to pickle.

Resuming (issue 25): given a ``cache_key``, every finished job (a method and its stack of seeds) is stored in
the artifact cache as soon as it finishes, and a later call with the same key restores it instead of training
it again, so a grid killed part-way redoes only the jobs that were lost. A reward function is a closure, which
cannot be hashed, so the caller's key must name what the rewards depend on; :func:`grid_cache_key` adds the
notebook's cells, and the job's key adds the whole preset, the hash of every rewardlab module loaded, the PPO
config, the method, its seeds and the prompts. :func:`grid_cache_key` returns None (no caching) outside
``rewardlab.reproduce``, where the notebook's own code cannot be hashed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from rewardlab.core import artifacts
from rewardlab.core.config import Preset, resolve_device
from rewardlab.core.study_configs import PPOConfig
from rewardlab.core.provenance import loaded_modules, source_hash
from rewardlab.rl.evaluation import evaluate_policy
from rewardlab.rl.held_out import Evaluation
from rewardlab.rl.trainer import train_ppo_seeds


@dataclass(frozen=True)
class Method:
    """One PPO configuration of a grid: its reward function for a seed, and overrides of the grid's
    :class:`PPOConfig` (for example ``{"kl_coef": 0.0}``)."""

    reward_fn: Callable[[int], Callable]
    overrides: dict = field(default_factory=dict)


AA_SEED_OFFSET = 1000  # an A/A arm's PPO seed for replicate seed s: s + this (its reward is replicate s's)


_FORKED_JOBS: dict = {}  # what run_methods' workers inherit through fork (closures cannot be pickled)


def run_methods(preset: Preset, ppo: PPOConfig, policy, tokenizer, reward_model, prompts: Sequence[str],
                eval_prompts: Sequence[str], gold_fn: Callable, methods: dict[str, Method], seeds: Sequence[int], *,
                per_response: bool = False, track: dict[str, Callable] | None = None,
                evaluation: Evaluation | None = None, progress: bool = True,
                cache_key: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO for every (method, seed) from the same SFT policy; returns (per-step log, per-run summary).

    The per-step frame has one row per (method, seed, step) with the trainer's ``LOG_KEYS`` and the step's
    first rollout (``sample_prompt``, ``sample_response``: what the policy wrote at that step's KL); the
    summary one row per (method, seed) with the final evaluation (``final_*``, see
    :func:`evaluate_policy`; with ``per_response`` also each response's scores) and the run's
    seconds. ``track`` adds logged-only per-step means and ``evaluation`` held-out evaluations every few
    steps (``eval_*`` columns; see :func:`rewardlab.rl.trainer.train_ppo`).
    ``preset`` gives the worker count (``runs.workers``), the device and the evaluation batch size.
    ``cache_key`` (see the module doc; :func:`grid_cache_key`): restore finished jobs from the artifact cache and
    store each job as it finishes.
    """
    seeds = list(seeds)
    jobs = seed_stacks(list(methods), seeds, preset.runs.workers)
    results, keys = {}, {}
    if cache_key is not None:
        shared = _shared_key(cache_key, preset, ppo, prompts, eval_prompts, per_response, track, evaluation)
        for index, (name, chunk) in enumerate(jobs):
            keys[index] = {**shared, "method": name, "overrides": methods[name].overrides, "seeds": chunk}
            found = artifacts.lookup(preset, "ppo-runs", keys[index], RUN_CACHE_VERSION)
            if found is not None:
                results.update(pickle.loads((found / "runs.pkl").read_bytes()))
    todo = [(index, job) for index, job in enumerate(jobs) if not (index in keys and _restored(results, job))]
    workers = min(preset.runs.workers, len(todo))
    _FORKED_JOBS.update(preset=preset, ppo=ppo, policy=policy, tokenizer=tokenizer, reward_model=reward_model,
                        prompts=prompts, eval_prompts=eval_prompts, gold_fn=gold_fn, methods=methods,
                        per_response=per_response, track=track, evaluation=evaluation,
                        threads=1 if preset.runs.workers > 1 else None)

    def finished(index: int, done: dict) -> None:
        results.update(done)
        if index in keys:
            artifacts.cached(preset, "ppo-runs", keys[index], lambda folder: (folder / "runs.pkl").write_bytes(
                pickle.dumps(done)), RUN_CACHE_VERSION)

    try:
        with tqdm(total=sum(len(job[1]) for _, job in todo), desc="runs", disable=not progress) as bar:
            if workers <= 1:
                for index, job in todo:
                    finished(index, _run_method(*job))
                    bar.update(len(job[1]))
            else:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_quiet_worker) as pool:
                    futures = {pool.submit(_run_method, *job): (index, job) for index, job in todo}
                    for future in as_completed(futures):
                        index, job = futures[future]
                        finished(index, future.result())
                        bar.update(len(job[1]))
    finally:
        _FORKED_JOBS.clear()
    order = [(seed, name) for seed in seeds for name in methods]
    return (pd.concat([results[job][0] for job in order], ignore_index=True),
            pd.DataFrame([results[job][1] for job in order]))


RUN_CACHE_VERSION = 2  # bump when what a cached job holds changes (2: each step's sample)


def grid_cache_key(name: str, **extra) -> dict | None:
    """A grid's cache key under ``rewardlab.reproduce``: the grid's ``name`` (unique within its notebook), the
    notebook's cells (``$REWARDLAB_NOTEBOOK_HASH``) and ``extra`` (what the rewards depend on beyond the preset
    and the library); None elsewhere, so an interactive session never restores runs its edited cells changed."""
    notebook = os.environ.get("REWARDLAB_NOTEBOOK_HASH")
    return {"grid": name, "notebook": notebook, **extra} if notebook else None


def _restored(results: dict, job: tuple[str, list[int]]) -> bool:
    return all((seed, job[0]) in results for seed in job[1])


def _digest(texts) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode()).hexdigest()


def _shared_key(cache_key, preset, ppo, prompts, eval_prompts, per_response, track, evaluation) -> dict:
    """What every job of a grid depends on besides its method and seeds (see the module doc)."""
    return {**cache_key, "preset": dataclasses.asdict(preset), "library": source_hash(loaded_modules()),
            "ppo": dataclasses.asdict(ppo), "prompts": _digest(prompts), "eval_prompts": _digest(eval_prompts),
            "per_response": per_response, "track": sorted(track or {}),
            "evaluation": None if evaluation is None else {"prompts": _digest(evaluation.prompts),
                                                           "every": evaluation.every, "seed": evaluation.seed,
                                                           "scores": sorted(evaluation.scores)}}


def seed_stacks(methods: list[str], seeds: list[int], workers: int) -> list[tuple[str, list[int]]]:
    """The grid's jobs, (method, seeds trained as one stack): a method's seeds in one stack, or split into
    ceil(workers / methods) nearly equal stacks when there are fewer methods than workers."""
    parts = min(len(seeds), max(1, -(-workers // max(len(methods), 1))))
    return [(name, chunk.tolist()) for name in methods for chunk in np.array_split(np.array(seeds), parts)]


def _quiet_worker() -> None:
    """A forked worker writes nothing to the parent's streams (a notebook kernel's output channels)."""
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


def _run_method(name: str, seeds: list[int]) -> dict[tuple[int, str], tuple[pd.DataFrame, dict]]:
    """Seeds ``seeds`` of method ``name``, trained as one stack, then each evaluated; keyed by (seed, name)."""
    jobs = _FORKED_JOBS
    preset, method = jobs["preset"], jobs["methods"][name]
    out = {}
    with torch_threads(jobs["threads"]):
        config = dataclasses.replace(jobs["ppo"], **method.overrides)
        results = train_ppo_seeds(config, jobs["policy"], jobs["tokenizer"], [method.reward_fn(seed) for seed in seeds],
                                  jobs["prompts"], seeds=seeds, name=name, gold_fn=jobs["gold_fn"], track=jobs["track"],
                                  device=resolve_device(preset), progress=False, evaluation=jobs["evaluation"])
        for seed, result in zip(seeds, results):
            final = evaluate_policy(result.model, jobs["tokenizer"], jobs["eval_prompts"], jobs["reward_model"],
                                    jobs["gold_fn"], jobs["policy"], config.max_new_tokens,
                                    batch_size=preset.sampling.eval_batch_size, per_response=jobs["per_response"])
            summary = {"method": name, "seed": seed, "seconds": float(np.sum(result.log["seconds"])),
                       "reward_seconds": float(np.sum(result.log["reward_seconds"])),
                       **{f"final_{k}": v for k, v in final.items()}}
            sampled = {"sample_prompt": [p for _, p, _ in result.samples],  # each step's first rollout response
                       "sample_response": [r for _, _, r in result.samples]}
            out[(seed, name)] = (pd.DataFrame({"method": name, "seed": seed, **result.log, **sampled}), summary)
    return out

"""Bayesian optimisation of the reward shape (Koo et al. 2025): BoTorch outside, PPO inside.

The search space (the simplex, stick-breaking), the GP surrogate on the simplex's free coordinates, its
noise model under common random numbers and the proposals live in :mod:`rewardlab.shaping.bo_surrogate`;
this module runs a study with them.

Trial log: one JSON line per finished trial (its index, strategy, u, w, inner seed, objective and
extras), rewritten atomically (temporary file + rename) after each trial, under a header line that
fixes the study (strategy, budget, seed, objective and the caller's config). An interrupted study
resumes at the first missing trial; a line that does not parse raises, naming the file and line.

Determinism: a proposal is a function of the seed, the batch's first trial index and the trials before
it *in index order*. With ``workers > 1`` the q trials of a batch finish in whatever order the machine
gives; before, the GP was fitted on the trials in the order they finished, so two runs of the same study
proposed different points (issue 25: notebook 08's best trial moved from 3 to 5). Batches are fixed by
index, so a batch cut short by an interruption is proposed again, identically, and only its missing
trials run.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from rewardlab.core.artifacts import atomic_write_text
from rewardlab.shaping.bo_surrogate import (
    WEIGHT_NAMES,
    propose_bo,
    random_point,
    simplex_to_box,
    sobol_points,
    to_weights,
    trial_points,
    weights_dict,
)

STRATEGIES = ("bo", "random")


class TrialLog:
    """A study's trials as JSON lines under a header line; see the module doc."""

    def __init__(self, path: Path | str, header: dict):
        self.path, self.header = Path(path), {"study": header}

    def read(self) -> list[dict]:
        """The finished trials (sorted by index; a batch cut short leaves a gap); [] for a new study. Raises on a foreign or corrupted file."""
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"trial log {self.path} line {number} of {len(lines)} is corrupted ({error.msg}): "
                                 f"{line[:80]!r}; delete that line (and any after it) to re-run those trials") from None
        if not records or records[0] != self.header:
            found = records[0] if records else None
            raise ValueError(f"trial log {self.path} belongs to another study ({found} != {self.header}); "
                             "pass another path or delete the file")
        trials = sorted(records[1:], key=lambda r: r["trial"])
        indices = [t["trial"] for t in trials]
        if len(set(indices)) != len(indices) or any(not isinstance(i, int) or i < 0 for i in indices):
            raise ValueError(f"trial log {self.path} has trials {indices}; expected distinct indices 0, 1, ...")
        return trials

    def write(self, trials: list[dict]) -> None:
        lines = [json.dumps(self.header)] + [json.dumps(t) for t in sorted(trials, key=lambda r: r["trial"])]
        atomic_write_text(self.path, "\n".join(lines) + "\n")


def run_study(path: Path | str, evaluate: Callable[[dict], dict], *, strategy: str, budget: int, n_init: int,
              q: int = 1, seed: int = 0, workers: int = 1, config: dict | None = None,
              reuse: list[dict] = (), inner_seeds: Sequence[int] | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) a study of ``budget`` trials; returns every finished trial, sorted.

    ``evaluate({"trial", "weights", "seeds"})`` runs the inner PPO of one trial (one run per seed) and
    returns a dict with at least ``"objective"`` (higher is better); with ``workers > 1`` it must be
    picklable (a module-level function) and q proposals run in that many processes at once. With
    ``inner_seeds`` every trial runs those seeds (common random numbers: two trials differ by their
    weights only, so the GP sees less noise); without, trial k runs seed ``seed + k``.
    ``reuse``: the trials of another study with the same design (seed, n_init, evaluate); its Sobol
    trials are copied instead of run again, so BO and random search share them for real.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if not 1 <= n_init <= budget or q < 1 or workers < 1:
        raise ValueError(f"need 1 <= n_init <= budget, q >= 1 and workers >= 1; got n_init={n_init}, "
                         f"budget={budget}, q={q}, workers={workers}")
    dim = len(WEIGHT_NAMES) - 1
    log = TrialLog(path, {"strategy": strategy, "budget": budget, "n_init": n_init, "q": q, "seed": seed,
                          "weights": list(WEIGHT_NAMES), **({"inner_seeds": list(inner_seeds)} if inner_seeds else {}),
                          **(config or {})})

    def seeds_of(trial: int) -> list[int]:
        return list(inner_seeds) if inner_seeds else [seed + trial]

    done = {t["trial"]: t for t in log.read()}
    bar = tqdm(total=budget, initial=len(done), desc=f"{strategy} trials", disable=not progress)
    pool = _pool(workers)
    start = 0
    try:
        while start < budget:
            size = min(q, budget - start) if start >= n_init else min(q, n_init - start)
            shared = [t for t in reuse if t.get("kind") == "sobol" and t["trial"] == start]
            if start < n_init and shared and start not in done:
                if (not np.allclose(shared[0]["u"], sobol_points(n_init, dim, seed)[start])
                        or shared[0]["seeds"] != seeds_of(start)):
                    raise ValueError(f"cannot reuse trial {start}: its Sobol point or seed differs from this study's "
                                     "(another seed or n_init?); pass reuse=() to run the design again")
                done[start] = {**shared[0], "reused": True}
                log.write(list(done.values()))
                bar.update(1)
                start += 1
                continue
            batch = range(start, start + size)
            if all(i in done for i in batch):
                start += size
                continue
            if start < n_init:
                points, kind = sobol_points(n_init, dim, seed)[start: start + size], "sobol"
            elif strategy == "random":
                points, kind = np.stack([random_point(start + i, dim, seed) for i in range(size)]), "random"
            else:  # the finished trials in index order, whatever order they finished in (see the module doc)
                before = [done[i] for i in range(start)]
                z, repeats = propose_bo(trial_points(before), np.array([t["objective"] for t in before]), size,
                                        seed + start, noise_free=bool(inner_seeds))
                points, kind = simplex_to_box(to_weights(z)), "bo"
            specs = [({"trial": i, "weights": weights_dict(p), "seeds": seeds_of(i),
                       **({"repeat_of": repeats[k]} if kind == "bo" and repeats[k] is not None else {})}, p)
                     for k, (i, p) in enumerate(zip(batch, points)) if i not in done]
            for (spec, point), result in _evaluate_each(evaluate, specs, pool):
                if not np.isfinite(result.get("objective", np.nan)):
                    raise ValueError(f"trial {spec['trial']} returned objective {result.get('objective')}; "
                                     "evaluate must return a finite 'objective'")
                done[spec["trial"]] = {**spec, "kind": kind, "u": np.asarray(point).tolist(), **result}
                log.write(list(done.values()))
                bar.update(1)
            start += size
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        bar.close()
    return [done[i] for i in range(budget)]


def _pool(workers: int):
    return ProcessPoolExecutor(workers, mp_context=torch.multiprocessing.get_context("spawn")) if workers > 1 else None


def _evaluate_each(evaluate: Callable[[dict], dict], items: list[tuple], pool):
    """Yield (item, evaluate(item[0])) as each finishes: in-process one by one, or on the pool at once."""
    if pool is None:
        yield from ((item, evaluate(item[0])) for item in items)
        return
    futures = {pool.submit(evaluate, item[0]): item for item in items}
    yield from ((futures[f], f.result()) for f in as_completed(futures))


def run_specs(path: Path | str, header: dict, evaluate: Callable[[dict], dict], specs: list[dict],
              workers: int = 1) -> list[dict]:
    """Evaluate fixed ``specs`` (e.g. confirmation runs) with a study's log and workers.

    Spec i is trial i; each result is logged as soon as it finishes, and a re-run evaluates only
    the specs missing from the log. Returns ``{**spec, "trial": i, **result}`` in the order of ``specs``.
    """
    log = TrialLog(path, header)
    done = {t["trial"]: t for t in log.read()}
    missing = [({**spec, "trial": i},) for i, spec in enumerate(specs) if i not in done]
    pool = _pool(workers)
    try:
        for (spec,), result in _evaluate_each(evaluate, missing, pool):
            done[spec["trial"]] = {**spec, **result}
            log.write(list(done.values()))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return [done[i] for i in range(len(specs))]


def best_so_far(trials: list[dict]) -> np.ndarray:
    """The running maximum of the objective over the trials, in trial order."""
    return np.maximum.accumulate([t["objective"] for t in sorted(trials, key=lambda t: t["trial"])])

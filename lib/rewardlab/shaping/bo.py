"""Bayesian optimisation of the reward shape (Koo et al. 2025): BoTorch outside, PPO inside.

Search space. The mixture weights w = (w_shap, w_lime, w_attention, w_sparse) lie on the simplex
Delta^3 (see :mod:`rewardlab.shaping.shapes`). The GP sees the box [0, 1]^3 through **stick-breaking**:

    v_i = 1 - (1 - u_i)^(1 / (d - i)),   w_i = v_i prod_{j<i} (1 - v_j)  (i = 1..d-1),   w_d = prod_j (1 - v_j)

v_i is the inverse CDF of Beta(1, d - i) at u_i, so a uniform u gives a uniform w on the simplex
(Dirichlet(1, ..., 1)): the Sobol design and random search cover the simplex evenly, and every
face and vertex (a single explainer, pure sparse) is reachable, which a softmax is not.

Surrogate and acquisition. The design points live in the box, but the GP does not: it is fitted on the
simplex's **free coordinates** z = (w_shap, w_lime, w_attention) (w_sparse = 1 - sum z), because stick-breaking
maps whole faces of the box onto one point of the simplex (every u with u_1 = 1 is the SHAP vertex). A GP on u
saw those as distinct, far-apart trials of one policy: notebook 08's powered run proposed the SHAP vertex four
times from four different u, each the same PPO run (a test below shows the box GP doing it). ``SingleTaskGP``
on z, outcome standardised; ``qLogNoisyExpectedImprovement`` maximised by ``optimize_acqf`` over
{z >= 0, sum z <= 1} for q proposals at a time.

Noise. With ``inner_seeds`` every trial runs the same seeds (common random numbers), and PPO is deterministic
given its seeds, so the objective is a deterministic function of w: the GP is then fitted noise-free (a fixed
observation variance of ``CRN_NOISE`` in standardised units, for numerical stability) and never spends a trial
on a point it has seen. Should a proposal still land within ``REPEAT_TOLERANCE`` (max |dw|) of a finished trial
or of an earlier proposal of its batch, it is replaced by the candidate of largest posterior standard deviation
(a deterministic Sobol set on the simplex), and the trial records ``repeat_of``. Without common random numbers
the noise is fitted by marginal likelihood as before. The study recommends the maximiser of the GP's posterior
mean (:func:`recommend`), which pools all trials, rather than its best trial. The first ``n_init`` trials are
a scrambled Sobol design shared by BO and random search (same points, same seeds), so the two strategies
differ only after it.

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
from botorch.acquisition.analytic import PosteriorMean
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood
from tqdm.auto import tqdm

from rewardlab.core.artifacts import atomic_write_text

WEIGHT_NAMES = ("shap", "lime", "attention", "sparse")
STRATEGIES = ("bo", "random")


def box_to_simplex(u) -> np.ndarray:
    """[..., d-1] in the unit box -> [..., d] on the simplex (stick-breaking, see the module doc)."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    d = u.shape[-1] + 1
    remaining = np.ones(u.shape[:-1])
    weights = []
    for i in range(d - 1):
        v = 1.0 - (1.0 - u[..., i]) ** (1.0 / (d - 1 - i))
        weights.append(v * remaining)
        remaining = remaining * (1.0 - v)
    return np.stack(weights + [remaining], axis=-1)


def simplex_to_box(w) -> np.ndarray:
    """The inverse of :func:`box_to_simplex` ([..., d] -> [..., d-1])."""
    w = np.asarray(w, dtype=float)
    if np.any(w < -1e-12) or not np.allclose(w.sum(axis=-1), 1.0):
        raise ValueError(f"weights must be >= 0 and sum to 1, got {w}")
    d = w.shape[-1]
    remaining = np.ones(w.shape[:-1])
    box = []
    for i in range(d - 1):
        v = np.divide(w[..., i], remaining, out=np.zeros_like(remaining), where=remaining > 1e-12)
        box.append(1.0 - (1.0 - np.clip(v, 0, 1)) ** (d - 1 - i))
        remaining = remaining - w[..., i]
    return np.stack(box, axis=-1)


def weights_dict(u) -> dict[str, float]:
    return dict(zip(WEIGHT_NAMES, box_to_simplex(u).tolist()))


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


def sobol_points(n: int, dim: int, seed: int) -> np.ndarray:
    """The first ``n`` points of a scrambled Sobol sequence in [0, 1]^dim."""
    return torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=torch.float64).numpy()


def random_point(trial: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, trial]).random(dim)


CRN_NOISE = 1e-4  # observation variance (standardised units) of a noise-free GP under common random numbers
REPEAT_TOLERANCE = 1e-3  # two weight vectors closer than this (max |dw|) are the same PPO run


def to_weights(z) -> np.ndarray:
    """Free coordinates [..., d-1] -> weights [..., d] (the last weight is 1 - sum z; clipped onto the simplex)."""
    z = np.clip(np.asarray(z, dtype=float), 0.0, 1.0)
    total = z.sum(axis=-1, keepdims=True)
    z = np.where(total > 1.0, z / np.maximum(total, 1e-12), z)
    return np.concatenate([z, 1.0 - z.sum(axis=-1, keepdims=True)], axis=-1).clip(0.0, 1.0)


def trial_points(trials: Sequence[dict]) -> np.ndarray:
    """The GP's inputs of finished trials: the free coordinates of each trial's weights, [n, d-1]."""
    return np.array([[t["weights"][name] for name in WEIGHT_NAMES[:-1]] for t in trials], dtype=float)


def repeat_of(w, seen: Sequence) -> int | None:
    """The index of the first weight vector of ``seen`` within ``REPEAT_TOLERANCE`` of ``w``, else None."""
    for i, other in enumerate(seen):
        if np.max(np.abs(np.asarray(w) - np.asarray(other))) < REPEAT_TOLERANCE:
            return i
    return None


def fit_gp(z: np.ndarray, objective: np.ndarray, noise_free: bool = False):
    """``SingleTaskGP`` on the free coordinates ``z`` (outcome standardised), fitted by marginal likelihood;
    ``noise_free``: the observation variance is fixed at ``CRN_NOISE`` (common random numbers, module doc)."""
    X = torch.as_tensor(z, dtype=torch.float64)
    Y = torch.as_tensor(objective, dtype=torch.float64).reshape(-1, 1)
    Yvar = torch.full_like(Y, CRN_NOISE) * Y.var().clamp_min(1e-12) if noise_free and len(Y) > 1 else None
    model = SingleTaskGP(X, Y, train_Yvar=Yvar, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def _bounds(dim: int) -> torch.Tensor:
    return torch.stack([torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)])


def _on_simplex(dim: int) -> list:
    """optimize_acqf's inequality constraint sum z <= 1, written as sum(-z) >= -1."""
    return [(torch.arange(dim), -torch.ones(dim, dtype=torch.float64), -1.0)]


def _maximise(acquisition, dim: int, q: int) -> np.ndarray:
    candidates, _ = optimize_acqf(acquisition, bounds=_bounds(dim), q=q, num_restarts=8, raw_samples=256,
                                  inequality_constraints=_on_simplex(dim))
    return to_weights(candidates.detach().numpy())[:, :-1]


def propose_bo(z: np.ndarray, objective: np.ndarray, q: int, seed: int,
               noise_free: bool = False) -> tuple[np.ndarray, list[int | None]]:
    """q new free-coordinate points maximising qLogNoisyExpectedImprovement of the GP fitted on the finished
    trials, and for each the index of the finished trial it repeated (None if new; a repeat is replaced by
    the most uncertain candidate, module doc)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(z, objective, noise_free)
        acquisition = qLogNoisyExpectedImprovement(model, X_baseline=torch.as_tensor(z, dtype=torch.float64),
                                                   prune_baseline=True)
        points = _maximise(acquisition, z.shape[-1], q)
        finished = [to_weights(p) for p in z]
        repeats: list[int | None] = []
        for k in range(len(points)):
            earlier = [to_weights(p) for p in points[:k]]
            hit = repeat_of(to_weights(points[k]), finished)
            if hit is None and repeat_of(to_weights(points[k]), earlier) is not None:
                hit = -1  # a repeat of an earlier proposal of its own batch
            if hit is not None:
                points[k] = _most_uncertain(model, finished + earlier, z.shape[-1], seed)
            repeats.append(hit)
    return points, repeats


def _most_uncertain(model, seen: list, dim: int, seed: int) -> np.ndarray:
    """The candidate of a Sobol set on the simplex with the largest posterior std that repeats nothing seen."""
    candidates = box_to_simplex(sobol_points(2048, dim, seed))[:, :-1]
    with torch.no_grad():
        std = model.posterior(torch.as_tensor(candidates, dtype=torch.float64)).variance.sqrt().reshape(-1).numpy()
    for i in np.argsort(-std, kind="stable"):
        if repeat_of(to_weights(candidates[i]), seen) is None:
            return candidates[i]
    raise RuntimeError("every candidate repeats a finished trial; the study has covered the simplex")


def recommend(z: np.ndarray, objective: np.ndarray, seed: int, noise_free: bool = False) -> dict[str, float]:
    """The recommendation of a finished study: the weights that maximise the GP's posterior mean (the model's
    best estimate of the objective, which pools every trial), not the best observed trial."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(z, objective, noise_free)
        point = _maximise(PosteriorMean(model), z.shape[-1], 1)[0]
    return dict(zip(WEIGHT_NAMES, to_weights(point).tolist()))


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

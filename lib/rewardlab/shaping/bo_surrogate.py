"""The surrogate of the reward-shape study (:mod:`rewardlab.shaping.bo`): the search space, the GP and its proposals.

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
times from four different u, each the same PPO run (tests/test_bo.py shows the box GP doing it). ``SingleTaskGP``
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
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from botorch.acquisition.analytic import PosteriorMean
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood

WEIGHT_NAMES = ("shap", "lime", "attention", "sparse")


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

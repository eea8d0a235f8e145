"""Gao et al. (2022)'s functional forms of gold reward against the distance a policy travelled.

With d = sqrt(KL(pi || pi_SFT)) and R(d) the gold reward relative to the SFT policy, Gao et al. fit

    best-of-n:  R_bon(d) = d (alpha_bon - beta_bon d)        KL_bon = log n - (n - 1) / n
    RL:         R_RL(d)  = d (alpha_RL  - beta_RL log d)

Both are linear in (alpha, beta), so least squares is exact: the design columns are [d, -d^2] and
[d, -d log d]. A form turns where dR/dd = 0:

    best-of-n:  d* = alpha / (2 beta),      R* = alpha^2 / (4 beta)
    RL:         d* = exp(alpha / beta - 1), R* = beta d*

(beta <= 0: the form never turns; d* = inf). Intervals come from the percentile bootstrap over the
units of replication (prompts for best-of-n, replicates for RL): resample units, pool their points,
refit. Written here because no library ships Gao's forms; scipy's least squares would add nothing
to a two-column linear fit.

Peak minus final without the winner's curse (:func:`crossfit_drop`): the maximum of a noisy curve
lies above its final value even when nothing falls, so the step of the peak is chosen on one half
of the held-out prompts and the drop read on the other half, both ways, and the two averaged. The
other half's noise is independent of the choice, so the expectation is mu(chosen step) - mu(final)
<= the true drop max mu - mu(final): conservative, and <= 0 on a curve that only rises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

FORMS = ("bon", "rl")


def _check(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"Gao's form must be one of {FORMS}, not {form!r}")


def design(form: str, d) -> np.ndarray:
    """The least-squares design of a form: [d, -d^2] (best-of-n) or [d, -d log d] (RL; 0 at d = 0)."""
    _check(form)
    d = np.asarray(d, dtype=float)
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("d = sqrt(KL) must be finite and >= 0")
    curvature = d ** 2 if form == "bon" else d * np.log(np.where(d > 0, d, 1.0))
    return np.stack([d, -curvature], axis=1)


def fit_form(form: str, d, gold) -> tuple[float, float]:
    """(alpha, beta) of ``form`` by least squares on points (d, gold relative to the SFT policy)."""
    gold = np.asarray(gold, dtype=float)
    X = design(form, d)
    if len(gold) != len(X) or len(gold) < 2:
        raise ValueError(f"a fit needs >= 2 points with one gold value each; got {len(X)} d and {len(gold)} gold")
    (alpha, beta), *_ = np.linalg.lstsq(X, gold, rcond=None)
    return float(alpha), float(beta)


def predict(form: str, alpha: float, beta: float, d) -> np.ndarray:
    return design(form, d) @ np.array([alpha, beta])


def fitted_peak(form: str, alpha: float, beta: float) -> tuple[float, float]:
    """(d*, R*) where the fitted form turns; (inf, inf or 0) when it never does (beta <= 0)."""
    _check(form)
    if beta <= 0:
        return float("inf"), (float("inf") if alpha > 0 else 0.0)
    if form == "bon":
        return alpha / (2 * beta), alpha ** 2 / (4 * beta)
    d_star = float(np.exp(alpha / beta - 1))
    return d_star, beta * d_star


@dataclass(frozen=True)
class GaoFit:
    """One form fitted to the pooled points of ``n_units`` units, with bootstrap intervals."""

    form: str
    alpha: float
    beta: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    peak_d: float
    peak_gold: float
    n_units: int

    def table_row(self) -> dict:
        """The fit as a notebook's table reads it: α and β with their intervals, the fitted peak and its gold."""
        return {"alpha": f"{self.alpha:+.3f} [{self.alpha_ci[0]:+.3f}, {self.alpha_ci[1]:+.3f}]",
                "beta": f"{self.beta:+.3f} [{self.beta_ci[0]:+.3f}, {self.beta_ci[1]:+.3f}]",
                "fitted peak d*": f"{self.peak_d:.2f}", "fitted gold at peak": f"{self.peak_gold:+.3f}"}

    def as_metrics(self, prefix: str) -> dict:
        return {f"{prefix}_alpha": self.alpha, f"{prefix}_alpha_ci": list(self.alpha_ci), f"{prefix}_beta": self.beta,
                f"{prefix}_beta_ci": list(self.beta_ci), f"{prefix}_fitted_peak_sqrt_kl": self.peak_d,
                f"{prefix}_fitted_peak_gold": self.peak_gold}


def bootstrap_fit(form: str, units: Sequence[tuple[Sequence[float], Sequence[float]]], n_resamples: int = 2000,
                  level: float = 0.95, seed: int = 0) -> GaoFit:
    """Fit ``form`` to the pooled (d, gold) points of ``units`` and bootstrap (alpha, beta) over units."""
    units = [(np.asarray(d, float), np.asarray(g, float)) for d, g in units]
    if len(units) < 2:
        raise ValueError(f"a bootstrap over units needs at least 2 units, got {len(units)}")
    pooled = lambda picks: [np.concatenate([units[i][k] for i in picks]) for k in (0, 1)]  # noqa: E731
    alpha, beta = fit_form(form, *pooled(range(len(units))))
    rng = np.random.default_rng(seed)
    draws = np.array([fit_form(form, *pooled(rng.integers(len(units), size=len(units))))
                      for _ in range(n_resamples)])
    tails = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    alpha_ci, beta_ci = (tuple(float(v) for v in np.percentile(draws[:, k], tails)) for k in (0, 1))
    return GaoFit(form, alpha, beta, alpha_ci, beta_ci, *fitted_peak(form, alpha, beta), len(units))


def crossfit_drop(curve_a: Sequence[float], curve_b: Sequence[float]) -> float:
    """Peak minus final of a curve measured on two halves of the prompts (module doc): the peak's index is
    chosen on one half and the drop y[peak] - y[-1] read on the other, both ways; the mean of the two.
    Never biased upwards by noise: at most the true drop in expectation, at most 0 when the curve only rises."""
    a, b = np.asarray(curve_a, float), np.asarray(curve_b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"two halves of one curve need the same non-empty length; got {a.shape} and {b.shape}")
    return float(((b[np.argmax(a)] - b[-1]) + (a[np.argmax(b)] - a[-1])) / 2)


def crossfit_peak(curve_a: Sequence[float], curve_b: Sequence[float]) -> float:
    """The value of a curve at its peak, the peak's index chosen on one half of the prompts and the value read on
    the other, both ways; the mean of the two (no winner's curse from picking the maximum of noisy points)."""
    a, b = np.asarray(curve_a, float), np.asarray(curve_b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"two halves of one curve need the same non-empty length; got {a.shape} and {b.shape}")
    return float((b[np.argmax(a)] + a[np.argmax(b)]) / 2)


def crossfit_rise(values: Sequence[float], curve_a: Sequence[float], curve_b: Sequence[float]) -> float:
    """How much ``values`` (the proxy) rose from the gold peak to the end: values[-1] - values[peak], the peak
    chosen on each half of the gold curve, the two averaged (as :func:`crossfit_drop`)."""
    v, a, b = (np.asarray(x, float) for x in (values, curve_a, curve_b))
    if not v.shape == a.shape == b.shape:
        raise ValueError("the proxy curve and both gold halves need one value per evaluation")
    return float(((v[-1] - v[np.argmax(a)]) + (v[-1] - v[np.argmax(b)])) / 2)

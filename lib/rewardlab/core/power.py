"""How many units a contrast needs, at the spread a run observed: the power line of the claims tables.

* :func:`n_for_margin`: the smallest n whose t-interval half-width t_{n−1}·s/√n would be at most the margin at
  the observed spread s (for a bootstrap interval, the half-width scaled by √(n_obs/n)): the precision a margin
  asks;
* :func:`n_for_direction`: the smallest n at which an interval with the observed mean and spread would exclude 0
  (the n at which a replication has about even odds of deciding the sign);
* :func:`n_for_power`: the smallest n at which a new run decides the observed effect with probability ``power``
  (0.8 by default): the t test's power from the noncentral t, P(|T| > t_{n−1, 1−α/2}) with T ~ t'(n − 1, δ√n/s),
  δ the observed mean's distance from the boundary. For a claim of equality, the TOST's power against ±margin
  at the observed mean: P(the level 1 − α interval lies inside ±margin), one integral over the sample sd. A design sized from a run's own effect is a pilot estimate: the next run is what
  decides, with its n declared before it.
"""

from __future__ import annotations

import math

from scipy import integrate, stats as sps

from rewardlab.core.stats import Interval, check_direction


def n_for_margin(interval: Interval, margin: float, n_max: int = 100_000) -> int | None:
    """Smallest n whose interval half-width at the interval's level would be <= ``margin`` at the
    observed spread (module doc). None when it cannot be computed (n < 2, no spread, margin 0)."""
    if not (margin > 0) or interval.n < 2 or not math.isfinite(interval.half_width):
        return None
    if interval.half_width <= margin and interval.method == "bootstrap":
        return interval.n
    if interval.method == "bootstrap":
        return int(math.ceil(interval.n * (interval.half_width / margin) ** 2))
    if not (interval.sd > 0):
        return interval.n
    quantile = (1 + interval.level) / 2
    for n in range(2, n_max + 1):
        if sps.t.ppf(quantile, n - 1) * interval.sd / math.sqrt(n) <= margin:
            return n
    return None


def n_for_direction(interval: Interval, direction: str, margin: float = 0.0, n_max: int = 100_000) -> int | None:
    """Smallest n at which a t interval at the interval's level, with the observed mean and spread, would
    decide the sign: exclude 0 ("higher", "lower"; either sign, so an effect running against the claim is
    also counted), or end below +margin ("not higher", if the mean is below it). The power that decides the
    direction, where :func:`n_for_margin` is the precision a margin asks. None for "equal" (the margin
    decides it), for a mean of exactly the boundary, or when the interval has no spread or n < 2."""
    check_direction(direction)
    if direction == "equal" or interval.n < 2 or not math.isfinite(interval.half_width):
        return None
    distance = margin - interval.estimate if direction == "not higher" else abs(interval.estimate)
    if not (distance > 0):
        return None
    if interval.method == "bootstrap":
        return max(2, int(math.ceil(interval.n * (interval.half_width / distance) ** 2)))
    if not (interval.sd > 0):
        return interval.n
    quantile = (1 + interval.level) / 2
    for n in range(2, n_max + 1):
        if sps.t.ppf(quantile, n - 1) * interval.sd / math.sqrt(n) < distance:
            return n
    return None


def _t_power(distance: float, sd: float, n: int, level: float, sides: int) -> float:
    """P(reject) of the one-sample t test at ``level`` (two-sided when ``sides`` = 2, else one-sided at
    (1 − level)/2) when the true mean lies ``distance`` from the boundary."""
    dof, nc = n - 1, distance * math.sqrt(n) / sd
    critical = sps.t.ppf((1 + level) / 2, dof)
    power = sps.nct.sf(critical, dof, nc)
    return float(power + sps.nct.cdf(-critical, dof, nc)) if sides == 2 else float(power)


def _tost_power(mean: float, sd: float, n: int, margin: float, level: float) -> float:
    """P(both one-sided tests at (1 − level)/2 reject) when the true mean is ``mean``: the interval at ``level``
    lies inside ±margin iff |x̄| < margin − t·s/√n. With x̄ ~ N(mean, sd²/n) independent of
    q = (n − 1)s²/sd² ~ χ²(n − 1), one integral over q."""
    critical, se = sps.t.ppf((1 + level) / 2, n - 1), sd / math.sqrt(n)

    def given(q: float) -> float:
        half = margin - critical * sd * math.sqrt(q / (n - 1)) / math.sqrt(n)
        return (sps.norm.cdf((half - mean) / se) - sps.norm.cdf((-half - mean) / se)) * sps.chi2.pdf(q, n - 1)

    top = (n - 1) * (margin * math.sqrt(n) / (critical * sd)) ** 2  # beyond it the interval is wider than ±margin
    return float(integrate.quad(given, 0.0, top, limit=200)[0])


def n_for_power(interval: Interval, direction: str, margin: float = 0.0, power: float = 0.8,
                n_max: int = 10_000) -> int | None:
    """Smallest n at which a t test at the interval's level decides the observed effect with probability
    ``power`` (module doc). None when the interval is not a t interval, has no spread, n < 2, the observed
    mean sits on the boundary, or no n up to ``n_max`` reaches ``power``."""
    check_direction(direction)
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if interval.method == "bootstrap" or interval.n < 2 or not (interval.sd > 0) or not math.isfinite(interval.estimate):
        return None
    if direction == "equal":
        distance = margin - abs(interval.estimate)
        if not (distance > 0):
            return None
        # TOST's power is at most the nearer one-sided test's (cheap: the noncentral t), so the scan of integrals
        # starts where that bound first reaches ``power``, a few units short of the answer, not at n = 2
        start = next((n for n in range(2, n_max + 1)
                      if _t_power(distance, interval.sd, n, interval.level, 1) >= power), None)
        for n in range(start or n_max + 1, n_max + 1):
            if _tost_power(abs(interval.estimate), interval.sd, n, margin, interval.level) >= power:
                return n
        return None
    distance = margin - interval.estimate if direction == "not higher" else abs(interval.estimate)
    if not (distance > 0):
        return None
    sides = 1 if direction == "not higher" else 2
    for n in range(2, n_max + 1):
        if _t_power(distance, interval.sd, n, interval.level, sides) >= power:
            return n
    return None

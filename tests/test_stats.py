"""rewardlab.core.stats: intervals against scipy on known data, Holm on a hand-worked case, the verdict rule at its edges."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from rewardlab.core import power, stats


def test_t_interval_matches_scipy_and_is_wider_than_the_normal_one_for_three_seeds():
    x = np.array([0.21, 0.35, 0.12])
    interval = stats.t_interval(x)
    reference = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert interval.low == pytest.approx(reference.low) and interval.high == pytest.approx(reference.high)
    assert interval.estimate == pytest.approx(x.mean()) and interval.n == 3 and interval.method == "t"
    # t_{2, 0.975} = 4.303: 2.2 times the 1.96 of a normal approximation
    assert interval.half_width / (1.96 * x.std(ddof=1) / math.sqrt(3)) == pytest.approx(4.3027 / 1.96, rel=1e-4)
    at_99 = stats.t_interval(x, level=0.99)
    assert at_99.low == pytest.approx(sps.ttest_1samp(x, 0.0).confidence_interval(0.99).low)
    one = stats.t_interval([0.4])
    assert one.estimate == 0.4 and math.isnan(one.low) and math.isnan(one.half_width)


def test_paired_interval_matches_scipy_ttest_rel_and_accepts_a_fixed_reference():
    a, b = np.array([0.61, 0.72, 0.55, 0.70]), np.array([0.50, 0.69, 0.49, 0.58])
    interval = stats.paired_t_interval(a, b, level=0.9)
    reference = sps.ttest_rel(a, b).confidence_interval(0.9)
    assert (interval.low, interval.high) == (pytest.approx(reference.low), pytest.approx(reference.high))
    assert interval.method == "paired t" and interval.estimate == pytest.approx((a - b).mean())
    fixed = stats.paired_t_interval(a, 0.5)
    assert fixed.method == "t" and fixed.low == pytest.approx(sps.ttest_1samp(a, 0.5).confidence_interval(0.95).low - 0.5)
    with pytest.raises(ValueError, match="same units"):
        stats.paired_t_interval(a, b[:3])
    with pytest.raises(ValueError, match="non-finite"):
        stats.t_interval([0.1, float("nan")])


def test_bootstrap_interval_is_seeded_and_covers_the_statistic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    spearman = lambda u, v: sps.spearmanr(u, v).statistic  # noqa: E731
    first = stats.bootstrap_interval(spearman, x, y, n_resamples=999, seed=3)
    again = stats.bootstrap_interval(spearman, x, y, n_resamples=999, seed=3)
    assert first == again and first.method == "bootstrap" and first.n == 40
    assert first.low < first.estimate < first.high and first.estimate == pytest.approx(spearman(x, y))
    mean_draws = stats.bootstrap_interval(np.mean, rng.normal(size=200), n_resamples=999, paired=False)
    assert mean_draws.half_width == pytest.approx(1.96 / math.sqrt(200), rel=0.25)


def test_holm_levels_and_adjusted_p_values_on_a_hand_worked_case():
    # m = 4, alpha = 0.05, p = (0.010, 0.040, 0.012, 0.300):
    # sorted 0.010 <= 0.05/4 = 0.0125 rejected; 0.012 <= 0.05/3 = 0.0167 rejected;
    # 0.040 > 0.05/2 = 0.025 not rejected -> it and every later one are taken at 97.5%
    levels = stats.holm_levels([0.010, 0.040, 0.012, 0.300])
    assert levels == pytest.approx([1 - 0.05 / 4, 1 - 0.05 / 2, 1 - 0.05 / 3, 1 - 0.05 / 2])
    assert stats.holm_adjusted([0.010, 0.040, 0.012, 0.300]) == pytest.approx([0.040, 0.080, 0.040, 0.300])
    assert stats.holm_levels([0.2]) == pytest.approx([0.95])
    assert stats.holm_levels([float("nan"), 0.001]) == pytest.approx([0.95, 0.975])  # untestable goes last


def test_holm_interval_excludes_zero_exactly_when_holm_rejects():
    rng = np.random.default_rng(0)
    for _ in range(50):
        samples = [rng.normal(loc, 1.0, size=5) for loc in rng.uniform(0, 2, size=3)]
        p = [stats.p_value(s, "higher") for s in samples]
        levels = stats.holm_levels(p)
        rejected = [a <= 0.05 for a in stats.holm_adjusted(p)]
        for sample, level, reject in zip(samples, levels, rejected):
            interval = stats.t_interval(sample, level)
            assert (interval.low > 0 or interval.high < 0) == reject


@pytest.mark.parametrize("low, high, direction, margin, expected", [
    (0.01, 0.30, "higher", 0.05, "reproduced"),
    (0.00, 0.30, "higher", 0.05, "not resolved"),  # touching 0: the sign is not established
    (-0.30, -0.01, "higher", 0.05, "opposite"),
    (-0.04, 0.04, "higher", 0.05, "equivalent"),
    (-0.04, 0.05, "higher", 0.05, "not resolved"),  # touching the margin: not inside it
    (0.01, 0.04, "higher", 0.05, "reproduced"),  # an established sign wins over equivalence
    (-0.30, -0.01, "lower", 0.05, "reproduced"),
    (0.01, 0.30, "lower", 0.05, "opposite"),
    (-0.04, 0.04, "equal", 0.05, "equivalent"),
    (-0.05, 0.04, "equal", 0.05, "not resolved"),
    (0.06, 0.30, "equal", 0.05, "opposite"),
    (0.05, 0.30, "equal", 0.05, "not resolved"),  # touching the margin from outside
    (-0.30, -0.06, "equal", 0.05, "opposite"),
    (-0.30, 0.04, "not higher", 0.05, "reproduced"),  # non-inferiority: only the upper end matters
    (-0.30, 0.05, "not higher", 0.05, "not resolved"),
    (0.06, 0.30, "not higher", 0.05, "opposite"),
    (float("nan"), float("nan"), "higher", 0.05, "not resolved"),
])
def test_verdict_rule_at_its_edges(low, high, direction, margin, expected):
    assert stats.verdict(low, high, direction, margin) == expected


def test_verdict_refuses_bad_declarations():
    with pytest.raises(ValueError, match="direction"):
        stats.verdict(0.1, 0.2, "bigger", 0.05)
    with pytest.raises(ValueError, match="margin"):
        stats.verdict(0.1, 0.2, "higher", -1)


def test_tost_p_value_agrees_with_the_interval_inside_the_margin():
    d = np.array([0.01, -0.02, 0.015, 0.0, -0.01])
    p = stats.p_value(d, "equal", margin=0.05)
    inside, wider = stats.t_interval(d, 1 - p - 1e-6), stats.t_interval(d, 1 - p + 1e-6)
    assert -0.05 < inside.low and inside.high < 0.05  # at level 1 - p the interval just touches the margin
    assert not (-0.05 < wider.low and wider.high < 0.05)
    assert stats.p_value(d, "equal", margin=0.001) > 0.5


def test_non_inferiority_p_value_agrees_with_the_interval_below_the_margin():
    d = np.array([0.01, -0.02, 0.015, 0.0, -0.01])
    p = stats.p_value(d, "not higher", margin=0.05)
    below, wider = stats.t_interval(d, 1 - p - 1e-6), stats.t_interval(d, 1 - p + 1e-6)
    assert below.high < 0.05 <= wider.high  # at level 1 - p the interval's upper end just touches the margin
    assert stats.p_value(d + 1.0, "not higher", margin=0.05) > 0.5


def test_n_for_margin_reaches_the_margin_at_the_observed_spread():
    interval = stats.t_interval([0.1, 0.3, 0.2, 0.5, 0.0])
    n = power.n_for_margin(interval, 0.05)
    sd = interval.sd
    assert sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n) <= 0.05 < sps.t.ppf(0.975, n - 2) * sd / math.sqrt(n - 1)
    assert power.n_for_margin(stats.t_interval([0.3]), 0.05) is None


def test_band_half_widths_and_table_strings():
    half = stats.t_half_width([1.0, 1.0, np.nan], [3, 1, 3])
    assert half[0] == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4) and half[1] == 0 and half[2] == 0
    assert stats.mean_interval([1.0, 2.0, 3.0, float("nan")]) == (2.0, pytest.approx(4.3027 / math.sqrt(3), rel=1e-4))
    assert stats.format_pm([1.0, 2.0, 3.0], digits=2) == "+2.00 ± 2.48"
    assert stats.format_pm([1.5]) == "+1.500"


def test_n_for_direction_is_the_n_at_which_the_interval_would_exclude_zero():
    values = np.array([0.10, 0.30, -0.05, 0.20, 0.15])  # mean 0.14, sd ~0.13: n = 5 does not decide the sign
    interval = stats.t_interval(values)
    assert interval.low < 0 < interval.high
    n = power.n_for_direction(interval, "higher")
    q = sps.t.ppf(0.975, [n - 2, n - 1])
    assert q[1] * interval.sd / np.sqrt(n) < interval.estimate <= q[0] * interval.sd / np.sqrt(n - 1)
    assert power.n_for_direction(stats.t_interval(-values), "higher") == n  # a sign against the claim counts too
    assert power.n_for_direction(interval, "equal", 0.1) is None
    assert power.n_for_direction(stats.t_interval(values - 0.5), "not higher", 0.0) is not None
    assert power.n_for_direction(interval, "not higher", 0.0) is None  # mean above the margin: never decided below it


def test_n_for_power_is_the_n_at_which_a_new_run_decides_the_effect_four_times_in_five():
    """Checked against simulation: at the n it gives, t tests on fresh draws with the observed mean and spread
    reject about 80% of the time, and at n − 1 less often."""
    values = np.array([0.10, 0.30, -0.05, 0.20, 0.15])
    interval = stats.t_interval(values)
    n = power.n_for_power(interval, "higher")
    assert n > power.n_for_direction(interval, "higher")  # even odds need fewer units than four in five

    def simulated(units, sides=2, mean=interval.estimate, reps=20_000):
        draws = np.random.default_rng(0).normal(mean, interval.sd, (reps, units))
        t = draws.mean(1) / (draws.std(1, ddof=1) / np.sqrt(units))
        critical = sps.t.ppf(0.975, units - 1)
        return float(np.mean(np.abs(t) > critical)) if sides == 2 else float(np.mean(t > critical))

    analytic = [power._t_power(interval.estimate, interval.sd, k, 0.95, 2) for k in (n - 1, n)]
    assert analytic[0] < 0.8 <= analytic[1]
    assert [simulated(n - 1), simulated(n)] == pytest.approx(analytic, abs=0.01)
    assert power.n_for_power(stats.t_interval(-values), "higher") == n  # a sign against the claim counts too
    # equality (TOST against ±margin): both one-sided tests at α/2 must reject
    small = stats.t_interval(values * 0.1)  # mean 0.014, sd 0.013

    def tost(units, margin=0.035):
        draws = np.random.default_rng(1).normal(small.estimate, small.sd, (20_000, units))
        se = draws.std(1, ddof=1) / np.sqrt(units)
        critical = sps.t.ppf(0.975, units - 1)
        return float((((draws.mean(1) + margin) / se > critical) & ((margin - draws.mean(1)) / se > critical)).mean())

    n_equal = power.n_for_power(small, "equal", margin=0.035)
    analytic = [power._tost_power(small.estimate, small.sd, k, 0.035, 0.95) for k in (n_equal - 1, n_equal)]
    assert analytic[0] < 0.8 <= analytic[1]
    assert [tost(n_equal - 1), tost(n_equal)] == pytest.approx(analytic, abs=0.01)
    assert power.n_for_power(interval, "equal", margin=0.1) is None  # the mean lies outside the margin
    assert power.n_for_power(stats.t_interval([0.3]), "higher") is None
    with pytest.raises(ValueError, match="power must lie in"):
        power.n_for_power(interval, "higher", power=1.0)

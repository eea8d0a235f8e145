"""Gao et al.'s harness: the functional forms, their peaks, the bootstrap and the cross-fitted turn."""

import numpy as np
import pandas as pd
import pytest

from rewardlab.gao.fits import (
    bootstrap_fit, crossfit_drop, crossfit_peak, crossfit_rise, design, fit_form, fitted_peak, predict,
)
from rewardlab.gao.study import turn_by_replicate


@pytest.mark.parametrize("form", ["bon", "rl"])
def test_least_squares_recovers_the_form_and_its_peak(form):
    d = np.linspace(0.05, 6, 40)
    gold = predict(form, 0.8, 0.3, d)
    alpha, beta = fit_form(form, d, gold)
    assert (alpha, beta) == pytest.approx((0.8, 0.3), abs=1e-9)
    d_star, r_star = fitted_peak(form, alpha, beta)
    grid = np.linspace(0.01, 30, 300_000)
    values = predict(form, alpha, beta, grid)
    assert d_star == pytest.approx(grid[np.argmax(values)], rel=1e-3)
    assert r_star == pytest.approx(values.max(), rel=1e-6)


def test_forms_pass_through_the_sft_policy_and_never_turn_without_curvature():
    assert predict("rl", 1.0, 0.5, [0.0])[0] == 0.0 and predict("bon", 1.0, 0.5, [0.0])[0] == 0.0
    assert fitted_peak("bon", 0.5, -0.1) == (float("inf"), float("inf"))
    assert fitted_peak("rl", -0.5, 0.0) == (float("inf"), 0.0)
    with pytest.raises(ValueError, match="form"):
        design("linear", [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        design("bon", [-1.0])
    with pytest.raises(ValueError, match="2 points"):
        fit_form("bon", [1.0], [0.3])


def test_the_bootstrap_over_units_covers_the_truth_and_is_seeded():
    rng = np.random.default_rng(0)
    d = np.sqrt(np.log(2.0 ** np.arange(11)) - (2.0 ** np.arange(11) - 1) / 2.0 ** np.arange(11))
    units = [(d, predict("bon", 0.4, 0.12, d) + rng.normal(0, 0.3, d.size)) for _ in range(80)]
    fit = bootstrap_fit("bon", units, n_resamples=400, seed=1)
    assert fit.alpha_ci[0] < 0.4 < fit.alpha_ci[1] and fit.beta_ci[0] < 0.12 < fit.beta_ci[1]
    assert fit.alpha_ci[1] - fit.alpha_ci[0] < 0.3 and fit.n_units == 80
    assert bootstrap_fit("bon", units, n_resamples=400, seed=1) == fit
    assert set(fit.as_metrics("gao_bon")) >= {"gao_bon_alpha", "gao_bon_beta_ci", "gao_bon_fitted_peak_gold"}
    row = fit.table_row()
    assert row["alpha"] == f"{fit.alpha:+.3f} [{fit.alpha_ci[0]:+.3f}, {fit.alpha_ci[1]:+.3f}]"
    assert row["fitted peak d*"] == f"{fit.peak_d:.2f}" and set(row) == {"alpha", "beta", "fitted peak d*",
                                                                       "fitted gold at peak"}
    with pytest.raises(ValueError, match="at least 2 units"):
        bootstrap_fit("rl", units[:1])


def test_the_cross_fitted_drop_has_no_winners_curse():
    """On a curve that only rises, max - final of noisy points is biased upwards; the cross-fitted drop is not
    (it is conservative: at most the true drop in expectation)."""
    rng = np.random.default_rng(3)
    rising = np.linspace(0, 0.2, 12)
    naive, crossed = [], []
    for _ in range(4000):
        a, b = rising + rng.normal(0, 0.1, 12), rising + rng.normal(0, 0.1, 12)
        both = (a + b) / 2
        naive.append(both.max() - both[-1])
        crossed.append(crossfit_drop(a, b))
    assert np.mean(naive) > 0.03
    assert np.mean(crossed) < 3 * np.std(crossed) / np.sqrt(len(crossed))  # no upward bias: here it is <= 0
    turned = np.r_[np.linspace(0, 0.6, 6), np.linspace(0.5, -0.4, 6)]
    noisy = [crossfit_drop(turned + rng.normal(0, 0.1, 12), turned + rng.normal(0, 0.1, 12)) for _ in range(2000)]
    assert 0.8 < np.mean(noisy) <= 1.0 + 3 * np.std(noisy) / np.sqrt(len(noisy))  # true drop 1.0
    assert crossfit_drop(turned, turned) == pytest.approx(1.0)
    assert crossfit_peak(turned, turned) == pytest.approx(0.6)
    proxy = np.linspace(0, 5, 12)
    assert crossfit_rise(proxy, turned, turned) == pytest.approx(5 - proxy[5])
    with pytest.raises(ValueError, match="same non-empty length"):
        crossfit_drop([1.0, 2.0], [1.0])


def test_turn_by_replicate_reads_each_runs_evaluations():
    steps = []
    for seed in (0, 1):
        for step in range(1, 7):
            evaluated = step % 2 == 0 or step == 6
            gold = [0.1, 0.5, 0.2][step // 2 - 1] if evaluated else np.nan
            steps.append({"method": "middle", "seed": seed, "step": step, "proxy_reward": float(step),
                          "eval_gold": gold, "eval_gold_a": gold, "eval_gold_b": gold,
                          "eval_kl": float(step) if evaluated else np.nan})
    turns = turn_by_replicate(pd.DataFrame(steps), sft_gold=0.1, window=2)
    assert len(turns) == 2
    row = turns.iloc[0]
    assert row["gold_drop"] == pytest.approx(0.3) and row["peak_gold"] == pytest.approx(0.4)
    assert row["proxy_rise"] == pytest.approx(5.5 - 3.5)  # rolling means of 2 steps: at step 6 and at step 4
    assert row["peak_sqrt_kl"] == pytest.approx(2.0) and list(row["gold"]) == pytest.approx([0.0, 0.4, 0.1])

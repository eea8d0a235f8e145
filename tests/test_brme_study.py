"""Notebook 10's study helpers on hand-made numbers: head statistics, paired contrasts, the A/A floor's metrics."""
import numpy as np
import pandas as pd
import pytest

from rewardlab.brme.study import AA_ARM, head_statistics, paired_contrasts, robust_metrics


def test_head_statistics_in_sd_of_the_nominal_reward():
    mu = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0], [4.0, 5.0, 6.0], [6.0, 7.0, 8.0]])
    sigma = np.array([[0.1, 0.5, 0.5]] * 4)  # head 0 is the nominal one and also the lowest everywhere
    stats = head_statistics(mu, sigma)
    nominal_sd = mu[:, 0].std()
    assert stats["head_spread_sd"] == pytest.approx(mu.std(1).mean() / nominal_sd)
    assert stats["nominal_minus_worst_sd"] == 0.0 and stats["worst_head_is_not_nominal"] == 0.0
    assert stats["lowest_head_correlation"] == pytest.approx(1.0)
    noisy = head_statistics(mu, np.array([[0.9, 0.1, 0.5]] * 4), noisy_head=0)
    assert noisy["noisy_head_is_nominal"] == 0.0 and noisy["noisy_head_is_worst"] == 1.0
    assert noisy["nominal_minus_worst_sd"] == pytest.approx(1.0 / mu[:, 1].std())  # nominal (head 1) sits 1 above head 0


def _summary(methods: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"method": m, "seed": s, "final_gold": g, "drop": 0.01 * s, "final_naturalness_nll": 3.0}
            for m, golds in methods.items() for s, g in enumerate(golds)]
    return pd.DataFrame(rows)


def test_paired_contrasts_pair_by_seed_and_leave_out_the_baseline():
    summary = _summary({"w=1": [0.5, 0.6, 0.7], "w=0.5": [0.6, 0.8, 0.7]}).sample(frac=1, random_state=0)
    table = paired_contrasts(summary, "w=1")
    assert list(table.index) == ["w=0.5 − w=1"]
    row = table.loc["w=0.5 − w=1"]
    differences = np.array([0.1, 0.2, 0.0])
    assert row["estimate"] == pytest.approx(differences.mean()) and row["seeds"] == 3
    assert row["half-width"] == pytest.approx(4.302653 * differences.std(ddof=1) / np.sqrt(3), rel=1e-5)


def test_robust_metrics_carry_the_noise_floor_and_the_per_seed_values_the_claims_read():
    class PPO:
        steps, kl_coef = 60, 0.0

    summary = _summary({"w=1": [0.5, 0.6, 0.7], "w=0.5": [0.6, 0.8, 0.7], AA_ARM: [0.55, 0.6, 0.65]})
    noisy = _summary({"w=1": [0.4, 0.5, 0.6], "w=0.5": [0.5, 0.5, 0.6]})
    metrics = robust_metrics(summary, noisy, weights=[1.0, 0.5], ppo=PPO, heads={"head_spread_sd": 0.1})
    assert metrics["replicates"] == 3 and metrics["seed_ids"] == [0, 1, 2] and metrics["head_spread_sd"] == 0.1
    assert metrics["aa_final_gold_difference"] == pytest.approx(0.0)
    assert metrics["aa_final_gold_half_width"] == pytest.approx(4.302653 * 0.05 / np.sqrt(3), rel=1e-5)
    assert metrics["final_gold_by_seed"]["w=0.5"] == pytest.approx([0.6, 0.8, 0.7])
    assert metrics["noisy_final_gold_by_seed"]["w=1"] == pytest.approx([0.4, 0.5, 0.6])
    assert metrics["noisy_final_gold_by_arm"]["w=0.5"] == pytest.approx(1.6 / 3)

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sklearn_log_loss

from rewardlab.reward import calibration as C


def test_expected_scores_match_sklearn_on_sampled_labels():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(0.05, 0.95, 4000), rng.uniform(0, 1, 4000)
    draws = rng.uniform(size=(200, 4000)) < q  # labels drawn from q, 200 times
    sampled_brier = np.mean([brier_score_loss(y, p) for y in draws])
    sampled_log_loss = np.mean([sklearn_log_loss(y, p, labels=[0, 1]) for y in draws])
    assert C.brier_score(p, q) == pytest.approx(sampled_brier, rel=2e-3)
    assert C.log_loss(p, q) == pytest.approx(sampled_log_loss, rel=2e-3)


def test_a_calibrated_model_has_no_gap_and_an_overconfident_one_has_one():
    rng = np.random.default_rng(1)
    q = rng.uniform(0, 1, 20000)
    assert C.expected_calibration_error(q, q) == pytest.approx(0.0, abs=1e-12)  # p = q: every bin on the diagonal
    sharpened = 1 / (1 + np.exp(-3 * np.log(q / (1 - q))))  # the same ranking, three times as sure
    assert C.expected_calibration_error(sharpened, q) > 0.1
    assert C.brier_score(q, q) < C.brier_score(sharpened, q) and C.log_loss(q, q) < C.log_loss(sharpened, q)
    # a coin flip is calibrated for q = 1/2 but not for a sure labeller
    assert C.expected_calibration_error(np.full(10, 0.5), np.full(10, 0.5)) == pytest.approx(0.0)
    assert C.expected_calibration_error(np.full(10, 0.5), np.ones(10)) == pytest.approx(0.5)


def test_reliability_bins_by_top_label_confidence():
    p = np.array([0.55, 0.45, 0.95, 0.02])
    q = np.array([1.0, 1.0, 1.0, 0.0])
    bins = C.reliability(p, q, n_bins=5)
    # 0.55 and 0.45 share the bin [0.5, 0.6); the model favours a in one and b in the other, so one is right
    assert bins["count"] == [2, 2] and bins["accuracy"][0] == pytest.approx(0.5)
    assert bins["confidence"] == pytest.approx([0.55, 0.965])
    assert bins["ece"] == pytest.approx((2 * 0.05 + 2 * abs(0.965 - 1.0)) / 4)


def test_pair_probabilities():
    assert C.bradley_terry_probability(1.0, 1.0) == pytest.approx(0.5)
    assert C.gold_probability([0.5], [0.0], tau=0.1)[0] == pytest.approx(1 / (1 + np.exp(-5)))
    members_a, members_b = np.array([[2.0, 0.0]]), np.array([[0.0, 0.0]])
    assert C.ensemble_probability(members_a, members_b)[0] == pytest.approx((1 / (1 + np.exp(-2)) + 0.5) / 2)
    with pytest.raises(ValueError, match="tau must be > 0"):
        C.gold_probability([0.0], [0.0], tau=0)
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        C.ensemble_probability(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="probabilities"):
        C.brier_score([1.5], [0.5])
    with pytest.raises(ValueError, match="one length"):
        C.log_loss([0.5, 0.5], [0.5])

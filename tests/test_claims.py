"""Pre-registered claims: declarations are fixed, claims.json is recomputable from the metrics files alone."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from rewardlab.reporting import claims
from rewardlab.core import stats

RUNS = Path(__file__).resolve().parents[1] / "papermill_runs"
FIELDS = {"id", "paper", "notebook", "contrast", "metric", "n", "estimate", "low", "high", "interval_method",
          "correction", "margin", "verdict", "half_width", "n_for_margin"}


def test_declarations_are_complete_and_name_their_arms():
    ids = [c.id for c in claims.CLAIMS]
    assert len(ids) == len(set(ids))
    for claim in claims.CLAIMS:
        assert claim.margin > 0 and claim.margin_reason and claim.unit and claim.words
        assert claim.direction in stats.DIRECTIONS
        assert isinstance(claim.arm, tuple) and claim.arm  # a fixed key, never "the best" of a run
        assert not any("best" in key and key != "best_single" for key in claim.arm)
    with pytest.raises(ValueError, match="margin"):
        claims.Claim("x", "p", "w", "07_dense_reward_ppo", "a − b", "m", "higher", "seed", 0.0, "r", ("a",), ("b",))
    with pytest.raises(ValueError, match="direction"):
        claims.Claim("x", "p", "w", "07_dense_reward_ppo", "a − b", "m", "up", "seed", 0.1, "r", ("a",), ("b",))


def _scipy_interval(d, level):
    if np.std(d) == 0:
        return float(np.mean(d)), float(np.mean(d))
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(level)
    return float(ci.low), float(ci.high)


def _scipy_p(d, direction, margin):
    if direction == "equal":
        p_low = sps.ttest_1samp(d, -margin, alternative="greater").pvalue
        p_high = sps.ttest_1samp(d, margin, alternative="less").pvalue
        return min(1.0, 2 * max(p_low, p_high))
    return sps.ttest_1samp(d, 0.0).pvalue


def test_every_interval_in_claims_json_is_recomputed_from_the_metrics_files():
    records = json.loads((RUNS / "claims.json").read_text())
    assert [r["id"] for r in records] == [c.id for c in sorted(claims.CLAIMS, key=lambda c: c.notebook)]
    declared = {c.id: c for c in claims.CLAIMS}
    by_notebook = {}
    for record in records:
        assert FIELDS <= set(record), f"{record['id']} lacks {FIELDS - set(record)}"
        assert record["verdict"] != "not run", f"{record['id']}: {record.get('problem')}; the committed runs answer every claim"
        claim = declared[record["id"]]
        metrics = json.loads((RUNS / f"{claim.notebook}.metrics.json").read_text())["metrics"]
        arm = np.asarray(claims._dig(metrics, claim.arm, claim), float)
        base = claim.baseline if isinstance(claim.baseline, (int, float)) else claims._dig(metrics, claim.baseline, claim)
        d = arm - np.asarray(base, float)
        assert record["n"] == d.size and record["estimate"] == pytest.approx(d.mean())
        low, high = _scipy_interval(d, record["level"])
        assert (record["low"], record["high"]) == (pytest.approx(low), pytest.approx(high))
        assert record["half_width"] == pytest.approx((high - low) / 2)
        assert record["verdict"] == stats.verdict(low, high, claim.direction, claim.margin)
        assert record["interval_method"] == ("paired t" if np.ndim(base) else "t")
        by_notebook.setdefault(claim.notebook, []).append((record, _scipy_p(d, claim.direction, claim.margin)))
    for family in by_notebook.values():  # the levels are Holm's, from p-values recomputed here
        levels = stats.holm_levels([p for _, p in family])
        assert [r["level"] for r, _ in family] == pytest.approx(levels)


def _write(directory, notebook, metrics, smoke=False):
    (directory / f"{notebook}.metrics.json").write_text(json.dumps(
        {"notebook": notebook, "preset": "tiny", "seed": 0, "smoke": smoke, "metrics": metrics}))


def test_a_notebook_family_is_holm_corrected_and_missing_runs_say_how_to_run_them(tmp_path):
    held = {"sparse": [0.20, 0.25, 0.22, 0.30], "shap": [0.40, 0.46, 0.41, 0.52], "lime": [0.21, 0.24, 0.25, 0.29],
           "abc": [0.10, 0.14, 0.12, 0.19]}
    _write(tmp_path, "07_dense_reward_ppo", {"ppo_steps": 30, "eval_every": 5, "mean_eval_gold_by_replicate": held})
    records = {r["id"]: r for r in claims.evaluate(directory=tmp_path)}
    assert records["oracle-dense-gold"]["verdict"] == "not run"  # no oracle arms in this file: outside the family
    shap, lime, abc = records["koo-dense-shap"], records["koo-dense-lime"], records["chan-abc"]
    assert shap["verdict"] == "reproduced" and abc["verdict"] == "opposite" and lime["verdict"] in ("equivalent", "not resolved")
    assert shap["metric"].startswith("mean held-out gold: mean over the evaluations every 5 steps of 30 ")
    p = [stats.p_value(np.subtract(held[arm], held["sparse"]), "higher") for arm in ("shap", "lime", "abc")]
    assert [shap["level"], lime["level"], abc["level"]] == pytest.approx(stats.holm_levels(p))
    assert min(r["level"] for r in (shap, lime, abc)) >= 0.95 and max(r["level"] for r in (shap, lime, abc)) == pytest.approx(1 - 0.05 / 3)
    assert "Holm over the 3 primary contrasts of notebook 07" in shap["correction"]
    assert shap["estimate"] == pytest.approx(np.mean(np.subtract(held["shap"], held["sparse"])))
    assert records["koo-bo"]["verdict"] == "not run" and "--only 08" in records["koo-bo"]["problem"]
    # a run made before the metric's rename recorded it as the "AUC": read under the old name, same record
    _write(tmp_path, "07_dense_reward_ppo", {"ppo_steps": 30, "eval_every": 5, "auc_eval_gold_by_replicate": held})
    older = {r["id"]: r for r in claims.evaluate(directory=tmp_path)}
    assert {k: older["koo-dense-shap"][k] for k in ("estimate", "low", "high", "verdict")} == \
        {k: shap[k] for k in ("estimate", "low", "high", "verdict")}
    # a metrics file of an older notebook version names the missing per-seed key and the command
    _write(tmp_path, "07_dense_reward_ppo", {"ppo_steps": 30})
    problem = {r["id"]: r for r in claims.evaluate(directory=tmp_path)}["koo-dense-shap"]["problem"]
    assert "mean_eval_gold_by_replicate.shap" in problem and "--only 07" in problem
    _write(tmp_path, "07_dense_reward_ppo", {"ppo_steps": 30, "mean_eval_gold_by_replicate": {**held, "sparse": [0.2, 0.3]}})
    assert "same units" in {r["id"]: r for r in claims.evaluate(directory=tmp_path)}["koo-dense-shap"]["problem"]


def test_per_unit_keeps_seed_order_and_refuses_arms_on_other_seeds():
    frame = pd.DataFrame({"method": ["a", "b", "a", "b"], "seed": [1, 0, 0, 1], "x": [1.0, 2.0, 3.0, 4.0]})
    assert stats.per_unit(frame, "x") == {"a": [3.0, 1.0], "b": [2.0, 4.0]}
    with pytest.raises(ValueError, match="same seeds"):
        stats.per_unit(pd.concat([frame, pd.DataFrame({"method": ["b"], "seed": [2], "x": [0.0]})]), "x")


def test_claims_json_is_written_atomically_and_the_notebook_table_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path))
    _write(tmp_path, "04_bayesian_reward_ensembles",
           {"accuracy_by_seed": {"BRME nominal": [0.64, 0.66, 0.65], "Bradley–Terry (same pairs)": [0.63, 0.64, 0.66]}})
    path = claims.write_claims()
    assert path == tmp_path / "claims.json" and not list(tmp_path.glob("*.tmp*"))
    table = claims.notebook_table("04_bayesian_reward_ensembles")
    assert list(table.index) == ["yan-brme-nominal"] and table.loc["yan-brme-nominal", "n"] == 3

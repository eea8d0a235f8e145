"""benchmarks/ab_shap_estimator.py: a paired A/B of one arm, refused when any other arm moved."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ab_shap_estimator as ab  # noqa: E402


def _run(shap, sparse=(0.1, 0.2, 0.3), lime=(0.5, 0.4, 0.6), overrides=None):
    return {"commit": "abc1234", "overrides": overrides,
            "metrics": {ab.METRIC: {"shap": list(shap), "sparse": list(sparse), "lime": list(lime)}}}


def test_the_arm_is_compared_replicate_by_replicate_against_the_same_other_arms(tmp_path, capsys):
    a, b = _run([0.0, 0.1, 0.1]), _run([0.2, 0.4, 0.3], overrides={"shaping.shap_estimator": "first-last"})
    result = ab.compare(a, b, "shap", "sparse")
    assert result["shared_arms"] == ["lime", "sparse"]
    np.testing.assert_allclose(result["b_minus_a"], [0.2, 0.3, 0.2])
    assert result["effect"].estimate == pytest.approx(0.7 / 3) and result["effect"].n == 3
    assert result["effect"].low < 0.7 / 3 < result["effect"].high
    assert result["a_contrast"].estimate == pytest.approx(-0.4 / 3) and result["b_contrast"].estimate == pytest.approx(0.1)
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, run in zip(paths, (a, b)):
        path.write_text(json.dumps(run))
    assert ab.main([str(p) for p in paths]) == 0
    out = capsys.readouterr().out
    assert "shaping.shap_estimator=first-last" in out and "B - A in shap: +0.233" in out


def test_runs_that_differ_beyond_the_arm_are_no_ab():
    with pytest.raises(ValueError, match=r"differ between the runs \(\['lime'\]\)"):
        ab.compare(_run([0.0, 0.1, 0.1]), _run([0.2, 0.4, 0.3], lime=(0.5, 0.4, 0.7)), "shap", "sparse")
    with pytest.raises(ValueError, match="not in both runs"):
        ab.compare(_run([0.0, 0.1, 0.1]), _run([0.2, 0.4, 0.3]), "abc", "sparse")
    with pytest.raises(ValueError, match="pass --metric"):
        ab.per_replicate({"metrics": {}})

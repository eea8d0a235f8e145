"""benchmarks/power_budget.py: a notebook is sized to the largest n for 80% power among its claims within the cap."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import power_budget as pb  # noqa: E402


def _record(claim_id, notebook, n, n_for_power, verdict="not resolved"):
    return {"id": claim_id, "notebook": notebook, "unit": "replicate: PPO seed r", "n": n, "verdict": verdict,
            "n_for_direction": None, "n_for_power": n_for_power}


def test_notebooks_are_sized_to_their_claims_within_the_cap_and_the_rest_are_named(tmp_path, capsys):
    records = [_record("a", "07_dense", 10, 6, "reproduced"), _record("b", "07_dense", 10, 14),
               _record("c", "07_dense", 10, 64), _record("d", "11_frontier", 8, None)]
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(records + [{"id": "e", "notebook": "09_x", "verdict": "not run"}]))
    assert pb.main([str(path), "--minutes", "7=20,11=40,9=5"]) == 0
    out = capsys.readouterr().out
    assert "| `a` | `07` | replicate | 10 | reproduced | — | 6 |" in out
    assert "| `07` | 10 | 20.0 | 14 | 28.0 | `c` (64) |" in out  # 14 of the claims within 20 units; c is beyond
    assert "| `11` | 8 | 40.0 | 8 | 40.0 | `d` (—) |" in out  # no claim within the cap: the units stay
    assert "| `09` | — | 5.0 | no claims | 5.0 | |" in out and "| **all** | | **65.0** | | **73.0** | |" in out
    with pytest.raises(ValueError, match="write NN=minutes"):
        pb.parse_minutes("07:20")

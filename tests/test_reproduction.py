"""The reproduction report: a run compared with the committed one, metric by metric and verdict by verdict."""

import json

from rewardlab.core.artifacts import repo_root
from rewardlab.reporting.reproduction import (committed, compare_runs, leaves, reproduction_report,
                                              verdict_changes)

RUN = {"preset": "tiny", "smoke": False, "commit": "aaa", "library_hash": "h", "notebook_hash": "n",
       "versions": {"world": 3}, "cpu_kernels": "AVX2", "cpu_threads": "2",
       "metrics": {"gold": 0.25, "by_seed": [0.1, 0.2, float("nan")], "table": {"a": {"b": 1}}, "label": "x",
                   "train_seconds": 12.0, "minutes": 3.0, "seconds_by_seed": [1.0, 2.0]}}


def test_leaves_flatten_nested_dicts_and_lists():
    assert leaves({"a": [1, {"b": 2}], "c": 3}) == {"a/0": 1, "a/1/b": 2, "c": 3}


def test_an_identical_run_reproduces_every_metric_and_timings_are_left_out():
    same = compare_runs("01", RUN, json.loads(json.dumps(RUN)))  # NaN survives the round trip and counts as equal
    assert (same.equal, same.differ, same.timings) == (6, [], 4) and same.provenance == []


def test_differences_are_counted_and_sized_and_their_provenance_named():
    moved = {**RUN, "library_hash": "other", "commit": "bbb", "versions": {"world": 4}, "cpu_threads": "16",
             "metrics": {**RUN["metrics"], "gold": 0.75, "by_seed": [0.1, 0.2, 0.3], "label": "y", "new": 1}}
    del moved["metrics"]["table"]
    comparison = compare_runs("01", RUN, moved)
    assert comparison.equal == 2 and {key for key, _, _ in comparison.differ} == {"gold", "by_seed/2", "label"}
    assert comparison.only_reference == ["table/a/b"] and comparison.only_run == ["new"]
    assert comparison.largest(1) == ["`gold` 0.25 → 0.75"]  # NaN → 0.3 has no size: listed after the numbers
    assert "library code differs (commit aaa → bbb)" in comparison.provenance and "world 3 → 4" in comparison.provenance
    assert "torch threads 2 → 16" in comparison.provenance


def test_no_reference_is_said_not_guessed(tmp_path):
    assert compare_runs("01", None, RUN).compared == 0
    assert committed(tmp_path / "nowhere.json") is None  # outside the repository
    (tmp_path / "01_x.metrics.json").write_text(json.dumps(RUN))
    text, numbers = reproduction_report(tmp_path, ["01_x", "02_y"])
    assert "| 01_x | no committed reference |" in text and "| 02_y | no run |" in text
    assert numbers["01_x"] is None and numbers["verdict_changes"] is None


def test_the_committed_reference_is_heads_copy():
    path = repo_root() / "papermill_runs" / "claims.json"
    assert json.loads(committed(path))[0]["id"] and committed(repo_root() / "papermill_runs" / "not-a-file") is None


def test_verdict_changes_name_the_claim_and_both_verdicts():
    old = [{"id": "a", "notebook": "01", "verdict": "reproduced"}, {"id": "b", "notebook": "01", "verdict": "opposite"},
           {"id": "c", "notebook": "02", "verdict": "opposite"}]
    new = [{"id": "a", "notebook": "01", "verdict": "not resolved"}, {"id": "b", "notebook": "01", "verdict": "opposite"},
           {"id": "c", "notebook": "02", "verdict": "reproduced"}]
    assert verdict_changes(old, new, {"01"}) == ["a: reproduced → not resolved"]
    assert verdict_changes(old, new[:1], {"01"}) == ["a: reproduced → not resolved", "b: opposite → (no claim)"]
    assert verdict_changes(None, new, {"01"}) == []

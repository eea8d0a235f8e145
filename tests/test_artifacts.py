import json
import os

import pytest

from rewardlab.core import artifacts
from rewardlab.core.presets import load_preset

PRESET = load_preset("tiny")


def _builder(calls, content="weights"):
    def build(folder):
        calls.append(folder)
        (folder / "model.bin").write_text(content)
        (folder / "sub").mkdir()
        (folder / "sub" / "log.json").write_text("{}")
    return build


def test_builds_once_then_reuses(isolated_artifacts):
    calls = []
    first = artifacts.cached(PRESET, "thing", {"a": 1}, _builder(calls))
    second = artifacts.cached(PRESET, "thing", {"a": 1}, _builder(calls))
    assert first == second and len(calls) == 1
    assert first.parent == isolated_artifacts / "tiny" and first.name.startswith("thing-")
    assert (first / artifacts.MANIFEST).exists()
    other = artifacts.cached(PRESET, "thing", {"a": 2}, _builder(calls))
    assert other != first and len(calls) == 2
    assert artifacts.cached(PRESET, "thing", {"a": 1}, _builder(calls), version=2) != first


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete_file", "delete_manifest", "garble_manifest"])
def test_corrupted_entry_is_detected_and_rebuilt(damage):
    calls = []
    path = artifacts.cached(PRESET, f"corrupt-{damage}", {}, _builder(calls))
    target = path / "model.bin"
    if damage == "truncate":
        target.write_text("wei")
    elif damage == "alter":
        target.write_text("WEIGHTS")
    elif damage == "delete_file":
        target.unlink()
    elif damage == "delete_manifest":
        (path / artifacts.MANIFEST).unlink()
    else:
        (path / artifacts.MANIFEST).write_text("{not json")
    assert artifacts.verify(path) is not None
    with pytest.warns(UserWarning, match="corrupted"):
        rebuilt = artifacts.cached(PRESET, f"corrupt-{damage}", {}, _builder(calls))
    assert rebuilt == path and len(calls) == 2
    assert target.read_text() == "weights" and artifacts.verify(path) is None


def test_failed_build_leaves_nothing_behind(isolated_artifacts):
    def broken(folder):
        (folder / "half.bin").write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        artifacts.cached(PRESET, "broken", {}, broken)
    leftovers = [p.name for p in (isolated_artifacts / "tiny").iterdir() if "broken" in p.name]
    assert leftovers == []


def test_stale_temporary_build_of_a_dead_process_is_removed(isolated_artifacts):
    key = artifacts.entry_key({}, 1)
    stale = isolated_artifacts / "tiny" / f".tmp-stale-{key}-999999999-abcd1234"
    stale.mkdir(parents=True)
    artifacts.cached(PRESET, "stale", {}, _builder([]))
    assert not stale.exists()


def test_atomic_write_text_leaves_no_temporary_file(tmp_path):
    path = artifacts.atomic_write_text(tmp_path / "x" / "metrics.json", json.dumps({"a": 1}))
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(path.parent) == ["metrics.json"]


def test_the_checkout_is_found_from_any_working_directory(monkeypatch, tmp_path):
    """A bench run from benchmarks/ caches into the checkout's artifacts/, not into benchmarks/artifacts/."""
    from rewardlab.core.artifacts import repo_root

    monkeypatch.delenv("REWARDLAB_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert (repo_root() / "pyproject.toml").exists() and (repo_root() / "lib" / "rewardlab").is_dir()

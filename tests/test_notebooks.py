"""Every notebook runs end to end in smoke mode through the same runner as `make reproduce`."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from rewardlab.reporting.claims import CLAIMS, evaluate
from rewardlab.reproduce import NotebookFailed, discover, notebooks_dir, run_notebook

NOTEBOOKS = discover()


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["01_review_world_and_sft.ipynb"]


@pytest.mark.parametrize("argv, names", [(["--only", "42"], "no notebook numbered 42; available: 01"),
                                         (["--preset", "huge"], "unknown preset 'huge'; valid presets:"),
                                         (["--set", "shaping.shap_estimator=first-position"],
                                          "runs with --set are not the preset's runs; give them a folder"),
                                         (["--set", "shaping.estimator=first-last", "--output-dir", "x"],
                                          "unknown preset override 'shaping.estimator'"),
                                         (["--set", "=3", "--output-dir", "x"], "--set '=3': write FIELD=VALUE")])
def test_reproduce_answers_bad_input_in_one_line(argv, names, capsys):
    from rewardlab.reproduce import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"[reproduce] {names}") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_clean(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "tag a 'parameters' cell"
    assert "**OVERRIDES)" in "".join(c.source for c in nb.cells), "pass OVERRIDES to load_preset (reproduce --set)"


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode(notebook, tmp_path, capfd):
    out = run_notebook(notebook, preset="tiny", smoke=True, output_dir=tmp_path / "runs",
                       figures_dir=tmp_path / "figures")
    text = out.read_text()
    assert not re.search(r'"/(work|root|tmp|home)/', text), "executed copy holds an absolute path"
    # no library chatter: neither weight-loading bars in the executed copy nor a kernel's (or its forked
    # workers') logged messages on the terminal that runs it
    assert "send message from fork" not in capfd.readouterr().err
    assert "Loading weights" not in text
    metrics = json.loads((tmp_path / "runs" / f"{notebook.stem}.metrics.json").read_text())
    assert metrics["smoke"] is True and metrics["metrics"]
    assert list((tmp_path / "figures").glob(f"{notebook.name[:2]}_*.png"))
    # the notebook records the per-seed values of every arm its declared claims read
    own = [c for c in CLAIMS if c.notebook == notebook.stem]
    for record in evaluate(own, tmp_path / "runs"):
        assert record["verdict"] != "not run", record["problem"]
        assert record["n"] >= 2 and record["verdict"] in ("reproduced", "opposite", "equivalent", "not resolved")
    assert metrics["notebook_hash"] and metrics["library_hash"]  # the run names the cells and code that made it
    if notebook.name.startswith("01_"):  # notebook 01's headline numbers
        for key in ["vocab_size", "n_train_reviews", "sft_final_loss", "gold_mean_demos", "gold_mean_sft",
                    "nll_sft_on_test"]:
            assert metrics["metrics"][key] is not None, key
        assert metrics["metrics"]["vocab_size"] >= 700


def test_failure_names_the_notebook_and_cell_and_keeps_partial_output(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("PRESET = 'tiny'\nSMOKE = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('first cell ran')"),
                nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(NotebookFailed) as info:
        run_notebook(source, output_dir=tmp_path / "runs", figures_dir=tmp_path / "figs")
    message = str(info.value)
    assert "99_broken.ipynb" in message and "ValueError: broken on purpose" in message and "cell" in message
    partial = (tmp_path / "runs" / "99_broken.ipynb").read_text()
    assert "first cell ran" in partial


def test_discover_filters_and_reports_unknown_numbers():
    assert [p.name[:2] for p in discover("01")] == ["01"]
    with pytest.raises(ValueError, match="no notebook numbered 42"):
        discover("42")


def test_reproduce_skips_finished_notebooks_whose_code_is_unchanged(tmp_path, monkeypatch, capsys):
    """A run this machine finished, from the same cells, library code, request and versions, is skipped; a
    committed run alone (no record of this machine's), an edited notebook, another preset, an untraced run or
    --force runs it again."""
    import shutil

    from rewardlab import reproduce
    from rewardlab.core.artifacts import artifacts_root
    from rewardlab.core.provenance import loaded_modules, notebook_source_hash, source_hash
    from rewardlab.core.versions import current_versions

    source = notebooks_dir() / "01_review_world_and_sft.ipynb"
    notebooks, runs = tmp_path / "notebooks", tmp_path / "runs"
    notebooks.mkdir(), runs.mkdir()
    notebook = Path(shutil.copy(source, notebooks / source.name))
    modules = loaded_modules()
    finished = {"preset": "tiny", "smoke": False, "versions": current_versions(), "library_modules": modules,
                "library_hash": source_hash(modules), "commit": "abc", "notebook_hash": notebook_source_hash(notebook)}
    metrics = runs / f"{notebook.stem}.metrics.json"
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("not run on this machine yet")
    (runs / notebook.name).write_text("{}")
    metrics.write_text(json.dumps(finished))
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("not run on this machine yet")  # committed only
    reproduce.note_finished(notebook, runs, "tiny", False)
    assert reproduce.why_run(notebook, runs, "tiny", False) is None
    assert "preset 'tiny'" in reproduce.why_run(notebook, runs, "quick", False)
    assert "smoke=False" in reproduce.why_run(notebook, runs, "tiny", True)
    assert reproduce.record_path(runs).is_relative_to(artifacts_root())
    metrics.write_text(json.dumps({**finished, "notebook_hash": None}))
    assert reproduce.why_run(notebook, runs, "tiny", False) == "its run does not record its code"
    metrics.write_text(json.dumps({**finished, "versions": {**finished["versions"], "world": -1}}))
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("world v-1 (now v")
    metrics.write_text(json.dumps({**finished, "library_hash": "0" * 64}))
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("library code changed since commit abc")
    metrics.write_text(json.dumps(finished))
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].source += "\nAn edited sentence."  # prose: the run stands
    nbformat.write(nb, notebook)
    assert reproduce.why_run(notebook, runs, "tiny", False) is None
    code = next(c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []))
    code.source += "\nprint('an edited line')"
    nbformat.write(nb, notebook)
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("notebook changed since commit abc")
    # main skips the up-to-date notebook and runs it with --force
    metrics.write_text(json.dumps({**finished, "notebook_hash": notebook_source_hash(notebook)}))
    assert reproduce.why_run(notebook, runs, "tiny", False).startswith("its run is not the one this machine finished")
    reproduce.note_finished(notebook, runs, "tiny", False)
    ran = []
    monkeypatch.setattr(reproduce, "discover", lambda only=None: [notebook])
    monkeypatch.setattr(reproduce, "run_notebook", lambda nb, *args, **kwargs: ran.append(nb.name) or runs / nb.name)
    monkeypatch.setattr(reproduce, "write_summary", lambda *args, **kwargs: runs / "SUMMARY.md")
    assert reproduce.main(["--output-dir", str(runs), "--figures-dir", str(tmp_path / "figures")]) == 0
    assert ran == [] and "up to date, skipped" in capsys.readouterr().out
    assert reproduce.main(["--force", "--output-dir", str(runs), "--figures-dir", str(tmp_path / "figures")]) == 0
    assert ran == [notebook.name]
    # an A/B run of one field is another request: its overrides reach the notebook and the record
    given = []
    monkeypatch.setattr(reproduce, "run_notebook", lambda nb, *args, **kwargs: given.append(kwargs) or runs / nb.name)
    assert "set {}, not {'shaping.replicates': 3}" in reproduce.why_run(notebook, runs, "tiny", False,
                                                                       {"shaping.replicates": 3})
    assert reproduce.main(["--set", "shaping.replicates=3", "--set", "shaping.shap_estimator=first-position",
                           "--output-dir", str(runs)]) == 0
    assert given == [{"parameters": {"OVERRIDES": {"shaping.replicates": 3, "shaping.shap_estimator": "first-position"}}}]
    assert reproduce.read_record(runs)[notebook.stem]["overrides"] == {"shaping.replicates": 3,
                                                                       "shaping.shap_estimator": "first-position"}
    report = (runs / "REPRODUCTION.md").read_text()  # a folder the repository does not track: no reference
    assert "| 01_review_world_and_sft | no committed reference |" in report and report in capsys.readouterr().out


def test_smoke_runs_and_runs_into_a_folder_of_ones_own_never_touch_the_committed_figures(tmp_path, monkeypatch):
    """A smoke run (any preset) goes to smoke_runs/, and a run given --output-dir keeps its figures in DIR/png:
    trying the collection out must not overwrite papermill_runs/ or figures/."""
    from rewardlab import reproduce

    runs, figures = reproduce.default_dirs("tiny", smoke=True)
    assert runs.name == reproduce.SMOKE_RUNS and figures == runs / "png"
    assert reproduce.default_dirs("powered", smoke=True)[0].name == reproduce.SMOKE_RUNS
    assert reproduce.default_dirs("powered")[0].name == "powered_runs"
    calls = []
    monkeypatch.setattr(reproduce, "discover", lambda only=None: [Path("notebooks/01_review_world_and_sft.ipynb")])
    monkeypatch.setattr(reproduce, "why_run", lambda *args, **kwargs: "a test")
    monkeypatch.setattr(reproduce, "run_notebook", lambda nb, preset, smoke, out, figs, **kw: calls.append((out, figs)))
    monkeypatch.setattr(reproduce, "note_finished", lambda *args, **kwargs: None)
    monkeypatch.setattr(reproduce, "write_summary", lambda folder, **kwargs: folder / "SUMMARY.md")
    monkeypatch.setattr(reproduce, "reproduction_report", lambda folder, stems: ("report", None))
    mine = tmp_path / "mine"
    assert reproduce.main(["--smoke", "--output-dir", str(mine)]) == 0
    assert calls[-1] == (mine, mine / "png")
    assert reproduce.main(["--output-dir", str(mine), "--figures-dir", str(tmp_path / "f")]) == 0
    assert calls[-1] == (mine, tmp_path / "f")


def test_the_quick_tier_has_its_own_folder_and_says_its_verdicts_are_underpowered(tmp_path):
    from rewardlab.core.presets import load_preset
    from rewardlab.reporting import summary
    from rewardlab.reproduce import QUICK_RUNS, default_dirs

    runs, figures = default_dirs("quick")
    assert runs.name == QUICK_RUNS and figures.parent == runs and default_dirs("tiny")[0].name == "papermill_runs"
    quick, tiny = load_preset("quick"), load_preset("tiny")
    assert quick.world == tiny.world and quick.rcfd.seeds < tiny.rcfd.seeds  # the same world, smaller studies
    metrics = {"largest_budget": 2000, "largest_budget_accuracy_by_seed": {"tree": [0.62, 0.63], "chain": [0.58, 0.60]},
               "ppo_win_rate_tree_over_chain_by_seed": [0.40, 0.42], "eval_prompts": 100, "ppo_steps": 60}
    for preset, banner in (("tiny", False), ("quick", True)):
        (tmp_path / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
            {"notebook": "03_tree_structured_preferences", "preset": preset, "seed": 0, "smoke": False,
             "metrics": metrics}))
        text = summary.write_summary(tmp_path).read_text()
        assert (summary.UNDERPOWERED_NOTE in text) is banner, preset


def test_prose_corrected_after_a_run_reaches_the_executed_copy_without_a_rerun(tmp_path):
    from rewardlab.reproduce import sync_prose

    nb = nbformat.read(notebooks_dir() / "01_review_world_and_sft.ipynb", as_version=4)
    executed = nbformat.from_dict(json.loads(json.dumps(nb)))
    executed.cells.insert(1, nbformat.v4.new_code_cell("PRESET = 'tiny'", metadata={"tags": ["injected-parameters"]}))
    source, run = tmp_path / "01.ipynb", tmp_path / "01_run.ipynb"
    prose = next(c for c in nb.cells if c.cell_type == "markdown")
    prose.source += "\nA corrected reading."
    nbformat.write(nb, source), nbformat.write(executed, run)
    assert sync_prose(source, run) == 1 and sync_prose(source, run) == 0
    assert "A corrected reading." in run.read_text()
    next(c for c in nb.cells if c.cell_type == "code").source += "\nx = 1"
    nbformat.write(nb, source)
    with pytest.raises(ValueError, match="code cells differ.*re-run it"):
        sync_prose(source, run)

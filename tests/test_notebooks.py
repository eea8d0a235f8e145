"""Every notebook runs end to end in smoke mode through the same runner as `make reproduce`."""

import json
import re

import nbformat
import pytest

from rewardlab.reporting.claims import CLAIMS, evaluate
from rewardlab.reproduce import NotebookFailed, discover, notebooks_dir, run_notebook

NOTEBOOKS = discover()


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["01_review_world_and_sft.ipynb"]


@pytest.mark.parametrize("argv, names", [(["--only", "42"], "no notebook numbered 42; available: 01"),
                                         (["--preset", "huge"], "unknown preset 'huge'; valid presets:")])
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


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode(notebook, tmp_path):
    out = run_notebook(notebook, preset="tiny", smoke=True, output_dir=tmp_path / "runs",
                       figures_dir=tmp_path / "figures")
    text = out.read_text()
    assert not re.search(r'"/(work|root|tmp|home)/', text), "executed copy holds an absolute path"
    metrics = json.loads((tmp_path / "runs" / f"{notebook.stem}.metrics.json").read_text())
    assert metrics["smoke"] is True and metrics["metrics"]
    assert list((tmp_path / "figures").glob(f"{notebook.name[:2]}_*.png"))
    # the notebook records the per-seed values of every arm its declared claims read
    own = [c for c in CLAIMS if c.notebook == notebook.stem]
    for record in evaluate(own, tmp_path / "runs"):
        assert record["verdict"] != "not run", record["problem"]
        assert record["n"] >= 2 and record["verdict"] in ("reproduced", "opposite", "equivalent", "not resolved")


def test_notebook_01_records_its_headline_numbers(tmp_path):
    run_notebook(notebooks_dir() / "01_review_world_and_sft.ipynb", smoke=True,
                 output_dir=tmp_path, figures_dir=tmp_path)
    metrics = json.loads((tmp_path / "01_review_world_and_sft.metrics.json").read_text())["metrics"]
    for key in ["vocab_size", "n_train_reviews", "sft_final_loss", "gold_mean_demos", "gold_mean_sft",
                "nll_sft_on_test"]:
        assert metrics[key] is not None, key
    assert metrics["vocab_size"] >= 700


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

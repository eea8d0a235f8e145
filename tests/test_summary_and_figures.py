"""SUMMARY.md is computed from the metrics files; `make figures` redraws PNGs from the saved figure sources."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rewardlab import figures, summary  # noqa: E402
from rewardlab.plots import save_figure  # noqa: E402


def test_the_verdict_rule():
    assert summary.verdict(0.2, 0.1) == "**reproduced**"
    assert summary.verdict(-0.2, 0.1) == "**opposite**"
    assert summary.verdict(0.05, 0.1).startswith("not resolved")
    assert summary.verdict(-0.2, 0.1, higher=False) == "**reproduced**"  # a claim that something is lower
    assert summary.verdict(0.2, float("nan")).startswith("not resolved")
    assert summary.match_verdict(0.05, 0.1) == "**consistent**"
    assert summary.match_verdict(-0.3, 0.1) == "**missed** (below the target)"
    assert summary.unpaired(1.0, 0.3, 0.5, 0.4) == (0.5, pytest.approx(0.5))


def test_summary_rows_come_from_the_metrics_files_and_missing_runs_say_how_to_run_them(tmp_path):
    metrics = {"tree_vs_chain_accuracy": {"500": {"chain": 0.5, "tree": 0.52}, "1000": {"chain": 0.55, "tree": 0.61}},
               "budgets": [500, 1000], "n_seeds": 3, "tree_minus_chain_accuracy_pooled": 0.04,
               "tree_minus_chain_accuracy_pooled_ci95": 0.01, "tree_over_chain_win_rate": 0.47,
               "tree_over_chain_win_rate_ci95": 0.02}
    (tmp_path / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
        {"notebook": "03_tree_structured_preferences", "preset": "tiny", "seed": 0, "smoke": False, "metrics": metrics}))
    out = summary.write_summary(tmp_path)
    text = out.read_text()
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| Qiu")}
    accuracy = next(v for k, v in rows.items() if "equal labelling budget" in k)
    assert "+0.040 ± 0.010" in accuracy and "(at 1000 pairs: tree 0.610, chain 0.550)" in accuracy
    assert accuracy.endswith("| **reproduced** |")
    assert next(v for k, v in rows.items() if "65%" in k).endswith("| **opposite** |")  # 47% ± 2% < 50%
    assert "not run: `python -m rewardlab.reproduce --only 06`" in text
    assert "Presets of these runs: `tiny`" in text and not list(tmp_path.glob(".*tmp"))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- claims-table:start -->\nold table\n<!-- claims-table:end -->\nafter\n")
    summary.write_summary(tmp_path, readme=readme)
    page = readme.read_text()
    assert page.startswith("intro\n") and page.endswith("after\n") and "old table" not in page and accuracy in page
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        summary.write_summary(tmp_path, readme=readme)
    # a metrics file from an older notebook version names the missing metric instead of failing
    del metrics["tree_over_chain_win_rate"]
    (tmp_path / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
        {"notebook": "03", "preset": "tiny", "seed": 0, "smoke": True, "metrics": metrics}))
    text = summary.render(tmp_path)
    assert "metric 'tree_over_chain_win_rate' missing: re-run notebook 03" in text and "(smoke sizes" in text


def test_figures_are_redrawn_from_their_saved_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REWARDLAB_FIGURES_DIR", str(tmp_path / "figs"))
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [2, 0, 1], label="a line")
    ax.legend()
    png = save_figure(fig, "06_dense_reward_ppo", "a_line")
    plt.close(fig)
    source = tmp_path / "runs" / "figures" / "06_a_line.pickle"
    assert png == tmp_path / "figs" / "06_a_line.png" and source.exists()
    first = plt.imread(png)
    png.unlink()
    assert figures.main([]) == 0
    again = plt.imread(png)
    assert again.shape == first.shape and abs(again - first).max() < 1e-6  # the same picture, from the source
    assert (tmp_path / "runs" / "SUMMARY.md").exists()
    with pytest.raises(FileNotFoundError):
        figures.redraw(only=["07"])  # --only filters by notebook number: notebook 07 saved nothing here
    source.write_bytes(b"not a pickle")
    with pytest.raises(RuntimeError, match=r"06_a_line.pickle.*--only 06"):
        figures.redraw()
    (source.parent / "06_a_line.pickle").unlink()
    assert figures.main([]) == 1  # nothing saved: says to run make reproduce


def test_redraw_with_nothing_saved_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce"):
        figures.redraw(tmp_path, tmp_path)

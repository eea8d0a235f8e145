"""SUMMARY.md is computed from the metrics files; `make figures` redraws PNGs from the saved figure sources."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rewardlab.reporting import figures
from rewardlab.reporting import summary  # noqa: E402
from rewardlab.reporting.figures import save_figure  # noqa: E402


def test_summary_rows_come_from_claims_json_and_missing_runs_say_how_to_run_them(tmp_path):
    metrics = {"largest_budget": 2000, "largest_budget_accuracy_by_seed": {"tree": [0.62, 0.63, 0.61, 0.64],
                                                                           "chain": [0.58, 0.60, 0.57, 0.61]},
               "ppo_win_rate_tree_over_chain_by_seed": [0.40, 0.42, 0.41, 0.43], "eval_prompts": 100, "ppo_steps": 60,
               "heldout_pairs": 6000}
    (tmp_path / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
        {"notebook": "03_tree_structured_preferences", "preset": "tiny", "seed": 0, "smoke": False, "metrics": metrics}))
    out = summary.write_summary(tmp_path)
    records = {r["id"]: r for r in json.loads((tmp_path / "claims.json").read_text())}
    text = out.read_text()
    rows = {line.split(" | ")[3].split(";")[0]: line for line in text.splitlines() if line.startswith("| Qiu")}
    accuracy = rows["tree − chain reward model"]
    tree = records["qiu-tree-accuracy"]
    assert f"{tree['estimate']:+.3f} [{tree['low']:+.3f}, {tree['high']:+.3f}]" in accuracy
    assert "paired t, 97.5%" in accuracy or "paired t, 95.0%" in accuracy
    assert "largest budget (2000 pairs)" in accuracy and accuracy.endswith("| **reproduced** |")
    assert next(v for v in rows.values() if "65%" in v).endswith("| **opposite** |")  # 41-43% < 50%
    assert "not run: `python -m rewardlab.reproduce --only 07`" in text
    not_run = next(line for line in text.splitlines() if "| `07` |" in line)  # no run to fill its sizes from
    assert "{" not in not_run and "every … steps" in not_run
    assert "Presets of these runs: `tiny`" in text and not list(tmp_path.glob(".*tmp"))
    assert "| `qiu-tree-win-rate` | 0.015 | a tenth of the paper's 15-point margin" in text
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- claims-table:start -->\nold table\n<!-- claims-table:end -->\nafter\n")
    summary.write_summary(tmp_path, readme=readme)
    page = readme.read_text()
    assert page.startswith("intro\n") and page.endswith("after\n") and "old table" not in page
    row = next(line for line in page.splitlines() if "| tree − chain reward model;" in line)
    assert row.endswith(f"| **reproduced** {tree['estimate']:+.3f} [{tree['low']:+.3f}, {tree['high']:+.3f}], "
                        f"n = {tree['n']} (made with earlier code) |")  # its metrics file records no versions
    assert "this run: verdict" in page  # a folder of its own: one column
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        summary.write_summary(tmp_path, readme=readme)
    # a metrics file from an older notebook version names the missing per-seed values instead of failing
    del metrics["ppo_win_rate_tree_over_chain_by_seed"]
    (tmp_path / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
        {"notebook": "03", "preset": "tiny", "seed": 0, "smoke": True, "metrics": metrics}))
    text = summary.write_summary(tmp_path).read_text()
    assert "ppo_win_rate_tree_over_chain_by_seed: missing from 03_tree_structured_preferences.metrics.json" in text
    assert "(smoke sizes" in text


def test_the_readme_shows_the_deciding_tier_beside_the_study_tier(tmp_path, monkeypatch):
    """Summarising either of the repository's tiers rewrites the README's table with both columns; a tier without
    runs says which command makes them."""
    from rewardlab.core.versions import current_versions

    monkeypatch.setattr(summary, "repo_root", lambda: tmp_path)
    (tmp_path / "notebooks").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("<!-- claims-table:start -->\n<!-- claims-table:end -->\n")
    study, powered = tmp_path / "papermill_runs", tmp_path / "powered_runs"
    for folder, preset, tree in ((study, "tiny", [0.60, 0.61, 0.59]), (powered, "powered", [0.64, 0.65, 0.66, 0.64, 0.65])):
        folder.mkdir()
        chain = [t - d for t, d in zip(tree, [0.04, 0.05, 0.06, 0.05, 0.05])] if preset == "powered" else tree[::-1]
        (folder / "03_tree_structured_preferences.metrics.json").write_text(json.dumps(
            {"notebook": "03_tree_structured_preferences", "preset": preset, "seed": 0, "smoke": False,
             "versions": current_versions(),
             "metrics": {"largest_budget": 4000, "heldout_pairs": 6000,
                         "largest_budget_accuracy_by_seed": {"tree": tree, "chain": chain}}}))
    assert summary.repository_readme(study) == readme and summary.repository_readme(tmp_path) is None
    summary.write_summary(study, readme=summary.repository_readme(study))
    row = next(line for line in readme.read_text().splitlines() if "| tree − chain reward model;" in line)
    assert "| not run: `python -m rewardlab.reproduce --preset powered --only 03` | not resolved " in row
    summary.write_summary(powered, readme=readme)
    page = readme.read_text()
    head = next(line for line in page.splitlines() if line.startswith("| paper"))
    assert head.index("deciding run (preset powered)") < head.index("study tier (preset tiny)")
    row = next(line for line in page.splitlines() if "| tree − chain reward model;" in line)
    assert "| **reproduced** +0.050 [" in row and ", n = 5 | not resolved " in row and row.endswith("n = 3 |")
    assert "| not run: `python -m rewardlab.reproduce --preset tiny --only 07` |" in page  # no study run of 07


def test_summary_flags_runs_made_with_an_earlier_world_or_reward_model(tmp_path):
    from rewardlab.core.versions import current_versions

    metrics = {"largest_budget": 2000, "largest_budget_accuracy_by_seed": {"tree": [0.6, 0.61], "chain": [0.6, 0.6]}}
    for stem, versions in (("03_tree_structured_preferences", current_versions()),
                           ("04_bayesian_reward_ensembles", {**current_versions(), "reward_model": 1}),
                           ("05_token_attribution", None)):
        payload = {"notebook": stem, "preset": "tiny", "seed": 0, "smoke": False, "metrics": metrics}
        if versions is not None:
            payload["versions"] = versions
        (tmp_path / f"{stem}.metrics.json").write_text(json.dumps(payload))
    assert [stem for stem, _ in summary.outdated_runs(tmp_path)] == ["04_bayesian_reward_ensembles", "05_token_attribution"]
    text = summary.write_summary(tmp_path).read_text()
    now = current_versions()["reward_model"]
    assert f"| `04_bayesian_reward_ensembles` | reward_model v1 (now v{now}) |" in text
    assert "| `05_token_attribution` | recorded before versions were" in text
    rows = [line for line in text.splitlines() if line.startswith("| Qiu") or line.startswith("| Yan")]
    assert all("`03` |" in r for r in rows if "Qiu" in r) and any("`04` (made with earlier code)" in r for r in rows)


def test_a_brme_bump_flags_only_the_notebooks_built_on_the_brme(tmp_path):
    from rewardlab.core.versions import current_versions

    older = {**current_versions(), "brme": current_versions()["brme"] - 1}
    for stem in ("03_tree_structured_preferences", "04_bayesian_reward_ensembles", "10_reward_robust_rlhf"):
        (tmp_path / f"{stem}.metrics.json").write_text(json.dumps(
            {"notebook": stem, "preset": "tiny", "seed": 0, "smoke": False, "metrics": {}, "versions": older}))
    assert [stem for stem, _ in summary.outdated_runs(tmp_path)] == ["04_bayesian_reward_ensembles",
                                                                      "10_reward_robust_rlhf"]


def test_figures_are_redrawn_from_their_saved_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REWARDLAB_FIGURES_DIR", str(tmp_path / "figs"))
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [2, 0, 1], label="a line")
    ax.legend()
    png = save_figure(fig, "07_dense_reward_ppo", "a_line")
    plt.close(fig)
    source = tmp_path / "runs" / "figures" / "07_a_line.pickle"
    assert png == tmp_path / "figs" / "07_a_line.png" and source.exists()
    first = plt.imread(png)
    png.unlink()
    assert figures.main([]) == 0
    again = plt.imread(png)
    assert again.shape == first.shape and abs(again - first).max() < 1e-6  # the same picture, from the source
    assert (tmp_path / "runs" / "SUMMARY.md").exists()
    with pytest.raises(FileNotFoundError):
        figures.redraw(only=["08"])  # --only filters by notebook number: notebook 08 saved nothing here
    source.write_bytes(b"not a pickle")
    with pytest.raises(RuntimeError, match=r"07_a_line.pickle.*--only 07"):
        figures.redraw()
    (source.parent / "07_a_line.pickle").unlink()
    assert figures.main([]) == 1  # nothing saved: says to run make reproduce


def test_redraw_with_nothing_saved_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce"):
        figures.redraw(tmp_path, tmp_path)


def test_a_claim_the_deciding_tier_has_not_run_takes_its_contrast_from_the_tier_that_ran_it(tmp_path):
    """A tier's claims.json holds every declared claim; one it has not run has no sizes to fill its contrast with."""
    base = {"id": "qiu-tree-accuracy", "paper": "Qiu et al. 2024", "claim": "tree beats chain",
            "notebook": "03_tree_structured_preferences", "metric": "held-out accuracy"}
    powered = [{**base, "verdict": "not run", "contrast": "tree − chain at {largest_budget} pairs"}]
    study = [{**base, "verdict": "not resolved", "contrast": "tree − chain at 6000 pairs", "estimate": -0.03,
              "low": -0.1, "high": 0.05, "n": 4}]
    (tmp_path / "p").mkdir(), (tmp_path / "s").mkdir()
    lines = summary.tiers_table([("deciding", tmp_path / "p", "powered", powered), ("study", tmp_path / "s", "tiny", study)])
    assert "| tree − chain at 6000 pairs; held-out accuracy | not run: `python -m rewardlab.reproduce --preset powered " \
           "--only 03` | not resolved -0.030 [-0.100, +0.050], n = 4 |" in lines[2]

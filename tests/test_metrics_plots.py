import json
import re

import matplotlib
import numpy as np
import pytest

from rewardlab.core.presets import load_preset
from rewardlab.reporting.metrics import load_metrics, record_metrics
from rewardlab.reporting.figures import save_figure
from rewardlab.shaping.views import credit_html

matplotlib.use("Agg")


def test_record_metrics_writes_json(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path))
    preset = load_preset("tiny", seed=3)
    path = record_metrics("01_review_world_and_sft", preset,
                          {"a": np.float32(0.5), "b": float("nan"), "c": np.arange(3), "d": {"n": np.int64(4)}})
    data = json.loads(path.read_text())
    assert data["seed"] == 3 and data["preset"] == "tiny"
    assert "rewardlab.reporting.metrics" in data["library_modules"] and re.fullmatch(r"code1:[0-9a-f]{64}", data["library_hash"])
    assert "commit" in data and data["cpu_kernels"]  # commit: None outside a git checkout
    assert data["metrics"] == {"a": 0.5, "b": None, "c": [0, 1, 2], "d": {"n": 4}}
    assert load_metrics("01_review_world_and_sft", tmp_path)["metrics"]["a"] == 0.5
    assert "overrides" not in data  # the named preset: nothing set away from it


def test_record_metrics_names_the_fields_set_away_from_the_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path))
    preset = load_preset("powered", seed=2, **{"shaping.shap_estimator": "first-position", "shaping.replicates": 4})
    data = json.loads(record_metrics("07_dense_reward_ppo", preset, {"a": 1}).read_text())
    assert data["overrides"] == {"shaping.shap_estimator": "first-position", "shaping.replicates": 4}
    assert json.loads(record_metrics("07_dense_reward_ppo", load_preset("tiny", smoke=True), {}).read_text()).get(
        "overrides") is None  # smoke sizes are a preset of their own, not an override


def test_record_metrics_rejects_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="notebook stem"):
        record_metrics("review world", load_preset(), {})
    with pytest.raises(TypeError, match="'x' has type object"):
        record_metrics("01_x", load_preset(), {"x": object()})
    with pytest.raises(FileNotFoundError, match="--only 02"):
        load_metrics("02_missing", tmp_path)


def test_save_figure_prefixes_the_notebook_number(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("REWARDLAB_FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("REWARDLAB_RUNS_DIR", str(tmp_path.parent / f"{tmp_path.name}-runs"))  # the source too: not the repo
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, "01_review_world_and_sft", "loss_curve", svg=True)
    plt.close(fig)
    assert path == tmp_path / "01_loss_curve.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_loss_curve.png", "01_loss_curve.svg"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="lowercase"):
        save_figure(fig, "01", "Loss Curve")
    with pytest.raises(ValueError, match="stem like"):
        save_figure(fig, "review", "loss")


def test_credit_html_escapes_and_colours():
    html = credit_html(["<b>", "good"], [-1.0, 0.5])
    assert "&lt;b&gt;" in html and "rgba(213,94,0,1.00)" in html and "rgba(0,158,115,0.50)" in html


def test_plot_prefix_tree_draws_every_node():
    import matplotlib.pyplot as plt

    from rewardlab.tree.sampling import plot_prefix_tree

    leaves = ["a b c d", "a b c e", "a x y z", "a x y w"]
    fig, ax = plt.subplots()
    plot_prefix_tree(leaves, ["0.0", "0.1", "1.0", "1.1"], segment_words=2, ax=ax)
    labels = sorted(t.get_text() for t in ax.texts)
    plt.close(fig)
    assert labels == sorted(["prompt", "a b", "a x", "c d", "c e", "y z", "y w"])

"""`python -m rewardlab.train`: one process, and two CPU processes under a distributed launcher."""

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import rewardlab.train as train


def test_a_stage_trains_and_writes_a_loadable_model_and_its_log(tmp_path):
    from transformers import AutoModelForSequenceClassification

    assert train.main(["reward-model", "--smoke", "--seed", "1", "--output", str(tmp_path / "rm")]) == 0
    record = json.loads((tmp_path / "rm" / "log.json").read_text())
    assert record["stage"] == "reward-model" and record["processes"] == 1 and record["log"]["train_loss"]
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm").config.num_labels == 1


def test_a_bad_shape_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        train.main(["ppo", "--smoke", "--shape", "mixture", "--output", "unused"])
    assert "choose one of sparse, uniform, abc, shap, lime" in capsys.readouterr().err


def test_ppo_runs_data_parallel_in_two_cpu_processes(tmp_path):
    """torchrun (what `accelerate launch` runs on several GPUs) with 2 CPU processes: one rollout per process,
    gradients averaged over both, logged scalars reduced; the artifact cache is built by the main process first."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    assert train.main(["prepare", "--smoke"]) == 0  # a launch only reads the cache
    with socket.socket() as free:  # a free port for the two processes to meet on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port),
                             "-m", "rewardlab.train", "ppo",
                             "--smoke", "--steps", "2", "--output", str(tmp_path / "ppo")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "ppo" / "log.json").read_text())
    assert record["processes"] == 2 and len(record["log"]["proxy_reward"]) == 2
    assert (tmp_path / "ppo" / "model.safetensors").exists()


def test_a_multi_process_launch_refuses_to_build_an_artifact_and_names_the_command(tmp_path, monkeypatch):
    from rewardlab.core import artifacts
    from rewardlab.core.presets import load_preset

    monkeypatch.setattr(artifacts, "_launched_processes", lambda: 2)
    with pytest.raises(RuntimeError, match=r"python -m rewardlab.train prepare --preset smoke"):
        artifacts.cached(load_preset("tiny", smoke=True), "anything", {"a": 1}, lambda folder: None)

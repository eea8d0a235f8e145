"""benchmarks/stage_profile.py: a sample's stage, waiting threads left out, the table's sums."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import stage_profile as sp  # noqa: E402

KERNEL = 'process 1:"python -m rewardlab.reproduce";process 7:"python -m ipykernel_launcher -f k.json"'


def test_stages_by_priority_and_waiting_threads_apart(tmp_path):
    assert sp.stage_of(["run_cell (x.py:1)", "train_brme (rewardlab/brme/training.py:9)",
                        "train_reward_model (rewardlab/reward/models.py:3)"]) == "BRME training"  # BRME outranks
    assert sp.stage_of(["<module> (a.py:1)", "score (rewardlab/reward/models.py:5)"]) == "reward-model scoring"
    assert sp.stage_of(["run (threading.py:1)", "EpollSelector.select (selectors.py:468)"]) == sp.IDLE
    assert sp.stage_of(["<module> (plots.py:3)"]) == sp.OTHER
    profile = tmp_path / "profile.txt"
    profile.write_text(f"{KERNEL};<module> (c.py:1);train_reward_model (rewardlab/reward/models.py:3) 600\n"
                       f"{KERNEL};IPKernelApp.start (k.py:1);OutStream._watch_pipe_fd (ipykernel/iostream.py:478) 300\n"
                       f"{KERNEL};<module> (c.py:1);savefig (plots.py:2) 60\n")
    log = tmp_path / "log.txt"
    log.write_text("[reproduce] 02_bradley_terry_reward_model.ipynb done in 66.0 s -> x\n")
    samples = sp.read_profile(profile)
    assert dict(samples[7]) == {"reward-model training": 600, sp.IDLE: 300, sp.OTHER: 60}
    text = sp.table(samples, sp.notebook_walls(log), rate=10.0)
    assert "| reward-model training | 1.0 | 91% | 1.0 |" in text  # 600 of the 660 working samples
    assert "| **sampled, all stages** | 1.1 | 100% | 1.1 |" in text  # the waiting thread is not work ...
    assert f"| ({sp.IDLE}, left out) | 0.5 | | 0.5 |" in text  # ... and is reported beside it
    assert "| **wall (reproduce log)** | 1.1 | | 1.1 |" in text

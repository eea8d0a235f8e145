"""The user guide's code is the tested code: every Python block of docs/ppo.md is a verbatim piece of
examples/ppo_any_lm.py, and the example runs from the repository (a tiny random Llama, nothing downloaded)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ppo_any_lm.py"


def test_every_code_block_of_the_guide_is_in_the_example_in_order():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "ppo.md").read_text(), flags=re.S)
    assert len(blocks) >= 4
    example, at = EXAMPLE.read_text(), 0
    for block in blocks:
        found = example.find(block, at)
        assert found >= 0, f"docs/ppo.md block not in {EXAMPLE.name} (in order):\n{block}"
        at = found + len(block)


def test_the_example_runs_and_learns(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path / "out")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    first, last = map(float, re.search(r"^blue per response, first and last step: (\S+) (\S+)$", run.stdout,
                                       flags=re.M).groups())
    assert last > first + 2.0, run.stdout
    assert (tmp_path / "out" / "full" / "config.json").exists()
    assert (tmp_path / "out" / "lora" / "adapter_config.json").exists()
    assert len(re.search(r"final blue per response by seed: \[(.*)\]", run.stdout).group(1).split(",")) == 3

"""Where a reproduction's time goes, by stage and by notebook, from a py-spy sample of the whole run.

    py-spy record --subprocesses -r 10 -f raw -o profile.txt -- python -m rewardlab.reproduce --preset tiny --force
    python benchmarks/stage_profile.py profile.txt --log reproduce.log --label "study tier, before" \
        [--write benchmarks/RESULTS.md]

py-spy samples every process of the run (the runner and one Jupyter kernel per notebook) ten times a second
without touching the code, so the profile costs the run nothing measurable and needs no timers in the
library. Each sample's stack is put in one stage: the stage of the highest-priority function on the stack
(``STAGES``, highest first), so that a reward model scored inside attribution counts as attribution and a
policy sampled inside a held-out evaluation counts as evaluation. A kernel's samples are one notebook's: the
kernels start one after another, in the order ``--log`` (the reproduce log) names the notebooks.

Minutes are samples / rate / 60 of on-CPU Python time in the main threads, summed over processes (a PPO
grid's forked workers count to their notebook, so a notebook's CPU minutes can exceed its wall minutes); the run's wall time per notebook
comes from the log (``done in N s``). The two differ by what py-spy does not see (idle waits, process start).

``--write`` puts the table into benchmarks/RESULTS.md under ``STAGES_TITLE``, one sub-section per ``--label``
(a new label is added, the same label replaced); ``run_all.py`` keeps that section when it rewrites the file.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections import defaultdict
from pathlib import Path

# (stage, priority, patterns): a frame matches a pattern "function (path" by substring.
STAGES = [
    # not shaping/bo.py: its run_study holds the PPO of trials run in-process
    ("BO: Gaussian process", 90, ["fit_gp (", "propose_bo (", "recommend (", "shaping/bo_surrogate.py"]),
    ("attribution (SHAP, LIME, attention)", 85, ["shaping/attribution.py", "shaping/estimators.py",
                                                 "shaping/masking.py"]),
    ("BRME training", 82, ["train_brme (", "brme/training.py"]),
    ("reward-model training", 80, ["train_reward_model (", "train_with_trl_reward_trainer ("]),
    ("SFT training", 80, ["train_sft ("]),
    ("preference sampling and labelling", 70, ["load_preference_data (", "load_calibration_pairs (",
                                              "reward/preferences.py", "tree/"]),
    ("PPO held-out evaluation", 60, ["evaluate_held_out ("]),
    ("best-of-n and other evaluation", 60, ["best_of_n_curve (", "evaluate_policy (", "naturalness_nll (",
                                           "response_logprobs ("]),
    ("PPO rollouts (sampling)", 50, ["sample_stacked (", "sample_rollout ("]),
    ("reward-model scoring", 40, ["score (", "batch_pair_rewards (", "pair_rewards ("]),
    ("gold judge (reader)", 35, ["core/judges.py", "core/reader.py"]),
    ("PPO updates and log-probs", 30, ["_train (", "rl/trainer.py"]),
    ("policy sampling (generate)", 20, ["generate (", "sample_n (", "core/policy.py"]),
]
OTHER = "other (imports, world, statistics, plots)"
# a stack whose innermost frame is one of these is a thread waiting, not computing: the kernel's I/O and heartbeat
# threads, zmq's, a pool waiting on its workers. py-spy reported them as active (its idle test reads the thread's
# OS state, and these wake often), which put about 30 of the first powered profile's 115 "CPU minutes" under OTHER.
IDLE = "idle (threads waiting: kernel I/O, zmq, pools)"
IDLE_LEAVES = ["select (selectors.py", "_watch_pipe_fd (ipykernel", "Condition.wait (threading.py",
               "ParentPollerUnix.run (ipykernel", "device (zmq", "GarbageCollectorThread.run (zmq", "Event.wait (",
               "Thread.join (", "poll (zmq", "_wait_for_tstate_lock (", "recv (multiprocessing", "_recv_bytes ("]
STAGES_TITLE = "Where a reproduction's time goes, by stage and notebook"
LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
PROCESS = re.compile(r'^process (?P<pid>\d+):"(?P<cmd>[^"]*)"')
DONE = re.compile(r"\[reproduce\] (?P<notebook>\S+)\.ipynb done in (?P<seconds>[\d.]+) s")


def stage_of(frames: list[str]) -> str:
    """``IDLE`` when the innermost frame waits (``IDLE_LEAVES``); else the stage of the highest-priority ``STAGES``
    entry any frame matches, else ``OTHER``."""
    if frames and any(p in frames[-1] for p in IDLE_LEAVES):
        return IDLE
    best, stage = -1, OTHER
    for frame in frames:
        for name, priority, patterns in STAGES:
            if priority > best and any(p in frame for p in patterns):
                best, stage = priority, name
    return stage


def read_profile(path: Path) -> dict[int, dict[str, int]]:
    """Samples per stage per kernel process (pid), from py-spy's raw output; the runner's own samples under pid 0."""
    samples: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in path.read_text().splitlines():
        match = LINE.match(line.strip())
        if not match:
            continue
        frames, pid = match["stack"].split(";"), 0
        while frames and (process := PROCESS.match(frames[0])):  # the runner, then the kernel it started
            pid = int(process["pid"]) if "ipykernel" in process["cmd"] and not pid else pid  # a worker: its kernel's
            frames = frames[1:]
        samples[pid][stage_of(frames)] += int(match["count"])
    return samples


def notebook_walls(log: Path) -> list[tuple[str, float]]:
    return [(m["notebook"], float(m["seconds"])) for m in DONE.finditer(log.read_text())]


def table(samples: dict[int, dict[str, int]], walls: list[tuple[str, float]], rate: float) -> str:
    kernels = sorted(pid for pid in samples if pid)
    names = [name for name, _ in walls] + [f"kernel {pid}" for pid in kernels[len(walls):]]
    by_notebook = {names[i]: samples[pid] for i, pid in enumerate(kernels)}
    stages = [name for name, _, _ in STAGES] + [OTHER]
    totals = {s: sum(nb.get(s, 0) for nb in by_notebook.values()) for s in stages}
    idle = [nb.get(IDLE, 0) for nb in by_notebook.values()]
    whole = sum(totals.values()) or 1
    short = [n[:2] for n in by_notebook]
    lines = ["| stage | minutes | share | " + " | ".join(short) + " |", "|---" * (len(short) + 3) + "|"]
    for s in sorted(stages, key=lambda s: -totals[s]):
        if totals[s]:
            cells = [f"{by_notebook[n].get(s, 0) / rate / 60:.1f}" for n in by_notebook]
            lines.append(f"| {s} | {totals[s] / rate / 60:.1f} | {totals[s] / whole:.0%} | " + " | ".join(cells) + " |")
    sampled = [f"{(sum(nb.values()) - nb.get(IDLE, 0)) / rate / 60:.1f}" for nb in by_notebook.values()]
    lines.append(f"| **sampled, all stages** | {whole / rate / 60:.1f} | 100% | " + " | ".join(sampled) + " |")
    lines.append(f"| ({IDLE}, left out) | {sum(idle) / rate / 60:.1f} | | "
                 + " | ".join(f"{i / rate / 60:.1f}" for i in idle) + " |")
    wall = dict(walls)
    lines.append(f"| **wall (reproduce log)** | {sum(wall.values()) / 60:.1f} | | "
                 + " | ".join(f"{wall[n] / 60:.1f}" if n in wall else "" for n in by_notebook) + " |")
    return "\n".join(lines)


def stage_section(report: str) -> str:
    """The ``STAGES_TITLE`` section of a RESULTS.md text ("" when it has none), with its leading blank line."""
    head = f"\n## {STAGES_TITLE}\n"
    return "\n" + head.lstrip("\n") + report.split(head, 1)[1].split("\n## ", 1)[0] if head in report else ""


def write_section(path: Path, label: str, body: str) -> None:
    """Put ``body`` under ``### label`` in ``path``'s stage section (created at the end; the same label replaced),
    atomically."""
    text = path.read_text() if path.exists() else ""
    section = stage_section(text)
    rest = text.replace(section, "") if section else text
    parts = {}
    for chunk in section.split("\n### ")[1:]:
        title, _, sub = chunk.partition("\n")
        parts[title.strip()] = sub.strip("\n")
    parts[label] = body.strip("\n")
    new = (f"\n## {STAGES_TITLE}\n\nFrom `benchmarks/stage_profile.py` (py-spy samples of a whole `rewardlab.reproduce` run; "
           "see its docstring). Minutes of on-CPU Python time per stage, per notebook.\n"
           + "".join(f"\n### {title}\n\n{sub}\n" for title, sub in parts.items()))
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(rest.rstrip("\n") + "\n" + new)
    os.replace(f.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output (record -f raw --subprocesses)")
    parser.add_argument("--log", type=Path, required=True, help="the reproduce run's log (names the notebooks)")
    parser.add_argument("--rate", type=float, default=10.0, help="py-spy's samples per second (-r)")
    parser.add_argument("--label", default="", help="the sub-section's title with --write, e.g. 'study tier, before'")
    parser.add_argument("--write", type=Path, default=None, help="put the table into this RESULTS.md")
    args = parser.parse_args(argv)
    text = table(read_profile(args.profile), notebook_walls(args.log), args.rate)
    print(text)
    if args.write:
        if not args.label:
            parser.error("--write needs --label (the sub-section's title)")
        write_section(args.write, args.label, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

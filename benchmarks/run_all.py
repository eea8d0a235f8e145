"""Run the side-by-side peer comparisons and write benchmarks/RESULTS.md from what they measure.

One subprocess per bench (accelerate's process-wide state must not leak from one bench into the
next; see README), each writing its results as JSON (``--json``) to a temporary folder; then one
markdown report with the machine, the versions, the exact commands, and per comparison how it
was measured, min / median / max and quality per contender, and the pairwise ratios. Every number
in the report comes from this run. The report is written atomically (a temporary file next to
it, then ``os.replace``); a failing bench stops the run and leaves the previous report in place.

    .venv/bin/python benchmarks/run_all.py                   # or: make bench   (about an hour)
    .venv/bin/python benchmarks/run_all.py --quick --output /tmp/bench_quick.md   # a check, ~2 minutes
    .venv/bin/python benchmarks/run_all.py --only reward_model,shap
    .venv/bin/python benchmarks/run_all.py --only ppo,grid --keep-others   # refresh two sections, keep the rest

``--keep-others`` copies the sections of the benches not run from the existing report, each marked
with the date and commit of the run that measured it, so that a change that touches two benches
need not repeat an hour of the others. ``--quick`` runs tiny settings to check the harness; its report is titled "QUICK CHECK — not a
measurement" and, without ``--output``, goes to the temporary folder, never to RESULTS.md.
Run it alone: two torch processes on two cores slow each other down several-fold.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report_sections import SECTIONS
from stage_profile import stage_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> script, section title, arguments of the full run, arguments of --quick.
BENCHES = {
    "reward_model": ("bench_reward_model.py", "Reward-model training: rewardlab vs TRL's `RewardTrainer`",
                     ["--repeats", "5", "--warmup", "1"],
                     ["--repeats", "1", "--warmup", "0", "--epochs", "1"]),
    "shap": ("bench_shap.py", "SHAP of the reward model: token-id masker vs shap's `Text` masker over strings",
             ["--responses", "16", "--budgets", "128,256,512,1024", "--repeats", "3"],
             ["--responses", "2", "--budgets", "128", "--repeats", "1", "--reference-evals", "256"]),
    "ppo": ("bench_ppo.py", "PPO: rewardlab's per-token PPO vs TRL's `RLOOTrainer`, and attribution's share of a step",
            ["--steps", "40", "--repeats", "3", "--stack-seeds", "10",
             "--shapes", "abc,shap,shap:first-position,shap:package,lime"],
            ["--steps", "2", "--repeats", "1", "--stack-seeds", "2", "--shapes", "abc,shap,shap:package,lime"]),
    "grid": ("bench_grid.py", "A grid of PPO runs: seeds stacked in one model vs the runner issue 21 started from",
             ["--seeds", "10", "--steps", "40", "--repeats", "1", "--current-workers", "2"],
             ["--seeds", "2", "--steps", "2", "--repeats", "1"]),
    "profile": ("profile_ppo.py", "Where a PPO step's time goes",
                ["--steps", "10"],
                ["--steps", "1", "--configs", "sparse:1,shap:1,lime:1,sparse:2"]),
    "attribution": ("bench_attribution.py", "Attribution at PPO's budget: agreement with converged values against cost",
                    ["--responses", "64", "--budgets", "24,32,48,64,96,128", "--reference-evals", "4096"],
                    ["--responses", "4", "--budgets", "48", "--reference-evals", "256"]),
    "attribution_negation": ("bench_attribution.py",
                             "Attribution inside PPO: first-position against first-last on the powered reward model, "
                             "where negation and 'but' combine words",
                             ["--preset", "powered", "--responses", "64", "--budgets", "64", "--reference-evals", "4096",
                              "--contenders", "first-last,first-position", "--containing", "not,never,rarely,but",
                              "--also-unfiltered"],
                             ["--preset", "tiny", "--responses", "4", "--budgets", "64", "--reference-evals", "256",
                              "--contenders", "first-last,first-position", "--containing", "not,never,rarely,but",
                              "--also-unfiltered"]),
    "ppo_any_lm": ("bench_ppo_any_lm.py", "PPO on any causal LM: a tiny Llama vs TRL's `RLOOTrainer`; stacked vs seed by seed",
                   ["--steps", "10", "--repeats", "3", "--seeds", "4"],
                   ["--steps", "2", "--repeats", "1", "--seeds", "2"]),
    "sft": ("bench_sft.py", "SFT of the tiny policy: rewardlab vs `transformers.Trainer`",
            ["--repeats", "3"],
            ["--repeats", "1", "--steps", "10"]),
    "brme_heads": ("bench_brme_heads.py", "BRME heads: one batched module vs a Python loop over the heads",
                   ["--repeats", "3"],
                   ["--repeats", "1", "--pairs", "4000"]),
    "rm_step": ("bench_rm_step.py", "A reward-model training step: fused GELU and AdamW vs before",
                ["--repeats", "5", "--steps", "20"],
                ["--repeats", "1", "--steps", "2"]),
    "kernels": ("bench_kernels.py", "What the kernel pin costs: the machine's own kernels vs the pinned AVX2",
                ["--repeats", "3", "--steps", "20"],
                ["--repeats", "1", "--steps", "2"]),
}
PACKAGES = ["torch", "transformers", "trl", "accelerate", "shap", "datasets"]


# ---------------------------------------------------------------- machine and run

def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def shown(command: list[str]) -> str:
    """A command as typed from the repository root."""
    return shlex.join([os.path.relpath(c, ROOT) if os.path.isabs(c) and c.startswith(str(ROOT)) else c
                       for c in command])


def kept_sections(previous: str, names: list[str]) -> dict[str, str]:
    """The sections of ``names`` in a previous report, each marked with that report's date and commit
    (a section already marked keeps its mark)."""
    header = dict(line[2:].split(": ", 1) for line in previous.splitlines() if line.startswith("* ") and ": " in line)
    mark = (f"_Kept from the run of {header.get('date', 'unknown date').split(' (')[0]}, commit "
            f"{header.get('commit', 'unknown')}: the run that wrote this file did not repeat this bench._")
    titles = {BENCHES[name][1]: name for name in names}
    out = {}
    for chunk in previous.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        if title.strip() in titles:
            body = body.strip("\n")
            out[titles[title.strip()]] = (f"## {title.strip()}\n\n" + ("" if body.startswith("_Kept from") else
                                                                      mark + "\n\n") + body + "\n")
    return out


def render(runs: list[dict], quick: bool, command: str, started: datetime.datetime, wall: float,
           load: tuple, kept: dict[str, str] | None = None) -> str:
    kept = kept or {}
    title = ("QUICK CHECK — not a measurement (tiny settings; the harness runs, the numbers mean nothing)"
             if quick else "Benchmark results: side-by-side peer comparisons")
    lines = [
        f"# {title}",
        "",
        f"Written by `benchmarks/run_all.py` ({'`--quick`' if quick else '`make bench`'}); every number below comes "
        "from this run" + (" except in the sections marked as kept from an earlier run" if kept else "") +
        ". How each bench works, and earlier hand-written tables: [README.md](README.md). Quote "
        "medians and pairwise ratios; absolute speeds move with the machine and its load.",
        "",
        f"* date: {started:%Y-%m-%d %H:%M} (local), {wall / 60:.1f} min in all",
        f"* command: `{command}`",
        f"* machine: {os.cpu_count()} CPUs ({cpu_name()}), {platform.platform()}, Python {platform.python_version()}",
        f"* load average (1 min) at start {load[0]:.2f}, at end {load[1]:.2f}",
        "* versions: " + ", ".join(f"{p} {version(p)}" for p in PACKAGES),
        f"* commit: {git_commit()}",
        "",
    ]
    by_name = {run["name"]: run for run in runs}
    for name in BENCHES:
        if name in kept and name not in by_name:
            lines += [kept[name]]
            continue
        if name not in by_name:
            continue
        run = by_name[name]
        lines += [f"## {BENCHES[run['name']][1]}", "", *SECTIONS[run["name"]](run["result"]), "",
                  f"Command: `{run['command']}` ({run['seconds'] / 60:.1f} min, loading included). "
                  "Settings: " + ", ".join(f"{k} {v}" for k, v in run["result"]["settings"].items()) + ".", ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(text)
    os.replace(f.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the harness, measures nothing")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: benchmarks/RESULTS.md; with --quick, a file in the temporary folder")
    parser.add_argument("--keep-others", action="store_true",
                        help="copy the sections of the benches not run from the existing report, marked as kept")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench(es) {sorted(unknown)}; choose from {list(BENCHES)}")
    output = args.output or (Path(tempfile.gettempdir()) / "rewardlab-bench-quick.md" if args.quick
                             else HERE / "RESULTS.md")
    command = shown([sys.executable, *sys.argv]) if argv is None else shown([sys.executable, __file__, *argv])

    started, start, load_start = datetime.datetime.now(), time.perf_counter(), os.getloadavg()[0]
    runs = []
    with tempfile.TemporaryDirectory(prefix="rewardlab-bench-") as tmp:
        for name in names:
            script, title, full, quick = BENCHES[name]
            bench = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
            json_path = Path(tmp) / f"{name}.json"
            print(f"\n=== {name}: {shown(bench)}", flush=True)
            t0 = time.perf_counter()
            code = subprocess.run([*bench, "--json", str(json_path)], cwd=ROOT).returncode
            if code != 0:
                print(f"run_all: {name} failed (exit {code}); {output} left as it was", file=sys.stderr)
                return 1
            runs.append({"name": name, "command": shown(bench), "seconds": time.perf_counter() - t0,
                         "result": json.loads(json_path.read_text())})
    others = [name for name in BENCHES if name not in names]
    kept = kept_sections(output.read_text(), others) if args.keep_others and output.exists() else {}
    text = render(runs, args.quick, command, started, time.perf_counter() - start, (load_start, os.getloadavg()[0]),
                  kept)
    if output.exists() and not args.quick:  # the stage profile of a whole reproduction is not a bench: kept as it is
        text += stage_section(output.read_text())
    write_atomically(output, text)
    print(f"\nrun_all: wrote {output} ({(time.perf_counter() - start) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

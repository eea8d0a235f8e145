"""Run the notebooks headlessly with papermill: ``python -m rewardlab.reproduce``.

    python -m rewardlab.reproduce [--preset tiny|quick|paper] [--smoke] [--only 01,03] [--force] [--output-dir DIR]
                                  [--set FIELD=VALUE ...]

Two tiers on one code path: ``--preset tiny`` (the default) is the study tier whose runs are committed in
``papermill_runs/`` and ``figures/``; ``--preset quick`` is the teaching tier (the whole collection in minutes,
verdicts underpowered), written into ``quick_runs/`` (figures in ``quick_runs/png/``), which git ignores;
``--preset powered`` (the sizes that decide the claims, about 3 to 3.5 hours) writes into ``powered_runs/``, committed
beside ``papermill_runs/``. ``--smoke`` runs of any preset go to ``smoke_runs/`` (git-ignored), and a run into an
``--output-dir`` of one's own keeps its figures in that folder's ``png/``: neither overwrites a committed run.

Verifying: the committed runs are the reference, not a cache. On a fresh clone every notebook runs, and the
run ends with a reproduction report, printed and written to ``REPRODUCTION.md`` beside the runs: per notebook,
how many non-timing metrics equal the committed run's, which differ and by how much, and which claims' verdicts
changed (:mod:`rewardlab.reporting.reproduction`).

Resuming: this machine keeps its own record of the notebooks it finished into a folder, under the artifact
cache (git-ignored, :func:`record_path`), keyed by the request (preset and ``--smoke``). A notebook this
machine finished for the same request, whose run is still the one it made, from the same notebook cells and
the same library code (:func:`rewardlab.core.provenance.stale_reasons`) and the same world and model versions,
is skipped; ``--force`` runs it again. Inside a notebook, the PPO grids restore finished runs from the artifact
cache (:func:`rewardlab.rl.runs.run_methods`), so a run killed part-way redoes only what was lost.

Prose: a run is tied to the notebook's code cells, not its prose, so a reading corrected after a run needs no
re-run: ``--prose`` copies each notebook's markdown cells into its executed copy (:func:`sync_prose`).

Each notebook ``notebooks/NN_topic.ipynb`` is executed with the parameters ``PRESET``, ``SMOKE`` and
``OVERRIDES`` injected into its ``parameters`` cell. ``--set shaping.shap_estimator=first-last`` (repeatable; the
value is read as JSON, else as a string) runs an A/B of one field: ``OVERRIDES`` goes to ``load_preset``, the
metrics files record it, and such runs need their own ``--output-dir`` (they are not the preset's runs). The executed copy goes to
``papermill_runs/NN_topic.ipynb`` (its metrics file and figures are written by the notebook
through :func:`rewardlab.reporting.metrics.record_metrics` and :func:`rewardlab.reporting.figures.save_figure`).

Executed copies carry no absolute path of the machine (:mod:`rewardlab.reporting.executed`): the repository, the artifact cache, the
home folder and the temp folder are rewritten to ``.``, ``artifacts``, ``~`` and ``<tmp>``.
A failing notebook stops the run with a message naming the notebook and the failing cell; its
partial executed copy is kept for inspection. Before a notebook runs, its old figures (PNG, SVG and
saved source, see :mod:`rewardlab.reporting.figures`) are removed, so a renamed figure leaves nothing stale.
After the run, ``claims.json`` and ``SUMMARY.md`` in the output folder are rewritten from the
metrics files (:mod:`rewardlab.reporting.claims`, :mod:`rewardlab.reporting.summary`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

from rewardlab.core.artifacts import artifacts_root, atomic_write_text, repo_root
from rewardlab.core.presets import load_preset
from rewardlab.core.provenance import notebook_source_hash, stale_reasons
from rewardlab.reporting.executed import make_portable, scrub_paths, sync_prose
from rewardlab.reporting.figures import sources_dir
from rewardlab.reporting.reproduction import reproduction_report
from rewardlab.reporting.summary import repository_readme, write_summary

QUICK_RUNS = "quick_runs"  # the teaching tier's own folder (git-ignored)
SMOKE_RUNS = "smoke_runs"  # smoke-sized runs of any preset (git-ignored): never mixed with a tier's runs
OWN_FOLDERS = {"quick": QUICK_RUNS, "powered": "powered_runs"}  # presets whose runs stay out of papermill_runs/


class NotebookFailed(RuntimeError):
    """A notebook raised: names the notebook, the cell and where the partial output is."""


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def discover(only: str | list[str] | None = None, directory: Path | None = None) -> list[Path]:
    """Notebooks ``NN_*.ipynb`` in reading order, restricted to the numbers in ``only``."""
    directory = Path(directory or notebooks_dir())
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
    numbers = {p.name[:2]: p for p in found}
    missing = [w for w in wanted if w.zfill(2) not in numbers]
    if missing:
        raise ValueError(f"no notebook numbered {', '.join(missing)}; available: {', '.join(sorted(numbers))}")
    return [numbers[w.zfill(2)] for w in wanted]


def default_dirs(preset: str, smoke: bool = False) -> tuple[Path, Path]:
    """(runs folder, figures folder) of a request: smoke runs and the quick and powered tiers have a folder of their
    own (figures in its ``png/``), the study tier the committed ``papermill_runs/`` and ``figures/``."""
    folder = SMOKE_RUNS if smoke else OWN_FOLDERS.get(preset)
    if folder:
        return repo_root() / folder, repo_root() / folder / "png"
    return repo_root() / "papermill_runs", repo_root() / "figures"


def record_path(output_dir: Path) -> Path:
    """This machine's record of the notebooks it finished into ``output_dir``: a git-ignored file under the
    artifact cache, one per output folder."""
    where = Path(output_dir).resolve()
    return artifacts_root() / "reproduce" / f"{where.name}-{hashlib.sha256(str(where).encode()).hexdigest()[:12]}.json"


def read_record(output_dir: Path) -> dict:
    path = record_path(output_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def note_finished(notebook: Path, output_dir: Path, preset: str, smoke: bool, overrides: dict | None = None) -> None:
    """Record that this machine finished ``notebook`` into ``output_dir`` for the request (preset, smoke, overrides)."""
    run = json.loads((Path(output_dir) / f"{notebook.stem}.metrics.json").read_text())
    record = read_record(output_dir)
    record[notebook.stem] = {"preset": preset, "smoke": smoke, **({"overrides": overrides} if overrides else {}),
                             "notebook_hash": run.get("notebook_hash"),
                             "library_hash": run.get("library_hash"), "commit": run.get("commit")}
    path = record_path(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def why_run(notebook: Path, output_dir: Path, preset: str, smoke: bool, overrides: dict | None = None) -> str | None:
    """Why ``notebook`` must run into ``output_dir``, or None when this machine's finished run there is up to date."""
    output_dir = Path(output_dir)
    entry = read_record(output_dir).get(notebook.stem)
    if entry is None:
        return "not run on this machine yet (a committed run is the reference, not a cache)"
    if (entry.get("preset"), entry.get("smoke")) != (preset, smoke):
        return f"this machine's run used preset {entry.get('preset')!r} (smoke={entry.get('smoke')})"
    if entry.get("overrides", {}) != (overrides or {}):
        return f"this machine's run set {entry.get('overrides', {})}, not {overrides or {}}"
    metrics_path = output_dir / f"{notebook.stem}.metrics.json"
    if not (output_dir / notebook.name).exists() or not metrics_path.exists():
        return "no finished run"
    run = json.loads(metrics_path.read_text())
    if not run.get("notebook_hash") or "library_hash" not in run:
        return "its run does not record its code"
    stale = "; ".join(stale_reasons(run, notebook))
    if stale:
        return stale
    if (run.get("notebook_hash"), run.get("library_hash")) != (entry.get("notebook_hash"), entry.get("library_hash")):
        return "its run is not the one this machine finished (a checkout replaced it)"
    return None


def run_notebook(notebook: Path, preset: str = "tiny", smoke: bool = False,
                 output_dir: Path | None = None, figures_dir: Path | None = None,
                 parameters: dict | None = None, timeout: int | None = None) -> Path:
    """Execute one notebook with papermill; returns the executed copy's path.

    Metrics and figures go next to the executed copy's folder settings: ``output_dir``
    (default ``papermill_runs/``) and ``figures_dir`` (default ``figures/``).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError  # local: see above

    notebook = Path(notebook).resolve()
    runs_default, figures_default = default_dirs(preset, smoke)
    output_dir = Path(output_dir or runs_default).resolve()
    figures_dir = Path(figures_dir or figures_default).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / notebook.name
    params = {"PRESET": preset, "SMOKE": smoke, **(parameters or {})}
    env = {"REWARDLAB_RUNS_DIR": str(output_dir), "REWARDLAB_FIGURES_DIR": str(figures_dir),
           "REWARDLAB_ROOT": str(repo_root()), "TQDM_MININTERVAL": "5",
           # transformers' "Loading weights" bars: library chatter in the executed copy and, from a forked PPO
           # worker (whose widget messages the kernel refuses), one logged warning per update on the terminal
           "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "REWARDLAB_NOTEBOOK_HASH": notebook_source_hash(notebook)}
    try:
        with mock.patch.dict(os.environ, env):
            papermill.execute_notebook(
                str(notebook), str(output), parameters=params, cwd=str(notebook.parent),
                kernel_name="python3", progress_bar=False, execution_timeout=timeout,
            )
    except PapermillExecutionError as error:
        make_portable(output, notebook, output_dir)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\npartial output kept in {output}"
        ) from None
    make_portable(output, notebook, output_dir)
    return output


def parse_overrides(settings: list[str]) -> dict:
    """``["shaping.replicates=5", "shaping.shap_estimator=first-last"]`` -> a dict of dotted preset fields; each
    value is read as JSON (numbers, booleans, lists), else kept as a string."""
    overrides = {}
    for setting in settings:
        field, sep, text = setting.partition("=")
        if not sep or not field.strip():
            raise ValueError(f"--set {setting!r}: write FIELD=VALUE, e.g. --set shaping.shap_estimator=first-last")
        try:
            overrides[field.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[field.strip()] = text
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", help="tiny (the study tier), quick (teaching), powered (4 h) or paper (GPU)")
    parser.add_argument("--smoke", action="store_true", help="smoke sizes: seconds per notebook")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,03")
    parser.add_argument("--force", action="store_true", help="run notebooks whose finished run is up to date too")
    parser.add_argument("--prose", action="store_true", help="copy the notebooks' prose into their executed copies; run nothing")
    parser.add_argument("--output-dir", type=Path, default=None, help="default: papermill_runs/ (quick, powered, --smoke: quick_runs/, powered_runs/, smoke_runs/)")
    parser.add_argument("--figures-dir", type=Path, default=None,
                        help="default: figures/ (quick, powered, --smoke: their folder's png/; with --output-dir: <output-dir>/png/)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a preset field for an A/B run, e.g. shaping.shap_estimator=first-last (needs --output-dir)")
    args = parser.parse_args(argv)

    try:  # bad input fails early, in one line that names the valid choices
        overrides = parse_overrides(args.set)
        load_preset(args.preset, **overrides)
        notebooks = discover(args.only or None)
        if overrides and args.output_dir is None:
            raise ValueError("runs with --set are not the preset's runs; give them a folder of their own with "
                             "--output-dir DIR")
    except ValueError as problem:
        print(f"[reproduce] {problem}", file=sys.stderr, flush=True)
        return 2
    runs_default, figures_default = default_dirs(args.preset, args.smoke)
    if overrides or (args.output_dir is not None and Path(args.output_dir).resolve() != runs_default.resolve()):
        figures_default = Path(args.output_dir) / "png"  # a folder of one's own keeps its figures too
    output_dir, figures = Path(args.output_dir or runs_default), Path(args.figures_dir or figures_default)
    sources = sources_dir(output_dir)
    if args.prose:
        for notebook in notebooks:
            executed = output_dir / notebook.name
            if executed.exists():
                try:
                    print(f"[reproduce] {notebook.name}: {sync_prose(notebook, executed)} prose cells updated", flush=True)
                except ValueError as problem:
                    print(f"[reproduce] {problem}", file=sys.stderr, flush=True)
                    return 1
        return 0
    for notebook in notebooks:
        reason = "--force" if args.force else why_run(notebook, output_dir, args.preset, args.smoke, overrides)
        if reason is None:
            print(f"[reproduce] {notebook.name}: its run is up to date, skipped (--force runs it again)", flush=True)
            continue
        start = time.perf_counter()
        setting = "".join(f", {k}={v!r}" for k, v in overrides.items())
        print(f"[reproduce] {notebook.name} (preset={args.preset}, smoke={args.smoke}{setting}; {reason}) ...", flush=True)
        for old in [*figures.glob(f"{notebook.name[:2]}_*.png"), *figures.glob(f"{notebook.name[:2]}_*.svg"),
                    *sources.glob(f"{notebook.name[:2]}_*.pickle")]:
            old.unlink()
        try:
            out = run_notebook(notebook, args.preset, args.smoke, output_dir, figures,
                               parameters={"OVERRIDES": overrides} if overrides else None)
        except NotebookFailed as failure:
            print(f"[reproduce] FAILED: {failure}", file=sys.stderr, flush=True)
            return 1
        note_finished(notebook, output_dir, args.preset, args.smoke, overrides)
        print(f"[reproduce] {notebook.name} done in {time.perf_counter() - start:.0f} s -> "
              f"{scrub_paths(str(out))}", flush=True)
    # the repository's own runs also refresh the README's claims table
    try:
        summary = write_summary(output_dir, readme=repository_readme(output_dir))
        print(f"[reproduce] claims against this run: {scrub_paths(str(summary))}", flush=True)
    except ValueError as problem:  # a README without the table's markers: the runs stand, say so
        print(f"[reproduce] README not updated: {problem}", file=sys.stderr, flush=True)
    report, _ = reproduction_report(output_dir, [notebook.stem for notebook in notebooks])
    atomic_write_text(output_dir / "REPRODUCTION.md", report)
    print(f"[reproduce] {scrub_paths(str(output_dir / 'REPRODUCTION.md'))}:\n\n{report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the notebooks headlessly with papermill: ``python -m rewardlab.reproduce``.

    python -m rewardlab.reproduce [--preset tiny] [--smoke] [--only 01,03] [--output-dir DIR]

Each notebook ``notebooks/NN_topic.ipynb`` is executed with the parameters ``PRESET`` and
``SMOKE`` injected into its ``parameters`` cell. The executed copy goes to
``papermill_runs/NN_topic.ipynb`` (its metrics file and figures are written by the notebook
through :func:`rewardlab.reporting.metrics.record_metrics` and :func:`rewardlab.reporting.figures.save_figure`).

Executed copies carry no absolute path of the machine: the repository, the artifact cache, the
home folder and the temp folder are rewritten to ``.``, ``artifacts``, ``~`` and ``<tmp>``.
A failing notebook stops the run with a message naming the notebook and the failing cell; its
partial executed copy is kept for inspection. Before a notebook runs, its old figures (PNG, SVG and
saved source, see :mod:`rewardlab.reporting.figures`) are removed, so a renamed figure leaves nothing stale.
After the run, ``claims.json`` and ``SUMMARY.md`` in the output folder are rewritten from the
metrics files (:mod:`rewardlab.reporting.claims`, :mod:`rewardlab.reporting.summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rewardlab.core.artifacts import artifacts_root, atomic_write_text, repo_root
from rewardlab.core.presets import load_preset
from rewardlab.reporting.figures import sources_dir
from rewardlab.reporting.summary import repository_readme, write_summary


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


def scrub_paths(text: str) -> str:
    """Replace this machine's absolute paths with portable names (longest first)."""
    replacements = {
        str(artifacts_root().resolve()): "artifacts",
        str(repo_root().resolve()): ".",
        str(Path(tempfile.gettempdir()).resolve()): "<tmp>",
        str(Path.home().resolve()): "~",
        sys.prefix: "<python>",
    }
    for path in sorted(replacements, key=len, reverse=True):
        if len(path) > 1:
            text = text.replace(path, replacements[path])
    return text


@contextlib.contextmanager
def _environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    output_dir = Path(output_dir or repo_root() / "papermill_runs").resolve()
    figures_dir = Path(figures_dir or repo_root() / "figures").resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / notebook.name
    params = {"PRESET": preset, "SMOKE": smoke, **(parameters or {})}
    env = {"REWARDLAB_RUNS_DIR": str(output_dir), "REWARDLAB_FIGURES_DIR": str(figures_dir),
           "REWARDLAB_ROOT": str(repo_root()), "TQDM_MININTERVAL": "5"}
    try:
        with _environment(**env):
            papermill.execute_notebook(
                str(notebook), str(output), parameters=params, cwd=str(notebook.parent),
                kernel_name="python3", progress_bar=False, execution_timeout=timeout,
            )
    except PapermillExecutionError as error:
        _finalise(output, notebook)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\npartial output kept in {output}"
        ) from None
    _finalise(output, notebook)
    return output


def _finalise(output: Path, notebook: Path) -> None:
    """Make the executed copy portable: relative input/output paths, no absolute paths."""
    if not output.exists():
        return
    data = json.loads(output.read_text())
    meta = data.get("metadata", {}).get("papermill", {})
    meta["input_path"] = f"notebooks/{notebook.name}"
    meta["output_path"] = f"papermill_runs/{output.name}"
    atomic_write_text(output, scrub_paths(json.dumps(data, indent=1, ensure_ascii=False)) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", help="preset name (tiny or paper)")
    parser.add_argument("--smoke", action="store_true", help="smoke sizes: seconds per notebook")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,03")
    parser.add_argument("--output-dir", type=Path, default=None, help="default: papermill_runs/")
    parser.add_argument("--figures-dir", type=Path, default=None, help="default: figures/")
    args = parser.parse_args(argv)

    try:  # bad input fails early, in one line that names the valid choices
        load_preset(args.preset)
        notebooks = discover(args.only or None)
    except ValueError as problem:
        print(f"[reproduce] {problem}", file=sys.stderr, flush=True)
        return 2
    figures = Path(args.figures_dir or repo_root() / "figures")
    sources = sources_dir(args.output_dir or repo_root() / "papermill_runs")
    for notebook in notebooks:
        start = time.perf_counter()
        print(f"[reproduce] {notebook.name} (preset={args.preset}, smoke={args.smoke}) ...", flush=True)
        for old in [*figures.glob(f"{notebook.name[:2]}_*.png"), *figures.glob(f"{notebook.name[:2]}_*.svg"),
                    *sources.glob(f"{notebook.name[:2]}_*.pickle")]:
            old.unlink()
        try:
            out = run_notebook(notebook, args.preset, args.smoke, args.output_dir, args.figures_dir)
        except NotebookFailed as failure:
            print(f"[reproduce] FAILED: {failure}", file=sys.stderr, flush=True)
            return 1
        print(f"[reproduce] {notebook.name} done in {time.perf_counter() - start:.0f} s -> "
              f"{scrub_paths(str(out))}", flush=True)
    # the repository's own runs also refresh the README's claims table
    try:
        summary = write_summary(args.output_dir, readme=repository_readme(args.output_dir))
    except ValueError as problem:  # a README without the table's markers: the runs stand, say so
        print(f"[reproduce] README not updated: {problem}", file=sys.stderr, flush=True)
        return 0
    print(f"[reproduce] claims against this run: {scrub_paths(str(summary))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Figures: one style, one helper that saves a figure where the notebook's number says, the plots the
notebooks share, and ``make figures``, which redraws every figure from the saved runs.

``save_figure(fig, "01_review_world_and_sft", "gold_distribution")`` writes
``figures/01_gold_distribution.png`` (and ``.svg`` with ``svg=True``) atomically, and pickles the
Figure object itself beside the executed notebooks, ``papermill_runs/figures/01_gold_distribution.pickle``:
matplotlib pickles a figure with its data, artists and layout, so it can be loaded, restyled or re-saved
(at another ``--dpi``, say) without recomputing what it shows.

    python -m rewardlab.reporting.figures [--runs-dir papermill_runs] [--figures-dir figures] [--only 07,09]

loads each pickle and writes ``figures/NN_name.png`` again, then rewrites ``papermill_runs/claims.json``
and ``SUMMARY.md`` from the metrics files (:mod:`rewardlab.reporting.claims`, :mod:`rewardlab.reporting.summary`).
A pickle records the matplotlib version that wrote it; matplotlib loads figures across versions
with a warning and no guarantee, so a figure that fails to load names its notebook and the command
that regenerates it from scratch. Load only pickles this project wrote: unpickling runs code.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from rewardlab.core.artifacts import atomic_write_text, figures_dir, runs_dir
from rewardlab.core.stats import t_half_width

NOTEBOOK_NUMBER = re.compile(r"^(\d\d)(_[a-z0-9_]+)?$")


FIGURE_NAME = re.compile(r"^[a-z0-9_]+$")


def use_style() -> None:
    """The collection's plotting style (seaborn's whitegrid, colour-blind palette)."""
    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")


def band(ax, steps, column: str, methods, colors: dict, x: str = "step", dashed=(), alpha: float = 0.15) -> None:
    """Mean over seeds of ``column`` against ``x`` for each method, with its 95% Student-t band.

    ``steps`` is a long table with one row per (method, seed, step), as
    :func:`rewardlab.rl.runs.run_methods` returns; methods in ``dashed`` are drawn dashed.
    """
    for method in methods:
        stats = steps[steps["method"] == method].groupby(x)[column].agg(["mean", "std", "count"])
        half = t_half_width(stats["std"], stats["count"])
        style = dict(linestyle="--") if method in dashed else {}
        ax.plot(stats.index, stats["mean"], label=method, color=colors[method], **style)
        ax.fill_between(stats.index, stats["mean"] - half, stats["mean"] + half, color=colors[method], alpha=alpha)


def save_figure(fig, notebook: str, name: str, svg: bool = False, dpi: int = 120) -> Path:
    """Save ``fig`` as ``<figures dir>/<NN>_<name>.png`` and its source pickle; returns the PNG path."""
    match = NOTEBOOK_NUMBER.match(notebook)
    if not match:
        raise ValueError(f"notebook {notebook!r} must be a stem like '01_review_world_and_sft' or a number like '01'")
    if not FIGURE_NAME.match(name):
        raise ValueError(f"figure name {name!r} may hold only lowercase letters, digits and '_'")
    save_source(fig, f"{match.group(1)}_{name}", svg=svg, dpi=dpi)
    return render_figure(fig, figures_dir() / f"{match.group(1)}_{name}.png", svg=svg, dpi=dpi)


def render_figure(fig, target: Path, svg: bool = False, dpi: int = 120) -> Path:
    """Write ``fig`` to ``target`` (a .png; also the .svg with ``svg``) atomically."""
    target = Path(target)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    for suffix, kwargs in [(".png", {"dpi": dpi}), (".svg", {})] if svg else [(".png", {"dpi": dpi})]:
        final = target.with_suffix(suffix)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{final.name}.", suffix=suffix)
        os.close(fd)
        try:
            # SVGs carry a date unless told not to; PNGs carry the matplotlib version only.
            metadata = {"Date": None} if suffix == ".svg" else {"Software": None}
            fig.savefig(tmp, bbox_inches="tight", metadata=metadata, **kwargs)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target









def sources_dir(directory: Path | None = None) -> Path:
    return Path(directory or runs_dir()) / "figures"


def save_source(fig, stem: str, svg: bool = False, dpi: int = 120) -> Path:
    """Pickle ``fig`` (with how it was saved) as ``<runs dir>/figures/<stem>.pickle``, atomically."""
    blob = pickle.dumps({"matplotlib": matplotlib.__version__, "svg": svg, "dpi": dpi, "figure": fig})
    return atomic_write_text(sources_dir() / f"{stem}.pickle", blob)


def redraw(runs: Path | None = None, figures: Path | None = None, only: list[str] | None = None,
           dpi: int | None = None) -> list[Path]:
    """Write ``<figures>/<stem>.png`` from every ``<runs>/figures/<stem>.pickle``; returns the PNGs written."""
    matplotlib.use("Agg")

    use_style()  # some artists read the rcParams when drawn (tick label sizes decide how many ticks fit)

    sources = sorted(sources_dir(runs).glob("[0-9][0-9]_*.pickle"))
    if only:
        sources = [s for s in sources if s.name[:2] in {o.zfill(2) for o in only}]
    if not sources:
        raise FileNotFoundError(f"no saved figures in {sources_dir(runs)}; run `make reproduce` (or "
                                "`python -m rewardlab.reproduce --only NN`) first")
    written = []
    for source in sources:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # version notes; a real mismatch fails below
                saved = pickle.loads(source.read_bytes())
        except Exception as error:  # noqa: BLE001 - any unpickling failure means the same fix
            raise RuntimeError(f"cannot load {source.name} ({type(error).__name__}: {error}); it was written by "
                               f"another matplotlib or is damaged: re-run `python -m rewardlab.reproduce --only "
                               f"{source.name[:2]}`") from None
        target = Path(figures or figures_dir()) / f"{source.stem}.png"
        written.append(render_figure(saved["figure"], target, svg=saved["svg"], dpi=dpi or saved["dpi"]))
        plt.close(saved["figure"])
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.reporting.figures", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    parser.add_argument("--figures-dir", type=Path, default=None, help="default: figures/")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers")
    parser.add_argument("--dpi", type=int, default=None, help="default: the dpi each figure was saved with")
    args = parser.parse_args(argv)

    try:
        written = redraw(args.runs_dir, args.figures_dir, [o for o in args.only.split(",") if o] or None, args.dpi)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"[figures] {error}", file=sys.stderr)
        return 1
    print(f"[figures] redrew {len(written)} figures into {Path(args.figures_dir or figures_dir())}")
    try:
        # imported here, not at the top: notebooks load this module (save_figure), and the summary is the runner's,
        # so a change to it does not mark every notebook's run as made with other library code
        from rewardlab.reporting.summary import repository_readme, write_summary
        print(f"[figures] wrote {write_summary(args.runs_dir, readme=repository_readme(args.runs_dir))}")
    except ValueError as problem:
        print(f"[figures] README not updated: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make figures``: redraw every figure from the saved runs, without training anything.

    python -m rewardlab.figures [--runs-dir papermill_runs] [--figures-dir figures] [--only 06,08]

When a notebook saves a figure (:func:`rewardlab.plots.save_figure`) the Figure object itself is
pickled beside the executed notebooks, ``papermill_runs/figures/NN_name.pickle``: matplotlib
pickles a figure with its data, artists and layout, so it can be loaded, restyled or re-saved
(at another ``--dpi``, say) without recomputing what it shows. This command loads each one and
writes ``figures/NN_name.png`` again, then rewrites ``papermill_runs/claims.json`` and ``SUMMARY.md``
from the metrics files (:mod:`rewardlab.claims`, :mod:`rewardlab.summary`).

A pickle records the matplotlib version that wrote it; matplotlib loads figures across versions
with a warning and no guarantee, so a figure that fails to load names its notebook and the command
that regenerates it from scratch. Load only pickles this project wrote: unpickling runs code.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from pathlib import Path

from .artifacts import atomic_write_text, figures_dir, runs_dir


def sources_dir(directory: Path | None = None) -> Path:
    return Path(directory or runs_dir()) / "figures"


def save_source(fig, stem: str, svg: bool = False, dpi: int = 120) -> Path:
    """Pickle ``fig`` (with how it was saved) as ``<runs dir>/figures/<stem>.pickle``, atomically."""
    import matplotlib

    blob = pickle.dumps({"matplotlib": matplotlib.__version__, "svg": svg, "dpi": dpi, "figure": fig})
    return atomic_write_text(sources_dir() / f"{stem}.pickle", blob)


def redraw(runs: Path | None = None, figures: Path | None = None, only: list[str] | None = None,
           dpi: int | None = None) -> list[Path]:
    """Write ``<figures>/<stem>.png`` from every ``<runs>/figures/<stem>.pickle``; returns the PNGs written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import render_figure, use_style

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
    parser = argparse.ArgumentParser(prog="python -m rewardlab.figures", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    parser.add_argument("--figures-dir", type=Path, default=None, help="default: figures/")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers")
    parser.add_argument("--dpi", type=int, default=None, help="default: the dpi each figure was saved with")
    args = parser.parse_args(argv)
    from .summary import repository_readme, write_summary

    try:
        written = redraw(args.runs_dir, args.figures_dir, [o for o in args.only.split(",") if o] or None, args.dpi)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"[figures] {error}", file=sys.stderr)
        return 1
    print(f"[figures] redrew {len(written)} figures into {Path(args.figures_dir or figures_dir())}")
    try:
        print(f"[figures] wrote {write_summary(args.runs_dir, readme=repository_readme(args.runs_dir))}")
    except ValueError as problem:
        print(f"[figures] README not updated: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

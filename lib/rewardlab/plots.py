"""Figures: one style and one helper that saves a figure where the notebook's number says.

``save_figure(fig, "01_review_world_and_sft", "gold_distribution")`` writes
``figures/01_gold_distribution.png`` (and ``.svg`` with ``svg=True``) atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .artifacts import figures_dir

NOTEBOOK_NUMBER = re.compile(r"^(\d\d)(_[a-z0-9_]+)?$")
FIGURE_NAME = re.compile(r"^[a-z0-9_]+$")


def use_style() -> None:
    """The collection's plotting style (seaborn's whitegrid, colour-blind palette)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")


def save_figure(fig, notebook: str, name: str, svg: bool = False, dpi: int = 120) -> Path:
    """Save ``fig`` as ``<figures dir>/<NN>_<name>.png``; returns the PNG path."""
    match = NOTEBOOK_NUMBER.match(notebook)
    if not match:
        raise ValueError(f"notebook {notebook!r} must be a stem like '01_review_world_and_sft' or a number like '01'")
    if not FIGURE_NAME.match(name):
        raise ValueError(f"figure name {name!r} may hold only lowercase letters, digits and '_'")
    directory = figures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{match.group(1)}_{name}.png"
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


def credit_html(words: list[str], credit, scale: float | None = None) -> str:
    """Inline HTML of ``words`` shaded by ``credit`` (red negative, green positive, white zero)."""
    import html

    import numpy as np

    credit = np.asarray(credit, dtype=float)
    scale = scale or float(np.abs(credit).max() or 1.0)
    spans = []
    for word, value in zip(words, credit):
        alpha = min(1.0, abs(value) / scale)
        rgb = "0,158,115" if value > 0 else "213,94,0"
        spans.append(f'<span title="{value:+.3f}" style="background: rgba({rgb},{alpha:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(word)}</span>')
    return '<div style="line-height: 1.9; font-family: monospace">' + " ".join(spans) + "</div>"

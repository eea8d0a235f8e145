"""Figures: one style and one helper that saves a figure where the notebook's number says.

``save_figure(fig, "01_review_world_and_sft", "gold_distribution")`` writes
``figures/01_gold_distribution.png`` (and ``.svg`` with ``svg=True``) atomically, and the figure
itself (matplotlib's pickle, which holds its data) as ``papermill_runs/figures/01_gold_distribution.pickle``,
from which ``make figures`` (:mod:`rewardlab.figures`) redraws every PNG without re-running anything.
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
    """Save ``fig`` as ``<figures dir>/<NN>_<name>.png`` and its source pickle; returns the PNG path."""
    match = NOTEBOOK_NUMBER.match(notebook)
    if not match:
        raise ValueError(f"notebook {notebook!r} must be a stem like '01_review_world_and_sft' or a number like '01'")
    if not FIGURE_NAME.match(name):
        raise ValueError(f"figure name {name!r} may hold only lowercase letters, digits and '_'")
    from .figures import save_source

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


def plot_prefix_tree(leaves: list[str], node_ids: list[str], segment_words: int, ax=None,
                     words_per_label: int = 6):
    """Draw one prompt's prefix tree: one box per segment, the root (prompt) on the left.

    ``leaves`` are the complete responses, ``node_ids`` their paths (``"0.1.1"``); inner level k
    holds words [k * segment_words, (k + 1) * segment_words) of every leaf below it (one token
    is one word in the review world), the leaves hold the rest.
    """
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    depth = len(node_ids[0].split("."))
    position: dict[str, float] = {}
    label: dict[str, str] = {}
    for row, (leaf, nid) in enumerate(zip(leaves, node_ids)):
        words, parts = leaf.split(), nid.split(".")
        for level in range(depth):
            key = ".".join(parts[: level + 1])
            stop = (level + 1) * segment_words if level < depth - 1 else len(words)
            segment = words[level * segment_words: stop]
            text = " ".join(segment[:words_per_label]) + (" …" if len(segment) > words_per_label else "")
            label.setdefault(key, text or "(ended)")
            position.setdefault(key, [])
            position[key].append(row)
    y = {key: -sum(rows) / len(rows) for key, rows in position.items()}
    y[""] = -(len(leaves) - 1) / 2
    for key in position:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        level = key.count(".") + 1
        ax.plot([level - 1, level], [y[parent], y[key]], color="grey", lw=0.8, zorder=1)
        ax.text(level, y[key], label[key], fontsize=7, va="center", ha="left",
                bbox=dict(boxstyle="round", fc="white", ec="C0", lw=0.6), zorder=2)
    ax.text(0, y[""], "prompt", fontsize=8, va="center", ha="right",
            bbox=dict(boxstyle="round", fc="C0", ec="C0", alpha=0.3))
    ax.set_xlim(-0.6, depth + 1.6)
    ax.set_ylim(-len(leaves) + 0.5, 0.5)
    ax.axis("off")
    return ax


def plot_token_credit(words: list[str], rows: dict[str, "np.ndarray"], ax=None, words_per_line: int = 24):
    """Token heat-map: one row per method, one cell per word, each row scaled to its own max |value|.

    Red is negative credit, green positive (the colours of :func:`credit_html`). Long responses
    wrap every ``words_per_line`` words into a new block of rows.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("credit", [(0.835, 0.369, 0.0), (1, 1, 1), (0.0, 0.62, 0.451)])
    names = list(rows)
    scaled = np.array([np.asarray(rows[n], float) / (np.abs(rows[n]).max() or 1.0) for n in names])
    blocks = [(start, min(start + words_per_line, len(words))) for start in range(0, len(words), words_per_line)]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.62 * min(len(words), words_per_line) + 1.5,
                                      0.42 * (len(names) + 1.2) * len(blocks) + 0.3))
    for b, (start, stop) in enumerate(blocks):
        top = b * (len(names) + 1.2)
        for r, name in enumerate(names):
            y = top + r
            for c in range(start, stop):
                ax.add_patch(plt.Rectangle((c - start, y), 1, 1, color=cmap((scaled[r, c] + 1) / 2), ec="white"))
            ax.text(-0.2, y + 0.5, name, ha="right", va="center", fontsize=8)
        for c in range(start, stop):
            ax.text(c - start + 0.5, top + len(names) + 0.05, words[c], rotation=60, ha="right", va="top", fontsize=8)
    ax.set_xlim(0, min(len(words), words_per_line))
    ax.set_ylim(len(blocks) * (len(names) + 1.2) + 0.6, 0)
    ax.axis("off")
    return ax

"""Headline numbers of a notebook, recorded in one place, and the statistics they are built from.

Every notebook ends with one call::

    record_metrics("01_review_world_and_sft", preset, {"gold_mean_sft": 0.08, ...})

which writes ``papermill_runs/01_review_world_and_sft.metrics.json`` atomically. The results
table of the collection is generated from these files, never typed by hand.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from .artifacts import atomic_write_text, runs_dir

NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def _jsonable(value, key: str):
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v, f"{key}[]") for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"metric {key!r} has type {type(value).__name__}; record numbers, strings, lists or dicts")


def record_metrics(notebook: str, preset, metrics: dict) -> Path:
    """Write ``<runs dir>/<notebook>.metrics.json``: the preset, its seed and the metrics. NaN -> null."""
    if not NOTEBOOK_NAME.match(notebook):
        raise ValueError(f"notebook {notebook!r} must be a notebook stem like '01_review_world_and_sft'")
    payload = {
        "notebook": notebook,
        "preset": preset.name,
        "seed": preset.seed,
        "smoke": preset.smoke,
        "metrics": {str(k): _jsonable(v, str(k)) for k, v in metrics.items()},
    }
    return atomic_write_text(runs_dir() / f"{notebook}.metrics.json", json.dumps(payload, indent=2) + "\n")


def load_metrics(notebook: str, directory: Path | None = None) -> dict:
    path = Path(directory or runs_dir()) / f"{notebook}.metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the notebook with `python -m rewardlab.reproduce --only {notebook[:2]}`")
    return json.loads(path.read_text())


def mean_ci95(values) -> tuple[float, float]:
    """Mean and the half-width of its normal-approximation 95% interval (1.96 * sd / sqrt(n))."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    half = 1.96 * values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else float("nan")
    return float(values.mean()), float(half)


def pair_accuracy(r_chosen, r_rejected) -> float:
    """Share of pairs the reward ranks as labelled (chosen above rejected); ties count half."""
    r_chosen, r_rejected = np.asarray(r_chosen, float), np.asarray(r_rejected, float)
    return float(np.mean(r_chosen > r_rejected) + 0.5 * np.mean(r_chosen == r_rejected))


def gold_pair_accuracy(reward_a, reward_b, gold_a, gold_b) -> float:
    """Agreement of the reward's ordering with the gold judge's, over pairs gold does not tie."""
    reward_diff = np.asarray(reward_a, float) - np.asarray(reward_b, float)
    gold_diff = np.asarray(gold_a, float) - np.asarray(gold_b, float)
    keep = gold_diff != 0
    if not keep.any():
        raise ValueError("every pair is a gold tie; accuracy against gold is undefined")
    agree = np.sign(reward_diff[keep]) == np.sign(gold_diff[keep])
    return float(np.mean(agree + 0.5 * (reward_diff[keep] == 0)))


def spearman(x, y) -> float:
    """Spearman rank correlation (scipy)."""
    from scipy.stats import spearmanr

    return float(spearmanr(np.asarray(x, float), np.asarray(y, float)).statistic)


def reward_uncertainty(scores) -> float:
    """Spread of rewards across models trained on the same pairs (different seeds).

    ``scores`` is [models, responses]. A Bradley-Terry reward is defined up to a shift and the
    models' scales differ, so each model's scores are standardised first; the result is the
    mean over responses of the standard deviation across models (0 = the models agree).
    """
    scores = np.asarray(scores, float)
    if scores.ndim != 2 or scores.shape[0] < 2:
        raise ValueError(f"need scores of shape [models >= 2, responses], got {scores.shape}")
    z = (scores - scores.mean(1, keepdims=True)) / scores.std(1, keepdims=True).clip(min=1e-12)
    return float(z.std(0, ddof=1).mean())


def kl_best_of_n(n) -> np.ndarray:
    """KL(best-of-n || base) = log n - (n - 1) / n (Stiennon et al. 2020; Gao et al. 2022)."""
    n = np.asarray(n, float)
    return np.log(n) - (n - 1) / n


def best_of_n(proxy, gold, ns) -> dict:
    """Best-of-n by the proxy, for each n: mean proxy and gold of the proxy's pick among the first n.

    ``proxy`` and ``gold`` are [prompts, N] scores of the same N samples per prompt.
    """
    proxy, gold = np.asarray(proxy, float), np.asarray(gold, float)
    out = {"n": [], "proxy": [], "gold": [], "gold_ci95": []}
    for n in ns:
        if n > proxy.shape[1]:
            raise ValueError(f"best-of-{n} needs {n} samples per prompt, have {proxy.shape[1]}")
        pick = proxy[:, :n].argmax(1)
        rows = np.arange(len(pick))
        out["n"].append(int(n))
        out["proxy"].append(float(proxy[rows, pick].mean()))
        out["gold"].append(mean_ci95(gold[rows, pick])[0])
        out["gold_ci95"].append(mean_ci95(gold[rows, pick])[1])
    return out


def win_rate(gold_a, gold_b) -> tuple[float, float]:
    """Share of items where a beats b (ties count half) and its 95% interval half-width."""
    a, b = np.asarray(gold_a, float), np.asarray(gold_b, float)
    return mean_ci95((a > b) + 0.5 * (a == b))

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

from rewardlab.core.artifacts import atomic_write_text, runs_dir
from rewardlab.core.presets import changed_fields
from rewardlab.core.provenance import provenance
from rewardlab.core.versions import current_versions

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
    """Write ``<runs dir>/<notebook>.metrics.json``: the preset, its seed, the versions of the world and models
    it was built with (:mod:`rewardlab.core.versions`), the fields set away from the named preset (``overrides``,
    only when there are any), the code that produced it (commit and a hash of the
    library modules loaded: :mod:`rewardlab.core.provenance`) and the metrics. NaN -> null."""
    if not NOTEBOOK_NAME.match(notebook):
        raise ValueError(f"notebook {notebook!r} must be a notebook stem like '01_review_world_and_sft'")
    payload = {
        "notebook": notebook,
        "preset": preset.name,
        "seed": preset.seed,
        "smoke": preset.smoke,
        **({"overrides": overrides} if (overrides := changed_fields(preset)) else {}),
        "versions": current_versions(),
        **provenance(),
        "metrics": {str(k): _jsonable(v, str(k)) for k, v in metrics.items()},
    }
    return atomic_write_text(runs_dir() / f"{notebook}.metrics.json", json.dumps(payload, indent=2) + "\n")


def load_metrics(notebook: str, directory: Path | None = None) -> dict:
    path = Path(directory or runs_dir()) / f"{notebook}.metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the notebook with `python -m rewardlab.reproduce --only {notebook[:2]}`")
    return json.loads(path.read_text())

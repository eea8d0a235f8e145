"""The papers' claims, declared before any run, and their verdicts: ``papermill_runs/claims.json``.

    python -m rewardlab.reporting.claims [--runs-dir papermill_runs]

Each :class:`Claim` fixes, in code and before its notebook runs: the paper's words, the primary
contrast (the two arms, the metric, the step or budget, the direction the paper claims), the unit
of replication, and an equivalence margin with its reason. The arms are named, never chosen from
the results; where a study needs a selection (notebook 08's best single explainer, notebook 11's
tuned β) the notebook makes it on separate search runs (notebook 11: on the other replicates) and
records the selected arm's values under a fixed name, which is what the claim reads.

A claim reads the per-unit values of its arms from its notebook's metrics file (``arm`` and
``baseline`` are key paths into ``metrics``; a baseline may instead be a key of one number, or a
number, e.g. the SFT policy's value or 0.5). The contrast is the mean of a − b over units, with a
paired t interval (a t interval when the baseline is one number). Holm's correction runs across
the primary contrasts of one notebook, and each interval is taken at the level Holm gives it
(:mod:`rewardlab.core.stats`); the verdict follows :func:`rewardlab.core.stats.verdict`. Everything in
claims.json can be recomputed from the metrics files alone (``tests/test_claims.py`` does).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from rewardlab.brme import claims as brme_claims
from rewardlab.core import power, stats
from rewardlab.core.artifacts import atomic_write_text, runs_dir
from rewardlab.core.claim import Claim
from rewardlab.frontier import claims as frontier_claims
from rewardlab.gao import claims as gao_claims
from rewardlab.reward import claims as reward_claims
from rewardlab.shaping import claims as shaping_claims
from rewardlab.tree import claims as tree_claims


# per-unit values that runs made before a rename recorded under another name: read under the old name, never written
# ("AUC" of held-out gold was the mean of its evaluations, not an area)
RENAMED = {"mean_eval_gold_by_replicate": "auc_eval_gold_by_replicate",
           "confirm_mean_eval_gold_by_seed": "confirm_auc_eval_gold_by_seed"}


def _dig(metrics: dict, path: tuple, claim: Claim):
    value = metrics
    for key in path:
        if isinstance(value, dict) and key not in value and RENAMED.get(key) in value:
            key = RENAMED[key]
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"{'.'.join(path)}: missing from {claim.notebook}.metrics.json; re-run notebook "
                           f"{claim.notebook[:2]} (`python -m rewardlab.reproduce --only {claim.notebook[:2]}`)")
        value = value[key]
    return value


def differences(claim: Claim, metrics: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
    """(a − b per unit, a, b) of a claim from a notebook's metrics."""
    arm = np.asarray(_dig(metrics, claim.arm, claim), dtype=float)
    base = claim.baseline if isinstance(claim.baseline, (int, float)) else _dig(metrics, claim.baseline, claim)
    if np.ndim(base) > 0:
        base = np.asarray(base, dtype=float)
        if base.shape != arm.shape:
            raise ValueError(f"claim {claim.id}: {arm.size} units in the arm, {base.size} in the baseline; "
                             "a paired contrast needs the same units")
    else:
        base = float(base)
    diff = arm - base
    if not np.all(np.isfinite(diff)):
        raise ValueError(f"claim {claim.id}: {int(np.sum(~np.isfinite(diff)))} of {diff.size} units have no value "
                         f"(NaN: a run that never reached what the contrast reads); no interval without them")
    return diff, arm, base


POWER = 0.8  # the power at which claims.json sizes a replication (n_for_power, rewardlab.core.power)
CLAIMS = [*gao_claims.CLAIMS, *reward_claims.CLAIMS, *shaping_claims.CLAIMS, *tree_claims.CLAIMS, *brme_claims.CLAIMS,
          *frontier_claims.CLAIMS]


def notebook_table(notebook: str, directory: Path | None = None):
    """The declared claims of one notebook with this run's verdicts (as claims.json will hold them),
    as a DataFrame for the notebook to show right after it records its metrics."""
    rows = []
    for r in evaluate([c for c in CLAIMS if c.notebook == notebook], directory):
        if r["verdict"] == "not run":
            rows.append({"claim": r["id"], "contrast": r["contrast"], "verdict": r["verdict"], "problem": r["problem"]})
            continue
        rows.append({"claim": r["id"], "contrast": r["contrast"], "metric": r["metric"], "n": r["n"],
                     "estimate": round(r["estimate"], 4), "interval": f"[{r['low']:+.3f}, {r['high']:+.3f}]",
                     "level": f"{r['level']:.2%}", "margin": r["margin"], "verdict": r["verdict"],
                     "n for margin": r["n_for_margin"], "n for direction": r.get("n_for_direction"),
                     f"n for {POWER:.0%} power": r.get("n_for_power")})
    return pd.DataFrame(rows).set_index("claim")


def _fill(text: str, metrics: dict) -> str:
    try:
        return text.format(**metrics)
    except (KeyError, IndexError, ValueError):
        return text


def evaluate(claims: list[Claim] = CLAIMS, directory: Path | None = None) -> list[dict]:
    """One record per claim (the fields of claims.json), Holm-corrected within each notebook."""
    directory = Path(directory or runs_dir())
    records: list[dict] = []
    for notebook in dict.fromkeys(c.notebook for c in claims):
        family = [c for c in claims if c.notebook == notebook]
        path = directory / f"{notebook}.metrics.json"
        run = json.loads(path.read_text()) if path.exists() else None
        tested = []
        for claim in family:
            base = {"id": claim.id, "paper": claim.paper, "claim": claim.words, "notebook": notebook,
                    "contrast": _fill(claim.contrast, (run or {}).get("metrics", {})), "direction": claim.direction,
                    "unit": _fill(claim.unit, (run or {}).get("metrics", {})),
                    "margin": claim.margin, "margin_reason": claim.margin_reason,
                    "arm_key": ".".join(claim.arm),
                    "baseline_key": claim.baseline if isinstance(claim.baseline, (int, float)) else ".".join(claim.baseline),
                    **dict.fromkeys(("n", "estimate", "low", "high", "level", "interval_method", "correction",
                                     "half_width", "n_for_margin", "n_for_direction", "n_for_power"))}  # filled below once the contrast is computed
            if run is None:
                records.append({**base, "metric": claim.metric, "verdict": "not run",
                                "problem": f"not run: `python -m rewardlab.reproduce --only {notebook[:2]}`"})
                continue
            base["metric"] = _fill(claim.metric, run["metrics"])
            base.update(preset=run["preset"], smoke=run["smoke"])
            try:
                diff, arm, baseline = differences(claim, run["metrics"])
            except (KeyError, ValueError) as problem:
                records.append({**base, "verdict": "not run", "problem": str(problem).strip("'\"")})
                continue
            record = {**base, "arm_mean": float(arm.mean()),
                      "baseline_mean": float(np.mean(baseline)), "paired": bool(np.ndim(baseline) > 0)}
            tested.append((record, diff, stats.p_value(diff, claim.direction, claim.margin)))
            records.append(record)
        levels = stats.holm_levels([p for _, _, p in tested])
        for (record, diff, p), level in zip(tested, levels):
            interval = stats.t_interval(diff, level, name=f"{record['id']} differences")  # diff = a − b per unit
            method = "paired t" if record["paired"] else "t"
            margin = record["margin"]
            record.update(
                n=interval.n, estimate=interval.estimate, low=interval.low, high=interval.high,
                level=level, interval_method=method, p_value=p,
                correction=(f"Holm over the {len(tested)} primary contrasts of notebook {notebook[:2]}: interval at "
                            f"{level:.2%}" if len(tested) > 1 else "none (the notebook's only primary contrast)"),
                verdict=stats.verdict(interval.low, interval.high, record["direction"], margin),
                half_width=interval.half_width if math.isfinite(interval.half_width) else None,
                n_for_margin=power.n_for_margin(interval, margin),
                n_for_direction=power.n_for_direction(interval, record["direction"], margin),
                n_for_power=power.n_for_power(interval, record["direction"], margin, POWER),
                per_unit_differences=[float(d) for d in diff])
    order = {c.id: i for i, c in enumerate(claims)}
    return sorted(records, key=lambda r: (r["notebook"], order[r["id"]]))  # reading order of the notebooks


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_claims(directory: Path | None = None, output: Path | None = None) -> Path:
    """Write ``claims.json`` (default: into the runs folder) from the metrics files there."""
    directory = Path(directory or runs_dir())
    records = [_clean(r) for r in evaluate(CLAIMS, directory)]
    return atomic_write_text(Path(output or directory / "claims.json"), json.dumps(records, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.reporting.claims", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    args = parser.parse_args(argv)
    print(f"wrote {write_claims(args.runs_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

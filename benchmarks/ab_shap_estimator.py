"""A paired A/B of one arm between two runs of a notebook that differ in one preset field.

    python benchmarks/ab_shap_estimator.py \
        benchmarks/data/ab_shap_estimator/07_first_position.metrics.json \
        benchmarks/data/ab_shap_estimator/07_first_last.metrics.json

The two runs (``python -m rewardlab.reproduce --preset powered --only 07`` and the same with
``--set shaping.shap_estimator=first-last --output-dir DIR``) share every seed. The estimator enters only the
arm ``--arm`` (SHAP-shaped PPO), so every other arm's per-replicate values must be *identical* in the two runs:
the script checks that first (it is what makes the comparison a paired A/B of the estimator and nothing else,
and it is a same-seed reproduction of the other arms across two sessions) and refuses otherwise. It then gives,
per replicate and as a Student-t interval over replicates (``rewardlab.core.stats.paired_t_interval``, 95%):

* B − A in the arm (the estimator's effect on what PPO learns);
* arm − ``--baseline`` under A and under B (the claim's contrast, uncorrected: Holm's level is the notebook's).

The question (does the estimator move the SHAP arm, paired by replicate?) was posed after run B and before run A,
the deciding run's notebook 07 at the commit before the presets went back to first-last SHAP.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rewardlab.core.stats import paired_t_interval

METRIC = "mean_eval_gold_by_replicate"


def per_replicate(run: dict, metric: str = METRIC) -> dict[str, np.ndarray]:
    values = run.get("metrics", {}).get(metric)
    if not isinstance(values, dict):
        raise ValueError(f"the run has no per-replicate metric {metric!r}; pass --metric with one it records")
    return {arm: np.asarray(v, dtype=float) for arm, v in values.items()}


def compare(a: dict, b: dict, arm: str, baseline: str, metric: str = METRIC) -> dict:
    """The A/B of ``arm`` between runs ``a`` and ``b`` (metrics records); raises if any other arm differs."""
    va, vb = per_replicate(a, metric), per_replicate(b, metric)
    for name in (arm, baseline):
        if name not in va or name not in vb:
            raise ValueError(f"arm {name!r} is not in both runs; they hold {sorted(set(va) & set(vb))}")
    moved = sorted(n for n in set(va) | set(vb) if n != arm and not np.array_equal(va.get(n), vb.get(n)))
    if moved:
        raise ValueError(f"arms other than {arm!r} differ between the runs ({moved}): the runs differ by more than "
                         f"the field under test, so this is no paired A/B")
    interval = lambda x, y: paired_t_interval(x, y, level=0.95)  # noqa: E731
    return {"shared_arms": sorted(n for n in va if n != arm), "b_minus_a": vb[arm] - va[arm],
            "effect": interval(vb[arm], va[arm]), "a_contrast": interval(va[arm], va[baseline]),
            "b_contrast": interval(vb[arm], vb[baseline])}


def fmt(i) -> str:
    return f"{i.estimate:+.3f} [{i.low:+.3f}, {i.high:+.3f}] (n = {i.n}, sd {i.sd:.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--arm", default="shap")
    parser.add_argument("--baseline", default="sparse")
    parser.add_argument("--metric", default=METRIC)
    args = parser.parse_args(argv)
    a, b = (json.loads(p.read_text()) for p in (args.run_a, args.run_b))
    result = compare(a, b, args.arm, args.baseline, args.metric)
    label = lambda run: ", ".join(f"{k}={v}" for k, v in (run.get("overrides") or {}).items()) or "preset as named"  # noqa: E731
    print(f"A: {args.run_a.name} ({label(a)}; commit {str(a.get('commit'))[:7]})")
    print(f"B: {args.run_b.name} ({label(b)}; commit {str(b.get('commit'))[:7]})")
    print(f"identical in both runs, replicate by replicate: {', '.join(result['shared_arms'])}")
    print(f"{args.metric}, 95% paired t over replicates:")
    print(f"  B - A in {args.arm}: {fmt(result['effect'])}")
    print(f"  per replicate: {' '.join(f'{x:+.3f}' for x in result['b_minus_a'])}")
    print(f"  {args.arm} - {args.baseline} under A: {fmt(result['a_contrast'])}")
    print(f"  {args.arm} - {args.baseline} under B: {fmt(result['b_contrast'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

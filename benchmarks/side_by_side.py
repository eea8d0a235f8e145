"""Shared harness of the benchmarks: run two contenders in turn (A B A B ...), summarise, ratio.

Alternating keeps a drifting machine's speed from favouring one side; the pairwise ratio of
each repeat is what a comparison should quote. :func:`summarise` turns the rows into the dict
that is printed and that every bench's ``main()`` returns (and writes with ``--json PATH``, which
``run_all.py`` reads to write ``RESULTS.md``).
"""

from __future__ import annotations

import json
import os
import statistics
from typing import Callable, Iterable

import rewardlab  # noqa: F401  every bench imports this module first: rewardlab pins torch's CPU kernels before torch loads


# The PPO workload every PPO bench measures (issue 21's: 64 responses, 16-response minibatches, LIME at 64
# samples), pinned here so that a change to the study presets does not change what the benches time.
BENCH_PPO = {"shaping.ppo.batch_size": 64, "shaping.ppo.minibatch_size": 16, "shaping.lime_num_samples": 64}


def spread(values: Iterable[float]) -> dict[str, float]:
    """min / median / max of some measurements."""
    values = list(values)
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def pairwise_ratio(numerators: Iterable[float], denominators: Iterable[float]) -> dict:
    """Ratio of each repeat's pair (same repeat index), then its spread; the values too."""
    ratios = [a / b for a, b in zip(numerators, denominators)]
    return {**spread(ratios), "values": ratios}


def summarise(results: dict[str, list[tuple[float, float]]], unit: str, quality: str) -> dict:
    """Per contender the spread of the measure and the median quality, and the pairwise ratio
    first / second contender in ``unit``."""
    first, second = list(results)
    return {
        "unit": unit, "quality": quality,
        "contenders": {name: {**spread(m for m, _ in rows), "quality_median": statistics.median(s for _, s in rows),
                              "runs": [list(row) for row in rows]}
                       for name, rows in results.items()},
        "ratio": {"of": f"{first} / {second}",
                  **pairwise_ratio([m for m, _ in results[first]], [m for m, _ in results[second]])},
    }


def print_summary(summary: dict) -> None:
    unit, quality = summary["unit"], summary["quality"]
    for name, row in summary["contenders"].items():
        print(f"{name:9s} {unit} min {row['min']:.1f} median {row['median']:.1f} "
              f"max {row['max']:.1f}; {quality} median {row['quality_median']:.4f}")
    ratio = summary["ratio"]
    print(f"ratio {ratio['of']} in {unit} (pairwise): median {ratio['median']:.2f} "
          f"(min {ratio['min']:.2f}, max {ratio['max']:.2f})")


def run_side_by_side(contenders: dict[str, Callable[[int], tuple[float, float]]], repeats: int,
                     unit: str, quality: str, warmup: int = 0) -> dict[str, list[tuple[float, float]]]:
    """Call each contender with the repeat index; each returns (measure, quality). Prints all rows,
    min / median / max per contender and the pairwise ratio first / second (see :func:`summarise`)."""
    for _ in range(warmup):  # first runs pay for lazy initialisation; not counted
        for fn in contenders.values():
            fn(100)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        for name, fn in contenders.items():
            measure, score = fn(repeat)
            results[name].append((measure, score))
            print(f"repeat {repeat}: {name:9s} {measure:8.1f} {unit}  {quality} {score:.4f}", flush=True)
    print_summary(summarise(results, unit, quality))
    return results


def add_json_flag(parser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the returned results as JSON here")


def write_json(path: str | None, result: dict) -> dict:
    """Write ``result`` to ``path`` (nothing when None), atomically; return it."""
    if path:
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, path)
    return result

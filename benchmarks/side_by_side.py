"""Shared harness of the benchmarks: run two contenders in turn (A B A B ...), summarise, ratio.

Alternating keeps a drifting machine's speed from favouring one side; the pairwise ratio of
each repeat is what a comparison should quote.
"""

from __future__ import annotations

import statistics
from typing import Callable


def run_side_by_side(contenders: dict[str, Callable[[int], tuple[float, float]]], repeats: int,
                     unit: str, quality: str, warmup: int = 0) -> dict[str, list[tuple[float, float]]]:
    """Call each contender with the repeat index; each returns (measure, quality). Prints all rows,
    min / median / max per contender and the pairwise ratio first / second."""
    for _ in range(warmup):  # first runs pay for lazy initialisation; not counted
        for fn in contenders.values():
            fn(100)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        for name, fn in contenders.items():
            measure, score = fn(repeat)
            results[name].append((measure, score))
            print(f"repeat {repeat}: {name:9s} {measure:8.1f} {unit}  {quality} {score:.4f}", flush=True)
    for name, rows in results.items():
        values = [m for m, _ in rows]
        print(f"{name:9s} {unit} min {min(values):.1f} median {statistics.median(values):.1f} "
              f"max {max(values):.1f}; {quality} median {statistics.median(s for _, s in rows):.4f}")
    first, second = list(results)
    ratios = [a[0] / b[0] for a, b in zip(results[first], results[second])]
    print(f"ratio {first} / {second} in {unit} (pairwise): median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    return results

"""Does a run reproduce the committed one? The report ``make reproduce`` ends with.

The committed runs (``papermill_runs/*.metrics.json`` and ``claims.json`` as the repository's ``HEAD`` has
them) are the reference; the run just made is compared with them notebook by notebook:

* every leaf of ``metrics`` (nested dicts and lists flattened to ``key/sub/0`` paths) is *equal* (``==``, NaN
  equal to NaN: the same code and seeds on pinned kernels give the same floats, so nothing looser is asked),
  *differs* (for numbers, by how much), or is only in one of the two; timings (a key with a ``seconds`` or
  ``minutes`` part) are left out, they differ by machine and load;
* every claim's verdict, by claim id: unchanged or changed (old → new);
* the provenance that explains a difference: the commit, whether the library code is the same (library hash),
  the world and model versions, and the versions of the packages that move numbers where both runs record them.

No reference (a git-ignored tier, a new notebook, a checkout without git) is said as such, never guessed.
This module is the runner's (:mod:`rewardlab.reproduce`); no notebook imports it.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rewardlab.core.artifacts import repo_root

TIMING = re.compile(r"(?:^|[_/])(?:seconds|minutes)(?:[_/]|$)")
LARGEST = 5  # differing metrics listed per notebook


def committed(path: Path) -> str | None:
    """The text of ``path`` as the repository's HEAD has it, or None (untracked, ignored, or no git)."""
    path = Path(path).resolve()
    try:
        relative = path.relative_to(repo_root().resolve())
        shown = subprocess.run(["git", "show", f"HEAD:{relative.as_posix()}"], cwd=repo_root(),
                               capture_output=True, text=True, timeout=60)
    except (ValueError, OSError, subprocess.SubprocessError):
        return None
    return shown.stdout if shown.returncode == 0 else None


def leaves(value, prefix: str = "") -> dict[str, object]:
    """Flatten nested dicts and lists into ``{"a/b/0": leaf}``."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{prefix}{key}/").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{prefix}{i}/").items()}
    return {prefix.rstrip("/"): value}


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass
class Comparison:
    """One notebook's run against its reference."""

    notebook: str
    reference: dict | None
    equal: int = 0
    differ: list[tuple[str, object, object]] = field(default_factory=list)
    only_reference: list[str] = field(default_factory=list)
    only_run: list[str] = field(default_factory=list)
    timings: int = 0
    provenance: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.equal + len(self.differ)

    def largest(self, n: int = LARGEST) -> list[str]:
        """The ``n`` differing metrics that moved most (numbers by |Δ|, others after them)."""
        def size(item):
            _, old, new = item
            return abs(new - old) if _number(old) and _number(new) and math.isfinite(new - old) else -1.0
        return [f"`{key}` {_show(old)} → {_show(new)}" for key, old, new in sorted(self.differ, key=size, reverse=True)[:n]]


def _show(x) -> str:
    return f"{x:.6g}" if isinstance(x, float) else json.dumps(x) if not isinstance(x, str) else repr(x[:40])


def compare_runs(notebook: str, reference: dict | None, run: dict) -> Comparison:
    """Compare one notebook's metrics record ``run`` with ``reference`` (both as the metrics file holds them)."""
    comparison = Comparison(notebook, reference)
    if reference is None:
        return comparison
    old, new = leaves(reference.get("metrics", {})), leaves(run.get("metrics", {}))
    for key in sorted(old.keys() | new.keys()):
        if TIMING.search(key):
            comparison.timings += 1
        elif key not in new:
            comparison.only_reference.append(key)
        elif key not in old:
            comparison.only_run.append(key)
        elif _same(old[key], new[key]):
            comparison.equal += 1
        else:
            comparison.differ.append((key, old[key], new[key]))
    comparison.provenance = provenance_differences(reference, run)
    return comparison


def provenance_differences(reference: dict, run: dict) -> list[str]:
    """What differs between the two runs' records of how they were made."""
    said = []
    if reference.get("preset") != run.get("preset") or reference.get("smoke") != run.get("smoke"):
        said.append(f"preset {reference.get('preset')} (smoke={reference.get('smoke')}) → "
                    f"{run.get('preset')} (smoke={run.get('smoke')})")
    if reference.get("library_hash") != run.get("library_hash"):
        said.append(f"library code differs (commit {str(reference.get('commit'))[:12]} → {str(run.get('commit'))[:12]})")
    if reference.get("notebook_hash") != run.get("notebook_hash"):
        said.append("notebook code differs")
    for kind in ("versions", "packages"):
        old, new = reference.get(kind) or {}, run.get(kind) or {}
        said += [f"{name} {old.get(name)} → {new.get(name)}" for name in sorted(old.keys() & new.keys())
                 if old[name] != new[name]]
    if reference.get("cpu_kernels") != run.get("cpu_kernels"):
        said.append(f"CPU kernels {reference.get('cpu_kernels')} → {run.get('cpu_kernels')}")
    if reference.get("library_kernels") and reference.get("library_kernels") != run.get("library_kernels"):
        said.append(f"numpy/BLAS kernels {reference.get('library_kernels')} → {run.get('library_kernels')}")
    if reference.get("cpu_threads") and reference.get("cpu_threads") != run.get("cpu_threads"):
        said.append(f"torch threads {reference.get('cpu_threads')} → {run.get('cpu_threads')}")
    return said


def verdict_changes(reference: list[dict] | None, run: list[dict], notebooks: set[str]) -> list[str]:
    """``claim: old → new`` for every claim of ``notebooks`` whose verdict moved (or that is new or gone)."""
    if reference is None:
        return []
    old = {c["id"]: c.get("verdict") for c in reference if c.get("notebook") in notebooks}
    new = {c["id"]: c.get("verdict") for c in run if c.get("notebook") in notebooks}
    return [f"{claim}: {old.get(claim, '(no claim)')} → {new.get(claim, '(no claim)')}"
            for claim in sorted(old.keys() | new.keys()) if old.get(claim) != new.get(claim)]


def reproduction_report(output_dir: Path, notebooks: list[str]) -> tuple[str, dict]:
    """The markdown report and its numbers for ``notebooks`` (stems) run into ``output_dir``, each compared with
    its committed metrics file, and the claims of those notebooks with the committed ``claims.json``."""
    output_dir = Path(output_dir)
    rows, numbers, notes = [], {}, []
    for stem in notebooks:
        path = output_dir / f"{stem}.metrics.json"
        if not path.exists():
            rows.append(f"| {stem} | no run | | | |")
            continue
        reference_text = committed(path)
        comparison = compare_runs(stem, json.loads(reference_text) if reference_text else None,
                                  json.loads(path.read_text()))
        if comparison.reference is None:
            rows.append(f"| {stem} | no committed reference | | | |")
            numbers[stem] = None
            continue
        missing = len(comparison.only_reference) + len(comparison.only_run)
        rows.append(f"| {stem} | {comparison.equal} of {comparison.compared} | {len(comparison.differ)} | {missing} | "
                    f"{'; '.join(comparison.provenance) or 'same code, versions and kernels'} |")
        numbers[stem] = {"equal": comparison.equal, "compared": comparison.compared, "differ": len(comparison.differ),
                         "only_reference": comparison.only_reference, "only_run": comparison.only_run,
                         "timings_left_out": comparison.timings, "provenance": comparison.provenance}
        if comparison.differ:
            notes.append(f"- **{stem}**, largest of {len(comparison.differ)} differences: "
                         + "; ".join(comparison.largest()))
    claims_path = output_dir / "claims.json"
    reference_claims = committed(claims_path)
    changes = (verdict_changes(json.loads(reference_claims), json.loads(claims_path.read_text()), set(notebooks))
               if reference_claims and claims_path.exists() else None)
    numbers["verdict_changes"] = changes
    lines = ["# Reproduction report", "",
             "Each notebook's metrics against the committed run (the repository's HEAD): exact equality, timings "
             "left out. Written by `make reproduce`; re-run it to refresh.", "",
             "| notebook | metrics equal | differ | in one run only | what differs in how the runs were made |",
             "|---|---|---|---|---|", *rows, ""]
    if notes:
        lines += ["## Differences", "", *notes, ""]
    lines += ["## Verdicts", "", "No committed claims.json to compare with." if changes is None else
              ("Every claim of these notebooks has the committed verdict." if not changes else
               "Changed verdicts:\n\n" + "\n".join(f"- {c}" for c in changes)), ""]
    return "\n".join(lines), numbers

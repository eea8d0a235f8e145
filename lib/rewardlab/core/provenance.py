"""Which code produced a run: the commit, and a hash of the library modules the notebook had loaded.

A metrics file records (:func:`rewardlab.reporting.metrics.record_metrics`)

* ``commit``: ``git rev-parse HEAD`` of the repository, with ``+changes`` when the library's files differ
  from that commit (``git status`` on ``lib/``); None outside a git checkout;
* ``library_modules``: every ``rewardlab`` module loaded in the process when the metrics were recorded,
  which is the library code the notebook used;
* ``library_hash``: sha256 over those modules' names and source bytes (:func:`source_hash`);
* ``cpu_kernels``: the kernel family torch used (``AVX2`` unless overridden: :mod:`rewardlab.core.kernels`).

``SUMMARY.md`` recomputes the hash over the same modules with today's files. A mismatch means the library
code the run used has changed since it ran, so the run is flagged until it is re-run. A change to a module
the notebook never loaded does not flag it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Iterable

LIBRARY = Path(__file__).resolve().parents[1]  # lib/rewardlab


def module_file(module: str, library: Path = LIBRARY) -> Path:
    """The source file of ``rewardlab.<...>`` under ``library`` (a package's ``__init__.py``)."""
    parts = module.split(".")
    if parts[0] != "rewardlab":
        raise ValueError(f"{module!r} is not a rewardlab module")
    base = library.joinpath(*parts[1:])
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def loaded_modules(library: Path = LIBRARY) -> list[str]:
    """The rewardlab modules loaded in this process whose source lies under ``library``, sorted."""
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "rewardlab" or name.startswith("rewardlab.")) and path and Path(path).resolve().is_relative_to(library):
            names.append(name)
    return sorted(names)


def source_hash(modules: Iterable[str], library: Path = LIBRARY) -> str:
    """sha256 over each module's name and its source bytes (a module whose file is gone hashes as missing)."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        path = module_file(name, library)
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def git_commit(library: Path = LIBRARY) -> str | None:
    """HEAD of the checkout that holds ``library`` (``+changes`` if its files differ from HEAD), or None."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=library, capture_output=True, text=True, check=True, timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--", ".").strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")


def provenance() -> dict:
    """``commit``, ``library_modules``, ``library_hash`` and ``cpu_kernels`` for a metrics file recorded now."""
    from rewardlab.core.kernels import cpu_capability

    modules = loaded_modules()
    return {"commit": git_commit(), "library_modules": modules, "library_hash": source_hash(modules),
            "cpu_kernels": cpu_capability()}

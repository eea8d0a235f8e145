"""Which code produced a run: the commit, and a hash of the library modules the notebook had loaded.

A metrics file records (:func:`rewardlab.reporting.metrics.record_metrics`)

* ``commit``: ``git rev-parse HEAD`` of the repository, with ``+changes`` when the library's files differ
  from that commit (``git status`` on ``lib/``); None outside a git checkout;
* ``library_modules``: every ``rewardlab`` module loaded in the process when the metrics were recorded,
  which is the library code the notebook used;
* ``library_hash``: sha256 over those modules' names and code, comments and docstrings left out
  (:func:`source_hash`, :func:`code_tokens`; prefixed ``code1:``, where runs before it hashed the files' bytes);
* ``cpu_kernels``: the kernel family torch used (``AVX2`` unless overridden: :mod:`rewardlab.core.kernels`);
* ``cpu_threads``: the torch thread count the run started with (2 unless overridden: the same module);
* ``library_kernels``: numpy's dispatch target and the BLAS kernels (``numpy X86_V3; openblas Haswell`` unless
  overridden: the same module);
* ``notebook_hash``: sha256 of the notebook's cells (:func:`notebook_source_hash`), when ``rewardlab.reproduce``
  ran it (it passes the hash in ``$REWARDLAB_NOTEBOOK_HASH``); None in an interactive kernel.

``SUMMARY.md`` recomputes the hash over the same modules with today's files. A mismatch means the library
code the run used has changed since it ran, so the run is flagged until it is re-run. A change to a module
the notebook never loaded does not flag it. :func:`stale_reasons` is the one test of "this run is out of
date"; ``SUMMARY.md`` and ``reproduce``'s skipping of finished notebooks both use it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tokenize
import sys
from pathlib import Path
from typing import Iterable

from rewardlab.core.versions import builds_on, current_versions

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


HASH_KIND = "code1"  # library_hash = "code1:<sha256>" over code tokens; a bare hex digest is the older byte hash


def code_tokens(source: bytes) -> bytes:
    """A module's tokens without comments, blank lines and statement-level strings (docstrings): what the module
    computes, so that a corrected docstring or comment does not mark every run made with it out of date."""
    kept, tokens = [], list(tokenize.tokenize(io.BytesIO(source).readline))
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.COMMENT)]
    for i, token in enumerate(significant):
        before = significant[i - 1].type if i else tokenize.ENCODING
        after = significant[i + 1].type if i + 1 < len(significant) else tokenize.ENDMARKER
        if token.type == tokenize.STRING and before in _STATEMENT_START and after in (tokenize.NEWLINE, tokenize.ENDMARKER):
            continue
        kept.append(f"{token.type}:{token.string}")
    return "\n".join(kept).encode()


_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)


def source_hash(modules: Iterable[str], library: Path = LIBRARY, kind: str = HASH_KIND) -> str:
    """sha256 over each module's name and its code (``kind="code1"``: :func:`code_tokens`; ``"bytes"``: the file's
    bytes, what runs before issue 25's final code recorded); a module whose file is gone hashes as missing."""
    if kind not in ("code1", "bytes"):
        raise ValueError(f"unknown library hash kind {kind!r}; choose 'code1' or 'bytes'")
    digest = hashlib.sha256()
    for name in sorted(modules):
        path = module_file(name, library)
        digest.update(name.encode() + b"\0")
        if not path.exists():
            digest.update(b"<missing>")
        else:
            digest.update(code_tokens(path.read_bytes()) if kind == "code1" else path.read_bytes())
        digest.update(b"\0")
    return f"{kind}:{digest.hexdigest()}" if kind != "bytes" else digest.hexdigest()


def same_code(recorded: str | None, modules: Iterable[str], library: Path = LIBRARY) -> bool:
    """Whether ``modules`` still hash to ``recorded``, computed the way ``recorded`` was (its kind prefix)."""
    kind = str(recorded).split(":", 1)[0] if ":" in str(recorded) else "bytes"
    return kind in ("code1", "bytes") and source_hash(modules, library, kind) == recorded


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


def notebook_source_hash(path: Path | str) -> str:
    """sha256 over a notebook's code cells (their source; outputs, metadata and prose are left out): an edit to
    the code changes it; re-running the notebook, or correcting its prose after a run (in the executed copy
    alike), does not."""
    cells = json.loads(Path(path).read_text()).get("cells", [])
    blob = json.dumps(["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def stale_reasons(run: dict, notebook: Path | str | None = None) -> list[str]:
    """Why a metrics record ``run`` no longer describes what its code would produce now: a world or model version
    it stands on has moved (:mod:`rewardlab.core.versions`), the library modules it loaded have changed, or
    (given the notebook's path, for a run that recorded it) the notebook's code has."""
    stem = Path(notebook).stem if notebook is not None else str(run.get("notebook", ""))
    recorded_versions = run.get("versions") or {}
    reasons = [f"{name} v{recorded_versions.get(name)} (now v{version})" for name, version in current_versions().items()
               if run.get("versions") is not None and recorded_versions.get(name) != version and builds_on(stem, name)]
    code = run.get("library_modules")
    if code is not None and not same_code(run.get("library_hash"), code):
        reasons.append(f"library code changed since commit {str(run.get('commit'))[:12]}")
    recorded = run.get("notebook_hash")
    if notebook is not None and recorded and Path(notebook).exists() and notebook_source_hash(notebook) != recorded:
        reasons.append(f"notebook changed since commit {str(run.get('commit'))[:12]}")
    return reasons


# the installed packages whose versions move a run's numbers (kernels, models, explainers, optimisers, statistics)
NUMBER_PACKAGES = ("torch", "transformers", "trl", "shap", "lime", "botorch", "gpytorch", "numpy", "scipy",
                   "vaderSentiment")


def package_versions(names=NUMBER_PACKAGES) -> dict[str, str | None]:
    """{package: installed version, or None if it is not installed} for ``names``."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance() -> dict:
    """``commit``, ``library_modules``, ``library_hash``, ``cpu_kernels``, ``cpu_threads``, ``notebook_hash`` and
    ``packages`` (:data:`NUMBER_PACKAGES`' versions, which the reproduction report compares) for a metrics file recorded now."""
    from rewardlab.core.kernels import cpu_capability, cpu_threads, library_kernels

    modules = loaded_modules()
    return {"commit": git_commit(), "library_modules": modules, "library_hash": source_hash(modules),
            "cpu_kernels": cpu_capability(), "cpu_threads": cpu_threads(), "library_kernels": library_kernels(),
            "notebook_hash": os.environ.get("REWARDLAB_NOTEBOOK_HASH") or None,
            "packages": package_versions()}

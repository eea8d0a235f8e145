"""The artifact cache: tokenizers, policies and reward models, keyed by what built them.

Layout: ``artifacts/<preset>/<name>-<hash>/`` where ``hash`` covers the config that built the
entry and a version number the builder bumps when its code changes results.

Atomicity: an entry is built in a temporary sibling directory, a ``MANIFEST.json`` with the
SHA-256 and size of every file is written last, and the directory is renamed into place.
On load the manifest is checked; an entry with a missing manifest, a missing, truncated or
altered file is reported, deleted and rebuilt, never silently used.

The root is ``$REWARDLAB_ARTIFACTS`` if set, else ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Callable

from accelerate.state import PartialState

from rewardlab.core.kernels import cpu_capability, cpu_threads, pinned_environment

MANIFEST = "MANIFEST.json"


def repo_root() -> Path:
    """The checkout this package is installed from (editable install), else the working directory."""
    if os.environ.get("REWARDLAB_ROOT"):
        return Path(os.environ["REWARDLAB_ROOT"]).resolve()
    here = Path(__file__).resolve().parents[3]  # lib/rewardlab/core/artifacts.py -> the checkout
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def artifacts_root() -> Path:
    return Path(os.environ.get("REWARDLAB_ARTIFACTS") or repo_root() / "artifacts")


def runs_dir() -> Path:
    """Where executed notebooks and their metrics go: ``$REWARDLAB_RUNS_DIR`` or ``papermill_runs/``."""
    return Path(os.environ.get("REWARDLAB_RUNS_DIR") or repo_root() / "papermill_runs")


def figures_dir() -> Path:
    """Where notebooks save figures: ``$REWARDLAB_FIGURES_DIR`` or ``figures/``."""
    return Path(os.environ.get("REWARDLAB_FIGURES_DIR") or repo_root() / "figures")


def atomic_write_text(path: Path | str, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(directory: Path, description: dict) -> None:
    files = {str(p.relative_to(directory)): {"sha256": _sha256(p), "size": p.stat().st_size}
             for p in _files(directory)}
    atomic_write_text(directory / MANIFEST, json.dumps({**description, "files": files}, indent=1))


def verify(directory: Path) -> str | None:
    """None when the entry is complete and intact, else what is wrong with it."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        listed = manifest["files"]
    except FileNotFoundError:
        return "no manifest (a build that never finished)"
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        return f"unreadable manifest ({error})"
    present = {str(p.relative_to(directory)) for p in _files(directory)}
    if set(listed) - present:
        return f"missing file(s): {', '.join(sorted(set(listed) - present))}"
    for name, expected in listed.items():
        path = directory / name
        if path.stat().st_size != expected["size"] or _sha256(path) != expected["sha256"]:
            return f"file {name} does not match its checksum"
    return None


def entry_key(config: dict, version: int) -> str:
    """The cache key: a hash of the config, the version, the CPU kernels and the thread count in use (artifacts
    built with other kernels or another thread count hold other numbers: :mod:`rewardlab.core.kernels`)."""
    blob = json.dumps({"config": config, "version": version, "kernels": cpu_capability(), "threads": cpu_threads(),
                       "pinned": pinned_environment()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _remove_stale_builds(parent: Path, stem: str) -> None:
    """Delete temporary build folders of ``stem`` left by processes that no longer run."""
    for tmp in parent.glob(f".tmp-{stem}-*"):
        pid = tmp.name.rsplit("-", 2)[-2]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def _launched_processes() -> int:
    """Processes of an ``accelerate`` / ``torchrun`` launch already set up in this process (1 when none)."""
    return PartialState().num_processes if PartialState._shared_state else 1


def lookup(preset, name: str, config: dict, version: int = 1) -> Path | None:
    """The verified cache entry ``name`` for ``config`` if it exists, else None (a corrupted one is removed)."""
    final = artifacts_root() / preset.name / f"{name}-{entry_key(config, version)}"
    if not final.exists():
        return None
    problem = verify(final)
    if problem is None:
        return final
    warnings.warn(f"artifact {final.name} is corrupted: {problem}; removing it", stacklevel=2)
    shutil.rmtree(final)
    return None


def cached(preset, name: str, config: dict, build: Callable[[Path], object], version: int = 1) -> Path:
    """Path of the cache entry ``name`` for ``config``, building it with ``build(folder)`` if needed.

    ``build`` writes its files into the folder it is given. A corrupted entry is rebuilt with
    a warning that says what was wrong.
    """
    stem = f"{name}-{entry_key(config, version)}"
    final = artifacts_root() / preset.name / stem
    if final.exists():
        problem = verify(final)
        if problem is None:
            return final
        warnings.warn(f"artifact {final.name} is corrupted: {problem}; rebuilding it", stacklevel=2)
        shutil.rmtree(final)
    if _launched_processes() > 1:
        raise RuntimeError(f"artifact {stem} of preset {preset.name!r} is not in the cache, and a multi-process launch "
                           "cannot build it (its training would wait on the other processes); build it in one process "
                           f"first: python -m rewardlab.train prepare --preset {preset.name}")
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(final.parent, stem)
    tmp = final.parent / f".tmp-{stem}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        build(tmp)
        write_manifest(tmp, {"name": name, "preset": preset.name, "config": config, "version": version})
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same entry first
            if verify(final) is not None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final

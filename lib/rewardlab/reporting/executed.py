"""An executed notebook copy: its paths made portable (:func:`scrub_paths`, :func:`make_portable`) and its prose
kept in step with the notebook's without a re-run (:func:`sync_prose`). :mod:`rewardlab.reproduce` writes the copies."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rewardlab.core.artifacts import artifacts_root, atomic_write_text, repo_root


def _code_cells(notebook: dict) -> list[str]:
    return ["".join(c.get("source", "")) for c in notebook["cells"] if c.get("cell_type") == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def sync_prose(notebook: Path, executed: Path) -> int:
    """Copy ``notebook``'s markdown cells into its executed copy (matched by cell id); returns how many changed.

    Raises ValueError when the code cells differ: then the run no longer shows what the notebook computes, and
    the notebook must be re-run instead."""
    source, run = json.loads(Path(notebook).read_text()), json.loads(Path(executed).read_text())
    if _code_cells(source) != _code_cells(run):
        raise ValueError(f"{Path(notebook).name}: its code cells differ from its executed copy's; re-run it "
                         f"(python -m rewardlab.reproduce --only {Path(notebook).name[:2]}) instead of copying prose")
    prose = {c.get("id"): c["source"] for c in source["cells"] if c.get("cell_type") == "markdown"}
    changed = 0
    for cell in run["cells"]:
        if cell.get("cell_type") == "markdown" and cell.get("id") in prose and cell["source"] != prose[cell["id"]]:
            cell["source"] = prose[cell["id"]]
            changed += 1
    if changed:
        atomic_write_text(executed, json.dumps(run, indent=1, ensure_ascii=False) + "\n")
    return changed


def scrub_paths(text: str) -> str:
    """Replace this machine's absolute paths with portable names (longest first)."""
    replacements = {
        str(artifacts_root().resolve()): "artifacts",
        str(repo_root().resolve()): ".",
        str(Path(tempfile.gettempdir()).resolve()): "<tmp>",
        str(Path.home().resolve()): "~",
        sys.prefix: "<python>",
    }
    for path in sorted(replacements, key=len, reverse=True):
        if len(path) > 1:
            text = text.replace(path, replacements[path])
    return text


def make_portable(output: Path, notebook: Path, output_dir: Path) -> None:
    """Make the executed copy portable: relative input/output paths, no absolute paths."""
    if not output.exists():
        return
    data = json.loads(output.read_text())
    meta = data.get("metadata", {}).get("papermill", {})
    meta["input_path"] = f"notebooks/{notebook.name}"
    where = Path(output_dir).resolve() / output.name
    meta["output_path"] = (str(where.relative_to(repo_root().resolve())) if where.is_relative_to(repo_root().resolve())
                           else scrub_paths(str(where)))
    atomic_write_text(output, scrub_paths(json.dumps(data, indent=1, ensure_ascii=False)) + "\n")

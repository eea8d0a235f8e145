"""``papermill_runs/SUMMARY.md``: each paper's claim beside what this run measured, rendered from claims.json.

    python -m rewardlab.reporting.summary [--runs-dir papermill_runs] [--output papermill_runs/SUMMARY.md]

Nothing in the table is typed by hand: :mod:`rewardlab.reporting.claims` writes ``claims.json`` from the
notebooks' metrics files (per-seed values of every arm, the declared contrasts, Holm's correction
and the verdict rule of :mod:`rewardlab.core.stats`), and this module formats that file. A notebook
that has not run, or whose metrics lack a claim's per-seed values, gives a row naming the command
to run. The run-time table reads papermill's record of each executed copy
(``metadata.papermill.duration``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

from rewardlab.core.artifacts import atomic_write_text, repo_root, runs_dir
from rewardlab.core.provenance import stale_reasons
from rewardlab.reporting.claims import write_claims

RULE = ("Each claim was declared in `rewardlab.reporting.claims` before its run: the paper's words, one primary contrast (arms, "
        "metric, step or budget, the direction the paper claims), the unit of replication and an equivalence margin "
        "with its reason. Estimate: the mean over units of arm − baseline (paired by seed where both arms ran on the "
        "same seeds), with a Student-t interval, Holm-corrected across a notebook's primary contrasts (the interval is "
        "taken at the level Holm gives it). Verdict (`rewardlab.core.stats.verdict`): **reproduced** — the interval lies "
        "on the side the paper claims; **opposite** — on the other side (for a claim that two things match: they "
        "differ by more than the margin); **equivalent** — the whole interval lies inside ±margin; **not resolved** "
        "— none of these. Bounds are strict: an interval touching 0 or the margin decides nothing. *n for margin*: "
        "the number of units whose interval half-width would reach the margin at the observed spread; *n to decide the "
        "direction*: the units at which an interval with the observed mean and spread would exclude 0 (even odds for "
        "a replication); *n for 80% power*: the units at which a new run's t test decides the observed effect with "
        "probability 0.8 (`rewardlab.core.power`).")


def _number(value, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:+.{digits}f}"


def unfilled_sizes(text: str) -> str:
    """A contrast or metric of a claim no run has measured yet: its sizes (``{largest_budget}``, filled from the
    run's metrics once it exists) shown as "…", not as the template's field names."""
    return re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", "…", text)


def claim_row(record: dict, outdated: bool = False) -> str:
    """One markdown row of the claims table from one claims.json record (``outdated``: its run predates the
    current world, models or library code it used, see :func:`outdated_runs`)."""
    mark = " (made with earlier code)" if outdated else ""
    words = f"{record['contrast']}; {record['metric']}"
    head = (f"| {record['paper']} | {record['claim']} | `{record['notebook'][:2]}`{mark} | "
            f"{unfilled_sizes(words) if record['verdict'] == 'not run' else words} ")
    if record["verdict"] == "not run":
        return head + f"| {record['problem']} | — | — |"
    half, n_margin = record.get("half_width"), record.get("n_for_margin")
    measured = (f"{_number(record['estimate'])} [{_number(record['low'])}, {_number(record['high'])}] "
                f"({record['interval_method']}, {record['level']:.1%}, n = {record['n']} × {record['unit'].split(' (')[0]}); "
                f"arm {_number(record['arm_mean'])} vs {_number(record['baseline_mean'])}")
    n_direction = record.get("n_for_direction")
    power = (f"half-width {half:.3f} vs margin {record['margin']:g}; n for margin: "
             f"{n_margin if n_margin is not None else '—'}"
             + (f"; n to decide the direction: {n_direction}" if n_direction is not None else "")
             + (f"; n for 80% power: {record['n_for_power']}" if record.get("n_for_power") is not None else "")
             ) if half is not None else f"margin {record['margin']:g}"
    said = record["verdict"] if record["verdict"] == "not resolved" else f"**{record['verdict']}**"
    smoke = " (smoke sizes: not a result)" if record.get("smoke") else ""
    return head + f"| {measured}{smoke} | {power} | {said} |"


TABLE_HEAD = ["| paper | claim (as the paper reports it) | notebook | declared contrast | this run: estimate [interval] | "
              "power | verdict |", "|---|---|---|---|---|---|---|"]


def claims_table(records: list[dict], outdated: set[str] = frozenset()) -> list[str]:
    """The claims table; rows of notebooks in ``outdated`` (stems) say so beside the notebook number."""
    return TABLE_HEAD + [claim_row(r, r["notebook"] in outdated) for r in records]


def run_times(directory: Path) -> list[tuple[str, float | None]]:
    """(notebook, seconds) from papermill's record in each executed copy."""
    rows = []
    for path in sorted(directory.glob("[0-9][0-9]_*.ipynb")):
        duration = json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("duration")
        rows.append((path.stem, duration))
    return rows


def outdated_runs(directory: Path) -> list[tuple[str, str]]:
    """(notebook, what changed) for each metrics file recorded with other versions than this checkout's, or
    whose library modules (:mod:`rewardlab.core.provenance`) have changed since the run."""
    rows = []
    for path in sorted(directory.glob("[0-9][0-9]_*.metrics.json")):
        stem, run = path.name.split(".")[0], json.loads(path.read_text())
        if run.get("versions") is None:
            rows.append((stem, "recorded before versions were (world v2, reward model v1)"))
            continue
        changed = stale_reasons(run, repo_root() / "notebooks" / f"{stem}.ipynb")
        if changed:
            rows.append((stem, ", ".join(changed)))
    return rows


def untraced_runs(directory: Path) -> list[str]:
    """The notebooks whose metrics file does not record the code that produced it (no ``library_hash``)."""
    return [path.name.split(".")[0] for path in sorted(directory.glob("[0-9][0-9]_*.metrics.json"))
            if "library_hash" not in json.loads(path.read_text())]


UNDERPOWERED = ("quick", "smoke")
UNDERPOWERED_NOTE = (
    "> **Quick teaching tier: every verdict below is underpowered.** These runs use fewer seeds, shorter PPO and fewer "
    "pairs than the study tier, so most intervals are too wide to decide, and a verdict here can differ from the "
    "study's. They show how each claim is tested, not whether it holds: the verdicts that decide are the powered "
    "tier's (`powered_runs/SUMMARY.md`), shown beside the study tier's in the README's claims table.")


def render(directory: Path | None = None, records: list[dict] | None = None) -> str:
    """The SUMMARY.md text for ``directory``'s claims.json (``records``: already loaded)."""
    directory = Path(directory or runs_dir())
    if records is None:
        records = json.loads((directory / "claims.json").read_text())
    presets = sorted({(r["preset"], r["smoke"]) for r in records if "preset" in r})
    outdated = outdated_runs(directory)
    lines = ["# Claims against this run", ""]
    if any(r.get("preset") in UNDERPOWERED for r in records):
        lines += [UNDERPOWERED_NOTE, ""]
    lines += [f"Generated by `python -m rewardlab.reporting.summary` from `{directory.name}/claims.json` (itself from "
             f"`{directory.name}/*.metrics.json`); do not edit by hand.", "", RULE, "", *claims_table(records, {stem for stem, _ in outdated}), "",
             "## Margins and where each contrast's per-seed values live", "",
             "| claim id | margin | why this margin | arm | baseline |", "|---|---|---|---|---|"]
    lines += [f"| `{r['id']}` | {r['margin']:g} | {r['margin_reason']} | `{r['arm_key']}` | `{r['baseline_key']}` |"
              for r in records]
    lines += ["", "Presets of these runs: " + (", ".join(f"`{p}`" + (" (smoke sizes: not results)" if s else "")
                                                    for p, s in presets) or "none"), "",
              "## Run time of each notebook", "", "| notebook | minutes |", "|---|---|"]
    times = run_times(directory)
    lines += [f"| `{stem}` | {'—' if s is None else f'{s / 60:.1f}'} |" for stem, s in times]
    total = sum(s for _, s in times if s)
    lines += [f"| **all** | **{total / 60:.1f}** |", ""]
    if outdated:
        lines += ["## Runs produced with earlier code, world or models", "",
                  "These notebooks' committed numbers (and their claims above) come from an earlier version of what "
                  "they stand on; they stay until the notebook is re-run (`python -m rewardlab.reproduce --only NN`).",
                  "", "| notebook | produced with |", "|---|---|"]
        lines += [f"| `{stem}` | {what} |" for stem, what in outdated] + [""]
    untraced = untraced_runs(directory)
    if untraced:
        lines += ["## Runs that do not record their code", "",
                  "These metrics files predate the commit and library hash that runs now record, so a later change "
                  "to their code cannot be detected: " + ", ".join(f"`{stem}`" for stem in untraced) + ".", ""]
    return "\n".join(lines)


README_START, README_END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"
# the repository's committed tiers, as the README's claims table shows them: the powered run decides, the study
# tier is the smaller run beside it
README_TIERS = (("deciding run (preset powered)", "powered_runs", "powered"), ("study tier (preset tiny)", "papermill_runs", "tiny"))


def repository_tiers() -> list[tuple[str, Path, str]]:
    """(label, folder, preset) of each tier the README shows, the deciding one first."""
    return [(label, repo_root() / folder, preset) for label, folder, preset in README_TIERS]


def repository_readme(directory: Path | None) -> Path | None:
    """The repository's README when ``directory`` is one of the repository's own tiers' folders, else None."""
    where = Path(directory or runs_dir()).resolve()
    return repo_root() / "README.md" if any(where == d.resolve() for _, d, _ in repository_tiers()) else None


def tier_cell(record: dict | None, outdated: bool, command: str) -> str:
    """One tier's verdict on one claim: verdict, estimate [interval] and n; or the command that runs it."""
    if record is None or record["verdict"] == "not run":
        return f"not run: `{command}`"
    said = record["verdict"] if record["verdict"] == "not resolved" else f"**{record['verdict']}**"
    return (f"{said} {_number(record['estimate'])} [{_number(record['low'])}, {_number(record['high'])}], "
            f"n = {record['n']}" + (" (smoke sizes: not a result)" if record.get("smoke") else "")
            + (" (made with earlier code)" if outdated else ""))


def tiers_table(tiers: list[tuple[str, Path, str, list[dict] | None]]) -> list[str]:
    """The README's claims table: one row per claim, one column per tier (``(label, folder, preset, records or
    None)``, the deciding tier first). The claim's words and contrast are the first tier's that ran it (its sizes;
    a tier that has not run the claim has no sizes to fill its contrast with)."""
    by_tier = [({r["id"]: r for r in records or []}, {s for s, _ in outdated_runs(folder)} if records else set())
               for _, folder, _, records in tiers]
    ids = list(dict.fromkeys(i for records, _ in by_tier for i in records))
    lines = ["| paper | claim (as the paper reports it) | notebook | declared contrast; metric | "
             + " | ".join(f"{label}: verdict, estimate [interval], n" for label, _, _, _ in tiers) + " |",
             "|---|---|---|---|" + "---|" * len(tiers)]
    for claim_id in ids:
        held = [records[claim_id] for records, _ in by_tier if claim_id in records]
        first = next((r for r in held if r["verdict"] != "not run"), held[0])
        cells = [tier_cell(records.get(claim_id), first["notebook"] in outdated,
                           f"python -m rewardlab.reproduce --preset {preset} --only {first['notebook'][:2]}")
                 for (records, outdated), (_, _, preset, _) in zip(by_tier, tiers)]
        words = f"{first['contrast']}; {first['metric']}"
        lines.append(f"| {first['paper']} | {first['claim']} | `{first['notebook'][:2]}` | "
                     f"{unfilled_sizes(words) if first['verdict'] == 'not run' else words} | " + " | ".join(cells) + " |")
    return lines


def readme_tiers(directory: Path, records: list[dict]) -> list[tuple[str, Path, str, list[dict] | None]]:
    """The tiers a README table shows after ``directory`` was summarised: the repository's tiers when
    ``directory`` is one of them (the others read from their claims.json, None where there is none), else this
    run alone."""
    where = Path(directory).resolve()
    if not any(where == d.resolve() for _, d, _ in repository_tiers()):
        presets = sorted({r.get("preset", "tiny") for r in records})
        return [("this run", Path(directory), presets[0] if len(presets) == 1 else "tiny", records)]
    return [(label, folder, preset, records if folder.resolve() == where else
             json.loads((folder / "claims.json").read_text()) if (folder / "claims.json").exists() else None)
            for label, folder, preset in repository_tiers()]


def write_summary(directory: Path | None = None, output: Path | None = None, readme: Path | None = None) -> Path:
    """Write claims.json from the metrics files, then SUMMARY.md from it; with ``readme``, also replace
    the claims table between its two markers (a README without them raises ValueError, after
    SUMMARY.md is written): for the repository's own folders, every tier's verdict side by side
    (:func:`readme_tiers`)."""
    directory = Path(directory or runs_dir())
    records = json.loads(write_claims(directory).read_text())
    written = atomic_write_text(Path(output or directory / "SUMMARY.md"), render(directory, records))
    if readme is not None:
        readme = Path(readme)
        page = readme.read_text()
        if README_START not in page or README_END not in page:
            raise ValueError(f"{readme} lacks the markers {README_START} ... {README_END} around its claims table; "
                             f"{written} is written")
        table = "\n".join(tiers_table(readme_tiers(directory, records)))
        before, rest = page.split(README_START, 1)
        after = rest.split(README_END, 1)[1]
        atomic_write_text(readme, f"{before}{README_START}\n{table}\n{README_END}{after}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.reporting.summary", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    parser.add_argument("--output", type=Path, default=None, help="default: <runs dir>/SUMMARY.md")
    parser.add_argument("--readme", type=Path, default=None, help="also refresh the claims table of this README")
    args = parser.parse_args(argv)
    print(f"wrote {write_summary(args.runs_dir, args.output, args.readme)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

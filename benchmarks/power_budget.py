"""What the claims of a run would need, in units and in minutes: a power analysis from a run's own spreads.

    python benchmarks/power_budget.py powered_runs/claims.json --minutes 08=21.5,09=10.2,10=12.0,11=47.3

For each claim of the claims files: its unit, the units it had (n), its verdict, and the units at which a new
run would decide the observed effect with even odds (``n_for_direction``) and with 80% power (``n_for_power``,
:mod:`rewardlab.core.power`). For each notebook given ``--minutes`` (its wall minutes at the run's sizes): the
minutes if its units were set to the largest ``n_for_power`` among its claims that stay within ``--cap`` units,
scaled in proportion to the units (an upper bound on the saving where part of a notebook's time does not grow with
its units, a lower bound on the cost where it grows). A pilot's effect sizes its next run: the sizes this table
gives are to be declared before that run, never read from the run they decide.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        records += [r for r in json.loads(Path(path).read_text()) if r.get("verdict") != "not run"]
    return records


def parse_minutes(text: str) -> dict[str, float]:
    minutes = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        number, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--minutes {item!r}: write NN=minutes, e.g. 08=21.5")
        minutes[number.zfill(2)] = float(value)
    return minutes


def claim_rows(records: list[dict]) -> list[str]:
    lines = ["| claim | notebook | unit | n | verdict | n to decide the direction | n for 80% power |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| `{r['id']}` | `{r['notebook'][:2]}` | {r['unit'].split(' (')[0].split(':')[0]} | {r['n']} | "
                     f"{r['verdict']} | {r.get('n_for_direction') or '—'} | {r.get('n_for_power') or '—'} |")
    return lines


def notebook_rows(records: list[dict], minutes: dict[str, float], cap: int) -> list[str]:
    lines = [f"| notebook | units now | minutes now | units for 80% power (claims within {cap}) | minutes then | "
             f"claims beyond {cap} units |", "|---|---|---|---|---|---|"]
    total_now = total_then = 0.0
    for number, now_minutes in sorted(minutes.items()):
        own = [r for r in records if r["notebook"][:2] == number]
        if not own:
            lines.append(f"| `{number}` | — | {now_minutes:.1f} | no claims | {now_minutes:.1f} | |")
            total_now, total_then = total_now + now_minutes, total_then + now_minutes
            continue
        units = max(r["n"] for r in own)
        within = [r["n_for_power"] for r in own if r.get("n_for_power") and r["n_for_power"] <= cap]
        beyond = [f"`{r['id']}` ({r.get('n_for_power') or '—'})" for r in own
                  if not r.get("n_for_power") or r["n_for_power"] > cap]
        sized = max(within) if within else units
        then = now_minutes * sized / units
        total_now, total_then = total_now + now_minutes, total_then + then
        lines.append(f"| `{number}` | {units} | {now_minutes:.1f} | {sized} | {then:.1f} | {', '.join(beyond)} |")
    lines.append(f"| **all** | | **{total_now:.1f}** | | **{total_then:.1f}** | |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("claims", type=Path, nargs="+", help="claims.json files (a run's, e.g. powered_runs/claims.json)")
    parser.add_argument("--minutes", default="", help="wall minutes per notebook at the run's sizes: 08=21.5,09=10.2")
    parser.add_argument("--cap", type=int, default=20, help="the most units a notebook may be sized to (default 20)")
    args = parser.parse_args(argv)
    records = load(args.claims)
    print("\n".join(claim_rows(records)))
    if args.minutes:
        print()
        print("\n".join(notebook_rows(records, parse_minutes(args.minutes), args.cap)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

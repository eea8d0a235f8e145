"""``papermill_runs/SUMMARY.md``: each paper's claim beside what this run measured, from the metrics files.

    python -m rewardlab.summary [--runs-dir papermill_runs] [--output papermill_runs/SUMMARY.md]

Nothing in the table is typed by hand: every measured cell is formatted from a notebook's
``NN_topic.metrics.json`` (written by :func:`rewardlab.metrics.record_metrics`), and so is every
verdict, by one rule. A comparison is a difference d with the half-width h of its 95% interval
(paired over seeds where the notebook recorded it so, else sqrt(h_a² + h_b²) of two independent
means, which is conservative):

* **reproduced**: the interval lies on the side the paper claims (d − h > 0 for "higher");
* **opposite**: it lies on the other side;
* **not resolved**: it covers 0 — the run cannot tell the two apart at its number of seeds.

A claim of *matching* a target (RCfD's reward = the demonstrations') is **consistent** when the
interval covers the target and **missed** when it does not. A notebook that has not run gives a
row saying so, with the command that runs it. The run-time table reads papermill's record of
each executed copy (``metadata.papermill.duration``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .artifacts import atomic_write_text, runs_dir


def verdict(d: float, h: float, higher: bool = True) -> str:
    """The rule of the module doc for a claim that d > 0 (``higher``) or d < 0."""
    if d is None or h is None or not (math.isfinite(d) and math.isfinite(h)):
        return "not resolved (no interval)"
    sign = 1 if higher else -1
    if sign * d - h > 0:
        return "**reproduced**"
    if sign * d + h < 0:
        return "**opposite**"
    return "not resolved (interval covers 0)"


def match_verdict(d: float, h: float) -> str:
    if d is None or h is None or not (math.isfinite(d) and math.isfinite(h)):
        return "not resolved (no interval)"
    return "**consistent**" if abs(d) <= h else f"**missed** ({'above' if d > 0 else 'below'} the target)"


def pm(value: float, half: float | None = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:+.{digits}f}"
    return text if half is None or not math.isfinite(half) else f"{text} ± {half:.{digits}f}"


def unpaired(a: float, ha: float, b: float, hb: float) -> tuple[float, float]:
    return a - b, math.sqrt(ha ** 2 + hb ** 2)


@dataclass(frozen=True)
class Claim:
    """One row: a paper's claim and how to read this run's answer off a notebook's metrics."""

    paper: str
    notebook: str  # the stem of the notebook whose metrics answer it
    claim: str  # as the paper reports it, with its numbers
    measure: Callable[[dict], tuple[str, str]]  # metrics -> (what this run measured, verdict)


def _dense_vs_sparse(m):
    best = m["fastest_by_auc"]
    rows = ", ".join(f"{s} {pm(m[f'auc_gold_{s}'], m[f'auc_gold_ci95_{s}'])}" for s in ("lime", "shap", "abc", "uniform", "sparse"))
    return (f"AUC of gold over {m['ppo_steps']} PPO steps ({m['seeds']} seeds): {rows}; fastest ({best}) − sparse, paired: "
            f"{pm(m['auc_gain_over_sparse'], m['auc_gain_over_sparse_ci95'])}",
            verdict(m["auc_gain_over_sparse"], m["auc_gain_over_sparse_ci95"]))


def _abc_vs_sparse(m):
    d, h = unpaired(m["auc_gold_abc"], m["auc_gold_ci95_abc"], m["auc_gold_sparse"], m["auc_gold_ci95_sparse"])
    return (f"AUC of gold: ABC {pm(m['auc_gold_abc'], m['auc_gold_ci95_abc'])} vs sparse "
            f"{pm(m['auc_gold_sparse'], m['auc_gold_ci95_sparse'])}; difference {pm(d, h)}", verdict(d, h))


def _bo(m):
    return (f"BO's best objective {m['bo_best_objective']:.3f} vs random search {m['random_search_best_objective']:.3f} "
            f"({m['trials_per_strategy']} trials each, {m['sobol_trials']} shared Sobol); confirmation on "
            f"{m['confirm_seeds']} fresh seeds, final gold: BO's weights {m['confirm_gold_bo']:+.3f}, best single explainer "
            f"({m['best_single_explainer']}) {m['confirm_gold_best_single']:+.3f}, sparse {m['confirm_gold_sparse']:+.3f}; "
            f"BO − best single, paired: {pm(m['confirm_bo_minus_best_single'], m['confirm_bo_minus_best_single_ci95'])}",
            verdict(m["confirm_bo_minus_best_single"], m["confirm_bo_minus_best_single_ci95"]))


def _faithful(m):
    d, h = unpaired(m["faithfulness_spearman_shap"], m["faithfulness_spearman_shap_ci95"],
                    m["faithfulness_spearman_random"], m["faithfulness_spearman_random_ci95"])
    return (f"Spearman with VADER's word credit ({m['n_seeds']} reward-model seeds): SHAP "
            f"{pm(m['faithfulness_spearman_shap'], m['faithfulness_spearman_shap_ci95'])}, LIME "
            f"{pm(m['faithfulness_spearman_lime'], m['faithfulness_spearman_lime_ci95'])}, attention "
            f"{pm(m['faithfulness_spearman_attention'], m['faithfulness_spearman_attention_ci95'])}, random "
            f"{pm(m['faithfulness_spearman_random'], m['faithfulness_spearman_random_ci95'])}; SHAP − random {pm(d, h)}",
            verdict(d, h))


def _over_optimisation(m):
    gold = m["final_gold_by_method"]
    best_other = max((v, k) for k, v in gold.items() if k != "beta=0" and k.startswith("beta"))
    shown = m["beta0_final_proxy"] > m["sft_proxy"] and m["beta0_naturalness"] > m["sft_naturalness"] and gold["beta=0"] < best_other[0]
    return (f"β = 0: proxy {m['sft_proxy']:+.2f} → {m['beta0_final_proxy']:+.2f}, naturalness NLL "
            f"{m['sft_naturalness']:.2f} → {m['beta0_naturalness']:.2f}, gold {gold['beta=0']:+.3f} vs "
            f"{best_other[1]}'s {best_other[0]:+.3f} (means of {m['seeds']} seeds)",
            "**reproduced** (point estimates)" if shown else "not shown (point estimates)")


def _rcfd_match(m):
    d = m["rcfd_final_proxy"] - m["demo_mean_proxy"]
    return (f"RCfD final R {pm(m['rcfd_final_proxy'], m['rcfd_final_proxy_ci95'])} vs the demonstrations' "
            f"{m['demo_mean_proxy']:+.3f} (gap {d:+.3f})", match_verdict(d, m["rcfd_final_proxy_ci95"]))


def _rcfd_alignment(m):
    d, h = m["rcfd_minus_best_beta_A"], m["rcfd_minus_best_beta_A_ci95"]
    said = match_verdict(d, h)
    if said.startswith("**missed**"):
        said = "**missed**: RCfD's A is higher (worse)" if d > 0 else "**reproduced**, and better: RCfD's A is lower"
    return (f"A: RCfD {pm(m['rcfd_alignment_A'], m['rcfd_alignment_A_ci95'])} vs the sweep's best β = {m['best_beta']:g} "
            f"{pm(m['best_beta_alignment_A'], m['best_beta_alignment_A_ci95'])}; RCfD − best β, paired {pm(d, h)} "
            "(lower A is better)", said)


def _tree_accuracy(m):
    largest = str(max(int(b) for b in m["tree_vs_chain_accuracy"]))
    acc = m["tree_vs_chain_accuracy"][largest]
    return (f"held-out accuracy, tree − chain pooled over budgets {m['budgets']} and {m['n_seeds']} seeds: "
            f"{pm(m['tree_minus_chain_accuracy_pooled'], m['tree_minus_chain_accuracy_pooled_ci95'])} "
            f"(at {largest} pairs: tree {acc['tree']:.3f}, chain {acc['chain']:.3f})",
            verdict(m["tree_minus_chain_accuracy_pooled"], m["tree_minus_chain_accuracy_pooled_ci95"]))


def _tree_win(m):
    return (f"best-of-n with each reward model: tree's pick wins {m['tree_over_chain_win_rate']:.1%} ± "
            f"{m['tree_over_chain_win_rate_ci95']:.1%}",
            verdict(m["tree_over_chain_win_rate"] - 0.5, m["tree_over_chain_win_rate_ci95"]))


def _brme_accuracy(m):
    d, h = unpaired(m["brme_nominal_accuracy"], m["brme_nominal_accuracy_ci95"], m["bt_accuracy"], m["bt_accuracy_ci95"])
    return (f"held-out pair accuracy ({m['n_seeds']} seeds, {m['n_heads']} heads): BRME nominal head "
            f"{pm(m['brme_nominal_accuracy'], m['brme_nominal_accuracy_ci95'])}, one Bradley–Terry model "
            f"{pm(m['bt_accuracy'], m['bt_accuracy_ci95'])}; difference {pm(d, h)}", verdict(d, h))


def _robust(m):
    by = m["final_gold_by_alpha"]
    rows = ", ".join(f"w = {float(w):g} {pm(v, m['final_gold_ci95_by_alpha'][w])}" for w, v in by.items())
    return (f"final gold ({m['seeds']} seeds, {m['ppo_steps']} steps): {rows}, UWO {pm(m['uwo_final_gold'])}; best w "
            f"({m['best_alpha']:g}) − nominal, paired {pm(m['best_minus_nominal_final_gold'], m['best_minus_nominal_final_gold_ci95'])}"
            f"; heads' spread {m['head_spread']:.3f} sd of the nominal reward",
            verdict(m["best_minus_nominal_final_gold"], m["best_minus_nominal_final_gold_ci95"]))


def _corrupted(m):
    drop = m["corrupted_minus_clean_final_gold"]
    return ("one head trained on flipped labels, final gold minus the clean run's: "
            + ", ".join(f"{k} {v:+.3f}" for k, v in drop.items()),
            "**opposite** (point estimates)" if drop.get("w=0", 0) < drop.get("w=1", 0) else "**reproduced** (point estimates)")


KOO, CHAN, RITA, QIU, YAN = ("Koo et al. 2025", "Chan et al. 2024 (ABC)", "Rita et al. 2024 (RCfD)", "Qiu et al. 2024",
                             "Yan et al. 2024 (BRME)")
CLAIMS = [
    Claim(KOO, "05_token_attribution", "SHAP and LIME token credit of a reward model says which tokens earned the reward "
          "(the premise of explainer-based shaping)", _faithful),
    Claim(KOO, "06_dense_reward_ppo", "per-token rewards from explainers make PPO learn faster than the sparse reward", _dense_vs_sparse),
    Claim(CHAN, "06_dense_reward_ppo", "attention credit learns faster than sparse PPO (IMDb: reward 9.24 vs 7.00 at step 25)",
          _abc_vs_sparse),
    Claim(KOO, "07_bayesian_optimization_of_reward_shape", "Bayesian optimisation of the explainer mixture finds weights "
          "better than any single explainer", _bo),
    Claim(RITA, "08_rcfd_and_over_optimization", "without a KL penalty PPO over-optimises the reward model: reward up "
          "(2.96), naturalness collapses (0.09)", _over_optimisation),
    Claim(RITA, "08_rcfd_and_over_optimization", "RCfD lands the reward at the demonstrations' level (1.97 vs 2.01)", _rcfd_match),
    Claim(RITA, "08_rcfd_and_over_optimization", "RCfD matches a tuned KL baseline's reward-distribution alignment without a "
          "sweep (A = 0.04)", _rcfd_alignment),
    Claim(QIU, "03_tree_structured_preferences", "at an equal labelling budget, tree-structured pairs train a reward model "
          "that generalises better than independent (chain) samples", _tree_accuracy),
    Claim(QIU, "03_tree_structured_preferences", "the tree-trained reward model's policy wins 65% of comparisons "
          "(after PPO; here best-of-n)", _tree_win),
    Claim(YAN, "04_bayesian_reward_ensembles", "the BRME's nominal head (lowest σ) is a better reward model than a single one",
          _brme_accuracy),
    Claim(YAN, "09_reward_robust_rlhf", "mixing the nominal reward with the worst head (w < 1) beats nominal RLHF "
          "(≈ 4% better benchmark accuracy, steadier training)", _robust),
    Claim(YAN, "09_reward_robust_rlhf", "the robust objective resists an imperfect reward model (here: one corrupted head)",
          _corrupted),
]


def _load(directory: Path, stem: str) -> dict | None:
    path = directory / f"{stem}.metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_times(directory: Path) -> list[tuple[str, float | None]]:
    """(notebook, seconds) from papermill's record in each executed copy."""
    rows = []
    for path in sorted(directory.glob("[0-9][0-9]_*.ipynb")):
        duration = json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("duration")
        rows.append((path.stem, duration))
    return rows


def claims_table(directory: Path) -> tuple[list[str], set]:
    """The markdown rows of the claims table, and the (preset, smoke) pairs of the runs they read."""
    lines = ["| paper | claim (as the paper reports it) | notebook | this run measured | verdict |", "|---|---|---|---|---|"]
    presets = set()
    for claim in CLAIMS:
        record = _load(directory, claim.notebook)
        if record is None:
            measured, said = f"not run: `python -m rewardlab.reproduce --only {claim.notebook[:2]}`", "—"
        else:
            presets.add((record["preset"], record["smoke"]))
            try:
                measured, said = claim.measure(record["metrics"])
            except KeyError as missing:
                measured, said = f"metric {missing} missing: re-run notebook {claim.notebook[:2]}", "—"
        lines.append(f"| {claim.paper} | {claim.claim} | `{claim.notebook[:2]}` | {measured} | {said} |")
    return lines, presets


def render(directory: Path | None = None) -> str:
    """The SUMMARY.md text for the metrics files in ``directory`` (default: the runs folder)."""
    directory = Path(directory or runs_dir())
    table, presets = claims_table(directory)
    lines = ["# Claims against this run", "",
             f"Generated by `python -m rewardlab.summary` from `{directory.name}/*.metrics.json`; do not edit by hand. "
             "Verdict rule (module doc of `rewardlab.summary`): a difference with its 95% interval is *reproduced* when the "
             "interval lies on the claimed side, *opposite* when on the other, *not resolved* when it covers 0.", "",
             *table]
    lines += ["", "Presets of these runs: " + (", ".join(f"`{p}`" + (" (smoke sizes: not results)" if s else "")
                                                    for p, s in sorted(presets)) or "none"), "",
              "## Run time of each notebook", "", "| notebook | minutes |", "|---|---|"]
    times = run_times(directory)
    lines += [f"| `{stem}` | {'—' if s is None else f'{s / 60:.1f}'} |" for stem, s in times]
    total = sum(s for _, s in times if s)
    lines += [f"| **all** | **{total / 60:.1f}** |", ""]
    return "\n".join(lines)


README_START, README_END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"


def repository_readme(directory: Path | None) -> Path | None:
    """The repository's README when ``directory`` is the repository's own runs folder, else None."""
    from .artifacts import repo_root

    own = (repo_root() / "papermill_runs").resolve()
    return repo_root() / "README.md" if Path(directory or runs_dir()).resolve() == own else None


def write_summary(directory: Path | None = None, output: Path | None = None, readme: Path | None = None) -> Path:
    """Write SUMMARY.md; with ``readme``, then also replace the claims table between its two markers
    (a README without them raises ValueError, after SUMMARY.md is written)."""
    directory = Path(directory or runs_dir())
    written = atomic_write_text(Path(output or directory / "SUMMARY.md"), render(directory))
    if readme is not None:
        readme = Path(readme)
        page = readme.read_text()
        if README_START not in page or README_END not in page:
            raise ValueError(f"{readme} lacks the markers {README_START} ... {README_END} around its claims table; "
                             f"{written} is written")
        table = "\n".join(claims_table(directory)[0])
        before, rest = page.split(README_START, 1)
        after = rest.split(README_END, 1)[1]
        atomic_write_text(readme, f"{before}{README_START}\n{table}\n{README_END}{after}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.summary", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    parser.add_argument("--output", type=Path, default=None, help="default: <runs dir>/SUMMARY.md")
    parser.add_argument("--readme", type=Path, default=None, help="also refresh the claims table of this README")
    args = parser.parse_args(argv)
    print(f"wrote {write_summary(args.runs_dir, args.output, args.readme)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The papers' claims, declared before any run, and their verdicts: ``papermill_runs/claims.json``.

    python -m rewardlab.claims [--runs-dir papermill_runs]

Each :class:`Claim` fixes, in code and before its notebook runs: the paper's words, the primary
contrast (the two arms, the metric, the step or budget, the direction the paper claims), the unit
of replication, and an equivalence margin with its reason. The arms are named, never chosen from
the results; where a study needs a selection (notebook 07's best single explainer, notebook 08's
tuned β) the notebook makes it on separate search runs and records the selected arm's values
under a fixed name, which is what the claim reads.

A claim reads the per-unit values of its arms from its notebook's metrics file (``arm`` and
``baseline`` are key paths into ``metrics``; a baseline may instead be a key of one number, or a
number, e.g. the SFT policy's value or 0.5). The contrast is the mean of a − b over units, with a
paired t interval (a t interval when the baseline is one number). Holm's correction runs across
the primary contrasts of one notebook, and each interval is taken at the level Holm gives it
(:mod:`rewardlab.stats`); the verdict follows :func:`rewardlab.stats.verdict`. Everything in
claims.json can be recomputed from the metrics files alone (``tests/test_claims.py`` does).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import stats
from .artifacts import atomic_write_text, runs_dir

KOO, CHAN, RITA, QIU, YAN = ("Koo et al. 2025", "Chan et al. 2024 (ABC)", "Rita et al. 2024 (RCfD)", "Qiu et al. 2024",
                             "Yan et al. 2024 (BRME)")
GOLD_MARGIN = (0.05, "a tenth of the climb from the SFT policy (gold ≈ 0) to the gold threshold 0.5 that notebook 06 "
                     "declares as a policy that learned the task")
DENSE_WORDS = "per-token rewards from explainers make PPO learn faster than the sparse reward"


@dataclass(frozen=True)
class Claim:
    """One pre-registered claim: what the paper says and the one contrast that answers it here."""

    id: str
    paper: str
    words: str  # the paper's claim as it reports it
    notebook: str  # stem of the notebook whose metrics answer it
    contrast: str  # the arms in words, "a − b"
    metric: str  # what is measured, with the step or budget (``{key}`` is filled from the metrics)
    direction: str  # "higher", "lower" (a − b is claimed above / below 0) or "equal" (the paper says they match)
    unit: str  # the unit of replication
    margin: float  # equivalence margin around 0, in the metric's units
    margin_reason: str
    arm: tuple  # key path of the arm's per-unit values in ``metrics``
    baseline: tuple | float  # key path of per-unit values (paired), of one number, or a number

    def __post_init__(self):
        stats.check_direction(self.direction)
        if not self.margin > 0:
            raise ValueError(f"claim {self.id}: margin must be > 0 (an equivalence needs a width)")


def _dig(metrics: dict, path: tuple, claim: Claim):
    value = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"{'.'.join(path)}: missing from {claim.notebook}.metrics.json; re-run notebook "
                           f"{claim.notebook[:2]} (`python -m rewardlab.reproduce --only {claim.notebook[:2]}`)")
        value = value[key]
    return value


def differences(claim: Claim, metrics: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
    """(a − b per unit, a, b) of a claim from a notebook's metrics."""
    arm = np.asarray(_dig(metrics, claim.arm, claim), dtype=float)
    base = claim.baseline if isinstance(claim.baseline, (int, float)) else _dig(metrics, claim.baseline, claim)
    if np.ndim(base) > 0:
        base = np.asarray(base, dtype=float)
        if base.shape != arm.shape:
            raise ValueError(f"claim {claim.id}: {arm.size} units in the arm, {base.size} in the baseline; "
                             "a paired contrast needs the same units")
    else:
        base = float(base)
    return arm - base, arm, base


CLAIMS = [
    *(Claim(f"koo-faithfulness-{method}", KOO, "SHAP and LIME token credit of a reward model says which tokens "
            "earned the reward (the premise of explainer-based shaping)", "05_token_attribution",
            f"{method.upper()} − random credit",
            "Spearman of token credit with VADER's word credit, mean over {n_responses} responses", "higher",
            "reward-model seed (the same responses)", 0.1,
            "a rank correlation below 0.1 shares under 1% of the rank variance: no usable credit",
            ("faithfulness_spearman_by_seed", method), ("faithfulness_spearman_by_seed", "random"))
      for method in ("shap", "lime")),
    *(Claim(claim_id, paper, words, "06_dense_reward_ppo", f"{name} − sparse PPO",
            "AUC of gold (mean gold of the rollouts over {ppo_steps} steps)", "higher",
            "PPO seed (one world and reward model; arms share seeds)", *GOLD_MARGIN,
            ("auc_gold_by_seed", shape), ("auc_gold_by_seed", "sparse"))
      for claim_id, paper, words, name, shape in (
          ("koo-dense-shap", KOO, DENSE_WORDS, "SHAP-shaped", "shap"),
          ("koo-dense-lime", KOO, DENSE_WORDS, "LIME-shaped", "lime"),
          ("chan-abc", CHAN, "attention credit learns faster than sparse PPO (IMDb: reward 9.24 vs 7.00 at step 25)",
           "ABC", "abc"))),
    Claim("koo-bo", KOO, "Bayesian optimisation of the explainer mixture finds weights better than any single explainer",
          "07_bayesian_optimization_of_reward_shape", "BO's weights − the best single explainer (chosen on the search runs)",
          "final gold on held-out prompts after {inner_steps} PPO steps", "higher",
          "fresh confirmation PPO seed (arms share seeds)", *GOLD_MARGIN,
          ("confirm_final_gold_by_seed", "bo"), ("confirm_final_gold_by_seed", "best_single")),
    Claim("rita-overopt-proxy", RITA, "without a KL penalty PPO over-optimises the reward model: reward up (2.96), "
          "naturalness collapses (0.09)", "08_rcfd_and_over_optimization", "β = 0 PPO − the SFT policy",
          "proxy reward R of the final policy on held-out prompts, step {ppo_steps}", "higher", "PPO seed", 0.15,
          "a tenth of the spread (sd ≈ 1.5) of R over the demonstrations", ("final_proxy_by_seed", "beta=0"), ("sft_proxy",)),
    Claim("rita-overopt-naturalness", RITA, "without a KL penalty PPO over-optimises the reward model: reward up (2.96), "
          "naturalness collapses (0.09)", "08_rcfd_and_over_optimization", "β = 0 PPO − the SFT policy",
          "naturalness NLL under the SFT policy (higher = less natural), step {ppo_steps}", "higher", "PPO seed", 0.1,
          "5% of the SFT policy's own NLL (≈ 2.0 nats per token)", ("naturalness_by_seed", "beta=0"), ("sft_naturalness",)),
    Claim("rita-rcfd-reward", RITA, "RCfD lands the reward at the demonstrations' level (1.97 vs 2.01)",
          "08_rcfd_and_over_optimization", "RCfD − the demonstrations' mean R (held-out prompts)",
          "proxy reward R of the final policy on held-out prompts, step {ppo_steps}", "equal", "PPO seed", 0.15,
          "a tenth of the spread (sd ≈ 1.5) of R over the demonstrations", ("final_proxy_by_seed", "RCfD"),
          ("demo_mean_proxy",)),
    Claim("rita-rcfd-alignment", RITA, "RCfD matches a tuned KL baseline's reward-distribution alignment without a sweep "
          "(A = 0.04)", "08_rcfd_and_over_optimization", "RCfD − the KL baseline with β tuned on search seeds",
          "alignment A = KL(ρ_demo ‖ ρ_π) of the reward distributions, step {ppo_steps}", "equal", "PPO seed", 0.05,
          "the paper's own RCfD alignment (A = 0.04) is the scale of a match", ("alignment_A_by_seed", "RCfD"),
          ("alignment_A_by_seed", "tuned KL")),
    Claim("qiu-tree-accuracy", QIU, "at an equal labelling budget, tree-structured pairs train a reward model that "
          "generalises better than independent (chain) samples", "03_tree_structured_preferences",
          "tree − chain reward model", "held-out pair accuracy against gold at the largest budget ({largest_budget} pairs)",
          "higher", "reward-model seed (sampling, pairs and training re-drawn)", 0.01,
          "one point of pair accuracy, below what reward-model benchmarks report as a difference",
          ("largest_budget_accuracy_by_seed", "tree"), ("largest_budget_accuracy_by_seed", "chain")),
    Claim("qiu-tree-win-rate", QIU, "the tree-trained reward model's policy wins 65% of comparisons (after PPO; here "
          "best-of-n)", "03_tree_structured_preferences", "tree RM's best-of-n pick beats chain RM's − 50%",
          "gold win rate over {bon_prompts} test prompts (best-of-{bon_n}, largest budget)", "higher",
          "reward-model seed (sampling, pairs and training re-drawn)", 0.015,
          "a tenth of the paper's 15-point margin over a tie (65% vs 50%)", ("win_rate_by_seed",), 0.5),
    Claim("yan-brme-nominal", YAN, "the BRME's nominal head (lowest σ) is a better reward model than a single one",
          "04_bayesian_reward_ensembles", "BRME nominal head − one Bradley–Terry model",
          "held-out pair accuracy against gold", "higher", "training seed (both models, same pairs)", 0.01,
          "one point of pair accuracy, below what reward-model benchmarks report as a difference",
          ("accuracy_by_seed", "BRME nominal"), ("accuracy_by_seed", "Bradley–Terry (all pairs)")),
    Claim("yan-robust", YAN, "mixing the nominal reward with the worst head (w < 1) beats nominal RLHF (≈ 4% better "
          "benchmark accuracy, steadier training)", "09_reward_robust_rlhf", "w = 0.5 − w = 1 (nominal RLHF)",
          "final gold on held-out prompts after {ppo_steps} PPO steps", "higher", "PPO seed (one BRME; arms share seeds)",
          *GOLD_MARGIN, ("final_gold_by_seed", "w=0.5"), ("final_gold_by_seed", "w=1")),
    Claim("yan-robust-corrupted", YAN, "the robust objective resists an imperfect reward model (here: one corrupted head)",
          "09_reward_robust_rlhf", "w = 0 (worst head) − w = 1, ensemble with one corrupted head",
          "final gold on held-out prompts after {ppo_steps} PPO steps", "higher", "PPO seed (one BRME; arms share seeds)",
          *GOLD_MARGIN, ("corrupted_final_gold_by_seed", "w=0"), ("corrupted_final_gold_by_seed", "w=1")),
]


def per_unit(frame, column: str, arms=None, arm_column: str = "method", unit_column: str = "seed") -> dict:
    """``{arm: [value per unit, in unit order]}`` from a long table with one row per arm and unit: the
    per-seed values a metrics file keeps for every arm that enters a contrast. Arms whose units
    differ are refused (a paired contrast needs the same seeds)."""
    arms = list(dict.fromkeys(frame[arm_column])) if arms is None else list(arms)
    values, units = {}, None
    for arm in arms:
        rows = frame[frame[arm_column] == arm].sort_values(unit_column)
        if units is None:
            units = rows[unit_column].tolist()
        elif rows[unit_column].tolist() != units:
            raise ValueError(f"arm {arm!r} has units {rows[unit_column].tolist()}, the first arm {units}; "
                             "run every arm on the same seeds")
        values[str(arm)] = [float(v) for v in rows[column]]
    return values


def notebook_table(notebook: str, directory: Path | None = None):
    """The declared claims of one notebook with this run's verdicts (as claims.json will hold them),
    as a DataFrame for the notebook to show right after it records its metrics."""
    import pandas as pd

    rows = []
    for r in evaluate([c for c in CLAIMS if c.notebook == notebook], directory):
        if r["verdict"] == "not run":
            rows.append({"claim": r["id"], "contrast": r["contrast"], "verdict": r["verdict"], "problem": r["problem"]})
            continue
        rows.append({"claim": r["id"], "contrast": r["contrast"], "metric": r["metric"], "n": r["n"],
                     "estimate": round(r["estimate"], 4), "interval": f"[{r['low']:+.3f}, {r['high']:+.3f}]",
                     "level": f"{r['level']:.2%}", "margin": r["margin"], "verdict": r["verdict"],
                     "n for margin": r["n_for_margin"]})
    return pd.DataFrame(rows).set_index("claim")


def _fill(text: str, metrics: dict) -> str:
    try:
        return text.format(**metrics)
    except (KeyError, IndexError, ValueError):
        return text


def evaluate(claims: list[Claim] = CLAIMS, directory: Path | None = None) -> list[dict]:
    """One record per claim (the fields of claims.json), Holm-corrected within each notebook."""
    directory = Path(directory or runs_dir())
    records: list[dict] = []
    for notebook in dict.fromkeys(c.notebook for c in claims):
        family = [c for c in claims if c.notebook == notebook]
        path = directory / f"{notebook}.metrics.json"
        run = json.loads(path.read_text()) if path.exists() else None
        tested = []
        for claim in family:
            base = {"id": claim.id, "paper": claim.paper, "claim": claim.words, "notebook": notebook,
                    "contrast": claim.contrast, "direction": claim.direction, "unit": claim.unit,
                    "margin": claim.margin, "margin_reason": claim.margin_reason,
                    "arm_key": ".".join(claim.arm),
                    "baseline_key": claim.baseline if isinstance(claim.baseline, (int, float)) else ".".join(claim.baseline),
                    **dict.fromkeys(("n", "estimate", "low", "high", "level", "interval_method", "correction",
                                     "half_width", "n_for_margin"))}  # filled below once the contrast is computed
            if run is None:
                records.append({**base, "metric": claim.metric, "verdict": "not run",
                                "problem": f"not run: `python -m rewardlab.reproduce --only {notebook[:2]}`"})
                continue
            base["metric"] = _fill(claim.metric, run["metrics"])
            base.update(preset=run["preset"], smoke=run["smoke"])
            try:
                diff, arm, baseline = differences(claim, run["metrics"])
            except (KeyError, ValueError) as problem:
                records.append({**base, "verdict": "not run", "problem": str(problem).strip("'\"")})
                continue
            record = {**base, "arm_mean": float(arm.mean()),
                      "baseline_mean": float(np.mean(baseline)), "paired": bool(np.ndim(baseline) > 0)}
            tested.append((record, diff, stats.p_value(diff, claim.direction, claim.margin)))
            records.append(record)
        levels = stats.holm_levels([p for _, _, p in tested])
        for (record, diff, p), level in zip(tested, levels):
            interval = stats.t_interval(diff, level, name=f"{record['id']} differences")  # diff = a − b per unit
            method = "paired t" if record["paired"] else "t"
            margin = record["margin"]
            record.update(
                n=interval.n, estimate=interval.estimate, low=interval.low, high=interval.high,
                level=level, interval_method=method, p_value=p,
                correction=(f"Holm over the {len(tested)} primary contrasts of notebook {notebook[:2]}: interval at "
                            f"{level:.2%}" if len(tested) > 1 else "none (the notebook's only primary contrast)"),
                verdict=stats.verdict(interval.low, interval.high, record["direction"], margin),
                half_width=interval.half_width if math.isfinite(interval.half_width) else None,
                n_for_margin=stats.n_for_margin(interval, margin),
                per_unit_differences=[float(d) for d in diff])
    order = {c.id: i for i, c in enumerate(claims)}
    return sorted(records, key=lambda r: (r["notebook"], order[r["id"]]))  # reading order of the notebooks


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_claims(directory: Path | None = None, output: Path | None = None) -> Path:
    """Write ``claims.json`` (default: into the runs folder) from the metrics files there."""
    directory = Path(directory or runs_dir())
    records = [_clean(r) for r in evaluate(CLAIMS, directory)]
    return atomic_write_text(Path(output or directory / "claims.json"), json.dumps(records, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardlab.claims", description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: papermill_runs/")
    args = parser.parse_args(argv)
    print(f"wrote {write_claims(args.runs_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Attribution at PPO's budget: agreement with converged values against reward-model evaluations and seconds.

PPO explains every rollout (64 responses of at most 20 tokens on the tiny preset), so the question
is how few evaluations per response give credit that agrees with the converged values. Responses:
``--responses`` SFT samples on held-out prompts, drawn as PPO draws them (``max_new_tokens`` of
the shaping PPO config). Reference: the same explainer's estimand at ``--reference-evals``
evaluations with another seed (SHAP: ``shap.PermutationExplainer``; LIME: ``lime``'s ``LimeBase``).
Agreement: mean per-response Pearson correlation of the scores with the reference's. Contenders
per budget:

* ``shap (shap package)``: ``attribution.attribute("shap")``, shap's permutation explainer one
  response per call;
* ``permutation (batched)``: :func:`rewardlab.shaping.estimators.permutation_shap`, the same
  estimator with all responses' coalitions in one pass;
* ``kernel (batched)``: :func:`rewardlab.shaping.estimators.kernel_shap`, paired KernelSHAP;
* ``first-last (batched)``: :func:`rewardlab.shaping.estimators.first_last_shap`, deterministic,
  2T + 2 evaluations whatever the budget;
* ``first-position (batched)``: :func:`rewardlab.shaping.estimators.first_position_shap`, its first
  term alone, T + 2 evaluations;
* ``lime``: ``attribution.attribute("lime")`` (already batched).

Seconds are per response, wall clock of the whole batch, one repeat after an untimed warm-up.

    .venv/bin/python benchmarks/bench_attribution.py [--responses 64] [--budgets 24,32,48,64,96,128]
        [--reference-evals 4096] [--contenders first-last,first-position] [--preset tiny]
        [--containing not,never,rarely,but [--also-unfiltered]] [--json PATH]

With ``--containing``, the responses are those (of SFT samples on validation prompts) that hold one of the words;
``--also-unfiltered`` measures PPO's held-out responses as well, so both sets come from one process and one
reward model (rows carry a ``responses`` label).
"""

from __future__ import annotations

import argparse
import time

from side_by_side import BENCH_PPO, add_json_flag, write_json


def measure(args, model, tokenizer, prompts: list[str], responses: list[str]) -> tuple[list[dict], float]:
    """Every contender at every budget on these responses, against the converged references: (rows, the
    converged SHAP-LIME agreement or NaN)."""
    import numpy as np

    from rewardlab.shaping import estimators
    from rewardlab.shaping.attribution import attribute
    from rewardlab.shaping.masking import MaskedReward, encode_examples

    lengths = [len(e.response_ids) for e in encode_examples(model, tokenizer, prompts, responses)]
    print(f"{len(responses)} responses, {np.mean(lengths):.1f} tokens on average (max {max(lengths)})", flush=True)

    def batched(estimator):
        def run(budget, seed):
            f = MaskedReward(model, tokenizer)
            return estimator(f, encode_examples(model, tokenizer, prompts, responses), budget, seed=seed)
        return run

    contenders = {
        "shap (shap package)": ("shap", lambda b, s: attribute("shap", model, tokenizer, prompts, responses,
                                                               max_evals=b, seed=s)),
        "permutation (batched)": ("shap", batched(estimators.permutation_shap)),
        "kernel (batched)": ("shap", batched(estimators.kernel_shap)),
        "first-last (batched)": ("shap", batched(estimators.first_last_shap)),
        "first-position (batched)": ("shap", batched(estimators.first_position_shap)),
        "lime": ("lime", lambda b, s: attribute("lime", model, tokenizer, prompts, responses, num_samples=b, seed=s)),
    }
    if args.contenders:
        contenders = {name: c for name, c in contenders.items() if name.split(" (")[0] in args.contenders.split(",")}
    estimands = {estimand for estimand, _ in contenders.values()}
    references = {
        **({"shap": attribute("shap", model, tokenizer, prompts, responses, max_evals=args.reference_evals,
                              seed=10_000)} if "shap" in estimands else {}),
        **({"lime": attribute("lime", model, tokenizer, prompts, responses, num_samples=args.reference_evals,
                              seed=10_000)} if "lime" in estimands else {}),
    }
    cross = float("nan")
    if len(references) == 2:
        cross = float(np.mean([np.corrcoef(a.scores, b.scores)[0, 1]
                               for a, b in zip(references["shap"], references["lime"])]))
        print(f"converged SHAP vs converged LIME: {cross:.3f}", flush=True)
    rows = []
    budgets = [int(b) for b in args.budgets.split(",")]
    for name, (estimand, run) in contenders.items():
        run(budgets[-1], 99)  # warm-up (imports, first passes)
        for budget in budgets:
            if name.startswith("shap (") and budget < 2 * max(lengths) + 1:
                continue  # shap's explainer needs one antithetic permutation: 2T + 1 evaluations
            start = time.perf_counter()
            trial = run(budget, 0)
            seconds = (time.perf_counter() - start) / len(responses)
            agreement = float(np.mean([np.corrcoef(a.scores, r.scores)[0, 1]
                                       for a, r in zip(trial, references[estimand])]))
            row = {"contender": name, "budget": budget, "evals": float(np.mean([a.rm_evals for a in trial])),
                   "agreement": agreement, "seconds_per_response": seconds}
            rows.append(row)
            print(f"{name:24s} budget {budget:4d}: {row['evals']:6.1f} evals/response, agreement {agreement:.3f}, "
                  f"{seconds * 1e3:.1f} ms/response", flush=True)
    return rows, cross


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=64)
    parser.add_argument("--budgets", default="24,32,48,64,96,128")
    parser.add_argument("--reference-evals", type=int, default=4096)
    parser.add_argument("--contenders", default=None, help="comma-separated subset of the contenders (default: all)")
    parser.add_argument("--preset", default="tiny", help="the preset whose SFT policy and reward model are explained")
    parser.add_argument("--containing", default=None,
                        help="comma-separated words: keep only responses holding one of them (e.g. not,never,rarely,but: "
                             "where first-position and Shapley split an interaction differently), drawn on up to 50x "
                             "--responses validation prompts")
    parser.add_argument("--also-unfiltered", action="store_true",
                        help="with --containing: measure PPO's held-out responses too, in the same process")
    add_json_flag(parser)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from rewardlab.core.presets import load_preset
    from rewardlab.rl.rollouts import sample_rollout
    from rewardlab.shaping.masking import encode_examples
    from rewardlab.stack import load_stack

    preset = load_preset(args.preset, **BENCH_PPO)
    stack = load_stack(preset, progress=False)
    model, tokenizer = stack.reward_model(), stack.tokenizer
    torch.manual_seed(0)
    response_sets = {}  # label -> (prompts, responses)
    if args.containing:
        words = set(args.containing.split(","))
        pool = list(dict.fromkeys(stack.world.splits["validation"]["prompt"]))[: 50 * args.responses]
        drawn = sample_rollout(stack.policy, tokenizer, pool, preset.shaping.ppo.max_new_tokens).responses
        kept = [(p, r) for p, r in zip(pool, drawn) if words & set(r.replace(",", " ").replace(".", " ").split())]
        kept = kept[: args.responses]
        if not kept:
            raise SystemExit(f"no response among {len(pool)} contains any of {sorted(words)}")
        response_sets[f"holding {', '.join(sorted(words))}"] = ([p for p, _ in kept], [r for _, r in kept])
    if not args.containing or args.also_unfiltered:
        prompts = list(stack.eval_prompts[: args.responses])
        response_sets["held-out prompts"] = (
            prompts, sample_rollout(stack.policy, tokenizer, prompts, preset.shaping.ppo.max_new_tokens).responses)

    rows, settings = [], {"preset": args.preset, "containing": args.containing,
                          "budgets": [int(b) for b in args.budgets.split(",")], "reference_evals": args.reference_evals}
    for label, (prompts, responses) in response_sets.items():
        found, cross = measure(args, model, tokenizer, prompts, responses)
        lengths = [len(e.response_ids) for e in encode_examples(model, tokenizer, prompts, responses)]
        rows += [{"responses": label, **row} for row in found]
        settings.update(responses=len(responses), mean_tokens=float(np.mean(lengths)), shap_vs_lime_converged=cross)
        settings[f"responses ({label})"] = f"{len(responses)}, {np.mean(lengths):.1f} tokens on average"
    return write_json(args.json, {"bench": "attribution", "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()

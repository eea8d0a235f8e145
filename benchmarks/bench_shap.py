"""SHAP of the reward model: rewardlab's token-id masker vs shap's Text masker over strings.

Same reward model (the tiny preset's Bradley-Terry model, seed 0), the same held-out SFT
responses, the same perturbation: a masked token becomes ``<unk>`` (shap's Text masker cannot
delete tokens with this tokenizer: its empty mask string tokenises to nothing and it fails),
so every contender estimates the same Shapley values. Contenders, in turn per repeat:

* ``rewardlab``: ``attribution.attribute("shap", ..., mask_token_id=unk)``: a masker over token
  ids, the reward model scored on ids in length-sorted batches;
* ``shap-perm``: ``shap.Explainer(f, shap.maskers.Text(tokenizer, ...), algorithm="permutation")``
  with f(strings) = ``reward_models.score`` (the strings are re-tokenised);
* ``shap-part``: the same with shap's default algorithm for text, the partition explainer
  (Owen values over shap's token hierarchy: a different estimand, hence its agreement).

Agreement = mean over responses of the Pearson correlation with a reference: rewardlab's SHAP at
``--reference-evals`` evaluations with another seed. Matched agreement: for each peer run, the
cheapest rewardlab budget whose agreement is at least the peer's (within ``--tolerance``), and
the ratio of seconds; at equal budgets the two permutation estimators are the same estimator.
``main()`` returns all of it (per contender and budget the spread of seconds per response and
the median evaluations and agreement; the ratios; the settings); ``--json PATH`` writes that dict.

    .venv/bin/python benchmarks/bench_shap.py [--responses 8] [--budgets 128,256,512,1024] [--repeats 2]
        [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from side_by_side import add_json_flag, pairwise_ratio, spread, write_json


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=8)
    parser.add_argument("--budgets", default="128,256,512,1024")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reference-evals", type=int, default=4096)
    parser.add_argument("--tolerance", type=float, default=0.0, help="agreement counted as matched within this")
    add_json_flag(parser)
    args = parser.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",")]

    import numpy as np
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    from rewardlab.shaping.attribution import attribute
    from rewardlab.core.presets import load_preset
    from rewardlab.core.judges import load_gold_judge
    from rewardlab.core.policy import load_sft_policy, sample
    from rewardlab.reward.preferences import load_preference_data
    from rewardlab.reward.models import load_reward_model, score
    from rewardlab.core.world import build_world

    preset = load_preset("tiny")
    world = build_world(preset)
    policy, tokenizer, _ = load_sft_policy(preset, world=world, progress=False)
    train, heldout = load_preference_data(preset, policy, tokenizer, world, load_gold_judge(preset), progress=False)
    model = load_reward_model(preset, tokenizer, train, seed=0, eval_dataset=heldout, progress=False)[0].eval()
    prompts = list(dict.fromkeys(world.splits["test"]["prompt"]))[: args.responses]
    responses = sample(policy, tokenizer, prompts, seed=1)
    unk = tokenizer.unk_token_id
    print(f"torch {torch.__version__}, shap {shap.__version__}, threads {torch.get_num_threads()}, "
          f"{len(responses)} responses of {np.mean([len(r.split()) for r in responses]):.1f} tokens on average")

    reference = [r.scores for r in attribute("shap", model, tokenizer, prompts, responses,
                                             max_evals=args.reference_evals, seed=10_000, mask_token_id=unk)]

    def agreement(values):
        return float(np.mean([np.corrcoef(v, ref)[0, 1] for v, ref in zip(values, reference)]))

    def ours(budget, seed):
        start = time.perf_counter()
        results = attribute("shap", model, tokenizer, prompts, responses, max_evals=budget, seed=seed,
                            mask_token_id=unk)
        seconds = time.perf_counter() - start
        return seconds, sum(r.rm_evals for r in results), agreement([r.scores for r in results])

    masker = shap.maskers.Text(tokenizer, mask_token=tokenizer.unk_token + " ", collapse_mask_token=False)

    def peer(algorithm):
        def run(budget, seed):
            evals, values = [0], []
            start = time.perf_counter()
            for prompt, response in zip(prompts, responses):
                def f(texts, prompt=prompt):
                    evals[0] += len(texts)
                    return score(model, tokenizer, [prompt] * len(texts), list(texts), batch_size=512)

                explainer = shap.Explainer(f, masker, algorithm=algorithm, seed=seed)
                explanation = explainer([response], max_evals=budget, batch_size=512, silent=True)
                values.append(np.asarray(explanation.values[0], dtype=float))
            seconds = time.perf_counter() - start
            assert all(len(v) == len(ref) for v, ref in zip(values, reference)), "segments != tokens"
            return seconds, evals[0], agreement(values)
        return run

    contenders = {"rewardlab": ours, "shap-perm": peer("permutation"), "shap-part": peer("partition")}
    rows = {name: {b: [] for b in budgets} for name in contenders}
    for run in contenders.values():  # untimed: first calls pay for imports, numba and allocations
        run(budgets[0], seed=99)
    for repeat in range(args.repeats):
        for budget in budgets:
            for name, run in contenders.items():
                seconds, evals, agree = run(budget, seed=repeat)
                rows[name][budget].append((seconds / len(responses), evals / len(responses), agree))
                print(f"repeat {repeat} budget {budget:5d} {name:10s} {seconds / len(responses):7.3f} s/response "
                      f"{evals / len(responses):7.1f} evals/response  agreement {agree:.4f}", flush=True)

    summary = {name: {b: {**spread(x[0] for x in rows[name][b]),
                          "evals": statistics.median(x[1] for x in rows[name][b]),
                          "agreement": statistics.median(x[2] for x in rows[name][b])} for b in budgets}
               for name in contenders}
    equal_budget = {b: pairwise_ratio([p[0] for p in rows["shap-perm"][b]], [o[0] for o in rows["rewardlab"][b]])
                    for b in budgets}
    matched = {}
    for name in ("shap-perm", "shap-part"):
        for b in budgets:
            a = summary[name][b]["agreement"]
            ok = [c for c in budgets if summary["rewardlab"][c]["agreement"] >= a - args.tolerance]
            cheapest = min(ok, key=lambda c: summary["rewardlab"][c]["median"]) if ok else None
            matched[name, b] = None if cheapest is None else {
                "rewardlab_budget": cheapest,
                "ratio": summary[name][b]["median"] / summary["rewardlab"][cheapest]["median"]}

    print("\nmedians over repeats: s/response, evals/response, agreement with the reference")
    for name in contenders:
        for b in budgets:
            row = summary[name][b]
            print(f"  {name:10s} budget {b:5d}: {row['median']:7.3f} s  {row['evals']:7.1f} evals  "
                  f"agreement {row['agreement']:.4f}")
    print("\nequal budget (the same permutation estimator): peer seconds / rewardlab seconds, pairwise per repeat")
    for b in budgets:
        ratio = equal_budget[b]
        print(f"  shap-perm / rewardlab at budget {b}: median {ratio['median']:.2f} "
              f"(min {ratio['min']:.2f}, max {ratio['max']:.2f})")
    print("\nmatched agreement: peer seconds / seconds of the cheapest rewardlab budget that agrees at least as well"
          f" (within {args.tolerance})")
    for (name, b), match in matched.items():
        a = summary[name][b]["agreement"]
        if match is None:
            print(f"  {name} budget {b}: agreement {a:.4f} above every rewardlab budget; no match")
            continue
        ours_row = summary["rewardlab"][match["rewardlab_budget"]]
        print(f"  {name} budget {b} (agreement {a:.4f}): {match['ratio']:.1f}x rewardlab's "
              f"{ours_row['median']:.3f} s (agreement {ours_row['agreement']:.4f})")

    settings = {"responses": len(responses), "mean_tokens": float(np.mean([len(r.split()) for r in responses])),
                "budgets": budgets, "repeats": args.repeats, "reference_evals": args.reference_evals,
                "tolerance": args.tolerance, "torch": torch.__version__, "shap": shap.__version__,
                "threads": torch.get_num_threads()}
    return write_json(args.json, {
        "bench": "shap", "settings": settings, "unit": "s/response", "quality": "agreement",
        "contenders": {name: {str(b): {**row, "runs": [list(x) for x in rows[name][b]]}
                              for b, row in summary[name].items()} for name in contenders},
        "ratio_equal_budget": {"of": "shap-perm / rewardlab", "budgets": {str(b): r for b, r in equal_budget.items()}},
        "matched_agreement": {name: {str(b): matched[name, b] for b in budgets} for name in ("shap-perm", "shap-part")},
    })


if __name__ == "__main__":
    main()

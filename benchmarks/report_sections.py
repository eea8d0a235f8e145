"""The sections of benchmarks/RESULTS.md: one function per bench that turns its JSON result into markdown (how it
was measured, min / median / max and quality per contender, the pairwise ratios). ``run_all.py`` runs the benches
and assembles the report from these.
"""

from __future__ import annotations


# ---------------------------------------------------------------- formatting

def num(x: float) -> str:
    """About three significant digits, never scientific notation."""
    a = abs(x)
    return f"{x:.0f}" if a >= 100 else f"{x:.1f}" if a >= 10 else f"{x:.2f}" if a >= 1 else f"{x:.3f}"


def spread_cell(row: dict) -> str:
    return f"{num(row['min'])} / {num(row['median'])} / {num(row['max'])}"


def ratio_cell(ratio: dict) -> str:
    return f"**{ratio['median']:.2f}** ({ratio['min']:.2f} – {ratio['max']:.2f})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def comparison_table(result: dict, labels: dict[str, str], faster: str) -> list[str]:
    """min / median / max and the median quality per contender, then the pairwise ratio (``faster``: which
    side of 1 means the first contender is faster)."""
    s, unit, quality = result["settings"], result["unit"], result["quality"]
    rows = [[labels.get(name, name), spread_cell(row), f"{row['quality_median']:.4f}"]
            for name, row in result["contenders"].items()]
    rows.append([f"ratio {result['ratio']['of']}, pairwise per repeat ({faster} 1: {list(result['contenders'])[0]} "
                 "faster)", ratio_cell(result["ratio"]), ""])
    return table(["contender", f"{unit} min / median / max", f"{quality} (median of {s['repeats']})"], rows)


# ---------------------------------------------------------------- sections

def section_reward_model(r: dict) -> list[str]:
    s = r["settings"]
    return [
        f"The tiny preset's {s['train_pairs']:,} training pairs, {s['rm_epochs']} epoch(s) at {s['rm_batch_size']} "
        f"pairs per step, the same `GPT2ForSequenceClassification` ({s['rm_n_layer']} layers, {s['rm_n_embd']} wide) "
        f"and initialisation seed per repeat, AdamW {s['rm_learning_rate']:g} with linear decay, gradient clipping "
        "at 1. Throughput = pairs × epochs / seconds of the training loop (tokenisation excluded for both: TRL's "
        "`train_runtime`, rewardlab's `log[\"train_seconds\"]`); higher is better. "
        f"{s['warmup']} untimed warm-up run(s) of each first, then {s['repeats']} repeat(s) alternating rewardlab, "
        f"TRL in one process (seed = repeat). Held-out accuracy: against the gold judge on {s['heldout_pairs']:,} "
        "held-out pairs.",
        "",
        *comparison_table(r, {"rewardlab": "rewardlab (`reward_models.train_reward_model`)",
                              "TRL": "TRL `RewardTrainer`"}, "above"),
    ]


def section_shap(r: dict) -> list[str]:
    s, contenders = r["settings"], r["contenders"]
    budgets = [str(b) for b in s["budgets"]]
    labels = {"rewardlab": "rewardlab", "shap-perm": "shap `Text` masker, permutation",
              "shap-part": "shap `Text` masker, partition (default)"}
    rows = [[labels[name], b, spread_cell(contenders[name][b]), num(contenders[name][b]["evals"]),
             f"{contenders[name][b]['agreement']:.4f}"] for name in contenders for b in budgets]

    def matched(name: str, b: str) -> str:
        m = r["matched_agreement"][name][b]
        if m is None:
            return "no rewardlab budget agrees as well"
        return f"{m['ratio']:.1f}× (rewardlab at {m['rewardlab_budget']})"

    ratio_rows = [[b, ratio_cell(r["ratio_equal_budget"]["budgets"][b]), matched("shap-perm", b),
                   matched("shap-part", b)] for b in budgets]
    return [
        f"The tiny preset's Bradley–Terry reward model (seed 0), {s['responses']} SFT responses on test prompts "
        f"({s['mean_tokens']:.1f} tokens on average). All contenders estimate the same Shapley values: a masked "
        "token becomes `<unk>` for everyone (shap's `Text` masker cannot delete tokens with this tokenizer). "
        "rewardlab: `attribution.attribute(\"shap\", …, mask_token_id=unk)`, a masker over token ids and the "
        "reward model scored on ids in length-sorted batches. Peers: `shap.Explainer(f, shap.maskers.Text("
        "tokenizer, mask_token=\"<unk> \", collapse_mask_token=False))` with f(strings) = `reward_models.score` "
        "(re-tokenised), as `algorithm=\"permutation\"` and as shap's default for text, the partition explainer "
        "(Owen values over shap's token hierarchy: a different estimand). Agreement = mean per-response Pearson "
        f"correlation with rewardlab's SHAP at {s['reference_evals']:,} evaluations and another seed. One untimed "
        f"warm-up of each first; {s['repeats']} repeat(s), budgets alternating contenders within each repeat. "
        "Seconds per response: lower is better.",
        "",
        *table(["contender", "budget", "s/response min / median / max", "evals/response",
                f"agreement (median of {s['repeats']})"], rows),
        "",
        "Ratios, peer seconds / rewardlab seconds (above 1: rewardlab faster). Equal budget: the same permutation "
        "estimator, pairwise per repeat. Matched agreement: the peer's median seconds / those of the cheapest "
        f"rewardlab budget whose median agreement is at least the peer's (tolerance {s['tolerance']:g}).",
        "",
        *table(["budget", "shap-perm / rewardlab, equal budget: median (min – max)", "shap-perm, matched agreement",
                "shap-part, matched agreement"], ratio_rows),
    ]


def section_ppo(r: dict) -> list[str]:
    s = r["settings"]
    samples = s["steps"] * s["ppo_batch_size"]
    shape_rows = [[row["shape"], f"{row['seconds']:.1f} s", f"{row['median_step']:.2f} s",
                   f"{row['step_ratio_to_sparse']:.2f}", f"{row['reward_share']:.0%}", num(row["samples_per_s"])]
                  for row in r["shapes"]]
    stacked = r.get("stacked")
    stacked_lines = [] if not stacked else [
        "", f"The same sparse run, {stacked['seeds']} seeds trained as one stacked model (`train_ppo_seeds`, what the "
        f"grid runner does): **{num(stacked['samples_per_s'])} samples/s** counting every seed's responses, "
        f"**{stacked['ratio_to_trl_median']:.2f}×** TRL RLOO's median above ({stacked['seconds']:.0f} s; final proxy "
        f"median {stacked['final_proxy_median']:.4f}). TRL cannot batch seeds; it would run them one after another."]
    return [
        f"The tiny preset's SFT policy and Bradley–Terry reward model (seed 0), {s['steps']} rollouts of "
        f"{s['ppo_batch_size']} responses of at most {s['ppo_max_new_tokens']} tokens, learning rate "
        f"{s['ppo_learning_rate']:g}, KL coefficient {s['ppo_kl_coef']:g}, {s['ppo_epochs']} epochs of "
        f"{s['ppo_minibatch_size']}-response minibatches per rollout, advantages normalised, dropout off, on both "
        "sides (RLOO: `ppo_batch_size / 4` prompts × 4 samples per rollout, its leave-one-out baseline, KL in the "
        f"loss). Samples/s = {samples:,} responses / seconds of the training loop (rewardlab: the sum of its step "
        "times; TRL: `trainer.train()`); higher is better. Final proxy = mean reward-model score of the last 5 "
        f"rollouts. {s['repeats']} repeat(s) alternating rewardlab, TRL in one process (seed = repeat), no warm-up.",
        "",
        *comparison_table(r, {"rewardlab": "rewardlab `rl.trainer.train_ppo`, sparse reward",
                              "trl-rloo": "TRL `RLOOTrainer`, same sequence reward"}, "above"),
        *stacked_lines,
        "",
        f"Share of a PPO step spent in `reward_fn` (reward-model scoring plus attribution), one run of "
        f"{s['shape_steps']} steps per shape (seed 0; SHAP by the named estimator: `{s['ppo_shap_estimator']}`, the "
        f"preset's `shaping.shap_estimator`, costs 2T + 2 evaluations per response, `package` is shap's permutation "
        f"explainer at `shaping.shap_max_evals` = {s['ppo_shap_max_evals']}; LIME {s['ppo_lime_num_samples']} "
        "samples, `shaping.lime_num_samples`):",
        "",
        *table(["shape", f"{s['shape_steps']} steps", "median step", "step / sparse step", "in `reward_fn`",
                "samples/s"], shape_rows),
    ]


def section_grid(r: dict) -> list[str]:
    s = r["settings"]
    return [
        f"One method (sparse reward) x {s['seeds']} seeds x {s['steps']} PPO steps of the tiny preset (64 responses of "
        "at most 20 tokens per step), each run then evaluated on the held-out prompts, through "
        "`rl.runs.run_methods`: training and evaluation, timed from the call to its return, each contender in its "
        f"own subprocess. `base`: the runner of commit {s['base_commit']} (HF `generate` and forward passes per "
        f"seed, {s['base_workers']} forked workers of one thread), imported from a git worktree. `current`: this "
        f"checkout (a method's seeds trained as one stacked model, {s['current_workers']} worker(s)). Seconds: lower "
        "is better (a ratio below 1: current faster). Quality: mean final gold over the seeds (the runners draw "
        "different random numbers: equal in distribution, not run by run).",
        "",
        *comparison_table(r, {"current": "current (stacked seeds)", "base": f"base ({s['base_commit']})"}, "below"),
        *gold_difference(r),
    ]


def gold_difference(r: dict) -> list[str]:
    """Final gold, current - base, over the seeds of the first repeat: Welch's t interval (the runs are independent)."""
    from scipy import stats

    current, base = (r.get("runs", {}).get(name, [{}])[0].get("final_gold") for name in ("current", "base"))
    if not current or not base or len(current) < 2 or len(base) < 2:
        return []
    test = stats.ttest_ind(current, base, equal_var=False)
    low, high = test.confidence_interval(0.95)
    return ["", f"Final gold per seed, current − base (first repeat, {len(current)} and {len(base)} seeds): "
            f"{sum(current) / len(current) - sum(base) / len(base):+.3f}, Welch 95% t interval [{low:+.3f}, {high:+.3f}] "
            "(an interval around 0: the stacked runner learns what the base runner learns)."]


def section_profile(r: dict) -> list[str]:
    s, floor = r["settings"], r["floor"]
    from profile_ppo import PARTS

    rows = [[row["shape"] + (f" ({row['estimator']})" if row["estimator"] else ""), str(row["seeds"]),
             f"{row['seconds_per_seed_step']:.3f}", *(f"{row['parts'][p]:.3f}" for p in PARTS)] for row in r["rows"]]
    return [
        f"`rl.trainer.train_ppo_seeds` on the tiny preset ({s['n_layer']} layers, {s['n_embd']} wide, "
        f"{s['vocabulary']}-token vocabulary), {s['batch_size']} responses of at most {s['max_new_tokens']} tokens per "
        f"step, {s['epochs']} epochs of {s['minibatch_size']}-response minibatches, {s['steps']} steps per row; seconds "
        "per seed-step (a stacked step's wall time / its seeds), by part (see `benchmarks/profile_ppo.py`). LIME "
        f"with {s['lime_num_samples']} samples per response; SHAP by the named estimator (`package`: shap's "
        f"permutation explainer at {s['shap_max_evals']} evaluations).",
        "",
        *table(["shape", "seeds", "s / seed-step", *PARTS], rows),
        "",
        f"Arithmetic floor of a sparse seed-step: {floor['flops_per_seed_step'] / 1e9:.1f} GFLOP (sampling, the "
        f"reference pass, {s['epochs']} epochs of forward + backward) at {floor['matmul_flops_per_s'] / 1e9:.0f} "
        f"GFLOP/s (`torch.mm` on the step's largest product here) = {floor['floor_seconds']:.3f} s.",
    ]


def section_attribution(r: dict) -> list[str]:
    s = r["settings"]
    by_set = any("responses" in row for row in r["rows"])  # the negation bench: two response sets
    rows = [[*([row["responses"]] if by_set else []), row["contender"], str(row["budget"]), f"{row['evals']:.1f}",
             f"{row['agreement']:.3f}", f"{row['seconds_per_response'] * 1e3:.1f}"] for row in r["rows"]]
    drawn = (f"SFT responses on validation prompts that hold one of the words {s['containing']} (where a negator or "
             "'but' makes credit an interaction of words), and SFT responses on PPO's held-out prompts, each set "
             "sampled as PPO samples them" if by_set else
             f"{s['responses']} SFT responses sampled as PPO samples them ({s['mean_tokens']:.1f} tokens on average)")
    return [
        f"The {s.get('preset', 'tiny')} preset's reward model (seed 0), {drawn}. Agreement: mean per-response Pearson "
        "correlation with the "
        f"same estimand at {s['reference_evals']:,} evaluations and another seed (SHAP: shap's permutation "
        "explainer; LIME: `LimeBase`'s fit). " + ("" if s["shap_vs_lime_converged"] != s["shap_vs_lime_converged"]
                                                   else f"Converged SHAP and converged LIME agree "
                                                        f"{s['shap_vs_lime_converged']:.3f} with each other here. ") +
        "Milliseconds per response: the whole batch's wall time / responses.",
        "",
        *table([*(["responses"] if by_set else []), "contender", "budget", "evals/response", "agreement",
                "ms/response"], rows),
    ]


def section_sft(r: dict) -> list[str]:
    s = r["settings"]
    return [
        f"Same GPT-2 config ({s['n_layer']} layers, {s['n_embd']} wide, {s['vocabulary']:,}-token vocabulary), "
        f"same {s['train_reviews']:,} training reviews, {s['sft_steps']} steps at batch {s['sft_batch_size']}, "
        f"AdamW {s['sft_learning_rate']:g} with {s['sft_warmup_steps']} warm-up steps and cosine decay, one "
        "validation pass at the end (timed for both). Seconds of the whole training call: lower is better (a ratio "
        f"below 1: rewardlab faster). {s['repeats']} repeat(s) alternating rewardlab, Trainer in one process.",
        "",
        *comparison_table(r, {"rewardlab": "rewardlab (`policy.train_sft`, accelerate)",
                              "trainer": "`transformers.Trainer`"}, "below"),
    ]


def section_ppo_any_lm(r: dict) -> list[str]:
    s = r["settings"]
    return [
        f"A random Llama (2 layers, 128 wide, 4 heads: the tiny preset's policy size) over a 2,000-word vocabulary, "
        f"built by the bench; {s['steps']} rollouts of {s['batch']} responses of at most {s['max_new_tokens']} tokens, "
        "learning rate 0.0001, KL coefficient 0.05, 4 epochs of 16-response minibatches, on both sides (RLOO: 4 "
        "samples per prompt, KL in the loss). The reward: one scalar per response (its words in the first tenth of "
        "the vocabulary). rewardlab runs this model through its own forward and KV cache (`rl.causal_lm`, the path "
        "of every architecture but GPT-2). Samples/s: higher is better. One untimed warm-up of each, then "
        f"{s['repeats']} repeat(s) alternating, {s['threads']} torch thread(s).",
        "",
        *comparison_table({**r["llama_vs_trl_rloo"], "settings": s},
                          {"rewardlab": "rewardlab `train_ppo` (tiny Llama)", "trl-rloo": "TRL `RLOOTrainer`"}, "above"),
        "",
        f"The two paths of `train_ppo_seeds` on a GPT-2 of the same size: {s['seeds']} seeds as one stacked model "
        "(`rl.stacked`) against the same seeds one after another through HF's forward (`rl.causal_lm`); samples/s "
        "count every seed's responses.",
        "",
        *comparison_table({**r["stacked_vs_seed_by_seed"], "settings": s},
                          {"stacked": "stacked GPT-2", "seed-by-seed": "seed by seed (HF forward)"}, "above"),
    ]


def section_brme_heads(r: dict) -> list[str]:
    s = r["settings"]
    return [
        f"One epoch of BRME's calibrated head training (`brme.training.train_brme`'s loop) on random features of the "
        f"powered tier's shapes: {s['pairs']:,} training and {s['calibration_pairs']:,} calibration pairs, width "
        f"{s['width']}, {s['heads']} heads of {s['hidden']} hidden units, {s['batch']} pairs a step. `batched`: "
        "`GaussianHeads` (one `baddbmm` per layer), one forward pass a step; `loop`: the former `ModuleList` of MLPs "
        "called one by one, four times a step. Same initial draws; the losses agree to 1e-4 (checked). Seconds per "
        f"epoch: lower is better. {s['repeats']} repeat(s) alternating, {s['threads']} torch thread(s).",
        "",
        *comparison_table(r, {"batched": "batched heads (`GaussianHeads`)", "loop": "loop over the heads"}, "below"),
    ]


def section_rm_step(r: dict) -> list[str]:
    s = r["settings"]
    what = "GELU alone (default AdamW on both sides)" if s["only_activation"] else "GELU and AdamW"
    return [
        f"A training step (forward, backward, AdamW) of the tiny and powered presets' reward model (2 layers, 128 "
        f"wide, 8 heads) on {s['texts']} texts of up to {s['tokens']} tokens, {s['steps']} steps per repeat. "
        f"`current`: torch's fused GELU (`core.policy.FUSED_GELU`) and `AdamW(fused=True)`; `before`: HF's `gelu_new` "
        f"(seven elementwise ops) and the per-tensor AdamW; compared: {what}. Quality: the largest difference of "
        "the two models' rewards, in millionths. Milliseconds per step: lower is better. "
        f"{s['repeats']} repeat(s) alternating after a warm-up, {s['threads']} torch thread(s).",
        "",
        *comparison_table(r, {"current": "current (fused GELU, fused AdamW)", "before": "before (gelu_new, AdamW)"},
                          "below"),
    ]


def section_kernels(r: dict) -> list[str]:
    s = r["settings"]
    return [
        "What the reproducibility pin costs (`rewardlab.core.kernels`): the reward model's training step (as in the "
        f"section above, {s['steps']} steps per process) in a fresh process per repeat with the machine's own "
        "kernels (`unpinned`: AVX-512 where the CPU has it) and with the pinned AVX2 kernels, both at "
        f"{s['threads']} threads. Kernels in effect: {', '.join(f'{k} {v}' for k, v in s['kernels'].items())}. "
        "Quality: the largest difference of the two contenders' rewards after the steps, in millionths (the "
        "rounding the pin removes). Milliseconds per step: lower is better. Committed runs keep the pin.",
        "",
        *comparison_table(r, {"unpinned": "unpinned (the machine's kernels)", "pinned": "pinned (AVX2)"}, "below"),
    ]


SECTIONS = {"reward_model": section_reward_model, "shap": section_shap, "ppo": section_ppo, "grid": section_grid,
            "profile": section_profile, "attribution": section_attribution,
            "attribution_negation": section_attribution, "ppo_any_lm": section_ppo_any_lm,
            "sft": section_sft, "kernels": section_kernels, "brme_heads": section_brme_heads, "rm_step": section_rm_step}

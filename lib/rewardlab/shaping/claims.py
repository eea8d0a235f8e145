"""The claims of Koo et al. 2025 (explainer shaping, BO) and Chan et al. 2024 (ABC), notebooks 05, 07 and 08, and
this world's own (the oracle upper bound and the dose-response of notebook 07), declared before their
runs (see :class:`rewardlab.core.claim.Claim`). Notebook 07's primary metric is the mean held-out
gold, whose evaluations use fixed prompts and a fixed sampling seed; its six contrasts are one Holm
family."""

from __future__ import annotations

from rewardlab.core.claim import GOLD_MARGIN, Claim

KOO, CHAN = "Koo et al. 2025", "Chan et al. 2024 (ABC)"
HELD_OUT_MEAN = ("mean held-out gold: mean over the evaluations every {eval_every} steps of {ppo_steps} (fixed prompts, "
                "fixed sampling seed)")
BO_METRIC = ("mean held-out gold over {inner_steps} PPO steps (evaluations every {eval_every} steps, fixed prompts "
             "and sampling seed)")
REPLICATE = ("replicate: PPO seed r and its own reward model (the middle proxy of seed r, as in notebooks 06 and 11); "
             "arms share replicates")
DENSE_WORDS = "per-token rewards from explainers make PPO learn faster than the sparse reward"

CLAIMS = [
    *(Claim(f"koo-faithfulness-{method}", KOO, "SHAP and LIME token credit of a reward model says which tokens "
            "earned the reward (the premise of explainer-based shaping)", "05_token_attribution",
            f"{method.upper()} − random credit",
            "Spearman of token credit with the gold judge's word credit, mean over {n_responses} responses", "higher",
            "reward-model seed (the same responses)", 0.1,
            "a rank correlation below 0.1 shares under 1% of the rank variance: no usable credit",
            ("faithfulness_spearman_by_seed", method), ("faithfulness_spearman_by_seed", "random"))
      for method in ("shap", "lime")),
    *(Claim(claim_id, paper, words, "07_dense_reward_ppo", contrast, HELD_OUT_MEAN, "higher", REPLICATE,
            *GOLD_MARGIN, ("mean_eval_gold_by_replicate", arm), ("mean_eval_gold_by_replicate", baseline))
      for claim_id, paper, words, contrast, arm, baseline in (
          ("oracle-dense-gold", "this world (the upper bound)", "exact token credit of the true reward makes PPO "
           "learn faster than the same reward paid at the end", "gold word credit − sparse gold (oracle)",
           "oracle-gold", "oracle-sparse"),
          ("oracle-dense-shap", "this world (the upper bound)", "SHAP credit of the true reward makes PPO learn "
           "faster than the same reward paid at the end", "SHAP of the gold judge − sparse gold (oracle)",
           "oracle-shap", "oracle-sparse"),
          ("koo-dense-shap", KOO, DENSE_WORDS, "SHAP-shaped − sparse PPO (reward model)", "shap", "sparse"),
          ("koo-dense-lime", KOO, DENSE_WORDS, "LIME-shaped − sparse PPO (reward model)", "lime", "sparse"),
          ("chan-abc", CHAN, "attention credit learns faster than sparse PPO (IMDb: reward 9.24 vs 7.00 at step 25)",
           "ABC − sparse PPO (reward model)", "abc", "sparse"))),
    Claim("oracle-dose", "this world (dose-response)", "the more faithful the token credit, the more dense shaping "
          "gains over sparse", "07_dense_reward_ppo", "slope of (dense − sparse gold) against credit faithfulness",
          "least-squares slope, per replicate, of the oracle arms' gain in mean held-out gold over sparse gold "
          "against their credit's Spearman with gold word credit", "higher", REPLICATE, 0.05,
          "under 0.05 gold from no credit (Spearman 0) to exact credit (1) stays inside VADER's neutral band (±0.05, "
          "the judge's smallest step of sentiment): no practical dose-response", ("dose_slope_by_replicate",), 0.0),
    Claim("koo-bo-dense", KOO, DENSE_WORDS, "08_bayesian_optimization_of_reward_shape",
          "BO's recommended weights − sparse PPO", BO_METRIC, "higher", "fresh confirmation PPO seed (arms share seeds)",
          *GOLD_MARGIN, ("confirm_mean_eval_gold_by_seed", "bo"), ("confirm_mean_eval_gold_by_seed", "sparse")),
    Claim("koo-bo", KOO, "Bayesian optimisation of the explainer mixture finds weights better than any single explainer",
          "08_bayesian_optimization_of_reward_shape", "BO's recommended weights − the best single explainer (chosen on "
          "the search runs)", BO_METRIC, "higher", "fresh confirmation PPO seed (arms share seeds)", *GOLD_MARGIN,
          ("confirm_mean_eval_gold_by_seed", "bo"), ("confirm_mean_eval_gold_by_seed", "best_single")),
]

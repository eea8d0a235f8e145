"""The claims of Koo et al. 2025 (explainer shaping, BO) and Chan et al. 2024 (ABC), notebooks 05-07,
declared before their runs (see :class:`rewardlab.core.claim.Claim`)."""

from __future__ import annotations

from rewardlab.core.claim import GOLD_MARGIN, Claim

KOO, CHAN = "Koo et al. 2025", "Chan et al. 2024 (ABC)"
DENSE_WORDS = "per-token rewards from explainers make PPO learn faster than the sparse reward"

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
]

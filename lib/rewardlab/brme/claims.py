"""The claims of Yan et al. 2024 (BRME and reward-robust RLHF), notebooks 04 and 10,
declared before their runs (see :class:`rewardlab.core.claim.Claim`)."""

from __future__ import annotations

from rewardlab.core.claim import GOLD_MARGIN, Claim

YAN = "Yan et al. 2024 (BRME)"

CLAIMS = [
    Claim("yan-brme-nominal", YAN, "the BRME's nominal head (lowest σ) is a better reward model than a single one",
          "04_bayesian_reward_ensembles", "BRME nominal head − one Bradley–Terry model trained on the same pairs",
          "held-out pair accuracy against gold", "higher", "training seed (both models, same pairs)", 0.01,
          "one point of pair accuracy, below what reward-model benchmarks report as a difference",
          ("accuracy_by_seed", "BRME nominal"), ("accuracy_by_seed", "Bradley–Terry (same pairs)")),
    Claim("yan-robust", YAN, "mixing the nominal reward with the worst head (w < 1) beats nominal RLHF (≈ 4% better "
          "benchmark accuracy, steadier training)", "10_reward_robust_rlhf", "w = 0.5 − w = 1 (nominal RLHF)",
          "final gold on held-out prompts after {ppo_steps} PPO steps at β = {kl_coef}", "higher",
          "PPO seed (one BRME; arms share seeds)", *GOLD_MARGIN, ("final_gold_by_seed", "w=0.5"), ("final_gold_by_seed", "w=1")),
    Claim("yan-robust-noise", YAN, "the robust objective resists an imperfect reward model",
          "10_reward_robust_rlhf", "w = 0.5 − w = 1, BRME with one head trained on {label_flip_percent}% flipped labels",
          "final gold on held-out prompts after {ppo_steps} PPO steps at β = {kl_coef}", "higher",
          "PPO seed (one BRME; arms share seeds)", *GOLD_MARGIN, ("noisy_final_gold_by_seed", "w=0.5"),
          ("noisy_final_gold_by_seed", "w=1")),
]

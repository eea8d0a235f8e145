"""The claims of Rita et al. 2024 (RCfD and over-optimisation), notebook 08,
declared before their runs (see :class:`rewardlab.core.claim.Claim`)."""

from __future__ import annotations

from rewardlab.core.claim import Claim

RITA = "Rita et al. 2024 (RCfD)"

CLAIMS = [
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
]

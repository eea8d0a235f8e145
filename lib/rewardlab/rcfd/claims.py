"""The claims of Rita et al. 2024 (RCfD and over-optimisation), notebook 09,
declared before their runs (see :class:`rewardlab.core.claim.Claim`).

Margins in units of R are a tenth of the spread of R over the demonstrations, measured on the study's
demonstration sets before any PPO run (``DEMO_SD``: sd of R over the 2,072 held-out demonstrations of the
tiny preset, seed 0, 256 prompts; over the 8,008 training demonstrations it is 1.78; issue 24)."""

from __future__ import annotations

from rewardlab.core.claim import Claim

RITA = "Rita et al. 2024 (RCfD)"
DEMO_SD = 1.74  # sd of R over the held-out demonstrations (tiny preset), measured before the runs
R_MARGIN = (round(DEMO_SD / 10, 3), f"a tenth of the spread (sd ≈ {DEMO_SD:.2f}) of R over the demonstrations")
OVEROPT = ("without a KL penalty PPO over-optimises the reward model: reward up (2.96), naturalness down (0.09); "
           "over-optimisation means the true (gold) objective falls with it")
UNIT = "PPO seed"

CLAIMS = [
    Claim("rita-overopt-proxy", RITA, OVEROPT, "09_rcfd_and_over_optimization", "β = 0 PPO − the SFT policy",
          "proxy reward R of the final policy on held-out prompts, step {ppo_steps}", "higher", UNIT, *R_MARGIN,
          ("final_proxy_by_seed", "beta=0"), ("sft_proxy",)),
    Claim("rita-overopt-gold", RITA, OVEROPT, "09_rcfd_and_over_optimization", "β = 0 PPO − the SFT policy",
          "reader gold of the final policy on held-out prompts, step {ppo_steps}", "lower", UNIT, 0.05,
          "a tenth of the climb from gold ≈ 0 to the threshold 0.5 of a policy that learned the task (notebook 07)",
          ("final_gold_by_seed", "beta=0"), ("sft_gold",)),
    Claim("rita-overopt-naturalness", RITA, OVEROPT, "09_rcfd_and_over_optimization", "β = 0 PPO − the SFT policy",
          "naturalness NLL under the SFT policy (higher = less natural), step {ppo_steps}", "higher", UNIT, 0.1,
          "5% of the SFT policy's own NLL (≈ 2.0 nats per token)", ("naturalness_by_seed", "beta=0"),
          ("sft_naturalness",)),
    Claim("rita-rcfd-reward", RITA, "RCfD lands the reward at the demonstrations' level (1.97 vs 2.01)",
          "09_rcfd_and_over_optimization", "RCfD − the demonstrations' mean R (held-out prompts)",
          "proxy reward R of the final policy on held-out prompts, step {ppo_steps}", "equal", UNIT, *R_MARGIN,
          ("final_proxy_by_seed", "RCfD"), ("demo_mean_proxy",)),
    Claim("rita-rcfd-alignment", RITA, "RCfD matches a tuned KL baseline's reward-distribution alignment without a "
          "sweep (A = 0.04)", "09_rcfd_and_over_optimization", "RCfD − the KL baseline with β tuned on search seeds",
          "alignment A = KL(ρ_demo ‖ ρ_π) of the reward distributions, step {ppo_steps}", "not higher", UNIT, 0.05,
          "the paper's own RCfD alignment (A = 0.04) is the scale of a match", ("alignment_A_by_seed", "RCfD"),
          ("alignment_A_by_seed", "tuned KL")),
    Claim("rita-rcfd-constant", RITA, "calibrating each prompt against its own demonstrations is what aligns the "
          "reward distribution (ablation here: one constant target)", "09_rcfd_and_over_optimization",
          "RCfD − RCfD with one constant target (the mean R over all demonstrations)",
          "alignment A = KL(ρ_demo ‖ ρ_π) of the reward distributions, step {ppo_steps}", "lower", UNIT, 0.05,
          "the paper's own RCfD alignment (A = 0.04) is the scale of a match", ("alignment_A_by_seed", "RCfD"),
          ("alignment_A_by_seed", "RCfD constant")),
]

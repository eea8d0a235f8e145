"""The frontier notebook's claims, declared before its runs (see :class:`rewardlab.core.claim.Claim`).

Two groups, Holm-corrected together (one notebook):

* the frontier's own contrasts: each defence's endpoint against the KL-penalty frontier at the same KL, and
  early stopping against it at matched KL budgets (:mod:`rewardlab.frontier.curves`), paired by replicate;
* the papers' over-optimisation claims, which live here (not in the RCfD and robust-RLHF notebooks, which keep
  their method walkthroughs) because here the replicates span the reward model: Rita et al.'s β = 0
  over-optimisation and RCfD's three claims, Yan et al.'s robust mix on a clean and a label-noise BRME.

Units: gold is the reader's; the proxy is z(R), R standardised on SFT samples (the scale every arm is paid in),
so its margins are a tenth of the SFT samples' spread of R.
"""

from __future__ import annotations

from rewardlab.core.claim import GOLD_MARGIN, Claim
from rewardlab.frontier.arms import beta_arm
from rewardlab.frontier.study import TUNED

NOTEBOOK = "11_over_optimization_frontier"
FRONTIER = "the frontier (this project: every defence on one gold-against-KL plane)"
PRACTITIONER = "for the KL I am willing to spend, which defence buys the most true reward?"
RITA = "Rita et al. 2024 (RCfD)"
YAN = "Yan et al. 2024 (BRME)"
GAO = "Gao et al. 2022"
UNIT = "replicate (its own proxy, BRME and ensemble seed with its PPO seed)"
Z_MARGIN = (0.1, "a tenth of the spread of R over SFT samples (the unit every arm is paid in)")
A_MARGIN = (0.05, "the paper's own RCfD alignment (A = 0.04) is the scale of a match")
OVEROPT = ("without a KL penalty PPO over-optimises the reward model: reward up (2.96), naturalness down (0.09); "
           "over-optimisation means the true (gold) objective falls with it")
B0 = beta_arm(0.0)
ENDPOINT = "reader gold at the arm's last evaluation − the KL-penalty frontier at the arm's √KL, step {ppo_steps}"


def _against_frontier(claim_id: str, arm: str, paper: str, words: str) -> Claim:
    return Claim(claim_id, paper, words, NOTEBOOK, f"{arm} − the KL-penalty frontier at {arm}'s KL", ENDPOINT, "higher",
                 UNIT, *GOLD_MARGIN, ("minus_penalty_by_replicate", arm), 0.0)


CLAIMS = [
    _against_frontier("frontier-rcfd", "RCfD", RITA, "RCfD counters over-optimisation without a KL sweep: "
                      + PRACTITIONER),
    _against_frontier("frontier-robust", "w=0.5", YAN, "the robust mix of nominal and worst head resists reward "
                      "hacking: " + PRACTITIONER),
    _against_frontier("frontier-uwo", "UWO", "Coste et al. 2024 (reward-model ensembles)",
                      "ensembles with an uncertainty penalty (mean − λ·std) mitigate over-optimisation: " + PRACTITIONER),
    _against_frontier("frontier-dense", "dense SHAP", "Koo et al. 2025 (dense reward shaping)",
                      "per-token credit from the reward model's explanation is a better reward: " + PRACTITIONER),
    Claim("frontier-early-stopping", GAO, "a KL penalty acts like early stopping: at matched KL the two reach about "
          "the same gold", NOTEBOOK, "β = 0 stopped at ¼, ½ and ¾ of its final √KL (early stopping) − the KL-penalty "
          "frontier there", "reader gold at matched √KL (mean over the three budgets)", "equal", UNIT,
          *GOLD_MARGIN, ("early_stop_minus_penalty_by_replicate",), 0.0),
    Claim("rita-overopt-proxy", RITA, OVEROPT, NOTEBOOK, "β = 0 PPO − the SFT policy",
          "proxy z(R) of the final policy on held-out prompts, step {ppo_steps}", "higher", UNIT, *Z_MARGIN,
          ("final_proxy_z_by_replicate", B0), ("sft_proxy_z_by_replicate",)),
    Claim("rita-overopt-gold", RITA, OVEROPT, NOTEBOOK, "β = 0 PPO − the SFT policy",
          "reader gold of the final policy on held-out prompts, step {ppo_steps}", "lower", UNIT, *GOLD_MARGIN,
          ("final_gold_by_replicate", B0), ("sft_final_gold",)),
    Claim("rita-overopt-naturalness", RITA, OVEROPT, NOTEBOOK, "β = 0 PPO − the SFT policy",
          "naturalness NLL under the SFT policy (higher = less natural), step {ppo_steps}", "higher", UNIT, 0.1,
          "5% of the SFT policy's own NLL (≈ 2.0 nats per token)", ("naturalness_by_replicate", B0),
          ("sft_naturalness",)),
    Claim("rita-rcfd-reward", RITA, "RCfD lands the reward at the demonstrations' level (1.97 vs 2.01)", NOTEBOOK,
          "RCfD − the held-out demonstrations' mean z(R)", "proxy z(R) of the final policy on held-out prompts, "
          "step {ppo_steps}", "equal", UNIT, *Z_MARGIN, ("final_proxy_z_by_replicate", "RCfD"),
          ("demo_proxy_z_by_replicate",)),
    Claim("rita-rcfd-alignment", RITA, "RCfD matches a tuned KL baseline's reward-distribution alignment without a "
          "sweep (A = 0.04)", NOTEBOOK, "RCfD − the β arm tuned (lowest A) on the other replicates",
          "alignment A = KL(ρ_demo ‖ ρ_π) of the reward distributions, step {ppo_steps}", "not higher", UNIT,
          *A_MARGIN, ("alignment_A_by_replicate", "RCfD"), ("alignment_A_by_replicate", TUNED)),
    Claim("rita-rcfd-constant", RITA, "calibrating each prompt against its own demonstrations is what aligns the "
          "reward distribution (ablation here: one constant target)", NOTEBOOK,
          "RCfD − RCfD with one constant target (the mean R over all demonstrations)",
          "alignment A = KL(ρ_demo ‖ ρ_π) of the reward distributions, step {ppo_steps}", "lower", UNIT, *A_MARGIN,
          ("alignment_A_by_replicate", "RCfD"), ("alignment_A_by_replicate", "RCfD constant")),
    Claim("yan-robust", YAN, "mixing the nominal reward with the worst head (w < 1) beats nominal RLHF (≈ 4% better "
          "benchmark accuracy, steadier training)", NOTEBOOK, "w = 0.5 − w = 1 (nominal RLHF)",
          "final reader gold on held-out prompts after {ppo_steps} PPO steps at β = 0", "higher", UNIT, *GOLD_MARGIN,
          ("final_gold_by_replicate", "w=0.5"), ("final_gold_by_replicate", "w=1")),
    Claim("yan-robust-noise", YAN, "the robust objective resists an imperfect reward model", NOTEBOOK,
          "w = 0.5 − w = 1, each replicate's BRME with one head trained on flipped labels",
          "final reader gold on held-out prompts after {ppo_steps} PPO steps at β = 0", "higher", UNIT, *GOLD_MARGIN,
          ("final_gold_by_replicate", "noisy w=0.5"), ("final_gold_by_replicate", "noisy w=1")),
]

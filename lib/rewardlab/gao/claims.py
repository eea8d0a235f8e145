"""The claims of the review world's gold (notebook 01) and of Gao et al. 2022's harness (notebook 06),
declared before their runs (see :class:`rewardlab.core.claim.Claim`).

The turn is read on the middle proxy (``gao.middle_pairs`` pairs): it is the one whose replicates each
draw their own reward model (``gao.replicates`` of them), where the smallest and the largest have notebook
02's three seeds. The gold drop is cross-fitted (:func:`rewardlab.gao.fits.crossfit_drop`), so a curve that only
rises gives at most 0 in expectation, not the positive bias of max − final.
"""

from __future__ import annotations

from rewardlab.core.claim import GOLD_MARGIN, Claim

GAO = "Gao et al. 2022 (scaling laws for reward-model over-optimisation)"
WORLD = "rewardlab design"
GAO_NOTEBOOK = "06_gao_over_optimization"
TURN = ("optimising a proxy reward model, the gold reward first rises and then falls as the policy moves away "
        "from its initialisation, while the proxy keeps rising")
PROXY_MARGIN = (0.1, "a tenth of the proxy's standard deviation over SFT samples (the proxy is standardised on them)")

CLAIMS = [
    Claim("reader-agrees-vader", WORLD,
          "on natural text (every sentence in the world's grammar) the reader's gold is VADER's compound: "
          "Pearson ≥ 0.95 on the demonstrations", "01_review_world_and_sft", "Pearson(reader gold, VADER) − 0.95",
          "Pearson correlation over one world's test demonstrations", "higher", "world (generator seed)", 0.01,
          "a hundredth of correlation, the precision at which the requirement is stated",
          ("reader_vader_pearson_by_world",), 0.95),
    Claim("gao-rl-turn", GAO, TURN, GAO_NOTEBOOK, "held-out gold at its peak − at the end (PPO, β = 0)",
          "gold of the middle proxy's runs ({middle_pairs} pairs), {ppo_steps} steps, peak step chosen on the other "
          "half of the held-out prompts", "higher", "replicate (reward-model seed and PPO seed)", *GOLD_MARGIN,
          ("gold_peak_minus_final_by_replicate", "middle"), 0.0),
    Claim("gao-rl-proxy-rises", GAO, TURN, GAO_NOTEBOOK, "proxy at the end − at the gold peak (PPO, β = 0)",
          "standardised proxy on the rollouts of the middle proxy's runs, mean of the {eval_every} steps up to each "
          "point", "higher", "replicate (reward-model seed and PPO seed)", *PROXY_MARGIN,
          ("proxy_final_minus_peak_by_replicate", "middle"), 0.0),
    Claim("gao-bon-scaling", GAO, "a reward model trained on more data over-optimises later and reaches a higher "
          "gold at its best-of-n peak", GAO_NOTEBOOK, "gold at the best-of-n peak: every pair − the smallest proxy",
          "best-of-n gold relative to the SFT policy at the peak over n ≤ {bon_max_n} (peak chosen on the other half "
          "of the prompts)", "higher", "reward-model seed", *GOLD_MARGIN,
          ("bon_gold_at_peak_by_seed", "all"), ("bon_gold_at_peak_by_seed", "small")),
]

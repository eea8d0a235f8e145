"""The claims of Qiu et al. 2024 (tree-structured preferences), notebook 03,
declared before their runs (see :class:`rewardlab.core.claim.Claim`)."""

from __future__ import annotations

from rewardlab.core.claim import Claim

QIU = "Qiu et al. 2024"

CLAIMS = [
    Claim("qiu-tree-accuracy", QIU, "at an equal labelling budget, tree-structured pairs train a reward model that "
          "generalises better than independent (chain) samples", "03_tree_structured_preferences",
          "tree − chain reward model", "held-out pair accuracy against gold at the largest budget ({largest_budget} pairs)",
          "higher", "reward-model seed (sampling, pairs and training re-drawn)", 0.01,
          "one point of pair accuracy, below what reward-model benchmarks report as a difference",
          ("largest_budget_accuracy_by_seed", "tree"), ("largest_budget_accuracy_by_seed", "chain")),
    Claim("qiu-tree-win-rate", QIU, "the tree-trained reward model's policy wins 65% of comparisons (after PPO; here "
          "best-of-n)", "03_tree_structured_preferences", "tree RM's best-of-n pick beats chain RM's − 50%",
          "gold win rate over {bon_prompts} test prompts (best-of-{bon_n}, largest budget)", "higher",
          "reward-model seed (sampling, pairs and training re-drawn)", 0.015,
          "a tenth of the paper's 15-point margin over a tie (65% vs 50%)", ("win_rate_by_seed",), 0.5),
]

"""The claims of Qiu et al. 2024 (tree-structured preferences), notebook 03,
declared before their runs (see :class:`rewardlab.core.claim.Claim`)."""

from __future__ import annotations

from rewardlab.core.claim import Claim

QIU = "Qiu et al. 2024"
GENERALISES = ("at an equal labelling budget, tree-structured pairs train a reward model that generalises better than "
               "independent (chain) samples")
UNIT = "replicate (pairs, labels, reward-model init and PPO seed re-drawn)"
PPO_UNIT = ("replicate: one reward-model pair (pairs, labels, both inits re-drawn), its win rate the mean over "
            "tree.ppo_seeds_per_pair PPO seeds")
ACCURACY_MARGIN = (0.01, "one point of pair accuracy, below what reward-model benchmarks report as a difference")

CLAIMS = [
    Claim("qiu-tree-accuracy", QIU, GENERALISES, "03_tree_structured_preferences", "tree − chain reward model",
          "held-out pair accuracy against gold ({heldout_pairs} pairs) at the largest budget ({largest_budget} pairs)",
          "higher", UNIT, *ACCURACY_MARGIN,
          ("largest_budget_accuracy_by_seed", "tree"), ("largest_budget_accuracy_by_seed", "chain")),
    Claim("qiu-tree-siblings-accuracy", QIU, GENERALISES, "03_tree_structured_preferences",
          "tree pairs drawn among siblings first − chain reward model",
          "held-out pair accuracy against gold ({heldout_pairs} pairs) at the largest budget ({largest_budget} pairs)",
          "higher", UNIT, *ACCURACY_MARGIN,
          ("largest_budget_accuracy_by_seed", "siblings"), ("largest_budget_accuracy_by_seed", "chain")),
    Claim("qiu-tree-win-rate", QIU, "after PPO, the tree-trained reward model's policy wins 65% of comparisons",
          "03_tree_structured_preferences", "PPO on the tree RM beats PPO on the chain RM − 50%",
          "gold win rate on {eval_prompts} test prompts after {ppo_steps} PPO steps (reward models of {largest_budget} "
          "pairs)", "higher", PPO_UNIT, 0.015,
          "a tenth of the paper's 15-point margin over a tie (65% vs 50%)", ("ppo_win_rate_tree_over_chain_by_seed",), 0.5),
]

"""The claims about the reward model itself, notebook 02, declared before its run
(see :class:`rewardlab.core.claim.Claim`).

Neither is a paper's result; both are what every later notebook stands on. DESIGN.md asks for a
proxy worth optimising and explaining (≥ 0.85 held-out accuracy against the gold ordering) that
is still imperfect, and rewardlab's own Bradley–Terry loop must not be an outlier against TRL's
``RewardTrainer`` on the same model, initialisation seeds and pairs.
"""

from __future__ import annotations

from rewardlab.core.claim import Claim

NOTEBOOK = "02_bradley_terry_reward_model"
ACCURACY_MARGIN = "one point of pair accuracy, below what reward-model benchmarks report as a difference"

CLAIMS = [
    Claim("rm-worth-optimising", "rewardlab design (after Gao et al. 2022)",
          "a proxy worth optimising and explaining: held-out accuracy against the gold ordering of at least 0.85",
          NOTEBOOK, "Bradley–Terry reward model − 0.85", "held-out pair accuracy against gold ({n_heldout_pairs} pairs)",
          "higher", "reward-model seed (same pairs)", 0.01, ACCURACY_MARGIN, ("rm_heldout_accuracy_by_seed",), 0.85),
    Claim("trl-rm-parity", "TRL RewardTrainer",
          "TRL's RewardTrainer trains the same model on the same pairs to the same held-out accuracy",
          NOTEBOOK, "TRL RewardTrainer − rewardlab's loop",
          "held-out pair accuracy against gold, both trained on the same {trl_parity_pairs} pairs",
          "equal", "reward-model seed (same initialisation, same pairs)", 0.02,
          "two points of pair accuracy: the parity bound rewardlab holds its trainer to",
          ("trl_rm_heldout_accuracy_by_seed",), ("rewardlab_rm_parity_accuracy_by_seed",)),
]

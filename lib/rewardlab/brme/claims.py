"""The claim of Yan et al. 2024 about the BRME itself (notebook 04), declared before its run (see
:class:`rewardlab.core.claim.Claim`). The robust-RLHF claims live with the frontier (:mod:`rewardlab.frontier.claims`),
whose replicates draw their own BRME."""

from __future__ import annotations

from rewardlab.core.claim import Claim

YAN = "Yan et al. 2024 (BRME)"

CLAIMS = [
    Claim("yan-brme-nominal", YAN, "the BRME's nominal head (lowest σ) is a better reward model than a single one",
          "04_bayesian_reward_ensembles", "BRME nominal head − one Bradley–Terry model trained on the same pairs",
          "held-out pair accuracy against gold", "higher", "training seed (both models, same pairs)", 0.01,
          "one point of pair accuracy, below what reward-model benchmarks report as a difference",
          ("accuracy_by_seed", "BRME nominal"), ("accuracy_by_seed", "Bradley–Terry (same pairs)")),
]

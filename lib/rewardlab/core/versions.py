"""Versions of what every result stands on; bump one when a code change changes what it builds.

Each version enters the cache key of its artifact (so a bump rebuilds it) and every metrics file
records them all (:func:`rewardlab.reporting.metrics.record_metrics`), so ``SUMMARY.md`` can flag a
committed run that was produced with an earlier world or reward model than the code's.
"""

WORLD_VERSION = 4  # the review generator (3: every word in a slot of its part of speech; 4: either side of "but")
SFT_VERSION = 2  # SFT of the policy (2: GELU by torch's fused kernel and fused AdamW, issue 45)
REWARD_MODEL_VERSION = 4  # the Bradley-Terry reward model (2: scaled data and model; 3: prompt-grouped batches, 2 epochs; issue 20;
#   4: GELU by torch's fused kernel, reward.models.FUSED_GELU, issue 45)
BRME_VERSION = 4  # the Bayesian reward-model ensemble (2: heads on prompt shards, no anchor, standardised per head; issue 23;
#   3: sigma fitted on validation-prompt pairs over notebook 02's backbone, issue 25; 4: the heads as one batched
#   module, GaussianHeads, with a new state dict, and one forward pass per step, issue 45)


# Components only some notebooks build on (notebook-number prefixes); every other component is under all of them.
BUILT_ON_BY = {"brme": ("04_", "10_", "11_")}


def builds_on(notebook: str, component: str) -> bool:
    """Whether ``notebook`` (a stem such as ``04_bayesian_reward_ensembles``) stands on ``component``."""
    return component not in BUILT_ON_BY or notebook.startswith(BUILT_ON_BY[component])


def current_versions() -> dict[str, int]:
    """The versions this checkout builds with, as a metrics file records them."""
    return {"world": WORLD_VERSION, "sft": SFT_VERSION, "reward_model": REWARD_MODEL_VERSION, "brme": BRME_VERSION}

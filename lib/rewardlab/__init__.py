"""rewardlab: RLHF reward research on one shared task, in notebooks backed by this package.

Modules (one idea each): ``config`` presets, ``world`` the review world and tokenizer,
``judges`` gold judge and ground-truth credit, ``policy`` SFT, sampling and log-probs,
``preferences``, ``reward_models`` and ``trl_peers`` for reward learning, ``artifacts`` the
on-disk cache, ``metrics``, ``plots`` and ``quiet`` for notebooks, ``stats`` the intervals,
Holm's correction and the verdict rule, ``claims`` the pre-registered claims (claims.json),
``summary`` SUMMARY.md, ``reproduce`` the papermill runner.
"""

from .config import Preset, load_preset

__all__ = ["Preset", "load_preset"]
__version__ = "0.1.0"

"""The one loader: everything a notebook, a BO trial or ``python -m rewardlab.train`` stands on.

    stack = load_stack(load_preset("tiny"))
    stack.world, stack.tokenizer, stack.policy, stack.judge       # the task and the SFT policy
    stack.train_pairs, stack.heldout_pairs                         # gold-labelled preference data
    stack.reward_model()                                           # Bradley-Terry reward model, seed preset.seed
    stack.reward_models                                            # one per reward-model seed
    stack.brme()                                                   # the Bayesian reward-model ensemble

Each piece is built on first use through the artifact cache (:mod:`rewardlab.core.artifacts`) and
kept for the life of the stack, in the order world -> tokenizer and SFT policy -> gold judge ->
preference data -> reward models, the only order in which they depend on each other.
:func:`shared_stack` keeps one stack per preset and process, so worker processes reuse theirs.
"""

from __future__ import annotations

from functools import cached_property

from rewardlab.brme.training import load_brme
from rewardlab.core.config import Preset
from rewardlab.core.judges import load_gold_judge
from rewardlab.core.policy import load_sft_policy
from rewardlab.core.world import build_world
from rewardlab.reward.models import load_reward_model
from rewardlab.reward.preferences import load_calibration_pairs, load_preference_data


class Stack:
    """Lazy, cached access to the world, the SFT policy, the gold judge, the preference data and the
    reward models of one preset."""

    def __init__(self, preset: Preset, progress: bool = True):
        self.preset, self.progress = preset, progress
        self._reward_models: dict = {}
        self._brmes: dict = {}

    @cached_property
    def world(self):
        return build_world(self.preset)

    @cached_property
    def _sft(self):
        return load_sft_policy(self.preset, world=self.world, progress=self.progress)

    @property
    def policy(self):
        """The SFT policy (eval mode): every PPO run starts from it and naturalness is measured under it."""
        return self._sft[0]

    @property
    def tokenizer(self):
        return self._sft[1]

    @property
    def sft_log(self) -> dict:
        return self._sft[2]

    @cached_property
    def judge(self):
        return load_gold_judge(self.preset)

    @cached_property
    def _pairs(self):
        return load_preference_data(self.preset, self.policy, self.tokenizer, self.world, self.judge,
                                    progress=self.progress)

    @property
    def train_pairs(self):
        return self._pairs[0]

    @property
    def heldout_pairs(self):
        """Pairs over test prompts, labelled without noise: accuracy on them is accuracy against gold."""
        return self._pairs[1]

    @cached_property
    def calibration_pairs(self):
        """Pairs over validation prompts, labelled like the training pairs: where a BRME fits sigma."""
        return load_calibration_pairs(self.preset, self.policy, self.tokenizer, self.world, self.judge,
                                      progress=self.progress)

    @property
    def reward_seeds(self) -> list[int]:
        return [self.preset.seed + s for s in range(self.preset.reward_model.seeds)]

    def reward_model_and_log(self, seed: int | None = None):
        seed = self.preset.seed if seed is None else seed
        if seed not in self._reward_models:
            self._reward_models[seed] = load_reward_model(self.preset, self.tokenizer, self.train_pairs, seed=seed,
                                                          eval_dataset=self.heldout_pairs, progress=self.progress)
        return self._reward_models[seed]

    def reward_model(self, seed: int | None = None):
        """The Bradley-Terry reward model trained with ``seed`` (default: the preset's seed)."""
        return self.reward_model_and_log(seed)[0]

    @property
    def reward_models(self) -> list:
        """One reward model per seed in :attr:`reward_seeds`."""
        return [self.reward_model(seed) for seed in self.reward_seeds]

    def brme_and_logs(self, seed: int | None = None, loss: str = "preference", noisy: bool = False):
        """(BRME, stage-1 log, stage-2 log); ``noisy``: head ``robust.noisy_head`` learned from labels of which
        ``robust.label_flip`` were flipped (the same stage 1 as the clean BRME of that seed)."""
        seed = self.preset.seed if seed is None else seed
        if (seed, loss, noisy) not in self._brmes:
            noise = dict(noisy_heads=[self.preset.robust.noisy_head], label_flip=self.preset.robust.label_flip) if noisy else {}
            if loss == "preference" and self.preset.brme.calibration == "validation":
                noise["calibration_dataset"] = self.calibration_pairs
            self._brmes[seed, loss, noisy] = load_brme(self.preset, self.tokenizer, self.train_pairs, seed=seed, loss=loss,
                                                       eval_dataset=self.heldout_pairs, progress=self.progress, **noise)
        return self._brmes[seed, loss, noisy]

    def brme(self, seed: int | None = None, loss: str = "preference", noisy: bool = False):
        return self.brme_and_logs(seed, loss, noisy)[0]

    @property
    def train_prompts(self) -> list[str]:
        return list(self.world.splits["train"]["prompt"])

    @property
    def eval_prompts(self) -> list[str]:
        """The first ``runs.eval_prompts`` distinct validation prompts: every trained policy is evaluated on them."""
        return list(dict.fromkeys(self.world.splits["validation"]["prompt"]))[: self.preset.runs.eval_prompts]


def load_stack(preset: Preset, progress: bool = True) -> Stack:
    return Stack(preset, progress=progress)


_SHARED: dict[str, Stack] = {}


def shared_stack(preset: Preset) -> Stack:
    """One stack per preset and process, without progress bars (BO trials and worker processes)."""
    key = preset.fingerprint()
    if key not in _SHARED:
        _SHARED[key] = Stack(preset, progress=False)
    return _SHARED[key]

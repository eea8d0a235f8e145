"""Held-out evaluation during PPO: every few steps, each seed's policy answers fixed prompts with fixed draws.

Logging only (nothing here feeds the updates): the trainer (:mod:`rewardlab.rl.trainer`) calls
:func:`evaluate_held_out` on the steps :meth:`Evaluation.due` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from rewardlab.core.study_configs import PPOConfig
from rewardlab.rl.rollouts import sample_stacked, stacked_action_stats, to_rollout


@dataclass(frozen=True)
class PerSeed:
    """An evaluation score that differs by seed: ``for_seed(seed)`` is the ``(prompts, responses)`` score of the run
    with that seed."""

    for_seed: Callable[[int], Callable]


@dataclass(frozen=True)
class Evaluation:
    """Held-out evaluation during training: every ``every`` steps (and at the last step) each seed's policy
    samples one response per prompt of ``prompts`` from the generator seed ``seed``. Every seed, arm and
    step draws the same uniforms (common random numbers: two policies that agree answer alike, so a
    difference between runs is the policies', not the draws'). Logged as ``eval_gold`` (``gold_fn``),
    ``eval_kl`` (sum over the actions of log pi - log pi_ref, mean over the prompts) and
    ``eval_<name>`` for each ``scores[name](prompts, responses)``; NaN on the other steps. A score that differs
    by seed (each seed's own reward model, say) is a :class:`PerSeed`."""

    prompts: Sequence[str]
    every: int = 10
    seed: int = 12345
    scores: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.prompts or self.every < 1:
            raise ValueError(f"Evaluation needs prompts and every >= 1; got {len(self.prompts)} prompts, "
                             f"every={self.every}")

    def keys(self) -> list[str]:
        return ["eval_gold", "eval_kl", *(f"eval_{name}" for name in self.scores)]

    def due(self, step: int, steps: int) -> bool:
        return step % self.every == 0 or step == steps


def evaluate_held_out(evaluation: Evaluation, stacked, reference, tokenizer, eval_ids, eval_mask,
              blocked, config: PPOConfig, gold_fn: Callable | None, seeds: Sequence[int]) -> dict[str, list[float]]:
    """:class:`Evaluation`'s metrics for every seed of the stack: key -> one value per seed."""
    n_seeds = stacked.seeds
    ids, mask = eval_ids.expand(n_seeds, *eval_ids.shape), eval_mask.expand(n_seeds, *eval_mask.shape)
    generators = [torch.Generator().manual_seed(evaluation.seed) for _ in range(n_seeds)]
    sample = sample_stacked(stacked, ids, mask, tokenizer.pad_token_id, config.max_new_tokens, generators, blocked,
                            tokenizer.eos_token_id, config.temperature)
    attention = torch.cat([mask, sample["action_mask"]], dim=-1)
    with torch.no_grad():
        ref_logprobs, _, _ = stacked_action_stats(reference, sample["sequences"], attention, sample["action_mask"],
                                                  blocked, config.temperature, entropy=False)
    kl = ((sample["logprobs"] - ref_logprobs) * sample["action_mask"]).sum(-1).mean(-1)
    out = {key: [] for key in evaluation.keys()}
    for s in range(n_seeds):
        responses = to_rollout(tokenizer, list(evaluation.prompts), sample["sequences"][s].cpu(), mask[s].cpu(),
                               sample["action_mask"][s].cpu(), config.temperature).responses
        out["eval_gold"].append(float(np.mean(gold_fn(responses))) if gold_fn else float("nan"))
        out["eval_kl"].append(float(kl[s]))
        for name, fn in evaluation.scores.items():
            fn = fn.for_seed(seeds[s]) if isinstance(fn, PerSeed) else fn
            out[f"eval_{name}"].append(float(np.mean(fn(list(evaluation.prompts), responses))))
    return out

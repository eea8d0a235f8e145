"""Rewards on one scale: every PPO arm pays z = (R - mu) / sigma, with mu and sigma its score's mean and
standard deviation over SFT samples.

Why: one beta and one learning rate mean different things for rewards of different scales. The review
world's reward models score SFT text with a spread of about 2-3 and its gold judge with one of about
0.5, so an arm on gold, labelled the upper bound of the reward-model arms, could lose to them only because
its reward was several times smaller (issue 42). Standardising moves nothing else: a per-token reward
r_t (sum_t r_t = R) becomes r_t / sigma with -mu / sigma added on the last token, so its tokens still sum
to the standardised score and its credit keeps its shape.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from rewardlab.rl.rollouts import takes_tokens


def score_scale(score_fn: Callable, prompts: Sequence[str], responses: Sequence[str]) -> tuple[float, float]:
    """(mu, sigma) of ``score_fn(prompts, responses)`` (one score per response) over the given samples."""
    values = np.asarray(score_fn(list(prompts), list(responses)), dtype=float)
    sd = float(values.std())
    if not sd > 0 or not np.isfinite(sd):
        raise ValueError(f"the score is constant (or not finite) over the {len(values)} samples; pass varied SFT samples")
    return float(values.mean()), sd


def standardised(reward_fn: Callable, mean: float, sd: float) -> Callable:
    """``reward_fn`` (scalar or per-token rewards, with or without ``tokens``) paying (R - mean) / sd."""
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd}")
    with_tokens = takes_tokens(reward_fn)

    def reward(prompts, responses, tokens=None):
        out = []
        for value in (reward_fn(prompts, responses, tokens=tokens) if with_tokens else reward_fn(prompts, responses)):
            value = np.array(value, dtype=float)
            if value.ndim == 0:
                out.append(float((value - mean) / sd))
            else:
                value /= sd
                value[-1] -= mean / sd
                out.append(value)
        return out

    reward.mean, reward.sd, reward.shape = mean, sd, getattr(reward_fn, "shape", None)
    return reward

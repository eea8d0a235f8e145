"""Reward shaping: spread a response's reward R over its T tokens.

Every shape here returns token rewards r_1..r_T with sum_t r_t = R:

* **sparse**: r_T = R, every other r_t = 0 (standard RLHF: the score on the last token);
* **uniform**: r_t = R / T;
* **ABC** (attention-based credit, Chan et al. 2024): r_t = (1 - s) R [t = T] + s R a_t, with a_t
  the reward model's last-layer, head-averaged attention of the final token over the response
  (normalised, sum_t a_t = 1) and the attention share s = 0.8 (Chan et al.'s beta, renamed here so that beta names
  only the KL coefficient);
* **explainer**: the token rewards of SHAP, LIME or attention from :mod:`rewardlab.shaping.attribution`,
  which sum to R (attention's are a_t R); ABC is the mixture with w_attention = s, w_sparse = 1 - s;
* **mixture** (Koo et al. 2025): r_t = w_sparse R [t = T] + sum_k w_k r^(k)_t over the explainers
  k in (SHAP, LIME, attention), with (w_shap, w_lime, w_attention, w_sparse) on the simplex.

Invariance. With gamma = 1 the return of a whole response is G = sum_t r_t (+ the KL terms, which do
not depend on the shape), so every shape above gives each complete response the same return R as
sparse RLHF: the objective E[G] is unchanged and so is the optimal policy (Koo et al. 2025, an
additive attribution is a potential-based shaping, Ng et al. 1999). What changes is *when* the
learner sees the reward: earlier tokens get their credit without waiting for the end, which lowers
the variance of the advantage estimates. With gamma < 1 the invariance holds only approximately.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.reward.models import score
from rewardlab.shaping.attribution import attribute, encode_examples

SHAPES = ("sparse", "uniform", "abc", "shap", "lime", "mixture")
EXPLAINERS = ("shap", "lime", "attention")
ABC_ATTENTION_SHARE = 0.8


def sparse(reward: float, n_tokens: int) -> np.ndarray:
    """R on the last token, 0 elsewhere."""
    if n_tokens < 1:
        raise ValueError("a response needs at least one token to carry its reward")
    out = np.zeros(n_tokens)
    out[-1] = reward
    return out


def uniform(reward: float, n_tokens: int) -> np.ndarray:
    """R / T on every token."""
    if n_tokens < 1:
        raise ValueError("a response needs at least one token to carry its reward")
    return np.full(n_tokens, reward / n_tokens)


def abc_weights(attention_share: float = ABC_ATTENTION_SHARE) -> dict[str, float]:
    """ABC as a point of the mixture simplex: the share s on attention, 1 - s on sparse.

    With attention token rewards r^att_t = a_t R this is exactly (1 - s) R [t = T] + s R a_t.
    """
    if not 0 <= attention_share <= 1:
        raise ValueError(f"attention_share must lie in [0, 1], got {attention_share}")
    return {"attention": attention_share, "sparse": 1 - attention_share}


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    """Mixture weights over ``EXPLAINERS + ("sparse",)``: non-negative, summing to 1."""
    names = EXPLAINERS + ("sparse",)
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"unknown mixture weight(s) {unknown}; use {', '.join(names)}")
    full = {name: float(weights.get(name, 0.0)) for name in names}
    if min(full.values()) < 0 or not np.isclose(sum(full.values()), 1.0):
        raise ValueError(f"mixture weights must be >= 0 and sum to 1 (a point of the simplex), got {full}")
    return full


def mixture(reward: float, explained: dict[str, np.ndarray], weights: dict[str, float],
            n_tokens: int | None = None) -> np.ndarray:
    """w_sparse R [t = T] + sum_k w_k r^(k)_t; ``explained[k]`` are token rewards summing to R.

    ``n_tokens`` is needed only when no explainer's token rewards are passed (all weight on sparse).
    """
    full = check_weights(weights)
    if n_tokens is None:
        if not explained:
            raise ValueError("pass the explainers' token rewards (dict name -> array) or n_tokens")
        n_tokens = len(next(iter(explained.values())))
    out = full["sparse"] * sparse(reward, n_tokens)
    for name in EXPLAINERS:
        if full[name] == 0:
            continue
        if name not in explained:
            raise ValueError(f"weight {full[name]} on {name!r} but no {name} token rewards were passed")
        if len(explained[name]) != n_tokens:
            raise ValueError(f"{name} gives {len(explained[name])} token rewards, expected {n_tokens}")
        out = out + full[name] * np.asarray(explained[name], dtype=float)
    return out


def shape_rewards(shape: str, rewards: Sequence[float], n_tokens: Sequence[int],
                  explained: dict[str, list[np.ndarray]] | None = None, weights: dict[str, float] | None = None,
                  attention_share: float = ABC_ATTENTION_SHARE) -> list[np.ndarray]:
    """Token rewards for a batch of responses under ``shape``.

    ``explained[k][i]`` holds explainer k's token rewards for response i (``TokenAttribution.token_rewards``,
    summing to R); ``weights`` is the mixture's point of the simplex ("abc" uses :func:`abc_weights`).
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    explained = explained or {}
    if shape == "abc":
        shape, weights = "mixture", abc_weights(attention_share)
    needed = [shape] if shape in ("shap", "lime") else []
    if shape == "mixture":
        needed = [k for k, w in check_weights(weights or {}).items() if w > 0 and k != "sparse"]
    missing = [k for k in needed if k not in explained]
    if missing:
        raise ValueError(f"shape {shape!r} needs {', '.join(missing)} attributions; pass them in ``explained``")
    out = []
    for i, (reward, length) in enumerate(zip(rewards, n_tokens)):
        if shape == "sparse":
            out.append(sparse(reward, length))
        elif shape == "uniform":
            out.append(uniform(reward, length))
        elif shape in ("shap", "lime"):
            out.append(np.asarray(explained[shape][i], dtype=float))
        else:
            out.append(mixture(reward, {k: v[i] for k, v in explained.items()}, weights, length))
        if len(out[-1]) != length:
            raise ValueError(f"response {i}: {len(out[-1])} token rewards for {length} tokens")
    return out


def shaped_reward_fn(shape: str, reward_model, tokenizer, *, weights: dict[str, float] | None = None,
                     attention_share: float = ABC_ATTENTION_SHARE, shap_max_evals: int = 128, lime_num_samples: int = 128,
                     seed: int = 0, batch_size: int = 512, shap_estimator: str = "first-last"):
    """``reward_fn(prompts, responses)`` for :func:`rewardlab.rl.trainer.train_ppo`: the reward
    model's score R(x, y), spread over the response tokens by ``shape``.

    Sparse returns the scalar R per response (the trainer pays it on the final action); the other
    shapes return one token reward per response token, computed on the reward model's token ids
    (SHAP by ``shap_estimator``, default the deterministic first-and-last-position estimate, which agrees
    0.987-0.991 with converged SHAP on PPO's responses at 2T + 2 evaluations; first-position 0.973-0.975
    (0.959 on responses with a negator or "but") at T + 2, but it moves PPO's outcome
    (``benchmarks/ab_shap_estimator.py``), shap's permutation
    explainer 0.906 at 64 (``benchmarks/bench_attribution.py``); the sampled
    estimators spend ``shap_max_evals`` evaluations per response; LIME ``lime_num_samples``). Each
    call draws new explainer seeds, so sampled attribution noise is not frozen across PPO steps.

    Token alignment: the reward model re-tokenises the response text, and its tokens must be the
    policy's. True for the tiny preset's word-level tokenizer shared by both; with a BPE policy a
    re-tokenisation can merge differently, and the trainer's length check then stops the run
    naming the response (mapping credit through words would lift this; not needed yet).
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if shape == "mixture":
        weights = check_weights(weights or {})
        explainers = [k for k in EXPLAINERS if weights[k] > 0]
    else:
        explainers = {"abc": ["attention"], "shap": ["shap"], "lime": ["lime"]}.get(shape, [])
    calls = [0]

    def reward_fn(prompts: Sequence[str], responses: Sequence[str]):
        calls[0] += 1
        if shape == "sparse":
            return list(score(reward_model, tokenizer, prompts, responses, batch_size=batch_size))
        explained = {
            method: attribute(method, reward_model, tokenizer, prompts, responses, max_evals=shap_max_evals,
                              num_samples=lime_num_samples,
                              seed=(seed * 1_000_003 + calls[0] * len(prompts)) % 2**31,
                              batch_size=batch_size, estimator=shap_estimator)
            for method in explainers
        }
        if explained:
            first = next(iter(explained.values()))
            rewards, n_tokens = [a.reward for a in first], [len(a.tokens) for a in first]
        else:  # uniform: the score and the token count are all it needs
            rewards = score(reward_model, tokenizer, prompts, responses, batch_size=batch_size)
            n_tokens = [len(e.response_ids) for e in encode_examples(reward_model, tokenizer, prompts, responses)]
        token_rewards = {k: [a.token_rewards for a in v] for k, v in explained.items()}
        return shape_rewards(shape, rewards, n_tokens, token_rewards, weights, attention_share)

    reward_fn.shape = shape
    return reward_fn

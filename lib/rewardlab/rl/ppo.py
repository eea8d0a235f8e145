"""PPO with per-token rewards for causal language models: the math, one function per equation.

Written by hand because TRL's current trainers (PPO, RLOO, GRPO) take one scalar reward per
response; dense reward shaping needs a reward per token. Shapes are [B, T] over the response
tokens, right-padded; ``mask`` is 1 on real tokens.

Per-token reward (Ziegler et al. 2019; Stiennon et al. 2020), with the shaped token rewards s_t of
:mod:`rewardlab.shaping.shapes` (sparse: s_T = R):

    r_t = s_t - beta * kl_t,        kl_t = log pi(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t)

Generalised advantage estimation (Schulman et al. 2016):

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t)          (V after the last token = 0)
    A_t     = delta_t + gamma lambda A_{t+1},           returns G_t = A_t + V(s_t)

Clipped surrogate and value losses (Schulman et al. 2017), averaged over real tokens:

    L_pi = E[max(-A_t rho_t, -A_t clip(rho_t, 1 - eps, 1 + eps))],   rho_t = exp(log pi - log pi_old)
    L_V  = 1/2 E[max((V - G)^2, (V_old + clip(V - V_old, -eps_V, eps_V) - G)^2)]

Adaptive KL coefficient (Ziegler et al. 2019): beta <- beta (1 + clip(KL / KL_target - 1, -0.2, 0.2) n / H)
after a batch of n responses with mean KL, horizon H.
"""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the positions where ``mask`` is 1."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over the masked positions (``shift_mean=False`` keeps the mean: for rewards)."""
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    whitened = (values - mean) * torch.rsqrt(variance + 1e-8)
    return (whitened if shift_mean else whitened + mean) * mask


def per_token_rewards(shaped: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                      mask: torch.Tensor, kl_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_t = s_t - beta kl_t, kl_t) on real tokens; zero on padding."""
    kl = (logprobs - ref_logprobs) * mask
    return (shaped - kl_coef * kl) * mask, kl


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages A_t and returns G_t = A_t + V_t by the backward GAE recursion (see module doc)."""
    rewards, values, mask = rewards * mask, values * mask, mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_advantage = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        # padding carries nothing back: after the last real token V = 0 and A = 0
        advantages[:, t] = advantage * mask[:, t]
        next_value = values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
    return advantages, (advantages + values) * mask


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_range: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """(clipped surrogate loss L_pi, fraction of tokens where the clip was active)."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped > unclipped).float(), mask)
    return loss, clip_fraction


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip_range: float = 0.2) -> torch.Tensor:
    """Clipped value loss L_V (see module doc)."""
    clipped = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped - returns) ** 2), mask)


def update_kl_coef(kl_coef: float, mean_kl: float, target: float, n_responses: int, horizon: int) -> float:
    """Adaptive beta of Ziegler et al. (2019); returns the new coefficient."""
    error = max(-0.2, min(0.2, mean_kl / target - 1))
    return kl_coef * (1 + error * n_responses / horizon)

"""Bayesian reward model ensembles (BRME, Yan et al. 2024): one backbone, K Gaussian reward heads.

Model. The stage-1 Bradley-Terry reward model's backbone gives h(x, y), the final hidden state
at the last token of ``prompt + response + <eos>``; K heads map it to Gaussian rewards:

    [mu_k, s_k] = MLP_k(h),    sigma_k = softplus(s_k) + SIGMA_FLOOR > 0,    r_k ~ N(mu_k, sigma_k^2).

Rewards read from the heads (per response):

    nominal        mu_{k*} with k* = argmin_k sigma_k        (the most confident head; Yan et al.)
    worst head     min_k mu_k                                 (the pessimistic end of the set)
    penalised      mean_k mu_k - lambda * std_k mu_k          (uncertainty-weighted, Coste et al. 2024)

Training: :mod:`rewardlab.brme.training`. Written by hand: no library trains multi-head Gaussian reward models. Stage 2 is a plain loop
on cached backbone features (a few seconds of MLP training); the backbone forward passes that
produce the features are batched inference on the reward model's device.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from rewardlab.core.policy import pad_right
from rewardlab.reward.models import batches_by_length, encode_for_reward

SIGMA_FLOOR = 1e-3
LOSSES = ("preference", "reparameterised_mse")


class GaussianHead(torch.nn.Module):
    """h -> (mu, sigma): a one-hidden-layer MLP with a softplus standard deviation."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 2))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.net(features).unbind(-1)
        return mu, torch.nn.functional.softplus(raw) + SIGMA_FLOOR


class BRME(torch.nn.Module):
    """A stage-1 reward model (frozen backbone) with K Gaussian heads on its last-token features."""

    def __init__(self, reward_model, n_heads: int = 5, hidden: int = 64):
        super().__init__()
        if n_heads < 1:
            raise ValueError(f"BRME needs at least one head, got n_heads={n_heads}")
        self.reward_model = reward_model.eval().requires_grad_(False)
        width = reward_model.config.hidden_size
        self.heads = torch.nn.ModuleList(GaussianHead(width, hidden) for _ in range(n_heads))

    @torch.no_grad()
    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h [B, d], r_1 [B]): backbone features at each row's last real token, and the stage-1 reward."""
        base = self.reward_model.base_model
        hidden = base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.sum(1) - 1
        h = hidden[torch.arange(len(last), device=hidden.device), last]
        return h, self.reward_model.score(h)[:, 0].float()

    def heads_forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu [B, K], sigma [B, K]) from backbone features."""
        outputs = [head(features) for head in self.heads]
        return torch.stack([m for m, _ in outputs], 1), torch.stack([s for _, s in outputs], 1)

    def forward(self, input_ids, attention_mask):
        return self.heads_forward(self.features(input_ids, attention_mask)[0])


def gaussian_preference_nll(mu_chosen, sigma_chosen, mu_rejected, sigma_rejected) -> torch.Tensor:
    """Per-pair -log sigmoid((mu_c - mu_r) / sqrt(1 + pi/8 (sigma_c^2 + sigma_r^2))), term (a)."""
    scale = torch.sqrt(1 + math.pi / 8 * (sigma_chosen ** 2 + sigma_rejected ** 2))
    return -torch.nn.functional.logsigmoid((mu_chosen - mu_rejected) / scale)


def reparameterised_mse(mu, sigma, target, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-item (mu + sigma * eps - target)^2 with eps ~ N(0, 1); its mean over eps is (mu - target)^2 + sigma^2."""
    eps = torch.randn(mu.shape, generator=generator).to(mu.device)
    return (mu + sigma * eps - target) ** 2


def brme_pair_losses(mu_c, sigma_c, mu_r, sigma_r, r1_c, r1_r, anchor: float, loss: str = "preference",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """L_ki for a batch: [B, K] from per-head [B, K] means/stds and stage-1 rewards [B]."""
    if loss == "preference":
        anchor_term = ((mu_c - r1_c[:, None]) ** 2 + (mu_r - r1_r[:, None]) ** 2) / 2
        return gaussian_preference_nll(mu_c, sigma_c, mu_r, sigma_r) + anchor * anchor_term
    if loss == "reparameterised_mse":
        return (reparameterised_mse(mu_c, sigma_c, r1_c[:, None], generator)
                + reparameterised_mse(mu_r, sigma_r, r1_r[:, None], generator)) / 2
    raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")


def bootstrap_weights(n_pairs: int, n_heads: int, seed: int) -> torch.Tensor:
    """[n_pairs, K] Poisson(1) counts: head k's bootstrap resample of the pairs (~63% of pairs each)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.ones(n_pairs, n_heads), generator=generator)


@torch.no_grad()
def _features_of(brme: BRME, tokenizer, prompts, responses, batch_size: int):
    ids = encode_for_reward(tokenizer, prompts, responses)
    device = next(brme.parameters()).device
    feats = torch.zeros(len(ids), brme.reward_model.config.hidden_size)
    r1 = torch.zeros(len(ids))
    for rows in batches_by_length(ids, batch_size):
        input_ids, mask = pad_right([ids[i] for i in rows], tokenizer.pad_token_id)
        h, r = brme.features(input_ids.to(device), mask.to(device))
        feats[torch.as_tensor(rows)], r1[torch.as_tensor(rows)] = h.float().cpu(), r.cpu()
    return feats, r1


@torch.no_grad()
def head_predictions(brme: BRME, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                     batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(mu [N, K], sigma [N, K]) for N (prompt, response) pairs, as float64 arrays."""
    feats, _ = _features_of(brme, tokenizer, prompts, responses, batch_size)
    brme.eval()
    mu, sigma = brme.heads_forward(feats.to(next(brme.parameters()).device))
    return mu.double().cpu().numpy(), sigma.double().cpu().numpy()


def nominal_reward(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """mu of the head with the smallest sigma, per row ([N, K] -> [N])."""
    mu, sigma = np.asarray(mu), np.asarray(sigma)
    if mu.shape != sigma.shape or mu.ndim != 2:
        raise ValueError(f"mu and sigma must both be [N, K]; got {mu.shape} and {sigma.shape}")
    return mu[np.arange(len(mu)), sigma.argmin(1)]


def worst_head_reward(mu: np.ndarray) -> np.ndarray:
    """min_k mu_k per row."""
    return np.asarray(mu).min(1)


def uncertainty_penalised_reward(mu: np.ndarray, penalty: float) -> np.ndarray:
    """mean_k mu_k - penalty * std_k mu_k per row (Coste et al. 2024's uncertainty-weighted objective)."""
    if penalty < 0:
        raise ValueError(f"the uncertainty penalty must be >= 0, got {penalty}")
    mu = np.asarray(mu)
    return mu.mean(1) - penalty * mu.std(1)

"""Bayesian reward model ensembles (BRME, Yan et al. 2024): one backbone, K Gaussian reward heads.

Model. The stage-1 Bradley-Terry reward model's backbone gives h(x, y), the final hidden state
at the last token of ``prompt + response + <eos>``; K heads map it to Gaussian rewards:

    [m_k, s_k] = MLP_k(h),    mu_k = a_k m_k + b_k,    sigma_k = a_k (softplus(s_k) + SIGMA_FLOOR) > 0,
    r_k ~ N(mu_k, sigma_k^2).

(a_k, b_k) is the per-head standardisation fixed after training (:func:`standardise_heads`): it gives
every head's mean, on the training responses, the mean and sd of the stage-1 score, so the heads are
on one scale (Bradley-Terry fixes a head only up to a shift; min_k mu_k across arbitrary shifts would
mean nothing).

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
from rewardlab.reward.batching import batches_by_length
from rewardlab.reward.models import encode_for_reward

SIGMA_FLOOR = 1e-3
LOSSES = ("preference", "reparameterised_mse")


class GaussianHeads(torch.nn.Module):
    """K one-hidden-layer MLPs h -> (m_k, softplus(s_k) + SIGMA_FLOOR), evaluated as one batched matmul per layer.

    Head k is ``Linear(width, hidden) -> GELU -> Linear(hidden, 2)``; its weights are the k-th slices of
    ``w1 [K, width, hidden]``, ``b1 [K, hidden]``, ``w2 [K, hidden, 2]``, ``b2 [K, 2]``. The heads are initialised
    exactly as K ``torch.nn.Linear`` pairs created in order (the same draws as a ``ModuleList`` of MLPs), but one
    ``bmm`` per layer replaces a Python loop over the heads: the loop was 4.1 of notebook 04's ~10 head-training
    minutes at the powered sizes, its backward as much again (benchmarks/RESULTS.md). A head's outputs, and so its
    gradients, depend on its own slice only.
    """

    def __init__(self, n_heads: int, width: int, hidden: int):
        super().__init__()
        layers = [(torch.nn.Linear(width, hidden), torch.nn.Linear(hidden, 2)) for _ in range(n_heads)]
        stack = lambda tensors: torch.nn.Parameter(torch.stack([t.detach() for t in tensors]))
        self.w1 = stack(first.weight.T for first, _ in layers)
        self.b1 = stack(first.bias for first, _ in layers)
        self.w2 = stack(second.weight.T for _, second in layers)
        self.b2 = stack(second.bias for _, second in layers)

    def __len__(self) -> int:
        return self.w1.shape[0]

    @property
    def hidden(self) -> int:
        return self.w1.shape[2]

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m [B, K], sigma [B, K]) from features [B, width], before the per-head standardisation."""
        x = features.unsqueeze(0).expand(len(self), *features.shape)
        x = torch.nn.functional.gelu(torch.baddbmm(self.b1.unsqueeze(1), x, self.w1))
        out = torch.baddbmm(self.b2.unsqueeze(1), x, self.w2)  # [K, B, 2]
        mu, raw = out.unbind(-1)
        return mu.T, torch.nn.functional.softplus(raw.T) + SIGMA_FLOOR


class BRME(torch.nn.Module):
    """A stage-1 reward model (frozen backbone) with K Gaussian heads on its last-token features."""

    def __init__(self, reward_model, n_heads: int = 5, hidden: int = 64):
        super().__init__()
        if n_heads < 1:
            raise ValueError(f"BRME needs at least one head, got n_heads={n_heads}")
        self.reward_model = reward_model.eval().requires_grad_(False)
        self.heads = GaussianHeads(n_heads, reward_model.config.hidden_size, hidden)
        self.register_buffer("head_scale", torch.ones(n_heads))  # a_k, b_k of the per-head standardisation
        self.register_buffer("head_shift", torch.zeros(n_heads))

    @torch.no_grad()
    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h [B, d], r_1 [B]): backbone features at each row's last real token, and the stage-1 reward."""
        base = self.reward_model.base_model
        hidden = base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.sum(1) - 1
        h = hidden[torch.arange(len(last), device=hidden.device), last]
        return h, self.reward_model.score(h)[:, 0].float()

    def heads_forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu [B, K], sigma [B, K]) from backbone features, standardised per head."""
        mu, sigma = self.heads(features)
        return self.head_scale * mu + self.head_shift, self.head_scale * sigma

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
                     generator: torch.Generator | None = None, flip: torch.Tensor | None = None) -> torch.Tensor:
    """L_ki for a batch: [B, K] from per-head [B, K] means/stds and stage-1 rewards [B].

    ``flip`` ([B, K] bool) reads those pairs with chosen and rejected swapped in term (a) (a head trained on
    flipped labels); the anchor (b) ties each response to its own stage-1 score whatever the label.
    """
    if loss == "preference":
        anchor_term = ((mu_c - r1_c[:, None]) ** 2 + (mu_r - r1_r[:, None]) ** 2) / 2
        if flip is not None:
            (mu_c, mu_r), (sigma_c, sigma_r) = oriented(flip, mu_c, mu_r), oriented(flip, sigma_c, sigma_r)
        return gaussian_preference_nll(mu_c, sigma_c, mu_r, sigma_r) + anchor * anchor_term
    if loss == "reparameterised_mse":
        return (reparameterised_mse(mu_c, sigma_c, r1_c[:, None], generator)
                + reparameterised_mse(mu_r, sigma_r, r1_r[:, None], generator)) / 2
    raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")


def oriented(flip: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) with the two swapped where ``flip`` is True."""
    return torch.where(flip, rejected, chosen), torch.where(flip, chosen, rejected)


@torch.no_grad()
def standardise_heads(brme: BRME, features: torch.Tensor, stage1_reward: torch.Tensor) -> None:
    """Set (a_k, b_k) so that mu_k on ``features`` has the mean and sd of ``stage1_reward`` (in place).

    a_k = sd(r_1) / sd(m_k),  b_k = mean(r_1) - a_k mean(m_k): a moment match, not a regression onto
    r_1 (which would shrink a noisy head towards the mean and hide its disagreement).
    """
    brme.head_scale.fill_(1.0)
    brme.head_shift.zero_()
    mu, _ = brme.heads_forward(features)
    spread = mu.std(0)
    if not torch.all(spread > 0):
        raise ValueError("a BRME head gives the same mean for every training response; it cannot be standardised "
                         "(train it longer or check its features)")
    brme.head_scale.copy_(stage1_reward.std() / spread)
    brme.head_shift.copy_(stage1_reward.mean() - brme.head_scale * mu.mean(0))


def shard_weights(groups, n_heads: int, seed: int) -> torch.Tensor:
    """[N, K] 0/1: every group (a prompt) goes to one head at random, so head k sees its own ~1/K of the data."""
    ids = np.unique(np.asarray(groups), return_inverse=True)[1]
    owner = np.random.default_rng(seed).integers(n_heads, size=ids.max() + 1)[ids]
    return torch.as_tensor(owner[:, None] == np.arange(n_heads)[None, :], dtype=torch.float32)


def flipped_labels(n_pairs: int, n_heads: int, noisy_heads, fraction: float, seed: int) -> torch.Tensor:
    """[N, K] bool: True where head k reads pair i with its label flipped (a ``fraction`` of the pairs, for the
    heads in ``noisy_heads`` only): an annotator that is wrong that often, for that head's data."""
    if not 0.0 <= fraction < 0.5:
        raise ValueError(f"the label-flip fraction must lie in [0, 0.5), got {fraction}; at 0.5 the labels carry no signal")
    if any(not 0 <= k < n_heads for k in noisy_heads):
        raise ValueError(f"noisy heads {list(noisy_heads)} must index the BRME's {n_heads} heads (0..{n_heads - 1})")
    generator = torch.Generator().manual_seed(seed)
    flips = torch.rand(n_pairs, n_heads, generator=generator) < fraction
    keep = torch.zeros(n_heads, dtype=torch.bool)
    keep[list(noisy_heads)] = True
    return flips & keep


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

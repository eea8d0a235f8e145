"""Training and caching a BRME (Yan et al. 2024, two stages).

Training, in the paper's two stages:

1. a Bradley-Terry reward model r_1 (``reward_models``) on most of the training prompts' pairs;
2. the K heads on the *frozen* stage-1 backbone, each on its own bootstrap resample (Poisson(1)
   weights w_ki per pair, the online bootstrap of Oza & Russell 2001, so every minibatch trains
   all heads). For head k and pair i (chosen c, rejected r):

       L_ki = -log sigmoid( (mu_k(c) - mu_k(r)) / sqrt(1 + pi/8 * (sigma_k(c)^2 + sigma_k(r)^2)) )   (a)
              + anchor/2 * [ (mu_k(c) - r_1(c))^2 + (mu_k(r) - r_1(r))^2 ]                          (b)

       L = sum_k  sum_i w_ki L_ki / sum_i w_ki.

   (a) is the Bradley-Terry likelihood of the label with the Gaussian rewards integrated out
   (the probit approximation of E[sigmoid(r_c - r_r)], MacKay 1992): a head can only explain a
   label it gets wrong by raising sigma. (b) is the MSE regression onto the stage-1 score that
   the paper's stage 2 uses; it puts every head on r_1's scale (Bradley-Terry alone fixes a
   head only up to a shift, and min_k mu_k across arbitrary shifts would mean nothing).
   The means learn (a) + (b) on the stage-1 pairs; sigma learns (a), means held fixed, on
   *calibration* pairs from prompts stage 1 never saw: the backbone ranks its own training
   pairs far better than new ones, so sigma fitted on its training pairs (or their
   out-of-bag part) sinks to the floor (notebook 04 shows it).

Why not the paper's reparameterised MSE alone (its exact target is not public):
E_eps[(mu + sigma*eps - r_1)^2] = (mu - r_1)^2 + sigma^2 is minimised by sigma = 0 for every
input, so sigma would carry no information (``loss="reparameterised_mse"`` trains it for the
notebook's comparison). A Gaussian NLL onto r_1 fails the same way here: r_1 is a linear function
of h, a head reproduces it exactly, the residual is 0 and sigma sinks to the floor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from rewardlab.brme.ensemble import (
    BRME,
    LOSSES,
    SIGMA_FLOOR,
    _features_of,
    bootstrap_weights,
    brme_pair_losses,
    gaussian_preference_nll,
)
from rewardlab.core import artifacts
from rewardlab.core.config import Preset, resolve_device
from rewardlab.core.policy import set_seed
from rewardlab.core.versions import BRME_VERSION
from rewardlab.reward.models import dataset_fingerprint, load_reward_model
from rewardlab.reward.preferences import check_preference_dataset


def split_for_calibration(dataset, fraction: float, seed: int):
    """(stage-1 pairs, calibration pairs): a random ``fraction`` of the *prompts* goes to calibration."""
    prompts = list(dict.fromkeys(dataset["prompt"]))
    n_calibration = int(round(fraction * len(prompts)))
    if not 0 < n_calibration < len(prompts):
        raise ValueError(f"brme_calibration_fraction={fraction} leaves {n_calibration} of {len(prompts)} prompts "
                         "for calibration; choose a fraction that keeps both parts non-empty")
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(prompts), n_calibration, replace=False).tolist())
    calibration = {prompts[i] for i in chosen}
    is_calibration = np.array([p in calibration for p in dataset["prompt"]])
    return dataset.select(np.flatnonzero(~is_calibration)), dataset.select(np.flatnonzero(is_calibration))


def _pair_features(brme: BRME, tokenizer, dataset, batch_size: int):
    n = len(dataset)
    feats, r1 = _features_of(brme, tokenizer, list(dataset["prompt"]) * 2,
                             list(dataset["chosen"]) + list(dataset["rejected"]), batch_size)
    return feats[:n], feats[n:], r1[:n], r1[n:]


def _weighted(losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_k sum_i w_ki L_ki / sum_i w_ki: each head's bootstrap-weighted mean, summed over heads."""
    return ((weights * losses).sum(0) / weights.sum(0).clamp_min(1)).sum()


def train_brme(preset: Preset, tokenizer, reward_model, train_dataset, calibration_dataset=None, seed: int = 0,
               loss: str = "preference"):
    """Stage 2: K Gaussian heads on the frozen ``reward_model``; returns ``(brme, log)``.

    ``loss="preference"``: the means mu_k learn term (a) at sigma = 0 plus the anchor (b) on their
    bootstrap of ``train_dataset`` (the pairs stage 1 saw); the sigma_k learn term (a), with the
    means held fixed, on their bootstrap of ``calibration_dataset``, pairs the backbone never saw.
    On the stage-1 pairs the backbone is right far more often than on new ones (it memorised
    them), so sigma fitted there sinks to the floor; on unseen pairs it measures how far the
    means can be trusted. Without a calibration set, sigma learns (a) on the training pairs.
    ``loss="reparameterised_mse"``: (mu + sigma eps - r_1)^2 on the training pairs (sigma -> 0).

    Adam at ``brme_learning_rate`` for ``brme_epochs`` epochs of ``brme_batch_size`` training pairs
    (each step also draws a proportional batch of calibration pairs); the log holds per-epoch
    ``loss`` and the mean ``sigma`` on the training responses.
    """
    check_preference_dataset(train_dataset)
    if calibration_dataset is not None:
        check_preference_dataset(calibration_dataset)
    if loss not in LOSSES:
        raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")
    set_seed(seed)
    brme = BRME(reward_model, preset.brme.heads, preset.brme.hidden)
    device = next(reward_model.parameters()).device
    brme.heads.to(device)
    K, batch = preset.brme.heads, preset.brme.batch_size
    f_c, f_r, r1_c, r1_r = (t.to(device) for t in _pair_features(brme, tokenizer, train_dataset, preset.sampling.eval_batch_size))
    weights = bootstrap_weights(len(f_c), K, seed).to(device)
    calibrate = calibration_dataset is not None and loss == "preference"
    if calibrate:
        g_c, g_r, _, _ = (t.to(device) for t in _pair_features(brme, tokenizer, calibration_dataset, preset.sampling.eval_batch_size))
        calibration_weights = bootstrap_weights(len(g_c), K, seed + 1).to(device)
        calibration_batch = max(1, batch * len(g_c) // len(f_c))
    optimizer = torch.optim.Adam(brme.heads.parameters(), lr=preset.brme.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    log = {"epoch": [], "loss": [], "mean_sigma": []}
    for epoch in range(preset.brme.epochs):
        order = torch.randperm(len(f_c), generator=generator).to(device)
        if calibrate:
            calibration_order = torch.randperm(len(g_c), generator=generator).to(device)
        total = 0.0
        for step, start in enumerate(range(0, len(f_c), batch)):
            rows = order[start: start + batch]
            mu_c, sigma_c = brme.heads_forward(f_c[rows])
            mu_r, sigma_r = brme.heads_forward(f_r[rows])
            if calibrate:
                floor = torch.full_like(sigma_c, SIGMA_FLOOR)
                mean_loss = brme_pair_losses(mu_c, floor, mu_r, floor, r1_c[rows], r1_r[rows], preset.brme.anchor_weight)
                offset = (step * calibration_batch) % len(g_c)
                cal = calibration_order[offset: offset + calibration_batch]
                (m_c, s_c), (m_r, s_r) = brme.heads_forward(g_c[cal]), brme.heads_forward(g_r[cal])
                sigma_loss = gaussian_preference_nll(m_c.detach(), s_c, m_r.detach(), s_r)
                batch_loss = _weighted(mean_loss, weights[rows]) + _weighted(sigma_loss, calibration_weights[cal])
            else:
                pair_losses = brme_pair_losses(mu_c, sigma_c, mu_r, sigma_r, r1_c[rows], r1_r[rows],
                                               preset.brme.anchor_weight, loss, generator)
                batch_loss = _weighted(pair_losses, weights[rows])
            if not torch.isfinite(batch_loss):
                raise FloatingPointError(f"BRME loss became {batch_loss.item()} in epoch {epoch}; lower brme_learning_rate")
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(rows)
        with torch.no_grad():
            log["epoch"].append(epoch + 1)
            log["loss"].append(total / len(f_c))
            log["mean_sigma"].append(float(brme.heads_forward(torch.cat([f_c, f_r]))[1].mean()))
    return brme.eval(), log


def save_brme(brme: BRME, folder) -> None:
    folder = Path(folder)
    brme.reward_model.save_pretrained(folder / "backbone")
    torch.save(brme.heads.state_dict(), folder / "heads.pt")
    hidden = brme.heads[0].net[0].out_features
    (folder / "brme.json").write_text(json.dumps({"n_heads": len(brme.heads), "hidden": hidden}))


def from_folder(folder, device: str = "cpu") -> BRME:
    """A BRME saved by ``save_brme``."""
    folder = Path(folder)
    spec = json.loads((folder / "brme.json").read_text())
    backbone = AutoModelForSequenceClassification.from_pretrained(folder / "backbone", attn_implementation="eager")
    brme = BRME(backbone, spec["n_heads"], spec["hidden"])
    brme.heads.load_state_dict(torch.load(folder / "heads.pt", map_location="cpu"))
    return brme.to(device).eval()


def load_brme(preset: Preset, tokenizer, train_dataset, seed: int = 0, loss: str = "preference",
              eval_dataset=None, progress: bool = True):
    """A trained BRME from the artifact cache; returns ``(brme, stage1_log, stage2_log)``.

    ``loss="preference"`` splits ``train_dataset`` by prompt (``brme_calibration_fraction`` of the
    prompts calibrate sigma); stage 1 trains on the rest (cached as ``brme-stage1``). The
    reparameterised-MSE variant uses every pair in both stages (it has no calibration step).
    """

    if loss not in LOSSES:
        raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")
    stage1_pairs, calibration_pairs = train_dataset, None
    if loss == "preference":
        stage1_pairs, calibration_pairs = split_for_calibration(train_dataset, preset.brme.calibration_fraction, seed)
    stage1_name = "brme-stage1" if calibration_pairs is not None else "bt-rm"  # the latter is notebook 02's model
    reward_model, stage1_log = load_reward_model(preset, tokenizer, stage1_pairs, seed=seed, name=stage1_name,
                                                 eval_dataset=eval_dataset, progress=progress)
    config = preset.key("brme", seed=seed, loss=loss, data=dataset_fingerprint(train_dataset),
                        stage1_state=_state_fingerprint(reward_model))

    def build(folder):
        brme, log = train_brme(preset, tokenizer, reward_model, stage1_pairs, calibration_pairs, seed=seed, loss=loss)
        save_brme(brme, folder)
        (folder / "brme_log.json").write_text(json.dumps(log))

    path = artifacts.cached(preset, f"brme-{loss.replace('_', '-')}", config, build, version=BRME_VERSION)
    return from_folder(path, resolve_device(preset)), stage1_log, json.loads((path / "brme_log.json").read_text())


def _state_fingerprint(model) -> str:

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]

"""Training and caching a BRME (Yan et al. 2024, two stages).

Training, in the paper's two stages:

1. a Bradley-Terry reward model r_1 (``reward_models``) on most of the training prompts' pairs;
2. the K heads on the *frozen* stage-1 backbone. For head k and pair i (chosen c, rejected r):

       L_ki = -log sigmoid( (mu_k(c) - mu_k(r)) / sqrt(1 + pi/8 * (sigma_k(c)^2 + sigma_k(r)^2)) )   (a)
              + anchor/2 * [ (mu_k(c) - r_1(c))^2 + (mu_k(r) - r_1(r))^2 ]                          (b)

       L = sum_k  sum_i w_ki L_ki / sum_i w_ki.

   (a) is the Bradley-Terry likelihood of the label with the Gaussian rewards integrated out
   (the probit approximation of E[sigmoid(r_c - r_r)], MacKay 1992): a head can only explain a
   label it gets wrong by raising sigma. (b) is the MSE regression onto the stage-1 score of the
   paper's stage 2.

   **Which pairs a head sees** (``brme.data``): ``"shards"`` (the default) gives every prompt to one head
   (w_ki in {0, 1}), so the heads learn from disjoint data, each from ~1/K of it; ``"bootstrap"`` gives
   head k Poisson(1) weights (the online bootstrap of Oza & Russell 2001; each head sees ~63% of the
   pairs, the heads share most of them). **The anchor** defaults to 0: with anchor 1 (BRME version 1)
   every head regressed onto r_1, a linear function of the features it reads, so the heads were copies
   (spread of the head means 0.011 sd of the nominal reward, issue 23). Without it a head is fixed only up
   to a shift, so after training each head is **standardised** to r_1's mean and sd on the training
   responses (:func:`rewardlab.brme.ensemble.standardise_heads`).

   The means learn (a) + (b) on the stage-1 pairs; sigma learns (a), means held fixed, on
   *calibration* pairs from prompts stage 1 never saw (sharded among the heads the same way): the
   backbone ranks its own training pairs far better than new ones, so sigma fitted on its training
   pairs sinks to the floor.

   **A noisy head** (``noisy_heads``, ``label_flip``): those heads read a ``label_flip`` share of their
   pairs, training and calibration, with the label flipped: an imperfect reward model made the way real
   ones are, by a noisier annotator, rather than an adversarial (negated) head.

Why not the paper's reparameterised MSE alone (its exact target is not public):
E_eps[(mu + sigma*eps - r_1)^2] = (mu - r_1)^2 + sigma^2 is minimised by sigma = 0 for every
input, so sigma would carry no information (``loss="reparameterised_mse"`` trains it for the
notebook's comparison).
"""

from __future__ import annotations

import json
from collections import OrderedDict
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
    flipped_labels,
    gaussian_preference_nll,
    oriented,
    shard_weights,
    standardise_heads,
)
from rewardlab.core import artifacts
from rewardlab.core.config import Preset, resolve_device
from rewardlab.core.policy import set_seed
from rewardlab.core.versions import BRME_VERSION
from rewardlab.reward.batching import unique_texts
from rewardlab.reward.models import dataset_fingerprint, load_reward_model, state_fingerprint
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


_FEATURES: OrderedDict = OrderedDict()  # (backbone state, pairs, batch size) -> features, the last FEATURES_KEPT
FEATURES_KEPT = 4


def _pair_features(brme: BRME, tokenizer, dataset, batch_size: int):
    """(h(chosen), h(rejected), r_1(chosen), r_1(rejected)) per pair; each distinct text goes through the backbone once.

    The frozen backbone's features are a function of its weights, the pairs and the batch size alone, so they are
    kept for the last ``FEATURES_KEPT`` such keys in this process: the BRMEs of one backbone (clean, noisy heads,
    the reparameterised MSE) read them once (issue 45)."""
    key = (state_fingerprint(brme.reward_model), dataset_fingerprint(dataset), batch_size)
    if key not in _FEATURES:
        texts, chosen, rejected = unique_texts(dataset["prompt"], dataset["chosen"], dataset["rejected"])
        feats, r1 = _features_of(brme, tokenizer, [p for p, _ in texts], [r for _, r in texts], batch_size)
        _FEATURES[key] = (feats, r1, torch.as_tensor(chosen), torch.as_tensor(rejected))
        while len(_FEATURES) > FEATURES_KEPT:
            _FEATURES.popitem(last=False)
    _FEATURES.move_to_end(key)
    feats, r1, chosen, rejected = _FEATURES[key]
    return feats[chosen], feats[rejected], r1[chosen], r1[rejected]


def _weighted(losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_k sum_i w_ki L_ki / sum_i w_ki: each head's bootstrap-weighted mean, summed over heads."""
    return ((weights * losses).sum(0) / weights.sum(0).clamp_min(1)).sum()


def head_weights(preset: Preset, dataset, seed: int) -> torch.Tensor:
    """[N, K] weights w_ki of the pairs for each head: prompt shards or Poisson bootstrap (``brme.data``)."""
    if preset.brme.data == "shards":
        return shard_weights(dataset["prompt"], preset.brme.heads, seed)
    return bootstrap_weights(len(dataset), preset.brme.heads, seed)


def train_brme(preset: Preset, tokenizer, reward_model, train_dataset, calibration_dataset=None, seed: int = 0,
               loss: str = "preference", noisy_heads=(), label_flip: float = 0.0):
    """Stage 2: K Gaussian heads on the frozen ``reward_model``; returns ``(brme, log)``.

    ``loss="preference"``: the means mu_k learn term (a) at sigma = 0 plus the anchor (b) on their
    share of ``train_dataset`` (the pairs stage 1 saw); the sigma_k learn term (a), with the
    means held fixed, on their share of ``calibration_dataset``, pairs the backbone never saw.
    Without a calibration set, sigma learns (a) on the training pairs.
    ``loss="reparameterised_mse"``: (mu + sigma eps - r_1)^2 on the training pairs (sigma -> 0).
    ``noisy_heads`` read a ``label_flip`` share of their pairs with the label flipped.

    Adam at ``brme.learning_rate`` for ``brme.epochs`` epochs of ``brme.batch_size`` training pairs
    (each step also draws a proportional batch of calibration pairs), then the per-head
    standardisation; the log holds per-epoch ``loss`` and the mean ``sigma`` on the training responses.
    """
    check_preference_dataset(train_dataset)
    if calibration_dataset is not None:
        check_preference_dataset(calibration_dataset)
    if loss not in LOSSES:
        raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")
    set_seed(seed)
    brme = BRME(reward_model, preset.brme.heads, preset.brme.hidden)
    device = next(reward_model.parameters()).device
    brme.to(device)
    K, batch, anchor = preset.brme.heads, preset.brme.batch_size, preset.brme.anchor_weight
    f_c, f_r, r1_c, r1_r = (t.to(device) for t in _pair_features(brme, tokenizer, train_dataset, preset.sampling.eval_batch_size))
    weights = head_weights(preset, train_dataset, seed).to(device)
    flips = flipped_labels(len(f_c), K, noisy_heads, label_flip, seed + 2).to(device)
    calibrate = calibration_dataset is not None and loss == "preference"
    if calibrate:
        g_c, g_r, _, _ = (t.to(device) for t in _pair_features(brme, tokenizer, calibration_dataset, preset.sampling.eval_batch_size))
        calibration_weights = head_weights(preset, calibration_dataset, seed + 1).to(device)
        calibration_flips = flipped_labels(len(g_c), K, noisy_heads, label_flip, seed + 3).to(device)
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
            if calibrate:
                offset = (step * calibration_batch) % len(g_c)
                cal = calibration_order[offset: offset + calibration_batch]
                mu, sigma = brme.heads_forward(torch.cat([f_c[rows], f_r[rows], g_c[cal], g_r[cal]]))  # one pass per step
                sizes = [len(rows), len(rows), len(cal), len(cal)]
                (mu_c, mu_r, m_c, m_r), (_, _, s_c, s_r) = mu.split(sizes), sigma.split(sizes)
                floor = torch.full_like(mu_c, SIGMA_FLOOR)
                mean_loss = brme_pair_losses(mu_c, floor, mu_r, floor, r1_c[rows], r1_r[rows], anchor, flip=flips[rows])
                (m_c, m_r), (s_c, s_r) = oriented(calibration_flips[cal], m_c.detach(), m_r.detach()), oriented(calibration_flips[cal], s_c, s_r)
                sigma_loss = gaussian_preference_nll(m_c, s_c, m_r, s_r)
                batch_loss = _weighted(mean_loss, weights[rows]) + _weighted(sigma_loss, calibration_weights[cal])
            else:
                mu, sigma = brme.heads_forward(torch.cat([f_c[rows], f_r[rows]]))
                (mu_c, mu_r), (sigma_c, sigma_r) = mu.split(len(rows)), sigma.split(len(rows))
                pair_losses = brme_pair_losses(mu_c, sigma_c, mu_r, sigma_r, r1_c[rows], r1_r[rows], anchor, loss,
                                               generator, flip=flips[rows])
                batch_loss = _weighted(pair_losses, weights[rows])
            if not torch.isfinite(batch_loss):
                raise FloatingPointError(f"BRME loss became {batch_loss.item()} in epoch {epoch}; lower brme.learning_rate")
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(rows)
        with torch.no_grad():
            log["epoch"].append(epoch + 1)
            log["loss"].append(total / len(f_c))
            log["mean_sigma"].append(float(brme.heads_forward(torch.cat([f_c, f_r]))[1].mean()))
    standardise_heads(brme, torch.cat([f_c, f_r]), torch.cat([r1_c, r1_r]))
    return brme.eval(), log


def save_brme(brme: BRME, folder) -> None:
    folder = Path(folder)
    brme.reward_model.save_pretrained(folder / "backbone")
    torch.save({**brme.heads.state_dict(), "head_scale": brme.head_scale.cpu(), "head_shift": brme.head_shift.cpu()},
               folder / "heads.pt")
    (folder / "brme.json").write_text(json.dumps({"n_heads": len(brme.heads), "hidden": brme.heads.hidden}))


def from_folder(folder, device: str = "cpu") -> BRME:
    """A BRME saved by ``save_brme``."""
    folder = Path(folder)
    spec = json.loads((folder / "brme.json").read_text())
    backbone = AutoModelForSequenceClassification.from_pretrained(folder / "backbone", attn_implementation="eager")
    brme = BRME(backbone, spec["n_heads"], spec["hidden"])
    state = torch.load(folder / "heads.pt", map_location="cpu")
    brme.heads.load_state_dict({k: v for k, v in state.items() if not k.startswith("head_")})
    brme.head_scale.copy_(state["head_scale"])
    brme.head_shift.copy_(state["head_shift"])
    return brme.to(device).eval()


def load_brme(preset: Preset, tokenizer, train_dataset, seed: int = 0, loss: str = "preference",
              eval_dataset=None, progress: bool = True, noisy_heads=(), label_flip: float = 0.0,
              calibration_dataset=None, stage1=None):
    """A trained BRME from the artifact cache; returns ``(brme, stage1_log, stage2_log)``.

    ``stage1``: a Bradley-Terry model the caller already trained on ``train_dataset`` (for example a proxy of
    the frontier notebook), used as stage 1 instead of training one; its log is returned as None.

    ``noisy_heads`` and ``label_flip``: heads trained with that share of flipped labels (stage 1 stays
    clean, so a noisy BRME shares its backbone with the clean one of the same seed).

    ``loss="preference"`` fits sigma on pairs stage 1 never saw. With ``brme.calibration = "validation"``
    (default) those are ``calibration_dataset`` (pairs over validation prompts:
    :func:`rewardlab.reward.preferences.load_calibration_pairs`) and stage 1 is the Bradley-Terry model on
    every training pair (``bt-rm``, notebook 02's). With ``"split"`` a ``brme.calibration_fraction`` of the
    training prompts calibrates sigma and stage 1 trains on the rest (cached as ``brme-stage1``). The
    reparameterised-MSE variant uses every pair in both stages (it has no calibration step).
    """

    if loss not in LOSSES:
        raise ValueError(f"unknown BRME loss {loss!r}; choose one of {', '.join(LOSSES)}")
    stage1_pairs, calibration_pairs = train_dataset, None
    if loss == "preference" and preset.brme.calibration == "split":
        stage1_pairs, calibration_pairs = split_for_calibration(train_dataset, preset.brme.calibration_fraction, seed)
    elif loss == "preference":
        if calibration_dataset is None:
            raise ValueError("brme.calibration='validation' needs calibration_dataset= (pairs over validation prompts: "
                             "Stack.calibration_pairs or reward.preferences.load_calibration_pairs), or set "
                             "brme.calibration='split'")
        calibration_pairs = calibration_dataset
    stage1_name = "brme-stage1" if stage1_pairs is not train_dataset else "bt-rm"  # the latter is notebook 02's model
    if stage1 is not None:
        if stage1_pairs is not train_dataset:
            raise ValueError("stage1= needs brme.calibration='validation' (a given stage 1 trained on every pair "
                             "of train_dataset); with 'split' stage 1 trains on part of them")
        reward_model, stage1_log = stage1, None
    else:
        reward_model, stage1_log = load_reward_model(preset, tokenizer, stage1_pairs, seed=seed, name=stage1_name,
                                                     eval_dataset=eval_dataset, progress=progress)
    noisy_heads = sorted(set(noisy_heads)) if label_flip > 0 else []
    config = preset.key("brme", seed=seed, loss=loss, data=dataset_fingerprint(train_dataset),
                        stage1_state=state_fingerprint(reward_model), noisy_heads=noisy_heads, label_flip=label_flip,
                        calibration=None if calibration_pairs is None else dataset_fingerprint(calibration_pairs))

    def build(folder):
        brme, log = train_brme(preset, tokenizer, reward_model, stage1_pairs, calibration_pairs, seed=seed, loss=loss,
                               noisy_heads=noisy_heads, label_flip=label_flip)
        save_brme(brme, folder)
        (folder / "brme_log.json").write_text(json.dumps(log))

    name = f"brme-{loss.replace('_', '-')}" + ("-noisy" if noisy_heads else "")
    path = artifacts.cached(preset, name, config, build, version=BRME_VERSION)
    return from_folder(path, resolve_device(preset)), stage1_log, json.loads((path / "brme_log.json").read_text())

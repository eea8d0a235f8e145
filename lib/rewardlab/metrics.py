"""Headline numbers of a notebook, recorded in one place, and the statistics they are built from.

Every notebook ends with one call::

    record_metrics("01_review_world_and_sft", preset, {"gold_mean_sft": 0.08, ...})

which writes ``papermill_runs/01_review_world_and_sft.metrics.json`` atomically. The results
table of the collection is generated from these files, never typed by hand.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .artifacts import atomic_write_text, runs_dir
from .stats import mean_interval

NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def _jsonable(value, key: str):
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v, f"{key}[]") for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"metric {key!r} has type {type(value).__name__}; record numbers, strings, lists or dicts")


def record_metrics(notebook: str, preset, metrics: dict) -> Path:
    """Write ``<runs dir>/<notebook>.metrics.json``: the preset, its seed and the metrics. NaN -> null."""
    if not NOTEBOOK_NAME.match(notebook):
        raise ValueError(f"notebook {notebook!r} must be a notebook stem like '01_review_world_and_sft'")
    payload = {
        "notebook": notebook,
        "preset": preset.name,
        "seed": preset.seed,
        "smoke": preset.smoke,
        "metrics": {str(k): _jsonable(v, str(k)) for k, v in metrics.items()},
    }
    return atomic_write_text(runs_dir() / f"{notebook}.metrics.json", json.dumps(payload, indent=2) + "\n")


def load_metrics(notebook: str, directory: Path | None = None) -> dict:
    path = Path(directory or runs_dir()) / f"{notebook}.metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the notebook with `python -m rewardlab.reproduce --only {notebook[:2]}`")
    return json.loads(path.read_text())


def pair_accuracy(r_chosen, r_rejected) -> float:
    """Share of pairs the reward ranks as labelled (chosen above rejected); ties count half."""
    r_chosen, r_rejected = np.asarray(r_chosen, float), np.asarray(r_rejected, float)
    return float(np.mean(r_chosen > r_rejected) + 0.5 * np.mean(r_chosen == r_rejected))


def gold_pair_accuracy(reward_a, reward_b, gold_a, gold_b) -> float:
    """Agreement of the reward's ordering with the gold judge's, over pairs gold does not tie."""
    reward_diff = np.asarray(reward_a, float) - np.asarray(reward_b, float)
    gold_diff = np.asarray(gold_a, float) - np.asarray(gold_b, float)
    keep = gold_diff != 0
    if not keep.any():
        raise ValueError("every pair is a gold tie; accuracy against gold is undefined")
    agree = np.sign(reward_diff[keep]) == np.sign(gold_diff[keep])
    return float(np.mean(agree + 0.5 * (reward_diff[keep] == 0)))


def spearman(x, y) -> float:
    """Spearman rank correlation (scipy)."""
    from scipy.stats import spearmanr

    return float(spearmanr(np.asarray(x, float), np.asarray(y, float)).statistic)


def reward_uncertainty(scores) -> float:
    """Spread of rewards across models trained on the same pairs (different seeds).

    ``scores`` is [models, responses]. A Bradley-Terry reward is defined up to a shift and the
    models' scales differ, so each model's scores are standardised first; the result is the
    mean over responses of the standard deviation across models (0 = the models agree).
    """
    scores = np.asarray(scores, float)
    if scores.ndim != 2 or scores.shape[0] < 2:
        raise ValueError(f"need scores of shape [models >= 2, responses], got {scores.shape}")
    z = (scores - scores.mean(1, keepdims=True)) / scores.std(1, keepdims=True).clip(min=1e-12)
    return float(z.std(0, ddof=1).mean())


def kl_best_of_n(n) -> np.ndarray:
    """KL(best-of-n || base) = log n - (n - 1) / n (Stiennon et al. 2020; Gao et al. 2022)."""
    n = np.asarray(n, float)
    return np.log(n) - (n - 1) / n


def best_of_n(proxy, gold, ns, **others) -> dict:
    """Best-of-n by the proxy, for each n: mean proxy and gold of the proxy's pick among the first n.

    ``proxy`` and ``gold`` are [prompts, N] scores of the same N samples per prompt; any other
    [prompts, N] array passed by name (e.g. ``naturalness_nll=...``) is averaged over the picks too.
    """
    proxy, gold = np.asarray(proxy, float), np.asarray(gold, float)
    others = {name: np.asarray(values, float) for name, values in others.items()}
    out = {"n": [], "proxy": [], "gold": [], "gold_ci95": [], **{name: [] for name in others}}
    for n in ns:
        if n > proxy.shape[1]:
            raise ValueError(f"best-of-{n} needs {n} samples per prompt, have {proxy.shape[1]}")
        pick = proxy[:, :n].argmax(1)
        rows = np.arange(len(pick))
        out["n"].append(int(n))
        out["proxy"].append(float(proxy[rows, pick].mean()))
        mean, half = mean_interval(gold[rows, pick])
        out["gold"].append(mean)
        out["gold_ci95"].append(half)
        for name, values in others.items():
            out[name].append(float(np.nanmean(values[rows, pick])))
    return out


def win_rate(gold_a, gold_b) -> tuple[float, float]:
    """Share of items where a beats b (ties count half) and the half-width of its 95% t interval over items."""
    a, b = np.asarray(gold_a, float), np.asarray(gold_b, float)
    return mean_interval((a > b) + 0.5 * (a == b))


def distinct_n(responses: Sequence[str], n: int) -> float:
    """Distinct-n: unique n-grams over all n-grams across ``responses`` (0 when there are none)."""
    grams = [tuple(words[i: i + n]) for r in responses for words in [r.split()]
             for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def naturalness_nll(policy, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                    batch_size: int = 256) -> np.ndarray:
    """Mean token negative log-likelihood of each response given its prompt under ``policy``.

    NLL(y | x) = -(1/|y|) sum_t log pi_SFT(y_t | x, y_<t); lower is more natural. Pass the
    frozen SFT policy. Empty responses get NaN.
    """
    from .policy import response_logprobs

    logprobs, mask = response_logprobs(policy, tokenizer, prompts, responses, batch_size=batch_size)
    lengths = mask.sum(dim=1)
    nll = -(logprobs * mask).sum(dim=1) / lengths.clamp(min=1)
    nll[lengths == 0] = float("nan")
    return nll.double().numpy()


def kde_log_density(samples, points, bandwidth: float | None = None) -> np.ndarray:
    """log of a Gaussian kernel density estimate of ``samples`` at ``points``.

    rho(x) = (1/n) sum_i N(x; x_i, h^2), with Scott's rule h = sd * n^(-1/5) (scipy's default
    for one dimension) unless ``bandwidth`` is given. Computed with log-sum-exp, so far tails
    stay finite instead of underflowing to log 0.
    """
    from scipy.special import logsumexp

    samples = np.asarray(samples, float).ravel()
    points = np.asarray(points, float).ravel()
    if samples.size < 2 or not np.all(np.isfinite(samples)):
        raise ValueError(f"a density needs >= 2 finite samples, got {samples.size} ({np.sum(~np.isfinite(samples))} not finite)")
    h = samples.std(ddof=1) * samples.size ** (-1 / 5) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError("the samples are all equal, so Scott's bandwidth is 0; pass bandwidth= explicitly")
    z = (points[:, None] - samples[None, :]) / h
    return logsumexp(-0.5 * z**2, axis=1) - np.log(samples.size * h * np.sqrt(2 * np.pi))


def reward_alignment(demo_rewards, policy_rewards, bandwidth: float | None = None, grid_size: int = 1024) -> float:
    """Alignment A = KL(rho_demo || rho_pi) of the reward distributions (Rita et al. 2024), in nats.

    A = int rho_demo(r) log(rho_demo(r) / rho_pi(r)) dr, where rho_demo is the density of the
    rewards of the demonstrations and rho_pi that of the policy's samples. Density estimate:
    Gaussian KDEs with one shared bandwidth, Scott's rule on the demonstrations (h = sd n^(-1/5))
    unless ``bandwidth`` is given, so both are seen at the same resolution and a collapsed policy
    (every sample with one reward) gives a large finite A rather than infinity. The integral is
    the trapezoid rule on ``grid_size`` points spanning both samples +- 4h. A is 0 when the
    policy's rewards are distributed as the demonstrations' (up to sampling noise, ~0.003 for
    4000 samples each). Known answers, 4000 samples each: KL(N(0,1) || N(1,1)) = 0.5 -> 0.53,
    KL(N(0,1) || N(0,4)) = 0.318 -> 0.32. Limit: where the demonstrations reach beyond every
    policy sample, rho_pi there is the thin tail of a few kernels and A is overestimated
    (KL(N(0,4) || N(0,1)) = 0.81 -> 1.02).
    """
    demo = np.asarray(demo_rewards, float).ravel()
    policy = np.asarray(policy_rewards, float).ravel()
    for name, values in (("demo_rewards", demo), ("policy_rewards", policy)):
        if values.size < 2 or not np.all(np.isfinite(values)):
            raise ValueError(f"{name} needs >= 2 finite rewards, got {values.size}; score more samples")
    h = demo.std(ddof=1) * demo.size ** (-1 / 5) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError("every demonstration has the same reward, so the bandwidth is 0; pass bandwidth=")
    grid = np.linspace(min(demo.min(), policy.min()) - 4 * h, max(demo.max(), policy.max()) + 4 * h, grid_size)
    log_p, log_q = kde_log_density(demo, grid, h), kde_log_density(policy, grid, h)
    return float(max(np.trapezoid(np.exp(log_p) * (log_p - log_q), grid), 0.0))


def kl_to_reference(policy, reference, rollout) -> np.ndarray:
    """Per response: sum_t log pi(y_t | .) - log pi_ref(y_t | .) over its actions (``<eos>`` included).

    ``rollout`` was sampled from ``policy`` (:func:`rewardlab.ppo_trainer.sample_rollout`), so the
    mean is a Monte-Carlo estimate of KL(pi || pi_ref) per response; Gao et al. (2022) plot
    rewards against its square root. Log-probs are those of the sampling distribution.
    """
    import torch

    from .ppo_trainer import action_stats

    with torch.no_grad():
        logprobs, _, _ = action_stats(policy, rollout)
        ref_logprobs, _, _ = action_stats(reference, rollout)
    mask = rollout.action_mask.to(logprobs.device).float()
    return ((logprobs - ref_logprobs) * mask).sum(dim=1).double().cpu().numpy()

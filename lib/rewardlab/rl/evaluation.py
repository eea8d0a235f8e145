"""Evaluating a policy the same way for every run: held-out scores, best-of-n, learning-curve summaries.

* **final evaluation** (:func:`evaluate_policy`): the policy samples one response for each of a fixed
  set of held-out prompts from a fixed seed; gold reward, proxy reward, naturalness (mean token NLL
  under the SFT policy), distinct-2, length and KL to the SFT policy are measured on those responses.
* **best-of-n** (:func:`best_of_n_curve`): the other way to spend KL (Gao et al. 2022),
  KL(best-of-n || policy) = log n - (n - 1)/n.
* **steps to threshold**: the first step at which the trailing ``window``-step mean of the gold curve
  reaches ``threshold`` (NaN when it never does); the window damps the noise of a single batch.
* **mean gold**: the mean of the gold curve over all steps: high when a run learns early *and* holds on.
* **peak-to-final drop**: max of the smoothed gold curve minus its final value (over-optimisation).
* **held-out curve** (:func:`held_out_summary`, from :class:`rewardlab.rl.held_out.Evaluation`'s
  ``eval_*`` columns): the mean held-out gold, the mean over the evaluation steps (fixed prompts,
  common random numbers: a cleaner learning-speed measure than the rollouts' gold), gold at named
  steps, and gold at a matched KL (linear interpolation of gold against KL along the run's
  evaluations; NaN when the run never reaches that KL).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from rewardlab.core.policy import response_logprobs
from rewardlab.core.stats import mean_interval
from rewardlab.reward.models import score
from rewardlab.rl.rollouts import action_stats, sample_rollout


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
    logprobs, mask = response_logprobs(policy, tokenizer, prompts, responses, batch_size=batch_size)
    lengths = mask.sum(dim=1)
    nll = -(logprobs * mask).sum(dim=1) / lengths.clamp(min=1)
    nll[lengths == 0] = float("nan")
    return nll.double().numpy()


def kl_to_reference(policy, reference, rollout) -> np.ndarray:
    """Per response: sum_t log pi(y_t | .) - log pi_ref(y_t | .) over its actions (``<eos>`` included).

    ``rollout`` was sampled from ``policy`` (:func:`rewardlab.rl.rollouts.sample_rollout`), so the
    mean is a Monte-Carlo estimate of KL(pi || pi_ref) per response; Gao et al. (2022) plot
    rewards against its square root. Log-probs are those of the sampling distribution.
    """
    with torch.no_grad():
        logprobs, _, _ = action_stats(policy, rollout)
        ref_logprobs, _, _ = action_stats(reference, rollout)
    mask = rollout.action_mask.to(logprobs.device).float()
    return ((logprobs - ref_logprobs) * mask).sum(dim=1).double().cpu().numpy()


def steps_to_threshold(gold_curve: Sequence[float], threshold: float, window: int = 3) -> float:
    """First step (1-based) whose trailing ``window``-step mean of ``gold_curve`` is >= ``threshold``."""
    curve = np.asarray(gold_curve, dtype=float)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    for step in range(window, len(curve) + 1):
        if curve[step - window: step].mean() >= threshold:
            return float(step)
    return float("nan")


def peak_to_final_drop(gold_curve: Sequence[float], window: int = 5) -> float:
    """Stability of a run: max over steps of the trailing ``window``-step mean of gold, minus its final value
    (0 when the run ends at its best; large when it peaked and then fell, as over-optimisation does)."""
    curve = np.asarray(gold_curve, dtype=float)
    if window < 1 or len(curve) < window:
        raise ValueError(f"need a window in [1, {len(curve)}] (the curve's length), got {window}")
    smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
    return float(smooth.max() - smooth[-1])


def evaluate_policy(model, tokenizer, prompts: Sequence[str], reward_model, gold_fn: Callable, sft_policy,
                    max_new_tokens: int, seed: int = 12345, batch_size: int = 256, per_response: bool = False) -> dict:
    """Gold, proxy, naturalness NLL, distinct-2, length and KL to the SFT policy of one sampled response per prompt.

    Sampled as PPO samples (:func:`rewardlab.rl.rollouts.sample_rollout`), from ``seed``, without
    touching the caller's random state. ``kl`` is the mean over responses of sum_t log pi - log pi_SFT
    (:func:`kl_to_reference`). With ``per_response`` the responses and their
    gold and proxy scores are returned too (``responses``, ``gold_scores``, ``proxy_scores``).
    """
    prompts, responses, kl = list(prompts), [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for begin in range(0, len(prompts), batch_size):
            rollout = sample_rollout(model, tokenizer, prompts[begin: begin + batch_size], max_new_tokens)
            responses += rollout.responses
            kl.append(kl_to_reference(model, sft_policy, rollout))
    gold = np.asarray(gold_fn(responses), dtype=float)
    proxy = np.asarray(score(reward_model, tokenizer, prompts, responses, batch_size), dtype=float)
    out = {
        "gold": float(gold.mean()),
        "proxy": float(proxy.mean()),
        "naturalness_nll": float(np.nanmean(naturalness_nll(sft_policy, tokenizer, prompts, responses, batch_size))),
        "distinct_2": distinct_n(responses, 2),
        "response_words": float(np.mean([len(r.split()) for r in responses])),
        "kl": float(np.concatenate(kl).mean()),
        "example": responses[0],
    }
    if per_response:
        out.update(responses=responses, gold_scores=gold, proxy_scores=proxy)
    return out


def learning_speed(steps: pd.DataFrame, threshold: float, window: int = 3) -> pd.DataFrame:
    """Per (method, seed): steps to the gold threshold and the mean of the gold curve."""
    rows = []
    for (method, seed), run in steps.groupby(["method", "seed"], sort=False):
        gold = run.sort_values("step")["gold_reward"].to_numpy()
        rows.append({"method": method, "seed": seed, "steps_to_threshold": steps_to_threshold(gold, threshold, window),
                     "mean_gold": float(gold.mean())})
    return pd.DataFrame(rows)


def held_out_summary(steps: pd.DataFrame, at_steps: Sequence[int] = (), at_kl: float | None = None,
                     tail: int = 5) -> pd.DataFrame:
    """Per (method, seed) from a per-step log with ``eval_gold`` / ``eval_kl`` columns: ``mean_eval_gold`` (mean
    over the evaluations), ``eval_gold_at_<k>`` for k in ``at_steps``, ``eval_gold_at_kl`` (gold where the
    held-out KL first reaches ``at_kl``) and ``trained_reward_final``, the mean reward the run was trained on
    (``proxy_reward``) over its last ``tail`` steps."""
    if "eval_gold" not in steps:
        raise ValueError("the log has no eval_gold column; train with evaluation=Evaluation(...)")
    rows = []
    for (method, seed), run in steps.groupby(["method", "seed"], sort=False):
        run = run.sort_values("step")
        evaluated = run[run["eval_gold"].notna()]
        row = {"method": method, "seed": seed, "mean_eval_gold": float(evaluated["eval_gold"].mean()),
               "trained_reward_final": float(run["proxy_reward"].tail(tail).mean())}
        for k in at_steps:
            hit = evaluated.loc[evaluated["step"] == k, "eval_gold"]
            if hit.empty:
                raise ValueError(f"no evaluation at step {k} for {method} seed {seed}; evaluate every step in at_steps")
            row[f"eval_gold_at_{k}"] = float(hit.iloc[0])
        if at_kl is not None:
            row["eval_gold_at_kl"] = gold_at_kl(evaluated["eval_kl"].to_numpy(), evaluated["eval_gold"].to_numpy(), at_kl)
        rows.append(row)
    return pd.DataFrame(rows)


def gold_at_kl(kl: np.ndarray, gold: np.ndarray, target: float) -> float:
    """Gold where the KL curve first crosses ``target``, by linear interpolation between the two evaluations
    around the crossing; NaN if never reached. ``kl`` may be KL or √KL (interpolation is in the units given).
    The SFT policy is a point only if the caller puts it first (KL 0, its gold): held-out summaries leave it
    out, the frontier's trajectories (:func:`rewardlab.frontier.curves.trajectory`) put it in."""
    kl, gold = np.asarray(kl, float), np.asarray(gold, float)
    above = np.flatnonzero(kl >= target)
    if not len(above):
        return float("nan")
    i = above[0]
    if i == 0:
        return float(gold[0]) if kl[0] == target else float("nan")
    fraction = (target - kl[i - 1]) / (kl[i] - kl[i - 1])
    return float(gold[i - 1] + fraction * (gold[i] - gold[i - 1]))


def best_of_n_curve(policy, tokenizer, prompts: Sequence[str], reward_model, gold_fn: Callable, max_n: int,
                    max_new_tokens: int, seed: int = 12345, batch_size: int = 256) -> dict:
    """Best-of-n against the proxy, n = 1, 2, 4, ..., ``max_n``: the other way to spend KL (Gao et al. 2022).

    ``max_n`` responses per prompt are sampled as PPO samples them; for each n the proxy's pick
    among the first n gives the mean proxy, gold, naturalness NLL and length
    (:func:`rewardlab.rl.evaluation.best_of_n`), and KL(best-of-n || policy) = log n - (n - 1)/n.
    """

    flat_prompts, responses = [p for p in prompts for _ in range(max_n)], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for begin in range(0, len(flat_prompts), batch_size):
            responses += sample_rollout(policy, tokenizer, flat_prompts[begin: begin + batch_size], max_new_tokens).responses
    shape = (len(prompts), max_n)
    proxy = np.asarray(score(reward_model, tokenizer, flat_prompts, responses, batch_size)).reshape(shape)
    gold = np.asarray(gold_fn(responses), dtype=float).reshape(shape)
    nll = naturalness_nll(policy, tokenizer, flat_prompts, responses, batch_size).reshape(shape)
    words = np.array([len(r.split()) for r in responses], dtype=float).reshape(shape)
    ns = [2**k for k in range(int(np.log2(max_n)) + 1)]
    curve = best_of_n(proxy, gold, ns, naturalness_nll=nll, response_words=words)
    curve["kl"] = kl_best_of_n(ns).tolist()
    return curve


def last_samples(steps: pd.DataFrame, gold_fn: Callable, scores: dict[str, Callable] | None = None,
                 per_method: int = 2) -> pd.DataFrame:
    """What the trained policies wrote: each run's first rollout response at its last step (the ``sample_*``
    columns of :func:`rewardlab.rl.runs.run_methods`), ``per_method`` runs per method, scored by ``gold_fn`` and by
    each ``scores[name](prompts, responses)`` (VADER alone, a proxy): numbers beside the text they measure."""
    last = steps[steps["step"] == steps.groupby(["method", "seed"])["step"].transform("max")]
    last = last[last["sample_response"].notna()].groupby("method", sort=False).head(per_method)
    prompts, responses = list(last["sample_prompt"]), list(last["sample_response"])
    table = pd.DataFrame({"method": last["method"].to_numpy(), "seed": last["seed"].to_numpy(), "prompt": prompts,
                          "response": responses, "gold": np.round(np.asarray(gold_fn(responses), float), 3)})
    for name, fn in (scores or {}).items():
        table[name] = np.round(np.asarray(fn(prompts, responses), float), 3)
    return table.set_index(["method", "seed"])

"""Gao et al.'s over-optimisation harness on the review world (the Gao notebook).

Proxies of three strengths: Bradley–Terry reward models trained on ``gao.small_pairs``,
``gao.middle_pairs`` and all the training pairs (notebook 02's models), each pair labelled by the
reader gold over natural SFT samples, so no proxy has ever seen degenerate text. Against each:

* **best-of-n** (:func:`best_of_n_by_proxy`): ``gao.bon_max_n`` SFT samples per held-out prompt, drawn
  once and shared by every proxy; the proxy picks among the first n (n = 1, 2, 4, ..., max), and
  d = sqrt(log n - (n - 1)/n);
* **PPO at beta = 0** (:func:`ppo_runs`): one replicate per (reward-model seed r, PPO seed r), the
  proxy standardised on SFT samples (:func:`standardised_proxy`) so that the
  proxies share one scale; held-out evaluation every ``gao.eval_every`` steps on fixed prompts with
  common random numbers, the gold read on each half of the prompts for the unbiased peak-to-final
  drop (:func:`rewardlab.gao.fits.crossfit_drop`).

Gold is read relative to the SFT policy, as Gao et al. do; :mod:`rewardlab.gao.fits` fits their forms.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from rewardlab.core.policy import sample_n
from rewardlab.core.reader import read
from rewardlab.core.vader import VaderJudge
from rewardlab.gao.fits import crossfit_drop, crossfit_rise
from rewardlab.reward.learning_curve import nested_subsets
from rewardlab.reward.models import load_reward_model, reward_function, score
from rewardlab.rl.evaluation import kl_best_of_n
from rewardlab.rl.runs import Method, grid_cache_key, run_methods
from rewardlab.rl.scale import score_scale, standardised
from rewardlab.rl.held_out import Evaluation
from rewardlab.stack import Stack


def proxy_sizes(stack: Stack) -> dict[str, int]:
    """{"small": pairs, "middle": pairs, "all": pairs} of the three proxies (capped by the training pairs)."""
    n = len(stack.train_pairs)
    gao = stack.preset.gao
    if not gao.small_pairs < gao.middle_pairs:
        raise ValueError(f"gao.small_pairs ({gao.small_pairs}) must be below gao.middle_pairs ({gao.middle_pairs})")
    if not gao.middle_pairs < n:
        raise ValueError(f"gao.middle_pairs ({gao.middle_pairs}) must be below the {n} training pairs (the largest proxy)")
    return {"small": gao.small_pairs, "middle": gao.middle_pairs, "all": n}


def replicate_seeds(stack: Stack, proxy: str) -> list[int]:
    """The replicates of a proxy: ``gao.replicates`` seeds for the middle one (the turn claim reads it), notebook 02's
    reward-model seeds for the others (a reward model on every pair costs minutes; the small one is compared with it
    seed by seed)."""
    count = stack.preset.gao.replicates if proxy == "middle" else stack.preset.reward_model.seeds
    return [stack.preset.seed + r for r in range(count)]


def proxy_preset(stack: Stack, pairs: int):
    """The preset a proxy of ``pairs`` pairs trains with: ``gao.small_epochs`` / ``gao.middle_epochs`` epochs."""
    preset = stack.preset
    epochs = preset.gao.small_epochs if pairs <= preset.gao.small_pairs else preset.gao.middle_epochs
    return dataclasses.replace(preset, reward_model=dataclasses.replace(preset.reward_model, epochs=epochs))


def proxy_pairs(stack: Stack, pairs: int, seed: int):
    """The training pairs of the proxy of ``pairs`` pairs and ``seed``: notebook 02's nested subset of that seed."""
    train = stack.train_pairs
    return train.select(nested_subsets(len(train), [pairs], seed)[pairs])


def proxy_model(stack: Stack, pairs: int, seed: int):
    """The Bradley–Terry reward model on ``pairs`` training pairs (:func:`proxy_pairs`), cached; the small and middle
    proxies train ``gao.small_epochs`` / ``gao.middle_epochs`` epochs over their pairs (:func:`proxy_preset`)."""
    if pairs >= len(stack.train_pairs):
        return stack.reward_model(seed)
    return load_reward_model(proxy_preset(stack, pairs), stack.tokenizer, proxy_pairs(stack, pairs, seed), seed=seed,
                             name="bt-rm-proxy", progress=False)[0]


def best_of_n_by_proxy(stack: Stack, prompts: Sequence[str], models: dict, max_n: int, seed: int,
                       max_new_tokens: int) -> dict:
    """Best-of-n of every proxy over one shared draw of ``max_n`` SFT samples per prompt.

    ``models`` maps (proxy, reward seed) to a reward model. Returns ``ns``, ``sqrt_kl`` and, per key, the
    [prompts, len(ns)] gold (reader), VADER and proxy of the pick, plus the SFT sample's own gold [prompts, max_n].
    """
    preset = stack.preset
    samples = sample_n(stack.policy, stack.tokenizer, list(prompts), max_n, seed=seed,
                       temperature=preset.sampling.temperature, top_k=preset.sampling.top_k,
                       max_new_tokens=max_new_tokens, batch_size=preset.sampling.eval_batch_size)
    flat = [s if s else "." for row in samples for s in row]
    flat_prompts = [p for p in prompts for _ in range(max_n)]
    shape = (len(prompts), max_n)
    gold = stack.judge(flat).reshape(shape)
    vader = VaderJudge()(flat).reshape(shape)
    ns = [2 ** k for k in range(int(np.log2(max_n)) + 1)]
    out = {"ns": ns, "sqrt_kl": np.sqrt(kl_best_of_n(ns)), "sample_gold": gold, "picks": {}}
    rows = np.arange(len(prompts))
    for key, model in models.items():
        proxy = score(model, stack.tokenizer, flat_prompts, flat, preset.sampling.eval_batch_size).reshape(shape)
        picks = np.stack([proxy[:, :n].argmax(1) for n in ns], axis=1)  # [prompts, ns]
        out["picks"][key] = {"gold": gold[rows[:, None], picks], "vader": vader[rows[:, None], picks],
                             "proxy": proxy[rows[:, None], picks],
                             "text": [[samples[p][picks[p, k]] for k in range(len(ns))] for p in range(min(3, len(prompts)))]}
    return out


def standardised_proxy(stack: Stack, pairs: int, seed: int, sft_prompts: Sequence[str], sft_responses: Sequence[str]):
    """The proxy of ``pairs`` pairs and ``seed`` as a PPO reward, standardised on the SFT samples (:mod:`rewardlab.rl.scale`)."""
    raw = reward_function(proxy_model(stack, pairs, seed), stack.tokenizer, stack.preset.sampling.eval_batch_size)
    return standardised(raw, *score_scale(raw, sft_prompts, sft_responses))


def ppo_runs(stack: Stack, proxy: str, pairs: int, sft_responses: Sequence[str], sft_prompts: Sequence[str],
             eval_prompts: Sequence[str], length: int | None = None,
             replicates: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PPO at beta = 0 against the standardised ``proxy`` (one replicate per seed; module doc).

    ``length``: responses of at most this many tokens instead of ``gao.ppo.max_new_tokens`` (the method is then
    named ``"<proxy> @<length>"``), on the first ``replicates`` seeds: the check that a verdict read on
    responses cut at 20 tokens holds at the world's length (reviews of 16-48 words)."""
    preset = stack.preset
    ppo = preset.gao.ppo if length is None else dataclasses.replace(preset.gao.ppo, max_new_tokens=length)
    name = proxy if length is None else f"{proxy} @{length}"
    seeds = replicate_seeds(stack, proxy)[:replicates]
    judge, vader = stack.judge, VaderJudge()

    def reward_for(seed: int):
        return standardised_proxy(stack, pairs, seed, sft_prompts, sft_responses)

    evaluation = Evaluation(list(eval_prompts), every=preset.gao.eval_every, seed=preset.seed + 4242, scores={
        "gold_a": lambda prompts, responses: judge(responses[0::2]),
        "gold_b": lambda prompts, responses: judge(responses[1::2]),
        "vader": lambda prompts, responses: vader(responses),
        "well_formed": lambda prompts, responses: [read(r).well_formed_share for r in responses],
    })
    return run_methods(preset, ppo, stack.policy, stack.tokenizer, stack.reward_model(), stack.train_prompts,
                       eval_prompts, judge, {name: Method(reward_for)}, seeds, evaluation=evaluation,
                       progress=stack.progress, cache_key=grid_cache_key(f"gao-{proxy}", pairs=pairs,
                                                                         **({} if length is None else {"length": length})))


def turn_by_replicate(steps: pd.DataFrame, sft_gold: float, window: int) -> pd.DataFrame:
    """Per run: the evaluation curve (d = sqrt KL, gold - SFT gold), the cross-fitted gold drop from its peak to
    the end, and the rise of the (rollout) proxy from the gold peak to the end, each proxy value the mean of
    the ``window`` steps up to its evaluation."""
    rows = []
    for (method, seed), run in steps.groupby(["method", "seed"], sort=False):
        run = run.sort_values("step")
        proxy_smooth = run["proxy_reward"].rolling(window, min_periods=1).mean().to_numpy()
        evaluated = run["eval_gold"].notna().to_numpy()
        curve = run[evaluated]
        a, b = curve["eval_gold_a"].to_numpy(), curve["eval_gold_b"].to_numpy()
        rows.append({"method": method, "seed": seed, "sqrt_kl": np.sqrt(curve["eval_kl"].clip(lower=0)).to_numpy(),
                     "gold": curve["eval_gold"].to_numpy() - sft_gold, "step": curve["step"].to_numpy(),
                     "gold_drop": crossfit_drop(a, b), "proxy_rise": crossfit_rise(proxy_smooth[evaluated], a, b),
                     "peak_gold": float(np.max(curve["eval_gold"])) - sft_gold,
                     "peak_sqrt_kl": float(np.sqrt(max(curve["eval_kl"].iloc[int(np.argmax(curve["eval_gold"]))], 0)))})
    return pd.DataFrame(rows)

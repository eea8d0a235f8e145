"""The PPO loop for a causal LM with per-token rewards: rollout, score, advantages, clipped updates.

Written by hand (the equations are in :mod:`rewardlab.rl.ppo`) because TRL's trainers take one
scalar reward per response. Written with ``accelerate``: the model and optimiser go through
``Accelerator.prepare``, backward through ``accelerator.backward`` and the logged scalars through
``accelerator.reduce``, so ``accelerate launch`` runs one rollout per process unchanged.

Seeds in one model. :func:`train_ppo_seeds` trains several seeds of one configuration as one
stacked GPT-2 (:mod:`rewardlab.rl.stacked`): every matrix product serves all seeds, while each seed
keeps its own prompts, random numbers, rewards, advantages, minibatch order, gradient clipping,
Adam state (each seed has its own weight tensors, stacked for each pass, so one AdamW over them
is S optimisers) and KL coefficient. A seed's log is bit-identical to the same seed trained alone; :func:`train_ppo` is
the one-seed case. The loss is the sum of the seeds' losses: no weight is shared, so each seed's
gradient is its own loss's gradient.

Actions. A rollout samples up to ``config.max_new_tokens`` tokens after ``<bos> prompt``; the
actions are the response tokens and, when the response finished, its ``<eos>``. Special tokens
other than ``<eos>`` are suppressed and ``<eos>`` cannot come first, so every response has text.
The policy is the distribution actually sampled from: the log-probs apply the same
masks (and temperature) before its softmax, so log-probs, entropy and the KL to the reference
are those of the sampling distribution (without the masks, mass the policy moved onto a
suppressed token would make log pi(y) too small and the KL estimate negative).

Rewards. ``reward_fn(prompts, responses) -> per-token rewards``: for each response either a
scalar R (sparse: paid on the final action) or one value per response token, r_1..r_T (T = the
number of tokens the policy generated for the response, without ``<eos>``). The last value is
paid at the end of the response: on ``<eos>`` when it finished, so that the decision to stop is
credited like any other (a scalar R and [0, ..., 0, R] are the same reward). Then

    r_t = s_t - beta kl_t  ->  GAE(gamma, lambda)  ->  advantages whitened over the batch,

and ``config.epochs`` passes of shuffled minibatches minimise L_pi + c_V L_V. Dropout is off
throughout (old and new log-probs come from the same network).

Token alignment. ``responses`` are decoded text with whitespace normalised, so re-tokenising one
gives back the generated tokens only when the tokenizer round-trips. A word-level tokenizer does;
a subword one need not: generated ``"Ġbl" "ue"`` decode to ``"blue"``, which a byte-level BPE
holding ``"Ġblue"`` encodes as one token, and whitespace-only tokens vanish from the text. So
when ``reward_fn`` has a parameter named ``tokens`` (positional or keyword-only; ``**kwargs``
does not count), it is called as ``reward_fn(prompts, responses, tokens=tokens)``, where
``tokens[i]`` lists the strings (``tokenizer.convert_ids_to_tokens``) of the tokens generated
for response i, without ``<eos>``: one per token reward expected. A reward function without
that parameter is called with two arguments, as before.

Bad input: a NaN or infinite reward raises ``FloatingPointError`` naming the step, the reward
(``name``) and the response; a wrong number of rewards raises ``ValueError`` with the step and
the expected and actual lengths.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from rewardlab.core.config import PPOConfig, check_fields, check_ppo
from rewardlab.core.policy import set_seed
from rewardlab.rl import ppo
from rewardlab.rl.rollouts import (
    blocked_actions,
    encode_prompts,
    response_tokens,
    sample_stacked,
    stacked_action_stats,
    suppressed_ids,
    takes_tokens,
    to_rollout,
    token_reward_tensor,
)
from rewardlab.rl.stacked import StackedGPT2

LOG_KEYS = ("step", "proxy_reward", "gold_reward", "kl", "entropy", "value_loss", "policy_loss", "clip_fraction",
            "naturalness_nll", "response_tokens", "kl_coef", "seconds", "reward_seconds")


@dataclass
class PPOResult:
    model: torch.nn.Module  # the trained policy LM (without the value head), eval mode
    log: dict = field(default_factory=dict)  # LOG_KEYS -> one value per step
    samples: list = field(default_factory=list)  # (step, prompt, response) of the first response each step


def _rows(tensor: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``tensor`` [S, B, ...] at rows [S, b]: seed s's rows rows[s]."""
    return tensor[torch.arange(rows.shape[0])[:, None], rows]


def train_ppo(config: PPOConfig, policy, tokenizer, reward_fn: Callable, prompts: Sequence[str], *, seed: int = 0,
              name: str = "reward", gold_fn: Callable | None = None, track: dict[str, Callable] | None = None,
              device: str = "cpu", progress: bool = True, evaluation: "Evaluation | None" = None) -> PPOResult:
    """PPO from a copy of ``policy`` (another copy is the frozen reference) on ``reward_fn``; one rollout of
    ``config.batch_size`` prompts drawn from ``prompts`` per step. ``gold_fn(responses)`` is logged only, and
    so is each ``track[name](prompts, responses)`` (its mean over the rollout, under ``name``): for
    example the reward model's score when the trained reward is something else. One seed of
    :func:`train_ppo_seeds`, whose numbers it gives exactly."""
    return train_ppo_seeds(config, policy, tokenizer, [reward_fn], prompts, seeds=[seed], name=name, gold_fn=gold_fn,
                           track=track, device=device, progress=progress, evaluation=evaluation)[0]


@dataclass(frozen=True)
class PerSeed:
    """An evaluation score that differs by seed: ``for_seed(seed)`` is the ``(prompts, responses)`` score of the run
    with that seed."""

    for_seed: Callable[[int], Callable]


@dataclass(frozen=True)
class Evaluation:
    """Held-out evaluation during training: every ``every`` steps (and at the last step) each seed's policy
    samples one response per prompt of ``prompts`` from the generator seed ``seed``. Every seed, arm and
    step draws the same uniforms (common random numbers: two policies that agree answer alike, so a
    difference between runs is the policies', not the draws'). Logged as ``eval_gold`` (``gold_fn``),
    ``eval_kl`` (sum over the actions of log pi - log pi_ref, mean over the prompts) and
    ``eval_<name>`` for each ``scores[name](prompts, responses)``; NaN on the other steps. A score that differs
    by seed (each seed's own reward model, say) is a :class:`PerSeed`."""

    prompts: Sequence[str]
    every: int = 10
    seed: int = 12345
    scores: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.prompts or self.every < 1:
            raise ValueError(f"Evaluation needs prompts and every >= 1; got {len(self.prompts)} prompts, "
                             f"every={self.every}")

    def keys(self) -> list[str]:
        return ["eval_gold", "eval_kl", *(f"eval_{name}" for name in self.scores)]

    def due(self, step: int, steps: int) -> bool:
        return step % self.every == 0 or step == steps


def train_ppo_seeds(config: PPOConfig, policy, tokenizer, reward_fns: Sequence[Callable], prompts: Sequence[str], *,
                    seeds: Sequence[int], name: str = "reward", gold_fn: Callable | None = None,
                    track: dict[str, Callable] | None = None, device: str = "cpu",
                    progress: bool = True, evaluation: Evaluation | None = None) -> list[PPOResult]:
    """PPO for several seeds of one configuration at once, as one stacked model (:mod:`rewardlab.rl.stacked`):
    seed ``seeds[i]`` trains on ``reward_fns[i]`` with its own prompts, samples, minibatch order, optimiser
    state, KL coefficient and log, and gets the numbers it would get alone (``train_ppo``). Returns one
    :class:`PPOResult` per seed; a step's ``seconds`` are the stacked step's time divided by the seeds
    (held-out ``evaluation`` excluded)."""
    if not prompts:
        raise ValueError("train_ppo needs prompts to sample from; pass a non-empty list")
    if len(reward_fns) != len(seeds) or not seeds:
        raise ValueError(f"train_ppo_seeds needs one reward_fn per seed; got {len(reward_fns)} for {len(seeds)} seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {list(seeds)} repeat; a stack trains distinct seeds")
    check_fields(config, "ppo")
    check_ppo(config, "ppo")
    track = dict(track or {})
    eval_keys = evaluation.keys() if evaluation else []
    clash = (set(track) & set(LOG_KEYS)) | (set(track) & set(eval_keys))
    if clash:
        raise ValueError(f"track names {sorted(clash)} clash with the trainer's own log; rename them")
    set_seed(seeds[0])
    n_seeds, batch, actions = len(seeds), config.batch_size, config.max_new_tokens
    accelerator = Accelerator(cpu=device == "cpu")
    model = StackedGPT2([policy] * n_seeds, value_head=True)
    reference = StackedGPT2([policy]).requires_grad_(False).broadcast_to(n_seeds).to(accelerator.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0, fused=True)
    model, optimizer = accelerator.prepare(model, optimizer)
    stacked = accelerator.unwrap_model(model)
    all_ids, all_masks = encode_prompts(tokenizer, prompts)  # one width for the run: shapes never depend on a draw
    blocked = blocked_actions(stacked.config.vocab_size, actions, suppressed_ids(tokenizer),
                              tokenizer.eos_token_id).to(accelerator.device)
    prompt_rngs = [np.random.default_rng([seed, accelerator.process_index]) for seed in seeds]
    kl_coefs = [config.kl_coef] * n_seeds
    logs = [{key: [] for key in (*LOG_KEYS, *track, *eval_keys)} for _ in seeds]
    if evaluation:
        eval_ids, eval_mask = (t.to(accelerator.device) for t in encode_prompts(tokenizer, list(evaluation.prompts)))
    samples: list[list] = [[] for _ in seeds]
    with_tokens = [takes_tokens(fn) for fn in reward_fns]
    label = name if n_seeds == 1 else f"{name}, {n_seeds} seeds"
    for step in tqdm(range(1, config.steps + 1), desc=f"PPO ({label})", disable=not progress):
        started = time.perf_counter()
        step_seeds = [(seed * 1_000_003 + step) % 2**63 for seed in seeds]
        picks = [rng.choice(len(prompts), batch) for rng in prompt_rngs]
        prompt_ids = torch.stack([all_ids[p] for p in picks]).to(accelerator.device)
        prompt_mask = torch.stack([all_masks[p] for p in picks]).to(accelerator.device)
        sample = sample_stacked(stacked, prompt_ids, prompt_mask, tokenizer.pad_token_id, actions,
                                [torch.Generator().manual_seed(s) for s in step_seeds], blocked,
                                tokenizer.eos_token_id, config.temperature)
        sequences, action_mask = sample["sequences"], sample["action_mask"]
        old_logprobs, old_values = sample["logprobs"], sample["values"]  # the rollout policy's, from the sampling pass
        rollouts = [to_rollout(tokenizer, [prompts[i] for i in pick], sequences[s].cpu(), prompt_mask[s].cpu(),
                               action_mask[s].cpu(), config.temperature) for s, pick in enumerate(picks)]
        shaped, reward_seconds = [], []
        for s, rollout in enumerate(rollouts):
            extra = {"tokens": response_tokens(rollout, tokenizer)} if with_tokens[s] else {}
            reward_start = time.perf_counter()
            shaped.append(token_reward_tensor(reward_fns[s](rollout.prompts, rollout.responses, **extra), rollout,
                                              step, name))
            reward_seconds.append(time.perf_counter() - reward_start)
        shaped = torch.stack(shaped).to(accelerator.device)
        mask = action_mask.float()
        attention = torch.cat([prompt_mask, action_mask], dim=-1)
        with torch.no_grad():
            ref_logprobs, _, _ = stacked_action_stats(reference, sequences, attention, action_mask, blocked,
                                                      config.temperature, entropy=False)
        scored = [ppo.masked_whiten(shaped[s], mask[s], shift_mean=False) if config.whiten_rewards else shaped[s]
                  for s in range(n_seeds)]
        rewards, kl = map(torch.stack, zip(*(ppo.per_token_rewards(scored[s], old_logprobs[s], ref_logprobs[s],
                                                                    mask[s], kl_coefs[s]) for s in range(n_seeds))))
        flat = (n_seeds * batch, -1)  # GAE runs row by row: the seeds' rows side by side
        advantages, returns = (t.view(n_seeds, batch, -1) for t in ppo.gae(
            rewards.view(flat), (old_values * mask).view(flat), mask.view(flat), config.gamma, config.lam))
        advantages = torch.stack([ppo.masked_whiten(advantages[s], mask[s]) for s in range(n_seeds)])
        stats = {"value_loss": [], "policy_loss": [], "clip_fraction": []}
        order_rngs = [torch.Generator().manual_seed(s) for s in step_seeds]
        for _ in range(config.epochs):
            order = torch.stack([torch.randperm(batch, generator=g) for g in order_rngs]).to(accelerator.device)
            for begin in range(0, batch, config.minibatch_size):
                rows = order[:, begin: begin + config.minibatch_size]
                logprobs, values, _ = stacked_action_stats(model, _rows(sequences, rows), _rows(attention, rows),
                                                           _rows(action_mask, rows), blocked, config.temperature,
                                                           entropy=False)
                minibatch = [_rows(t, rows) for t in (old_logprobs, advantages, old_values, returns, mask)]
                losses, step_stats = [], []
                for s in range(n_seeds):
                    old_s, adv_s, old_v_s, ret_s, mask_s = (t[s] for t in minibatch)
                    pg_loss, clip_fraction = ppo.policy_loss(logprobs[s], old_s, adv_s, mask_s, config.clip_range)
                    vf_loss = ppo.value_loss(values[s], old_v_s, ret_s, mask_s, config.value_clip_range)
                    losses.append(pg_loss + config.vf_coef * vf_loss)
                    step_stats.append((vf_loss, pg_loss, clip_fraction))
                accelerator.backward(torch.stack(losses).sum())  # seeds share no weight: each gets its own gradient
                for seed_weights in stacked.per_seed:  # each seed's own gradient norm, as alone
                    torch.nn.utils.clip_grad_norm_(seed_weights.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                for key, values_s in zip(stats, zip(*step_stats)):
                    stats[key].append(torch.stack(values_s).detach())
        seconds = (time.perf_counter() - started) / n_seeds
        text_mask = mask * (sequences[..., -actions:] != tokenizer.eos_token_id)
        step_values = {
            "proxy_reward": shaped.sum(dim=2).mean(dim=1), "kl": kl.sum(dim=2).mean(dim=1),
            "entropy": torch.stack([ppo.masked_mean(sample["entropy"][s], mask[s]) for s in range(n_seeds)]),
            "naturalness_nll": torch.stack([-(ref_logprobs[s] * text_mask[s]).sum() / text_mask[s].sum()
                                            for s in range(n_seeds)]),
            **{key: torch.stack(v, dim=1).mean(dim=1) for key, v in stats.items()},  # [S, minibatches]
        }
        step_values = {k: accelerator.reduce(v.float(), "mean").tolist() for k, v in step_values.items()}
        for s, (log, rollout) in enumerate(zip(logs, rollouts)):
            for key, value in step_values.items():
                log[key].append(float(value[s]))
            log["gold_reward"].append(float(np.mean(gold_fn(rollout.responses))) if gold_fn else float("nan"))
            log["response_tokens"].append(float(np.mean(rollout.n_tokens)))
            for key, fn in track.items():
                log[key].append(float(np.mean(fn(rollout.prompts, rollout.responses))))
            log["step"].append(step)
            log["kl_coef"].append(kl_coefs[s])
            log["reward_seconds"].append(reward_seconds[s])
            log["seconds"].append(seconds)
            samples[s].append((step, rollout.prompts[0], rollout.responses[0]))
            if config.kl_target > 0:
                kl_coefs[s] = ppo.update_kl_coef(kl_coefs[s], log["kl"][-1], config.kl_target, batch, config.kl_horizon)
        held_out = (_evaluate(evaluation, stacked, reference, tokenizer, eval_ids, eval_mask, blocked, config, gold_fn,
                              seeds)
                    if evaluation and evaluation.due(step, config.steps) else {})
        for s, log in enumerate(logs):
            for key in eval_keys:
                log[key].append(held_out[key][s] if held_out else float("nan"))
    return [PPOResult(stacked.export(s), logs[s], samples[s]) for s in range(n_seeds)]


def _evaluate(evaluation: Evaluation, stacked: StackedGPT2, reference: StackedGPT2, tokenizer, eval_ids, eval_mask,
              blocked, config: PPOConfig, gold_fn: Callable | None, seeds: Sequence[int]) -> dict[str, list[float]]:
    """:class:`Evaluation`'s metrics for every seed of the stack: key -> one value per seed."""
    n_seeds = stacked.seeds
    ids, mask = eval_ids.expand(n_seeds, *eval_ids.shape), eval_mask.expand(n_seeds, *eval_mask.shape)
    generators = [torch.Generator().manual_seed(evaluation.seed) for _ in range(n_seeds)]
    sample = sample_stacked(stacked, ids, mask, tokenizer.pad_token_id, config.max_new_tokens, generators, blocked,
                            tokenizer.eos_token_id, config.temperature)
    attention = torch.cat([mask, sample["action_mask"]], dim=-1)
    with torch.no_grad():
        ref_logprobs, _, _ = stacked_action_stats(reference, sample["sequences"], attention, sample["action_mask"],
                                                  blocked, config.temperature, entropy=False)
    kl = ((sample["logprobs"] - ref_logprobs) * sample["action_mask"]).sum(-1).mean(-1)
    out = {key: [] for key in evaluation.keys()}
    for s in range(n_seeds):
        responses = to_rollout(tokenizer, list(evaluation.prompts), sample["sequences"][s].cpu(), mask[s].cpu(),
                               sample["action_mask"][s].cpu(), config.temperature).responses
        out["eval_gold"].append(float(np.mean(gold_fn(responses))) if gold_fn else float("nan"))
        out["eval_kl"].append(float(kl[s]))
        for name, fn in evaluation.scores.items():
            fn = fn.for_seed(seeds[s]) if isinstance(fn, PerSeed) else fn
            out[f"eval_{name}"].append(float(np.mean(fn(list(evaluation.prompts), responses))))
    return out

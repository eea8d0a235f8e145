"""The PPO loop for a causal LM with per-token rewards: rollout, score, advantages, clipped updates.

Written by hand (the equations are in :mod:`rewardlab.rl.ppo`) because TRL's trainers take one
scalar reward per response. Written with ``accelerate``: the model and optimiser go through
``Accelerator.prepare``, backward through ``accelerator.backward`` and the logged scalars through
``accelerator.reduce``, so ``accelerate launch`` runs one rollout per process unchanged.

Any causal LM. A GPT-2 policy runs on the stacked path below; every other architecture (and GPT-2
under LoRA) runs one seed at a time through its own forward and KV cache
(:class:`rewardlab.rl.causal_lm.CausalLMPolicy`), through the same loop (:func:`_train`).

Seeds in one model. :func:`train_ppo_seeds` trains several seeds of one GPT-2 configuration as one
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

from rewardlab.core.study_configs import PPOConfig
from rewardlab.core.policy import set_seed
from rewardlab.rl import ppo
from rewardlab.rl.rollouts import (
    blocked_actions,
    encode_prompts,
    response_tokens,
    sample_stacked,
    stacked_action_stats,
    stacks,
    suppressed_ids,
    takes_tokens,
    to_rollout,
    token_reward_tensor,
)
from rewardlab.rl.held_out import Evaluation, evaluate_held_out
from rewardlab.rl.causal_lm import CausalLMPolicy, check_causal_lm, check_tokenizer
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
              device: str = "cpu", progress: bool = True, evaluation: Evaluation | None = None,
              peft_config=None) -> PPOResult:
    """PPO from a copy of ``policy`` (another copy is the frozen reference) on ``reward_fn``; one rollout of
    ``config.batch_size`` prompts drawn from ``prompts`` per step. ``gold_fn(responses)`` is logged only, and
    so is each ``track[name](prompts, responses)`` (its mean over the rollout, under ``name``): for
    example the reward model's score when the trained reward is something else. One seed of
    :func:`train_ppo_seeds`, whose numbers it gives exactly."""
    return train_ppo_seeds(config, policy, tokenizer, [reward_fn], prompts, seeds=[seed], name=name, gold_fn=gold_fn,
                           track=track, device=device, progress=progress, evaluation=evaluation,
                           peft_config=peft_config)[0]


def train_ppo_seeds(config: PPOConfig, policy, tokenizer, reward_fns: Sequence[Callable], prompts: Sequence[str], *,
                    seeds: Sequence[int], name: str = "reward", gold_fn: Callable | None = None,
                    track: dict[str, Callable] | None = None, device: str = "cpu",
                    progress: bool = True, evaluation: Evaluation | None = None,
                    peft_config=None) -> list[PPOResult]:
    """PPO for several seeds of one configuration: seed ``seeds[i]`` trains on ``reward_fns[i]`` with its own
    prompts, samples, minibatch order, optimiser state, KL coefficient and log, and gets the numbers it would
    get alone (``train_ppo``). A GPT-2 policy trains its seeds as one stacked model (:mod:`rewardlab.rl.stacked`);
    any other causal LM, and any policy with a ``peft_config`` (LoRA adapters: :mod:`rewardlab.rl.causal_lm`),
    trains them one after another through its own forward. Returns one :class:`PPOResult` per seed; a step's
    ``seconds`` are the stacked step's time divided by the seeds (held-out ``evaluation`` excluded)."""
    if not prompts:
        raise ValueError("train_ppo needs prompts to sample from; pass a non-empty list")
    if len(reward_fns) != len(seeds) or not seeds:
        raise ValueError(f"train_ppo_seeds needs one reward_fn per seed; got {len(reward_fns)} for {len(seeds)} seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {list(seeds)} repeat; a stack trains distinct seeds")
    if not isinstance(config, PPOConfig):
        raise TypeError(f"config must be a PPOConfig, got {type(config).__name__}")
    check_causal_lm(policy)
    check_tokenizer(tokenizer)
    track = dict(track or {})
    eval_keys = evaluation.keys() if evaluation else []
    clash = (set(track) & set(LOG_KEYS)) | (set(track) & set(eval_keys))
    if clash:
        raise ValueError(f"track names {sorted(clash)} clash with the trainer's own log; rename them")
    run = dict(tokenizer=tokenizer, prompts=prompts, name=name, gold_fn=gold_fn, track=track, device=device,
               progress=progress, evaluation=evaluation)
    if stacks(policy, peft_config):
        set_seed(seeds[0])
        model = StackedGPT2([policy] * len(seeds), value_head=True)
        reference = StackedGPT2([policy]).requires_grad_(False).broadcast_to(len(seeds))
        return _train(config, model, reference, reward_fns, seeds, **run)
    results = []
    for seed, reward_fn in zip(seeds, reward_fns):
        set_seed(seed)  # before the adapters are initialised: they draw from the global generator
        model = CausalLMPolicy(policy, value_head=True, peft_config=peft_config)
        results += _train(config, model, model.reference(policy), [reward_fn], [seed], **run)
    return results


def _train(config: PPOConfig, model, reference, reward_fns: Sequence[Callable], seeds: Sequence[int], *, tokenizer,
           prompts: Sequence[str], name: str, gold_fn: Callable | None, track: dict[str, Callable], device: str,
           progress: bool, evaluation: Evaluation | None) -> list[PPOResult]:
    """The PPO loop over one stack of seeds (a :class:`StackedGPT2`, or a :class:`CausalLMPolicy` of one)."""
    n_seeds, batch, actions = len(seeds), config.batch_size, config.max_new_tokens
    eval_keys = evaluation.keys() if evaluation else []
    accelerator = Accelerator(cpu=device == "cpu")
    if isinstance(reference, torch.nn.Module):
        reference = reference.to(accelerator.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
                                  weight_decay=0.0, fused=True)
    model, optimizer = accelerator.prepare(model, optimizer)
    stacked = accelerator.unwrap_model(model)
    all_ids, all_masks = encode_prompts(tokenizer, prompts)  # one width for the run: shapes never depend on a draw
    blocked = blocked_actions(stacked.vocab_size, actions, suppressed_ids(tokenizer),
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
        held_out = (evaluate_held_out(evaluation, stacked, reference, tokenizer, eval_ids, eval_mask, blocked, config, gold_fn,
                              seeds)
                    if evaluation and evaluation.due(step, config.steps) else {})
        for s, log in enumerate(logs):
            for key in eval_keys:
                log[key].append(held_out[key][s] if held_out else float("nan"))
    return [PPOResult(stacked.export(s), logs[s], samples[s]) for s in range(n_seeds)]

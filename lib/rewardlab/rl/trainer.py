"""The PPO loop for a causal LM with per-token rewards: rollout, score, advantages, clipped updates.

Written by hand (the equations are in :mod:`rewardlab.rl.ppo`) because TRL's trainers take one
scalar reward per response. Written with ``accelerate``: the model and optimiser go through
``Accelerator.prepare``, backward through ``accelerator.backward`` and the logged scalars through
``accelerator.reduce``, so ``accelerate launch`` runs one rollout per process unchanged.

Actions. A rollout samples up to ``config.max_new_tokens`` tokens after ``<bos> prompt``; the
actions are the response tokens and, when the response finished, its ``<eos>``. Special tokens
other than ``<eos>`` are suppressed and ``<eos>`` cannot come first, so every response has text.
The policy is the distribution actually sampled from: :func:`action_stats` applies the same
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

import copy
import inspect
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import GenerationConfig

from rewardlab.core.config import PPOConfig, check_fields, check_ppo
from rewardlab.core.policy import set_seed
from rewardlab.core.quiet import quiet_transformers
from rewardlab.rl import ppo

LOG_KEYS = ("step", "proxy_reward", "gold_reward", "kl", "entropy", "value_loss", "policy_loss", "clip_fraction",
            "naturalness_nll", "response_tokens", "kl_coef", "seconds", "reward_seconds")


class PolicyWithValueHead(torch.nn.Module):
    """The policy LM plus a linear value head on its last hidden state (a shared trunk, as in
    Ziegler et al. 2019): one forward pass gives the log-probs and V(s_t). The head starts at 0."""

    def __init__(self, policy):
        super().__init__()
        self.policy = policy
        width = getattr(policy.config, "n_embd", None) or policy.config.hidden_size
        self.value_head = torch.nn.Linear(width, 1)
        torch.nn.init.zeros_(self.value_head.weight)
        torch.nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask):
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          output_hidden_states=True, use_cache=False)
        return out.logits, self.value_head(out.hidden_states[-1]).squeeze(-1)


@dataclass
class Rollout:
    """One batch of sampled responses: ``sequences`` = [left-padded prompt | actions], [B, P + A]."""

    prompts: list[str]
    responses: list[str]
    sequences: torch.Tensor
    attention_mask: torch.Tensor
    action_mask: torch.Tensor  # [B, A], 1 on actions (response tokens and <eos>)
    n_tokens: list[int]  # response tokens without <eos> (the length reward_fn must return)
    finished: list[bool]
    suppressed_ids: tuple = ()  # never sampled: masked out of the policy's distribution
    eos_token_id: int | None = None  # not allowed as the first action
    temperature: float = 1.0

    @property
    def prompt_width(self) -> int:
        return self.sequences.shape[1] - self.action_mask.shape[1]

    def select(self, rows: Sequence[int]) -> "Rollout":
        """The rollout of the responses ``rows`` only."""
        rows = list(rows)
        return Rollout([self.prompts[i] for i in rows], [self.responses[i] for i in rows], self.sequences[rows],
                       self.attention_mask[rows], self.action_mask[rows], [self.n_tokens[i] for i in rows],
                       [self.finished[i] for i in rows], self.suppressed_ids, self.eos_token_id, self.temperature)


@torch.no_grad()
def sample_rollout(policy, tokenizer, prompts: Sequence[str], max_new_tokens: int, temperature: float = 1.0) -> Rollout:
    """Sample one response per prompt with ``generate`` (uses the global torch RNG)."""
    device = next(policy.parameters()).device
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    encoded = [bos + ids for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    width = max(len(c) for c in encoded)
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(c)) + c for c in encoded], device=device)
    prompt_mask = (torch.arange(width, device=device)[None] >= torch.tensor([width - len(c) for c in encoded],
                                                                             device=device)[:, None]).long()
    suppress = sorted({t for t in tokenizer.all_special_ids if t != tokenizer.eos_token_id})
    config = GenerationConfig(do_sample=True, temperature=temperature, top_k=0, max_new_tokens=max_new_tokens,
                              min_new_tokens=1, suppress_tokens=suppress, pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    with quiet_transformers():
        out = policy.generate(input_ids=ids, attention_mask=prompt_mask, generation_config=config)
    actions = out[:, width:]
    is_eos = actions == tokenizer.eos_token_id
    finished = is_eos.any(dim=1)
    first_eos = torch.where(finished, is_eos.float().argmax(dim=1), torch.full_like(finished, actions.shape[1], dtype=torch.long))
    n_actions = torch.where(finished, first_eos + 1, first_eos)
    action_mask = (torch.arange(actions.shape[1], device=device)[None] < n_actions[:, None]).long()
    sequences = torch.cat([ids, actions.masked_fill(action_mask == 0, tokenizer.pad_token_id)], dim=1)
    n_tokens = first_eos.tolist()
    texts = tokenizer.batch_decode([row[:n] for row, n in zip(actions.tolist(), n_tokens)], skip_special_tokens=True)
    return Rollout(list(prompts), [" ".join(t.split()) for t in texts], sequences,
                   torch.cat([prompt_mask, action_mask], dim=1), action_mask, n_tokens, finished.tolist(),
                   tuple(suppress), tokenizer.eos_token_id, temperature)


def action_stats(model, rollout: Rollout, rows=None):
    """Log-probs of the actions, V(s_t) before each action and the policy's entropy, [b, A] each.

    ``model`` is a :class:`PolicyWithValueHead` or a plain causal LM (then the values are None).
    The distribution is the one :func:`sample_rollout` draws from: logits / temperature, the
    suppressed tokens at -inf, and ``<eos>`` at -inf for the first action.
    """
    rows = slice(None) if rows is None else rows
    sequences, attention_mask = rollout.sequences[rows], rollout.attention_mask[rows]
    if isinstance(model, PolicyWithValueHead) or isinstance(getattr(model, "module", None), PolicyWithValueHead):
        logits, values = model(sequences, attention_mask)
    else:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=sequences, attention_mask=attention_mask, position_ids=position_ids,
                       use_cache=False).logits
        values = None
    start = rollout.prompt_width - 1
    logits = logits[:, start:-1].float() / rollout.temperature
    blocked = torch.zeros(logits.shape[1:], dtype=torch.bool, device=logits.device)  # [A, vocab]
    blocked[:, list(rollout.suppressed_ids)] = True
    if rollout.eos_token_id is not None:
        blocked[0, rollout.eos_token_id] = True
    logits = logits.masked_fill(blocked, float("-inf"))
    logp_all = torch.log_softmax(logits, dim=-1)
    logprobs = logp_all.gather(-1, sequences[:, rollout.prompt_width:, None])[..., 0]
    logprobs = logprobs.masked_fill(rollout.action_mask[rows] == 0, 0.0)  # padding (a suppressed id) is no action
    entropy = -(logp_all.exp() * logp_all.clamp(min=torch.finfo(logp_all.dtype).min)).sum(-1)
    return logprobs, None if values is None else values[:, start:-1].float(), entropy


def token_reward_tensor(rewards, rollout: Rollout, step: int, name: str) -> torch.Tensor:
    """Place ``reward_fn``'s output on the actions [B, A] (see the module doc); validates it."""
    if len(rewards) != len(rollout.responses):
        raise ValueError(f"step {step}: reward {name!r} returned {len(rewards)} rewards for "
                         f"{len(rollout.responses)} responses; return one item per response")
    out = torch.zeros(rollout.action_mask.shape, dtype=torch.float32)
    for i, (value, length, finished) in enumerate(zip(rewards, rollout.n_tokens, rollout.finished)):
        value = np.asarray(value.detach().cpu() if torch.is_tensor(value) else value, dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise FloatingPointError(f"step {step}: reward {name!r} is not finite for response {i} "
                                     f"({rollout.responses[i]!r}): {value}; check the reward model and the shaping")
        if value.ndim == 0:
            value = np.concatenate([np.zeros(length - 1), value[None]])
        if value.ndim != 1 or len(value) != length:
            raise ValueError(f"step {step}: reward {name!r} gave {value.shape[0] if value.ndim else 'a scalar'} "
                             f"token rewards for response {i}, expected {length} (its generated tokens without <eos>) "
                             "or a scalar; a reward_fn with a `tokens` parameter is passed those tokens")
        out[i, :length] = torch.from_numpy(value).float()
        if finished:  # the last value is paid on <eos>
            out[i, length], out[i, length - 1] = out[i, length - 1], 0.0
    return out


def takes_tokens(reward_fn: Callable) -> bool:
    """Whether ``reward_fn`` has a parameter named ``tokens`` (then :func:`train_ppo` passes it the tokens)."""
    try:
        parameter = inspect.signature(reward_fn).parameters.get("tokens")
    except (TypeError, ValueError):  # no signature to inspect (some builtins): the two-argument contract
        return False
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)


def response_tokens(rollout: Rollout, tokenizer) -> list[list[str]]:
    """The tokenizer's strings of each response's generated tokens without ``<eos>`` (``rollout.n_tokens`` each)."""
    actions = rollout.sequences[:, rollout.prompt_width:].tolist()
    return [tokenizer.convert_ids_to_tokens(row[:n]) for row, n in zip(actions, rollout.n_tokens)]


@dataclass
class PPOResult:
    model: torch.nn.Module  # the trained policy LM (without the value head), eval mode
    log: dict = field(default_factory=dict)  # LOG_KEYS -> one value per step
    samples: list = field(default_factory=list)  # (step, prompt, response) of the first response each step


def train_ppo(config: PPOConfig, policy, tokenizer, reward_fn: Callable, prompts: Sequence[str], *, seed: int = 0,
              name: str = "reward", gold_fn: Callable | None = None, track: dict[str, Callable] | None = None,
              device: str = "cpu", progress: bool = True) -> PPOResult:
    """PPO from a copy of ``policy`` (another copy is the frozen reference) on ``reward_fn``; one rollout of
    ``config.batch_size`` prompts drawn from ``prompts`` per step. ``gold_fn(responses)`` is logged only, and
    so is each ``track[name](prompts, responses)`` (its mean over the rollout, under ``name``): for
    example the reward model's score when the trained reward is something else."""
    if not prompts:
        raise ValueError("train_ppo needs prompts to sample from; pass a non-empty list")
    check_fields(config, "ppo")
    check_ppo(config, "ppo")
    steps = config.steps
    set_seed(seed)
    accelerator = Accelerator(cpu=device == "cpu")
    # copies: the caller's policy (often shared with other runs) keeps its mode and its gradients
    reference = copy.deepcopy(policy).eval().requires_grad_(False).to(accelerator.device)
    model = PolicyWithValueHead(copy.deepcopy(policy).requires_grad_(True))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.eval()  # no dropout: old and new log-probs must come from the same function
    prompt_rng = np.random.default_rng([seed, accelerator.process_index])
    kl_coef = config.kl_coef
    track = dict(track or {})
    clash = set(track) & set(LOG_KEYS)
    if clash:
        raise ValueError(f"track names {sorted(clash)} clash with the trainer's own log; rename them")
    log = {key: [] for key in (*LOG_KEYS, *track)}
    samples = []
    with_tokens = takes_tokens(reward_fn)
    for step in tqdm(range(1, steps + 1), desc=f"PPO ({name})", disable=not progress):
        started = time.perf_counter()
        torch.manual_seed((seed * 1_000_003 + step) % 2**63)
        batch = [prompts[i] for i in prompt_rng.choice(len(prompts), config.batch_size)]
        rollout = sample_rollout(accelerator.unwrap_model(model).policy, tokenizer, batch,
                                 config.max_new_tokens, config.temperature)
        extra = {"tokens": response_tokens(rollout, tokenizer)} if with_tokens else {}
        reward_start = time.perf_counter()
        shaped = token_reward_tensor(reward_fn(rollout.prompts, rollout.responses, **extra), rollout, step, name)
        reward_seconds = time.perf_counter() - reward_start
        mask = rollout.action_mask.float()
        shaped = shaped.to(mask.device)
        with torch.no_grad():
            old_logprobs, old_values, _ = action_stats(model, rollout)
            ref_logprobs, _, _ = action_stats(reference, rollout)
        scored = ppo.masked_whiten(shaped, mask, shift_mean=False) if config.whiten_rewards else shaped
        rewards, kl = ppo.per_token_rewards(scored, old_logprobs, ref_logprobs, mask, kl_coef)
        advantages, returns = ppo.gae(rewards, old_values * mask, mask, config.gamma, config.lam)
        advantages = ppo.masked_whiten(advantages, mask)
        stats = {"value_loss": [], "policy_loss": [], "clip_fraction": [], "entropy": []}
        order_rng = torch.Generator().manual_seed((seed * 1_000_003 + step) % 2**63)
        for _ in range(config.epochs):
            order = torch.randperm(config.batch_size, generator=order_rng)
            for begin in range(0, config.batch_size, config.minibatch_size):
                rows = order[begin: begin + config.minibatch_size].to(mask.device)
                logprobs, values, entropy = action_stats(model, rollout, rows)
                pg_loss, clip_fraction = ppo.policy_loss(logprobs, old_logprobs[rows], advantages[rows], mask[rows],
                                                         config.clip_range)
                vf_loss = ppo.value_loss(values, old_values[rows], returns[rows], mask[rows], config.value_clip_range)
                accelerator.backward(pg_loss + config.vf_coef * vf_loss)
                accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                for key, value in (("value_loss", vf_loss), ("policy_loss", pg_loss), ("clip_fraction", clip_fraction),
                                   ("entropy", ppo.masked_mean(entropy, mask[rows]))):
                    stats[key].append(value.detach())
        text_mask = mask * (rollout.sequences[:, rollout.prompt_width:] != tokenizer.eos_token_id)
        mean_kl = kl.sum(dim=1).mean()
        values = {
            "proxy_reward": shaped.sum(dim=1).mean(),
            "gold_reward": torch.tensor(float(np.mean(gold_fn(rollout.responses))) if gold_fn else float("nan")),
            "kl": mean_kl, "naturalness_nll": -(ref_logprobs * text_mask).sum() / text_mask.sum(),
            "response_tokens": torch.tensor(float(np.mean(rollout.n_tokens))),
            **{key: torch.stack(v).mean() for key, v in stats.items()},
        }
        for key, value in values.items():
            log[key].append(float(accelerator.reduce(value.to(accelerator.device).float(), "mean")))
        for key, fn in track.items():
            log[key].append(float(np.mean(fn(rollout.prompts, rollout.responses))))
        log["step"].append(step)
        log["kl_coef"].append(kl_coef)
        log["reward_seconds"].append(reward_seconds)
        log["seconds"].append(time.perf_counter() - started)
        samples.append((step, rollout.prompts[0], rollout.responses[0]))
        if config.kl_target > 0:
            kl_coef = ppo.update_kl_coef(kl_coef, log["kl"][-1], config.kl_target, config.batch_size,
                                         config.kl_horizon)
    trained = accelerator.unwrap_model(model).policy.eval().requires_grad_(False)
    return PPOResult(trained, log, samples)

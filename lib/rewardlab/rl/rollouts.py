"""Rollouts: sampling responses from a stack of policies with a KV cache, and the log-probs of what was sampled.

The policy is the distribution actually sampled from: logits / temperature, special tokens other
than ``<eos>`` suppressed (-inf), and ``<eos>`` at -inf for the first action so that every response
has text. :func:`stacked_action_stats` applies the same masks before its softmax, so log-probs,
entropy and the KL to the reference are those of the sampling distribution (without the masks,
mass the policy moved onto a suppressed token would make log pi(y) too small and the KL estimate
negative).

Sampling is written by hand, not with ``generate``, because the stack of seeds (see
:mod:`rewardlab.rl.stacked`) has no ``generate`` and because each seed must draw its own random
numbers: token t of response i of seed s is the inverse-CDF draw

    y_t = min {v : F(v) > u},   F(v) = sum_{w <= v} pi(w | x, y_<t),   u ~ U[0, 1) from seed s's generator,

an exact sample from pi (inverse-transform sampling). A response ends at its ``<eos>`` or
after ``max_new_tokens`` tokens; after ``<eos>`` a row is padded. The cache keeps each token's keys
and values, so a step of sampling runs one token through the model, not the whole prefix. The
pass that samples also records what PPO needs from the rollout policy: the log-probs of the
sampled tokens, their distributions' entropy and the values.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from rewardlab.rl.causal_lm import CausalLMPolicy
from rewardlab.rl.stacked import StackedGPT2, gpt2_supported


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


def suppressed_ids(tokenizer) -> tuple:
    """Special tokens a response never contains (all but ``<eos>``)."""
    return tuple(sorted({t for t in tokenizer.all_special_ids if t != tokenizer.eos_token_id}))


def encode_prompts(tokenizer, prompts: Sequence[str], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``<bos> prompt`` ids left-padded to ``width`` (default: the longest) and their mask, [B, width] each
    (the mask, not the pad id, marks padding: GPT-2's pad may be its <bos>)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    encoded = [bos + ids for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    empty = [i for i, ids in enumerate(encoded) if not ids]
    if empty:
        raise ValueError(f"prompt {empty[0]} ({prompts[empty[0]]!r}) encodes to no tokens and the tokenizer has no "
                         "<bos> to start from; check that the tokenizer is the model's")
    width = width or max(len(c) for c in encoded)
    if max(len(c) for c in encoded) > width:
        raise ValueError(f"a prompt has {max(len(c) for c in encoded)} tokens, more than the width {width}")
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(c)) + c for c in encoded])
    mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in encoded])
    return ids, mask


def blocked_actions(vocab: int, actions: int, suppressed: Sequence[int], eos_token_id: int | None) -> torch.Tensor:
    """[A, V] True where the sampling distribution is -inf: suppressed tokens, and <eos> as the first action."""
    blocked = torch.zeros(actions, vocab, dtype=torch.bool)
    blocked[:, list(suppressed)] = True
    if eos_token_id is not None:
        blocked[0, eos_token_id] = True
    return blocked


@torch.no_grad()
def sample_stacked(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, pad_id: int,
                   max_new_tokens: int, generators: Sequence[torch.Generator], blocked: torch.Tensor,
                   eos_token_id: int, temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """Sample from every seed's policy: ``prompt_ids`` [S, B, P] left-padded (``prompt_mask`` 0 on padding);
    after <eos> a row is filled with ``pad_id``. Seed s draws from ``generators[s]``. Returns
    ``sequences`` [S, B, P + A] and, [S, B, A] each, ``action_mask``, the ``logprobs`` of the sampled
    actions, the ``entropy`` of the distributions they were drawn from and, with a value head, the
    ``values`` V(s_t) before each action. A = ``max_new_tokens`` always: shapes never depend on a draw.
    ``model``: a :class:`~rewardlab.rl.stacked.StackedGPT2` or a
    :class:`~rewardlab.rl.causal_lm.CausalLMPolicy` (``decode_start`` / ``decode_next``)."""
    seeds, batch, width = prompt_ids.shape
    prompt_mask = prompt_mask.bool()
    keys = torch.cat([prompt_mask, prompt_mask.new_ones(seeds, batch, max_new_tokens)], dim=-1)
    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    state, logits, values = model.decode_start(prompt_ids, positions, keys, width + max_new_tokens)
    actions = prompt_ids.new_full((seeds, batch, max_new_tokens), pad_id)
    out = {name: torch.zeros(seeds, batch, max_new_tokens) for name in ("logprobs", "entropy", "values")}
    done = torch.zeros(seeds, batch, dtype=torch.bool)
    position = positions[:, :, -1:]
    for t in range(max_new_tokens):
        logits = logits.float()
        if temperature != 1.0:
            logits = logits / temperature
        logp = logits.masked_fill(blocked[min(t, blocked.shape[0] - 1)], float("-inf")).log_softmax(-1)
        probs = logp.exp()  # once per token: the draw and the entropy both use it
        token = inverse_cdf_sample(probs, [torch.rand(batch, generator=g, dtype=torch.float64)
                                                for g in generators]).masked_fill(done, pad_id)
        out["logprobs"][:, :, t] = logp.gather(-1, token[..., None])[..., 0].masked_fill(done, 0.0)  # a pad: no action
        out["entropy"][:, :, t] = -(probs * logp.clamp(min=torch.finfo(logp.dtype).min)).sum(-1).masked_fill(done, 0.0)
        if model.has_value_head:
            out["values"][:, :, t] = values.masked_fill(done, 0.0)
        actions[:, :, t] = token
        done = done | (token == eos_token_id)
        if bool(done.all()) or t == max_new_tokens - 1:
            break
        position = position + 1
        logits, values = model.decode_next(state, token, position, keys, width + t)
    is_eos = actions == eos_token_id
    n_actions = torch.where(is_eos.any(-1), is_eos.float().argmax(-1) + 1, torch.full_like(done, max_new_tokens,
                                                                                          dtype=torch.long))
    out["action_mask"] = (torch.arange(max_new_tokens)[None, None] < n_actions[..., None]).long()
    out["sequences"] = torch.cat([prompt_ids, actions], dim=-1)
    if not model.has_value_head:
        del out["values"]
    return out


def inverse_cdf_sample(probs: torch.Tensor, uniforms: Sequence[torch.Tensor]) -> torch.Tensor:
    """One draw per row of ``probs`` [S, B, V] from ``uniforms[s]`` [B] in [0, 1): the first v with
    F(v) > u F(V), F the cumulative sum (float64). A token of probability 0 is never drawn: F does not
    rise there, and u F(V) is kept strictly below F(V)."""
    cdf = probs.double().cumsum(-1)
    total = cdf[..., -1:]
    target = torch.minimum(torch.stack(list(uniforms))[..., None] * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target, right=True)[..., 0]


def to_rollout(tokenizer, prompts: Sequence[str], sequences: torch.Tensor, prompt_mask: torch.Tensor,
               action_mask: torch.Tensor, temperature: float) -> Rollout:
    """One seed's sample as a :class:`Rollout` (responses decoded, whitespace normalised)."""
    actions = sequences[:, sequences.shape[1] - action_mask.shape[1]:]
    finished = ((actions == tokenizer.eos_token_id) & (action_mask == 1)).any(dim=1)
    n_tokens = (action_mask.sum(1) - finished.long()).tolist()
    texts = tokenizer.batch_decode([row[:n] for row, n in zip(actions.tolist(), n_tokens)], skip_special_tokens=True)
    attention_mask = torch.cat([prompt_mask.long(), action_mask], dim=1)
    return Rollout(list(prompts), [" ".join(t.split()) for t in texts], sequences,
                   attention_mask, action_mask, n_tokens, finished.tolist(), suppressed_ids(tokenizer),
                   tokenizer.eos_token_id, temperature)


def stacks(policy, peft_config=None) -> bool:
    """Whether ``policy`` runs on the stacked GPT-2 path (:mod:`rewardlab.rl.stacked`); else one seed per model
    through its own forward (:mod:`rewardlab.rl.causal_lm`). The choice depends on the model alone, never on how
    many seeds run, so a seed's numbers do not depend on the seeds it is trained with."""
    return peft_config is None and gpt2_supported(policy)


def as_stack(policy, value_head: bool = False):
    """``policy`` as a stack of one seed for sampling and scoring (no copy on the generic path)."""
    if stacks(policy):
        return StackedGPT2([policy], value_head=value_head).eval()
    return CausalLMPolicy(policy, value_head=value_head, copy_model=False)


def sample_rollout(policy, tokenizer, prompts: Sequence[str], max_new_tokens: int, temperature: float = 1.0) -> Rollout:
    """Sample one response per prompt from a causal LM (the random numbers come from the global torch
    generator, so ``torch.manual_seed`` makes it reproducible)."""
    generator = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
    stacked = as_stack(policy)
    prompt_ids, prompt_mask = encode_prompts(tokenizer, prompts)
    blocked = blocked_actions(stacked.vocab_size, max_new_tokens, suppressed_ids(tokenizer), tokenizer.eos_token_id)
    sample = sample_stacked(stacked, prompt_ids[None], prompt_mask[None], tokenizer.pad_token_id, max_new_tokens,
                            [generator], blocked, tokenizer.eos_token_id, temperature)
    return to_rollout(tokenizer, prompts, sample["sequences"][0], prompt_mask, sample["action_mask"][0], temperature)


def stacked_action_stats(model, sequences: torch.Tensor, attention_mask: torch.Tensor,
                         action_mask: torch.Tensor, blocked: torch.Tensor, temperature: float = 1.0,
                         entropy: bool = True):
    """Log-probs of the actions, V(s_t) before each action (None without a value head) and the entropy of
    the sampling distribution (None with ``entropy=False``), [S, b, A] each, for ``sequences`` [S, b, P + A].
    ``model`` is a :class:`StackedGPT2`, possibly wrapped by ``accelerate`` for data parallelism."""
    width = sequences.shape[-1] - action_mask.shape[-1]
    logits, values = model(sequences, attention_mask, width - 1)  # ``model`` may be wrapped for data parallelism
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = logits.masked_fill(blocked[: action_mask.shape[-1]], float("-inf")).log_softmax(-1)
    logprobs = logp_all.gather(-1, sequences[..., width:, None])[..., 0].masked_fill(action_mask == 0, 0.0)
    if not entropy:
        return logprobs, values, None
    with torch.no_grad():  # logged, never differentiated
        entropy = -(logp_all.exp() * logp_all.clamp(min=torch.finfo(logp_all.dtype).min)).sum(-1)
    return logprobs, values, entropy


def action_stats(policy, rollout: Rollout):
    """(log-probs, None, entropy) [B, A] of ``rollout``'s actions under a causal LM."""
    stacked = as_stack(policy)
    blocked = blocked_actions(stacked.vocab_size, rollout.action_mask.shape[1], rollout.suppressed_ids,
                              rollout.eos_token_id)
    logprobs, _, entropy = stacked_action_stats(stacked, rollout.sequences[None], rollout.attention_mask[None],
                                                rollout.action_mask[None], blocked, rollout.temperature)
    return logprobs[0], None, entropy[0]


def token_reward_tensor(rewards, rollout: Rollout, step: int, name: str) -> torch.Tensor:
    """Place ``reward_fn``'s output on the actions [B, A] (see :mod:`rewardlab.rl.trainer`); validates it."""
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
    """Whether ``reward_fn`` has a parameter named ``tokens`` (then the trainer passes it the tokens)."""
    try:
        parameter = inspect.signature(reward_fn).parameters.get("tokens")
    except (TypeError, ValueError):  # no signature to inspect (some builtins): the two-argument contract
        return False
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)


def response_tokens(rollout: Rollout, tokenizer) -> list[list[str]]:
    """The tokenizer's strings of each response's generated tokens without ``<eos>`` (``rollout.n_tokens`` each)."""
    actions = rollout.sequences[:, rollout.prompt_width:].tolist()
    return [tokenizer.convert_ids_to_tokens(row[:n]) for row, n in zip(actions, rollout.n_tokens)]

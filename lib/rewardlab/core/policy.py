"""The policy: a causal LM supervised-fine-tuned on the world's reviews, sampling and log-probs.

Tiny preset: a small ``GPT2LMHeadModel`` built from the preset's config over the word-level
tokenizer. Paper preset: ``gpt2`` loaded by name (or any local ``save_pretrained`` folder),
then fine-tuned on IMDb reviews the same way.

SFT minimises the next-token cross-entropy over whole reviews,

    L(theta) = -(1/N) sum_{reviews} sum_t log pi_theta(w_t | w_<t),   w = <bos> prompt demo <eos>,

with AdamW, linear warm-up and cosine decay. The loop is written with ``accelerate`` so that
``accelerate launch`` runs it on several GPUs unchanged.
"""

from __future__ import annotations

import json
import math
import random
from typing import Sequence

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
)

from rewardlab.core import artifacts
from rewardlab.core.config import Preset, resolve_device
from rewardlab.core.quiet import quiet_transformers
from rewardlab.core.tokenizer import load_tokenizer
from rewardlab.core.versions import SFT_VERSION
from rewardlab.core.world import build_world, world_fingerprint


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# GPT-2's activation, GELU's tanh approximation, as torch's fused kernel ("gelu_pytorch_tanh") rather than the
# config default "gelu_new", the same formula written as seven elementwise ops (each saved for the backward pass):
# outputs equal to 1e-7, a training step 1.2x faster (benchmarks/bench_rm_step.py; issue 45: the activation was 28% of
# the reward model's forward time in the powered profile); the SFT policy and every reward model use it
FUSED_GELU = {"activation_function": "gelu_pytorch_tanh"}


def build_policy_model(preset: Preset, tokenizer):
    """A fresh tiny GPT-2 (``policy_name`` empty) or the named pretrained causal LM."""
    if preset.sft.base:
        model = AutoModelForCausalLM.from_pretrained(preset.sft.base)
        model.loss_type = "ForCausalLM"
        return model
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=preset.sft.n_positions, n_embd=preset.sft.n_embd,
        n_layer=preset.sft.n_layer, n_head=preset.sft.n_head, resid_pdrop=preset.sft.dropout,
        embd_pdrop=preset.sft.dropout, attn_pdrop=preset.sft.dropout, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        **FUSED_GELU,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the loss transformers would pick anyway, without its warning
    return model


def encode(tokenizer, prompts: Sequence[str], responses: Sequence[str], append_eos: bool = False):
    """Token ids of ``<bos> prompt response [<eos>]`` per pair, and the index where the response starts."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses; pass one prompt per response")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer([" " + r for r in responses], add_special_tokens=False)["input_ids"]
    eos = [tokenizer.eos_token_id] if append_eos else []
    sequences = [bos + p + r + eos for p, r in zip(prompt_ids, response_ids)]
    starts = [len(bos) + len(p) for p in prompt_ids]
    return sequences, starts


def pad_right(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def _lr_lambda(preset: Preset):
    def factor(step: int) -> float:
        if step < preset.sft.warmup_steps:
            return (step + 1) / preset.sft.warmup_steps
        progress = (step - preset.sft.warmup_steps) / max(1, preset.sft.steps - preset.sft.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@torch.no_grad()
def token_loss(model, tokenizer, prompts, responses, batch_size: int = 256) -> float:
    """Mean next-token cross-entropy over whole ``<bos> prompt response <eos>`` sequences."""
    sequences, _ = encode(tokenizer, prompts, responses, append_eos=True)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for start in range(0, len(sequences), batch_size):
        ids, mask = pad_right(sequences[start: start + batch_size], tokenizer.pad_token_id)
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        total += (nll * mask[:, 1:]).sum().item()
        count += mask[:, 1:].sum().item()
    model.train(was_training)
    return total / max(count, 1)


def train_sft(preset: Preset, tokenizer, world, progress: bool = True):
    """Fine-tune a policy on the world's training reviews; returns (model, log).

    ``log`` holds ``step``/``train_loss`` (mean over each evaluation window) and
    ``val_loss`` (on validation reviews) every ``sft_eval_every`` steps.
    """
    set_seed(preset.seed)
    device = resolve_device(preset)
    accelerator = Accelerator(cpu=device == "cpu")
    train = world.splits["train"]
    sequences, _ = encode(tokenizer, train["prompt"], train["demonstration"], append_eos=True)
    loader = torch.utils.data.DataLoader(
        sequences, batch_size=preset.sft.batch_size, shuffle=True, drop_last=True,
        collate_fn=lambda batch: pad_right(batch, tokenizer.pad_token_id),
        generator=torch.Generator().manual_seed(preset.seed),
    )
    model = build_policy_model(preset, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.sft.learning_rate, weight_decay=0.01, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(preset))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    validation = world.splits["validation"]
    log = {"step": [], "train_loss": [], "val_loss": []}
    window: list[float] = []
    batches = iter(loader)
    model.train()
    for step in tqdm(range(1, preset.sft.steps + 1), desc="SFT", disable=not progress):
        try:
            ids, mask = next(batches)
        except StopIteration:
            batches = iter(loader)
            ids, mask = next(batches)
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        window.append(loss.item())
        if step % preset.sft.eval_every == 0 or step == preset.sft.steps:
            log["step"].append(step)
            log["train_loss"].append(float(np.mean(window)))
            log["val_loss"].append(token_loss(model, tokenizer, validation["prompt"],
                                              validation["demonstration"], preset.sampling.eval_batch_size))
            window = []
    model = accelerator.unwrap_model(model).eval()
    return model, log


def load_sft_policy(preset: Preset, world=None, progress: bool = True):
    """The SFT policy of ``preset`` from the artifact cache (trained on first use).

    Returns ``(model, tokenizer, log)`` with the model in eval mode on the preset's device.
    """
    tokenizer = load_tokenizer(preset)
    def build(folder):
        model, log = train_sft(preset, tokenizer, world or build_world(preset), progress=progress)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "sft_log.json").write_text(json.dumps(log))

    config = preset.key("world", "sft", seed=preset.seed, **world_fingerprint(preset))
    path = artifacts.cached(preset, "sft-policy", config, build, version=SFT_VERSION)
    model = AutoModelForCausalLM.from_pretrained(path).to(resolve_device(preset)).eval()
    return model, tokenizer, json.loads((path / "sft_log.json").read_text())


@torch.no_grad()
def generate(model, tokenizer, contexts: Sequence[str], seed: int, temperature: float = 1.0,
             top_k: int = 0, max_new_tokens: int = 48, batch_size: int = 256,
             progress: bool = False) -> tuple[list[str], list[bool]]:
    """Sample one continuation per context with ``transformers``' ``generate``.

    Returns the continuations as text and whether each ended with end-of-sequence (a finished
    response) rather than at ``max_new_tokens``. Reproducible: the same seed, contexts and batch
    size give the same continuations.
    """
    config = GenerationConfig(
        do_sample=True, temperature=temperature, top_k=top_k, max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    device = next(model.parameters()).device
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    encoded = [bos + ids for ids in tokenizer(list(contexts), add_special_tokens=False)["input_ids"]]
    texts: list[str] = []
    finished: list[bool] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in tqdm(range(0, len(encoded), batch_size), desc="sampling", disable=not progress):
            chunk = encoded[start: start + batch_size]
            width = max(len(c) for c in chunk)
            ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(c)) + c for c in chunk], device=device)
            mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in chunk], device=device)
            with quiet_transformers():  # finished rows feed <pad>, which trips a padding warning
                out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
            new_tokens = out[:, width:]
            texts += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            finished += (new_tokens == tokenizer.eos_token_id).any(dim=1).tolist()
    return [" ".join(t.split()) for t in texts], finished


def sample(model, tokenizer, prompts: Sequence[str], seed: int, **generation) -> list[str]:
    """One sampled response per prompt, as text (see :func:`generate` for the options)."""
    return generate(model, tokenizer, prompts, seed, **generation)[0]


def sample_n(model, tokenizer, prompts: Sequence[str], n: int, seed: int, **generation) -> list[list[str]]:
    """``n`` independent responses per prompt: a list per prompt."""
    texts = sample(model, tokenizer, [p for p in prompts for _ in range(n)], seed, **generation)
    return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]


def response_logprobs(model, tokenizer, prompts: Sequence[str], responses: Sequence[str],
                      batch_size: int = 256, append_eos: bool = False, grad: bool = False):
    """Per-token log pi(y_t | x, y_<t) of each response, right-padded: ``(logprobs, mask)`` [N, T].

    ``append_eos`` includes the end-of-sequence token in the response (a finished response).
    With ``grad=False`` the result is detached and on the CPU.
    """
    sequences, starts = encode(tokenizer, prompts, responses, append_eos=append_eos)
    device = next(model.parameters()).device
    width = max([len(s) - st for s, st in zip(sequences, starts)] + [1])
    out_logprobs = torch.zeros(len(sequences), width)
    out_mask = torch.zeros(len(sequences), width)
    chunks = []
    with torch.set_grad_enabled(grad):
        for begin in range(0, len(sequences), batch_size):
            ids, mask = pad_right(sequences[begin: begin + batch_size], tokenizer.pad_token_id)
            ids, mask = ids.to(device), mask.to(device)
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
            token_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            rows = []
            for row in range(ids.shape[0]):
                st, length = starts[begin + row], len(sequences[begin + row])
                values = token_logprobs[row, st - 1: length - 1]
                rows.append(torch.nn.functional.pad(values, (0, width - values.shape[0])))
                out_mask[begin + row, : length - st] = 1
            chunks.append(torch.stack(rows))
    logprobs = torch.cat(chunks)
    if grad:
        return logprobs, out_mask.to(device)
    out_logprobs[:] = logprobs.detach().cpu()
    return out_logprobs, out_mask

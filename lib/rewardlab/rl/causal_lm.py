"""Any Hugging Face causal LM as a stack of one seed: the PPO trainer's path for every architecture.

:class:`rewardlab.rl.stacked.StackedGPT2` runs several seeds of GPT-2 in one pass by writing GPT-2's
forward out by hand. Every other architecture (Llama, Qwen2, GPT-NeoX/Pythia, OPT, SmolLM, ...) runs
here, one seed per model, through the model's own forward with its own KV cache
(``cache``, or ``past_key_values`` before transformers 5.25). :class:`CausalLMPolicy` offers the interface the trainer and the sampler use
(``forward``, ``decode_start``/``decode_next``, ``per_seed``, ``export``), so one training loop serves
both paths. A generic stack with ``torch.func`` (``stack_module_state`` + ``functional_call`` under
``vmap``) does not run PPO's forward: with a padding mask (prompts are left-padded) HF's Llama and
GPT-2 forwards both stop ``vmap`` with data-dependent control flow
(``benchmarks/probe_torch_func_stack.py``), which is why :mod:`rewardlab.rl.stacked` writes GPT-2 out by hand.

Value head. A linear map, initialised at 0, on the hidden state that enters the LM head (captured by a
forward pre-hook on ``get_output_embeddings()``), so it works for any hidden size and for models whose
last hidden state is projected before the head (OPT's ``project_out``).

LoRA. With a ``peft_config`` the policy is ``peft.get_peft_model(copy, peft_config)``: only the
adapters (and the value head) train, and the frozen KL reference is the same model with its adapters
disabled (:meth:`CausalLMPolicy.reference`), as TRL's PPO did, so no second copy is held.
The trained result is a ``PeftModel``: ``save_pretrained`` writes the adapters, and
``PeftModel.from_pretrained(base, path)`` loads them back.

Dropout is off throughout (the models stay in eval mode): the old and new log-probs of PPO's ratio
come from the same network.
"""

from __future__ import annotations

import contextlib
import copy
import inspect

import torch


def check_causal_lm(model) -> None:
    """Refuse, by name, a model the trainer cannot sample from or score."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or not hasattr(model, "config"):
        raise TypeError(f"PPO needs a causal language model with its LM head (AutoModelForCausalLM.from_pretrained"
                        f"(...)); got {type(model).__name__}, which has no output embeddings")


def check_tokenizer(tokenizer) -> None:
    """Refuse a tokenizer without the tokens a rollout needs, saying how to set them."""
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos token, so no response can end; set one "
                         "(tokenizer.eos_token = ...) to the token the model was trained to stop with")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token, which rollouts need to pad prompts and finished "
                         "responses; set one, for example tokenizer.pad_token = tokenizer.eos_token")


class CausalLMPolicy(torch.nn.Module):
    """One causal LM (a copy of ``model``, float32, eval mode), with a value head when ``value_head``, as a
    stack of one seed. ``peft_config``: train LoRA adapters instead of the weights (needs ``peft``)."""

    seeds = 1

    def __init__(self, model, value_head: bool = False, peft_config=None, copy_model: bool = True):
        super().__init__()
        check_causal_lm(model)
        lm = (copy.deepcopy(model).float() if copy_model else model).eval()  # no copy: the caller's dtype is kept
        if peft_config is not None:
            from peft import get_peft_model

            lm = get_peft_model(lm, peft_config).eval()
        self.lm, self.config, self.has_value_head = lm, lm.config, value_head
        forward = inspect.signature(lm.get_base_model().forward if hasattr(lm, "get_base_model") else lm.forward)
        # transformers >= 5.25 names the KV cache `cache` (`past_key_values` is deprecated); older versions the latter
        self._cache_argument = "cache" if "cache" in forward.parameters else "past_key_values"
        if self._cache_argument not in forward.parameters:
            raise TypeError(f"{type(model).__name__}.forward takes no KV cache (`cache` or `past_key_values`); PPO "
                            "samples through the model's own cache")
        head = lm.get_output_embeddings()
        self.vocab_size = head.weight.shape[0]
        self._head_input = None
        self._hook = None
        if value_head:
            self.value = torch.nn.Linear(head.weight.shape[1], 1)
            torch.nn.init.zeros_(self.value.weight)
            torch.nn.init.zeros_(self.value.bias)
            self._hook = head.register_forward_pre_hook(self._keep_head_input)

    def _keep_head_input(self, module, args):
        self._head_input = args[0]

    @property
    def per_seed(self) -> tuple:
        """The seeds' parameter groups (gradient clipping runs per seed): the one model."""
        return (self,)

    @property
    def is_peft(self) -> bool:
        return hasattr(self.lm, "disable_adapter")

    def reference(self, model) -> "CausalLMPolicy | AdaptersOff":
        """The frozen KL reference: this model with its adapters disabled under LoRA, else a frozen copy of
        ``model`` (the policy before training)."""
        if self.is_peft:
            return AdaptersOff(self)
        return CausalLMPolicy(model).requires_grad_(False)

    def _run(self, ids, mask, positions, cache=None):
        caching = {self._cache_argument: cache} if cache is not None else {}
        out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=cache is not None,
                      **caching)
        values = self.value(self._head_input).squeeze(-1) if self.has_value_head else None
        self._head_input = None
        return out, values

    def forward(self, sequences: torch.Tensor, attention_mask: torch.Tensor, first: int):
        """Logits [1, B, T', V] and values [1, B, T'] (None without a value head) at positions ``first`` .. T - 2
        of ``sequences`` [1, B, T]: the predictions of tokens first + 1 .. T - 1 (as ``StackedGPT2.forward``)."""
        positions = (attention_mask[0].cumsum(-1) - 1).clamp(min=0)
        out, values = self._run(sequences[0], attention_mask[0], positions)
        logits = out.logits[:, first:-1][None]
        return logits, values[:, first:-1][None] if values is not None else None

    def decode_start(self, prompt_ids: torch.Tensor, positions: torch.Tensor, keys: torch.Tensor, total: int):
        """Run the prompts [1, B, P] into a fresh KV cache: (cache, logits [1, B, V], values [1, B] or None) of
        the last prompt token. ``keys`` [1, B, K] marks the real tokens (left padding is 0)."""
        from transformers import DynamicCache

        cache = DynamicCache()
        width = prompt_ids.shape[-1]
        out, values = self._run(prompt_ids[0], keys[0, :, :width].long(), positions[0], cache)
        return cache, *self._last(out, values)  # the model fills the cache in place

    def decode_next(self, cache, token: torch.Tensor, position: torch.Tensor, keys: torch.Tensor, start: int):
        """One sampled token [1, B] at ``position`` [1, B, 1] (the sequence's index ``start``) through the cache."""
        out, values = self._run(token[0][:, None], keys[0, :, :start + 1].long(), position[0], cache)
        return self._last(out, values)

    @staticmethod
    def _last(out, values):
        return out.logits[None, :, -1], values[None, :, -1] if values is not None else None

    def export(self, seed: int = 0):
        """The trained LM (a ``PeftModel`` under LoRA), value head dropped, eval mode, no gradients."""
        if seed != 0:
            raise IndexError(f"a CausalLMPolicy holds one seed; got seed index {seed}")
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        return self.lm.eval().requires_grad_(False)


class AdaptersOff:
    """A LoRA policy seen with its adapters disabled: the frozen reference, sharing the base weights."""

    has_value_head = False
    seeds = 1

    def __init__(self, policy: CausalLMPolicy):
        self.policy = policy

    @contextlib.contextmanager
    def _off(self):
        value_head, self.policy.has_value_head = self.policy.has_value_head, False
        try:
            with self.policy.lm.disable_adapter(), torch.no_grad():
                yield
        finally:
            self.policy.has_value_head = value_head

    def __call__(self, sequences, attention_mask, first):
        with self._off():
            return self.policy(sequences, attention_mask, first)

    def decode_start(self, *args):
        with self._off():
            return self.policy.decode_start(*args)

    def decode_next(self, *args):
        with self._off():
            return self.policy.decode_next(*args)

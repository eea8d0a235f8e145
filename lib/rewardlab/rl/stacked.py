"""GPT-2 over a stack of seeds: S policies of one architecture, each with its own weights, in one pass.

Why by hand: PPO on the tiny preset spends its time on many small matrix products (a 2-layer,
128-wide model, 64 responses of 20 tokens), so the per-call overhead of a Hugging Face forward
and of ``generate`` costs as much as the arithmetic. Stacking the S seeds of one configuration
along a leading dimension runs attention, activations and softmaxes once for all S seeds, and
the sampling loop once per token for all of them, so most of the overhead is paid once for S runs. ``torch.func`` (``vmap`` over
``functional_call``) would do the same for any module, but HF's GPT-2 builds its attention masks
with data-dependent Python control flow that ``vmap`` cannot trace, and ``generate`` has no
stacked form; the GPT-2 block is 40 lines, written out below.

Every seed's numbers are those it would get alone (S = 1): each product, softmax, layer norm and
reduction touches one seed's slice the way it would touch the unstacked tensor, shapes never
depend on the other seeds (the prompt and response widths are fixed per run) and every seed
draws its own random numbers. ``tests/test_stacked.py`` checks this bit for bit, and that the
forward matches ``GPT2LMHeadModel`` (to float rounding: a different order of products).

The model is GPT-2 (Radford et al. 2019) as ``transformers`` implements it, pre-LN blocks

    h <- h + Attn(LN_1(h)),  h <- h + MLP(LN_2(h)),  logits = LN_f(h) W_te^T   (tied embeddings),

with ``Conv1D`` weights stored [in, out], attention scaled by 1/sqrt(d_head) and left padding
masked out of the keys; position ids count real tokens only (``cumsum(mask) - 1``).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Sequence

import torch
import torch.nn.functional as F
from transformers.activations import ACT2FN

_LAYER_KEYS = ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
               "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
               "mlp.c_proj.weight", "mlp.c_proj.bias")


def gpt2_supported(model) -> bool:
    """Whether :class:`StackedGPT2` reproduces ``model`` (a GPT-2 with the standard attention scaling)."""
    try:
        check_gpt2(model)
    except (TypeError, ValueError):
        return False
    return True


def check_gpt2(model) -> None:
    """Refuse, by name, a policy this stacked forward does not reproduce."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "gpt2" or not hasattr(model, "transformer"):
        raise TypeError(f"PPO's stacked trainer runs GPT-2-architecture policies (GPT2LMHeadModel); got "
                        f"{type(model).__name__}. Load a GPT-2 checkpoint (the tiny and paper presets both are)")
    if config.scale_attn_by_inverse_layer_idx or config.reorder_and_upcast_attn or not config.scale_attn_weights:
        raise ValueError("PPO's stacked GPT-2 supports the standard attention scaling only; set "
                         "scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False")


class StackedGPT2(torch.nn.Module):
    """S GPT-2 LMs with identical configs as one module. Each seed keeps its own parameter tensors
    (``per_seed[s]``, HF's state-dict names with dots as ``__``), so an optimiser treats seed s's tensors
    exactly as it would treat a lone model's; :meth:`weights` stacks them to [S, ...] for a pass.
    ``value_head=True`` adds a linear value head per seed on the last hidden state, initialised at 0
    (Ziegler et al. 2019: one trunk for policy and value)."""

    def __init__(self, models: Sequence, value_head: bool = False):
        super().__init__()
        for model in models:
            check_gpt2(model)
        config = models[0].config
        self.config = config
        self._template = (models[0],)  # a tuple: not a submodule (its weights are not this module's parameters)
        self.n_layer, self.n_head = config.n_layer, config.n_head
        self.eps = config.layer_norm_epsilon
        # gelu_new is GELU's tanh approximation: torch's fused kernel instead of HF's seven elementwise ops
        self.act = (partial(F.gelu, approximate="tanh") if config.activation_function in ("gelu_new", "gelu_pytorch_tanh")
                    else ACT2FN[config.activation_function])
        names = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
                 "transformer.ln_f.bias", *(f"transformer.h.{i}.{k}" for i in range(self.n_layer) for k in _LAYER_KEYS)]
        self.per_seed = torch.nn.ModuleList()
        for model in models:
            state = model.state_dict()
            weights = {n.replace(".", "__"): torch.nn.Parameter(state[n].detach().float().clone()) for n in names}
            if value_head:
                weights["value__weight"] = torch.nn.Parameter(torch.zeros(config.n_embd))
                weights["value__bias"] = torch.nn.Parameter(torch.zeros(()))
            self.per_seed.append(torch.nn.ParameterDict(weights))
        self.has_value_head, self.broadcast = value_head, None

    @property
    def seeds(self) -> int:
        return self.broadcast or len(self.per_seed)

    def broadcast_to(self, seeds: int) -> "StackedGPT2":
        """Serve one model's weights to a stack of ``seeds`` (a view, no copy): the shared KL reference."""
        if len(self.per_seed) != 1:
            raise ValueError("broadcast_to needs a stack of one model")
        self.broadcast = seeds
        return self

    def weights(self) -> dict[str, list[torch.Tensor]]:
        """Every weight as a list over the seeds (one model's, repeated, under :meth:`broadcast_to`)."""
        if self.broadcast:
            return {k: [v] * self.broadcast for k, v in self.per_seed[0].items()}
        return {k: [seed[k] for seed in self.per_seed] for k in self.per_seed[0].keys()}

    def export(self, seed: int):
        """Seed ``seed``'s weights as a ``GPT2LMHeadModel`` (a copy of the template), eval mode, no gradients."""
        model = copy.deepcopy(self._template[0])
        state = {k.replace("__", "."): v.detach().clone() for k, v in self.per_seed[seed].items()
                 if not k.startswith("value__")}
        state["lm_head.weight"] = state["transformer.wte.weight"]
        model.load_state_dict(state, strict=False)
        return model.eval().requires_grad_(False)

    # ------------------------------------------------------------------ the forward pass

    # Every op that touches a weight runs seed by seed: its gradient (a bias's sum over rows, a layer
    # norm's scale, an embedding's scatter-add) is then reduced over exactly the rows it would be reduced
    # over alone, in the same order. Batched reductions over [S, N, d] are not: torch picks their order
    # from the whole tensor's size, and a seed's numbers would depend on how many seeds share the stack.
    # The weight-free ops (attention, activations, softmax) run on the whole stack at once.

    @staticmethod
    def _linear(w: dict, x: torch.Tensor, name: str) -> torch.Tensor:
        """x [S, N, in] @ W [S, in, out] + b, seed s with weights s."""
        weight, bias = w[name + "__weight"], w[name + "__bias"]
        return torch.stack([torch.addmm(b, xs, m) for xs, m, b in zip(x.unbind(0), weight, bias)])

    def _norm(self, w: dict, x: torch.Tensor, name: str) -> torch.Tensor:
        weight, bias = w[name + "__weight"], w[name + "__bias"]
        return torch.stack([F.layer_norm(xs, x.shape[-1:], m, b, self.eps) for xs, m, b in zip(x.unbind(0), weight, bias)])

    @staticmethod
    def _embed(w: dict, name: str, index: torch.Tensor) -> torch.Tensor:
        """Rows ``index`` [S, B, T] of each seed's table [rows, d]."""
        return torch.stack([F.embedding(i, table) for i, table in zip(index.unbind(0), w[name])])

    def hidden(self, w: dict[str, list], ids: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor,
               cache: list | None = None, start: int = 0) -> torch.Tensor:
        """Last hidden states [S, B, T, d] of tokens ``ids`` [S, B, T] at ``positions``, with weights ``w``
        (:meth:`weights`).

        ``key_mask`` [S, B, K] is True on the keys a token may attend to (K = start + T); causality is
        added here. With ``cache`` (a list of per-layer [K, V] buffers of width >= K, from
        :meth:`new_cache`), the tokens are positions start .. start+T-1 of the sequence and their keys
        and values are written into the cache, so earlier tokens are not recomputed.
        """
        seeds, batch, width = ids.shape
        heads, keys = self.n_head, start + width
        x = self._embed(w, "transformer__wte__weight", ids) + self._embed(w, "transformer__wpe__weight", positions)
        causal = torch.ones(width, keys, dtype=torch.bool, device=ids.device).tril(start)
        allowed = (key_mask[:, :, None, :keys] & causal).view(seeds * batch, 1, width, keys)
        # a query whose keys are all masked (a left-pad position) may see itself: no row of -inf only
        allowed = allowed.clone()
        allowed[..., torch.arange(width), start + torch.arange(width)] = True
        for i in range(self.n_layer):
            layer = f"transformer__h__{i}__"
            h = self._norm(w, x, layer + "ln_1").view(seeds, batch * width, -1)
            q, k, v = self._linear(w, h, layer + "attn__c_attn").view(seeds * batch, width, 3, heads, -1).unbind(2)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [S*B, H, T, d_head]
            if cache is not None:
                cache[i][0][:, :, start:keys] = k
                cache[i][1][:, :, start:keys] = v
                k, v = cache[i][0][:, :, :keys], cache[i][1][:, :, :keys]
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # softmax(q k^T / sqrt(d)) v
            attended = attended.transpose(1, 2).reshape(seeds, batch * width, -1)
            x = x + self._linear(w, attended, layer + "attn__c_proj").view(seeds, batch, width, -1)
            h = self._norm(w, x, layer + "ln_2").view(seeds, batch * width, -1)
            h = self._linear(w, self.act(self._linear(w, h, layer + "mlp__c_fc")), layer + "mlp__c_proj")
            x = x + h.view(seeds, batch, width, -1)
        return self._norm(w, x, "transformer__ln_f")

    def forward(self, sequences: torch.Tensor, attention_mask: torch.Tensor, first: int):
        """Logits [S, B, T', V] and values [S, B, T'] (None without a value head) at positions ``first`` .. T - 2
        of ``sequences`` [S, B, T]: the predictions of tokens first + 1 .. T - 1. (``forward``, so that a
        ``DistributedDataParallel`` wrapper sees the pass and averages the gradients.)"""
        w = self.weights()
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self.hidden(w, sequences, positions, attention_mask.bool())[:, :, first:-1]
        return self.logits(w, hidden), self.values(w, hidden) if self.has_value_head else None

    @staticmethod
    def logits(w: dict, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [S, B, T, d] -> logits [S, B, T, V] with the tied embedding."""
        return torch.stack([h @ table.T for h, table in zip(hidden.unbind(0), w["transformer__wte__weight"])])

    @staticmethod
    def values(w: dict, hidden: torch.Tensor) -> torch.Tensor:
        """V(s_t) [S, B, T] from the value head (requires ``value_head=True``)."""
        return torch.stack([h @ m + b for h, m, b in zip(hidden.unbind(0), w["value__weight"], w["value__bias"])])

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def decode_start(self, prompt_ids: torch.Tensor, positions: torch.Tensor, keys: torch.Tensor, total: int):
        """Run the prompts [S, B, P] into a fresh KV cache of ``total`` positions: (state, logits [S, B, V], values
        [S, B] or None) of the last prompt token; ``keys`` [S, B, K] marks the real tokens."""
        seeds, batch, _ = prompt_ids.shape
        w, cache = self.weights(), self.new_cache(seeds * batch, total)
        hidden = self.hidden(w, prompt_ids, positions, keys, cache)[:, :, -1:]
        return (w, cache), *self._next_token(w, hidden)

    def decode_next(self, state, token: torch.Tensor, position: torch.Tensor, keys: torch.Tensor, start: int):
        """One sampled token [S, B] at ``position`` [S, B, 1] (the sequence's index ``start``) through the cache."""
        w, cache = state
        return self._next_token(w, self.hidden(w, token[:, :, None], position, keys, cache, start=start))

    def _next_token(self, w: dict, hidden: torch.Tensor):
        return self.logits(w, hidden)[:, :, 0], self.values(w, hidden)[:, :, 0] if self.has_value_head else None

    def new_cache(self, rows: int, width: int) -> list:
        """Empty key/value buffers for ``rows`` = S * B sequences of up to ``width`` tokens."""
        d_head = self.config.n_embd // self.n_head
        like = self.per_seed[0]["transformer__wte__weight"]
        return [[like.new_zeros(rows, self.n_head, width, d_head), like.new_zeros(rows, self.n_head, width, d_head)]
                for _ in range(self.n_layer)]

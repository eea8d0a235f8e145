"""The masked reward over token ids, and the types every attribution estimator shares.

f(z) = R(x, y_z): the reward model's score of the prompt and the response tokens a coalition z keeps
(the others deleted, or replaced by ``mask_token_id``), evaluated on token ids and batched through the
reward model (:class:`MaskedReward`, which counts every sequence it scores). :mod:`rewardlab.shaping.attribution`
(SHAP, LIME, attention through the packages) and :mod:`rewardlab.shaping.estimators` (the batched Shapley
estimators of PPO's loop) both build on this module; neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from rewardlab.core.policy import pad_right
from rewardlab.reward.batching import batches_by_length
from rewardlab.reward.models import encode_for_reward, reward_text
from rewardlab.rl.stacked import StackedGPT2


@dataclass
class Example:
    """One (prompt, response) pair as the reward model reads it."""

    prompt_ids: list[int]
    response_ids: list[int]
    tokens: list[str]  # the response tokens, as the tokenizer spells them
    word_index: np.ndarray  # for each response token, the whitespace word of the response it lies in
    n_words: int


@dataclass
class TokenAttribution:
    """One method's credit for the tokens of one response."""

    method: str
    tokens: list[str]
    scores: np.ndarray  # SHAP values phi_t, LIME coefficients beta_t, or attention weights a_t
    token_rewards: np.ndarray  # sums to ``reward`` (see the module doc for the convention)
    reward: float  # R(x, y)
    rm_evals: int  # sequences the reward model scored for this response
    seconds: float
    info: dict = field(default_factory=dict)
    word_index: np.ndarray | None = None  # response token -> whitespace word (set by ``attribute``)
    n_words: int = 0

    def per_word(self, values: np.ndarray | None = None) -> np.ndarray:
        """``values`` (default: the token rewards) summed per whitespace word of the response."""
        values = self.token_rewards if values is None else values
        if self.word_index is None:
            return np.asarray(values, dtype=float)
        return np.bincount(self.word_index, weights=np.asarray(values, dtype=float), minlength=self.n_words)


def context_length(model) -> int:
    config = model.config
    return int(getattr(config, "n_positions", None) or config.max_position_embeddings)


def encode_examples(model, tokenizer, prompts: Sequence[str], responses: Sequence[str]) -> list[Example]:
    """Token ids of every pair, the response span, and each token's word; validates the input. ``model``
    gives the context length a pair must fit (None: no limit, for a judge that reads text)."""
    if isinstance(responses, str) or isinstance(prompts, str):
        raise TypeError("pass lists of prompts and responses; wrap a single string in a list")
    ids = encode_for_reward(tokenizer, prompts, responses)  # raises on empty responses / length mismatch
    limit = context_length(model) if model is not None else float("inf")
    examples = []
    for i, (prompt, response, row) in enumerate(zip(prompts, responses, ids)):
        if len(row) > limit:
            raise ValueError(
                f"response {i} gives {len(row)} tokens with its prompt and <eos>, more than the reward model's "
                f"context of {limit}; shorten the response by {len(row) - limit} token(s)")
        text = reward_text(prompt, response)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        start = len(prompt)
        n_prompt = sum(1 for s, _ in encoded["offset_mapping"] if s < start)
        word_starts = [j for j, ch in enumerate(text) if j >= start and not ch.isspace()
                       and (j == 0 or text[j - 1].isspace())]
        offsets = [s for s, _ in encoded["offset_mapping"][n_prompt:]]
        word_index = np.searchsorted(word_starts, [max(s, start) for s in offsets], side="right") - 1
        response_ids = row[n_prompt:-1]
        examples.append(Example(row[:n_prompt], response_ids, tokenizer.convert_ids_to_tokens(response_ids),
                                np.clip(word_index, 0, None), len(word_starts)))
    return examples


class MaskedReward:
    """f(z) = R(x, y_z) on token ids, batched by length; counts the sequences it scores."""

    def __init__(self, model, tokenizer, mask_token_id: int | None = None, batch_size: int = 512):
        self.model, self.batch_size, self.mask_token_id = model, batch_size, mask_token_id
        self.pad_id, self.eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
        self.device = next(model.parameters()).device
        self.evals, self._stacked = 0, None

    def sequences(self, example: Example, keep: np.ndarray) -> list[list[int]]:
        """Input ids for each row of the boolean matrix ``keep`` [M, T]."""
        response = np.asarray(example.response_ids)
        rows = []
        for mask in np.atleast_2d(keep).astype(bool):
            kept = response[mask] if self.mask_token_id is None else np.where(mask, response, self.mask_token_id)
            rows.append(example.prompt_ids + kept.tolist() + [self.eos_id])
        return rows

    @torch.no_grad()
    def forward(self, sequences: list[list[int]], **model_kwargs):
        """Yield (row indices, model output) per length-sorted batch; counts the sequences scored."""
        was_training = self.model.training
        self.model.eval()
        try:
            for rows in batches_by_length(sequences, self.batch_size):
                input_ids, mask = pad_right([sequences[i] for i in rows], self.pad_id)
                yield rows, self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                       use_cache=False, **model_kwargs)
        finally:
            self.model.train(was_training)
        self.evals += len(sequences)

    @torch.no_grad()
    def __call__(self, sequences: list[list[int]]) -> np.ndarray:
        if not is_gpt2_scorer(self.model):
            out = np.zeros(len(sequences))
            for rows, output in self.forward(sequences):
                out[rows] = output.logits[:, 0].float().cpu().numpy()
            return out
        # a GPT-2 reward model: rewardlab's GPT-2 pass (rl.stacked), the same function as HF's to float rounding
        # and about 1.5x faster on the tiny model (no per-call overhead of transformers' masks, fused GELU)
        if self._stacked is None:  # one copy of the weights per MaskedReward (it lives for one attribute call)
            self._stacked = StackedGPT2([self.model])
        stacked = self._stacked
        w, head = stacked.weights(), self.model.score.weight[0].float()
        out = np.zeros(len(sequences))
        for rows in batches_by_length(sequences, self.batch_size):
            ids, mask = pad_right([sequences[i] for i in rows], self.pad_id)
            ids, mask = ids.to(self.device), mask.to(self.device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            hidden = stacked.hidden(w, ids[None], positions[None], mask[None].bool())[0]
            # read where HF's GPT2ForSequenceClassification reads: the last token that is not the pad id
            last = (torch.arange(ids.shape[1], device=ids.device) * (ids != self.pad_id)).argmax(-1)
            out[rows] = (hidden[torch.arange(len(rows)), last] @ head).cpu().numpy()
        self.evals += len(sequences)
        return out


def is_gpt2_scorer(model) -> bool:
    """A ``GPT2ForSequenceClassification`` with one output: :class:`MaskedReward` scores it with rewardlab's pass."""
    return (getattr(getattr(model, "config", None), "model_type", None) == "gpt2" and hasattr(model, "score")
            and getattr(model.score, "out_features", 0) == 1)


def complete_to_reward(scores: np.ndarray, reward: float) -> np.ndarray:
    """r_t = s_t + (R - sum_u s_u) / T: signed additive scores completed so that sum_t r_t = R."""
    scores = np.asarray(scores, dtype=float)
    return scores + (reward - scores.sum()) / len(scores)

"""The policy's tokenizer: word-level for the review world (one token = one word, so credit lines up
with VADER's words), the pretrained model's own for the ``paper`` preset; cached as an artifact."""

from __future__ import annotations

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from rewardlab.core import artifacts
from rewardlab.core.config import Preset
from rewardlab.core.vocabulary import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, generator_vocabulary
from rewardlab.core.world import world_fingerprint


def build_tokenizer(preset: Preset):
    """A word-level ``PreTrainedTokenizerFast``: one token per word, so credit lines up with words.

    For the ``paper`` preset the policy's own tokenizer is loaded instead (pad = eos).
    """
    if preset.sft.base:
        tokenizer = AutoTokenizer.from_pretrained(preset.sft.base)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + generator_vocabulary(preset))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
        model_max_length=preset.sft.n_positions,
    )


def load_tokenizer(preset: Preset):
    """The preset's tokenizer from the artifact cache (built and saved on first use)."""
    path = artifacts.cached(preset, "tokenizer", preset.key("world", "sft", **world_fingerprint(preset)),
                            lambda out: build_tokenizer(preset).save_pretrained(out))
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer

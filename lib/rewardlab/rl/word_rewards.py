"""A reward model with another tokenizer: word scores placed on the policy's own tokens.

The trainer's reward contract asks for one reward per token the policy generated
(:mod:`rewardlab.rl.trainer`); a reward model that reads words, or another model's subwords, scores
units that are not the policy's tokens. Re-tokenising the response text with the policy's tokenizer
does not recover them either (a byte-level BPE may merge ``"Ġbl" "ue"`` into ``"Ġblue"``). With the
``tokens`` parameter, the reward function gets the strings of the tokens actually generated, and
:func:`word_rewards_on_tokens` pays each word's score on the last of those tokens that writes part of
that word (the word is known once it ends; a token of whitespace alone writes no word):

    r_k = sum_j  s_j [k = last token writing word j],   words = the response text split on whitespace.

TRL's trainers take one scalar per response and its maintainers declined per-token rewards from a
reward model with another tokenizer; this mapping is what such a reward needs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def word_rewards_on_tokens(tokens: Sequence[str], word_rewards: Sequence[float], tokenizer) -> np.ndarray:
    """Per-token rewards [len(tokens)] paying ``word_rewards[j]`` on the last token that writes word j of the text
    the tokens spell (``tokenizer.convert_tokens_to_string``, split on whitespace)."""
    last: dict[int, int] = {}
    for k, token in enumerate(tokens):
        if not tokenizer.convert_tokens_to_string([token]).strip():
            continue  # whitespace only: writes no word
        last[len(tokenizer.convert_tokens_to_string(list(tokens[: k + 1])).split()) - 1] = k
    if len(last) != len(word_rewards):
        text = tokenizer.convert_tokens_to_string(list(tokens))
        raise ValueError(f"{len(word_rewards)} word rewards for a response of {len(last)} words ({text!r}); score the "
                         "words of the text the tokens spell, split on whitespace")
    rewards = np.zeros(len(tokens))
    for word, k in last.items():
        rewards[k] += word_rewards[word]
    return rewards

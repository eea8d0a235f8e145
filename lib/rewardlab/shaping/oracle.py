"""Oracle shaping: PPO on the gold reward itself, with token credit of known quality (notebook 07).

The review world can answer a question no paper could: how good must token credit be for dense
shaping to pay? Its gold judge's score R(y) (the reader's, or VADER's) comes with exact word credit c_i
that sums to R (``judge.word_credit``: :mod:`rewardlab.core.reader`, :mod:`rewardlab.core.vader`). With R itself as the reward, the
credit is the only thing that differs between arms:

* ``sparse``: R paid on the final action (the trainer's convention for a scalar);
* ``gold``: word i's credit c_i split evenly over its tokens, r_t = c_{w(t)} / n_{w(t)};
* ``shap``: the first-and-last-position SHAP estimate of the game v(S) = R(y_S), tokens outside S
  deleted (:func:`rewardlab.shaping.estimators.first_last_shap`): what an explainer recovers when
  the reward is right;
* ``noisy``: c_i + sigma s eps_i per word, eps_i ~ N(0, 1) from the run's own generator, s a fixed
  credit scale (the root mean square of c over SFT responses, say); sigma = inf is pure noise,
  s eps_i. Every dense credit is then completed to sum R: r_t += (R - sum_u r_u) / T.

So the gold and noisy arms form a dose ladder: their faithfulness (Spearman of the per-word credit
with c, :func:`rewardlab.shaping.faithfulness.credit_spearman`) falls from 1 (gold) to 0 (pure noise)
while the total paid per response stays R. Written here because no library pays PPO token credit
from a judge's own decomposition.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from rewardlab.shaping import estimators
from rewardlab.shaping.masking import Example, TokenAttribution, complete_to_reward, encode_examples

CREDITS = ("sparse", "gold", "shap", "noisy")


class JudgeGame:
    """v(z) = R(y_z): the gold judge on the response with the tokens outside z deleted, the masker
    :class:`rewardlab.shaping.masking.MaskedReward` uses with ``mask_token_id=None``."""

    def __init__(self, judge: Callable, tokenizer):
        self.judge, self.tokenizer, self.evals = judge, tokenizer, 0

    def sequences(self, example: Example, keep: np.ndarray) -> list[list[int]]:
        ids = np.asarray(example.response_ids)
        return [ids[row].tolist() for row in np.atleast_2d(np.asarray(keep, dtype=bool))]

    def __call__(self, sequences: list[list[int]]) -> np.ndarray:
        texts = [" ".join(t.split()) for t in self.tokenizer.batch_decode(sequences, skip_special_tokens=True)]
        self.evals += len(sequences)
        return np.asarray(self.judge(texts), dtype=float)


def token_credit(example: Example, per_word: np.ndarray) -> np.ndarray:
    """Per-word values spread over the response tokens: each word's value split evenly over its tokens."""
    counts = np.bincount(example.word_index, minlength=example.n_words)
    return np.asarray(per_word, dtype=float)[example.word_index] / counts[example.word_index]


def oracle_credit(credit: str, judge: Callable, tokenizer, prompts: Sequence[str], responses: Sequence[str], *,
                  noise: float = 0.0, scale: float = 1.0, rng: np.random.Generator | None = None
                  ) -> list[TokenAttribution]:
    """Token credit of the gold reward for every response (see the module doc), as attributions whose
    ``token_rewards`` sum to R and whose ``per_word()`` is the credit per word."""
    if credit not in CREDITS or credit == "sparse":
        raise ValueError(f"unknown oracle credit {credit!r}; choose one of {', '.join(CREDITS[1:])} "
                         "(sparse needs no credit: pay the judge's score)")
    if credit == "noisy" and (not noise > 0 or rng is None or not scale > 0):
        raise ValueError(f"noisy credit needs noise > 0 (inf: pure noise), scale > 0 and an rng; got noise={noise}, "
                         f"scale={scale}, rng={rng}")
    examples = encode_examples(None, tokenizer, prompts, responses)
    if credit == "shap":
        results = estimators.first_last_shap(JudgeGame(judge, tokenizer), examples)
        for result, example in zip(results, examples):
            result.word_index, result.n_words = example.word_index, example.n_words
        return results
    rewards = np.asarray(judge(list(responses)), dtype=float)
    out = []
    for example, response, reward in zip(examples, responses, rewards):
        words = judge.word_credit(response)
        if len(words) != example.n_words:
            raise ValueError(f"response {response!r}: {len(words)} credited words but {example.n_words} words in its "
                             "tokens; the judge and the tokenizer must split words alike")
        if credit == "noisy":
            draws = rng.standard_normal(len(words)) * scale
            words = draws if np.isinf(noise) else words + noise * draws
        scores = token_credit(example, words)
        out.append(TokenAttribution(f"oracle-{credit}", example.tokens, scores, complete_to_reward(scores, reward),
                                    float(reward), 0, 0.0, {"noise": noise}, example.word_index, example.n_words))
    return out


def oracle_reward_fn(credit: str, judge: Callable, tokenizer, *, noise: float = 0.0, scale: float = 1.0,
                     seed: int = 0) -> Callable:
    """``reward_fn(prompts, responses)`` for PPO on the gold reward with ``credit`` (see the module doc): a
    scalar per response for ``sparse``, else one reward per response token. The noisy arm draws from its
    own generator (``seed``), so a run's noise is the same whenever it is repeated."""
    if credit not in CREDITS:
        raise ValueError(f"unknown oracle credit {credit!r}; choose one of {', '.join(CREDITS)}")
    rng = np.random.default_rng([seed, 22])

    def reward_fn(prompts: Sequence[str], responses: Sequence[str]):
        if credit == "sparse":
            return list(np.asarray(judge(list(responses)), dtype=float))
        return [a.token_rewards for a in oracle_credit(credit, judge, tokenizer, prompts, responses, noise=noise,
                                                       scale=scale, rng=rng)]

    reward_fn.shape = f"oracle-{credit}"
    return reward_fn


def credit_scale(judge, responses: Sequence[str]) -> float:
    """Root mean square of the gold word credit (``judge.word_credit``) over every word of ``responses``: the
    unit of the noisy arm's sigma (sigma = 1 adds noise as large as a typical word's credit)."""
    credits = np.concatenate([judge.word_credit(r) for r in responses] or [np.zeros(0)])
    if not len(credits) or not np.any(credits):
        raise ValueError("no word of these responses carries gold credit; pass responses with sentiment words")
    return float(np.sqrt(np.mean(credits ** 2)))

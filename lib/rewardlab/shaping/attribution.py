"""Token attributions of a reward model's score: SHAP, LIME and attention, over token ids.

Setting. The reward model reads ``x + y + <eos>`` and returns R(x, y). We explain R over the
T response tokens y_1..y_T; the prompt x and ``<eos>`` (where the score is read) stay fixed.
A coalition z in {0,1}^T keeps y_t where z_t = 1; the other tokens are **deleted** (default:
the reward model reads a shorter review, the closest thing to "that word was not written") or
replaced by ``mask_token_id``. f(z) = R(x, y_z), evaluated on token ids, never on re-tokenised
strings, and batched through the reward model by :class:`MaskedReward`, which counts every
sequence it scores (the cost in reward-model evaluations).

* **SHAP** (Lundberg & Lee 2017) with ``shap.PermutationExplainer`` and a masker over token ids:
  phi_t = E_pi[f(S_pi,t + {t}) - f(S_pi,t)], S_pi,t the tokens before t in a random order pi,
  estimated from antithetic permutations (each costs 2T + 1 evaluations). Every permutation
  satisfies sum_t phi_t = f(1) - f(0) exactly. Permutation rather than partition: the partition
  explainer's Owen values depend on a token hierarchy we would have to invent.
* **LIME** (Ribeiro et al. 2016): the estimator of the ``lime`` package (``LimeBase``: kernel
  pi(z) = sqrt(exp(-d(z)^2 / 25^2)), d = 100 x cosine distance to the full response, then a
  ridge fit g(z) = beta_0 + sum_t beta_t z_t on all T tokens), fed token masks drawn exactly as
  ``LimeTextExplainer(bow=False)`` draws them (k ~ U{1..T} tokens removed at random). Why not
  ``LimeTextExplainer`` itself: it hands strings to the classifier (re-tokenised) and explains
  one text per call; drawing the masks here lets the masks of *all* responses share one batched
  pass through the reward model. The fit is ``LimeBase``'s, written in closed form (:func:`lime_fit`).
* **Attention** (ABC, Chan et al. 2024): the last layer's attention, averaged over heads, in the
  row of the final token (``<eos>``, where the reward is read), over the response tokens,
  normalised to sum to 1: a_t >= 0, sum_t a_t = 1. One forward pass per response.

Token rewards for shaping sum to the sequence reward (local accuracy). Sign convention: a
positive token reward means the token raises the reward model's score.

* SHAP and LIME (signed, additive): r_t = s_t + (R - sum_u s_u) / T. For SHAP the remainder is
  exactly f(0), the reward of the empty response (the base value); for LIME it is the intercept
  plus the fit's residual. Spreading it evenly keeps every token's difference from the others.
* Attention (non-negative weights): r_t = a_t R, ABC's dense term. Its sign is R's: it cannot
  say that one word pulled the score down while the others pushed it up.

Bad input: an empty response raises ``ValueError``; so does a prompt + response + eos longer
than the reward model's context (the message gives the limit). Words outside the vocabulary
map to the tokenizer's unknown token and are attributed like any other token.
"""

from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np

from rewardlab.core.study_configs import SHAP_ESTIMATORS
from rewardlab.shaping import estimators
from rewardlab.shaping.masking import Example, MaskedReward, TokenAttribution, complete_to_reward, encode_examples

METHODS = ("shap", "lime", "attention")

LIME_KERNEL_WIDTH = 25.0  # LimeTextExplainer's default


def shap_attributions(f: MaskedReward, examples: list[Example], max_evals: int, seed: int = 0) -> list[TokenAttribution]:
    """Permutation SHAP per response with ``shap.PermutationExplainer`` over token ids."""
    with warnings.catch_warnings():  # shap's colour maps use a matplotlib API that warns on import
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap  # local: importing shap costs ~5 s (measured); only the SHAP explainer needs it

    too_small = [(i, len(e.response_ids)) for i, e in enumerate(examples) if max_evals < 2 * len(e.response_ids) + 1]
    if too_small:
        i, length = too_small[0]
        raise ValueError(f"max_evals={max_evals} is below 2T + 1 = {2 * length + 1} for response {i} ({length} tokens): "
                         "one antithetic permutation needs 2T + 1 evaluations; raise max_evals")

    def masker(mask, x):  # -1 marks a masked-out token; the model function resolves it
        return np.where(mask, x, -1)[None, :]

    results = []
    for i, example in enumerate(examples):
        start, evals_before = time.perf_counter(), f.evals

        def model_fn(rows, example=example):
            return f(f.sequences(example, np.asarray(rows) >= 0))

        explainer = shap.PermutationExplainer(model_fn, masker, seed=seed + i)
        explanation = explainer(np.asarray([example.response_ids]), max_evals=max_evals, batch_size=f.batch_size,
                                silent=True)
        values = np.asarray(explanation.values[0], dtype=float)
        base = float(np.asarray(explanation.base_values).ravel()[0])
        reward = base + values.sum()
        results.append(TokenAttribution("shap", example.tokens, values, complete_to_reward(values, reward), reward,
                                        f.evals - evals_before, time.perf_counter() - start, {"base_value": base}))
    return results


def lime_masks(n_tokens: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """LimeTextExplainer's neighbourhood: row 0 keeps every token; row i drops k ~ U{1..T} at random."""
    keep = np.ones((num_samples, n_tokens), dtype=bool)
    for row, size in enumerate(rng.integers(1, n_tokens + 1, num_samples - 1), start=1):
        keep[row, rng.choice(n_tokens, size, replace=False)] = False
    return keep


def lime_attributions(f: MaskedReward, examples: list[Example], num_samples: int, seed: int = 0) -> list[TokenAttribution]:
    """LIME coefficients per token: ``LimeBase``'s fit (:func:`lime_fit`) on token masks scored in one batched pass."""
    if num_samples < 2:
        raise ValueError(f"num_samples={num_samples}: LIME needs the response and at least one perturbation")
    start, evals_before = time.perf_counter(), f.evals
    masks = [lime_masks(len(e.response_ids), num_samples, np.random.default_rng([seed, i]))
             for i, e in enumerate(examples)]
    sequences = [row for e, keep in zip(examples, masks) for row in f.sequences(e, keep)]
    rewards = f(sequences).reshape(len(examples), num_samples)
    seconds = (time.perf_counter() - start) / len(examples)
    results = []
    for i, (example, keep) in enumerate(zip(examples, masks)):
        fit_start = time.perf_counter()
        intercept, values, score = lime_fit(keep.astype(float), rewards[i])
        reward = float(rewards[i, 0])
        results.append(TokenAttribution("lime", example.tokens, values, complete_to_reward(values, reward), reward,
                                        num_samples, seconds + time.perf_counter() - fit_start,
                                        {"intercept": float(intercept), "r2": float(score)}))
    evals = f.evals - evals_before
    assert evals == num_samples * len(examples), (evals, num_samples, len(examples))
    return results


def lime_fit(data: np.ndarray, labels: np.ndarray, alpha: float = 1.0) -> tuple[float, np.ndarray, float]:
    """(intercept, coefficients, weighted R^2) of ``LimeBase.explain_instance_with_data`` with
    ``feature_selection="none"``: the kernel pi(z) = sqrt(exp(-d(z)^2 / 25^2)) on d = 100 x the cosine
    distance of each mask to the first (the full response), then ``Ridge(alpha=1)`` with those sample
    weights, solved here in closed form (weighted centring, then (X^T W X + alpha I) beta = X^T W y).
    The same numbers as ``lime`` to float rounding (``tests/test_attribution.py``), without sklearn's
    per-fit overhead, which was a third of LIME's time inside PPO."""
    norms = np.linalg.norm(data, axis=1) * np.linalg.norm(data[0])
    cosine = 1.0 - (data @ data[0]) / np.where(norms > 0, norms, 1.0)
    weights = np.sqrt(np.exp(-((np.where(norms > 0, cosine, 1.0) * 100) ** 2) / LIME_KERNEL_WIDTH ** 2))
    x_mean = weights @ data / weights.sum()
    y_mean = weights @ labels / weights.sum()
    xc, yc = (data - x_mean) * np.sqrt(weights)[:, None], (labels - y_mean) * np.sqrt(weights)
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(data.shape[1]), xc.T @ yc)
    intercept = float(y_mean - x_mean @ coef)
    residual = labels - data @ coef - intercept
    total = weights @ (labels - y_mean) ** 2
    return intercept, coef, float(1 - (weights @ residual ** 2) / total) if total > 0 else 1.0


def attention_attributions(f: MaskedReward, examples: list[Example]) -> list[TokenAttribution]:
    """ABC weights: last layer, mean over heads, the <eos> row over the response, normalised to 1."""
    start = time.perf_counter()
    sequences = [e.prompt_ids + e.response_ids + [f.eos_id] for e in examples]
    results: list[TokenAttribution | None] = [None] * len(examples)
    for rows, out in f.forward(sequences, output_attentions=True):
        last_layer = out.attentions[-1].float().mean(dim=1).cpu().numpy()  # [B, L, L], heads averaged
        for b, i in enumerate(rows):
            example = examples[i]
            first, eos = len(example.prompt_ids), len(sequences[i]) - 1
            weights = last_layer[b, eos, first: first + len(example.response_ids)].astype(float)
            weights = weights / weights.sum()
            reward = float(out.logits[b, 0])
            results[i] = TokenAttribution("attention", example.tokens, weights, weights * reward, reward, 1, 0.0)
    seconds = (time.perf_counter() - start) / len(examples)
    for result in results:
        result.seconds = seconds
    return results


def attribute(method: str, model, tokenizer, prompts: Sequence[str], responses: Sequence[str], *,
              max_evals: int = 512, num_samples: int = 512, seed: int = 0, mask_token_id: int | None = None,
              batch_size: int = 512, estimator: str = "package") -> list[TokenAttribution]:
    """Per-token attributions of ``model``'s reward for each (prompt, response) with ``method``.

    ``max_evals`` is SHAP's budget of reward-model evaluations per response, ``num_samples``
    LIME's neighbourhood size; ``mask_token_id=None`` deletes masked tokens. ``estimator`` picks
    SHAP's: ``"package"`` (``shap.PermutationExplainer``, one response per call), or the batched
    ``"permutation"`` / ``"kernel"`` / ``"first-last"`` / ``"first-position"`` of
    :mod:`rewardlab.shaping.estimators` (all responses in one pass; the last two ignore ``max_evals``:
    they cost 2T + 2 and T + 2).
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    if estimator not in SHAP_ESTIMATORS:
        raise ValueError(f"unknown SHAP estimator {estimator!r}; choose one of {', '.join(SHAP_ESTIMATORS)}")
    examples = encode_examples(model, tokenizer, prompts, responses)
    f = MaskedReward(model, tokenizer, mask_token_id=mask_token_id, batch_size=batch_size)
    if method == "shap" and estimator == "package":
        results = shap_attributions(f, examples, max_evals=max_evals, seed=seed)
    elif method == "shap":

        batched = {"permutation": estimators.permutation_shap, "kernel": estimators.kernel_shap,
                   "first-last": estimators.first_last_shap, "first-position": estimators.first_position_shap}[estimator]
        results = batched(f, examples, max_evals, seed=seed)
    elif method == "lime":
        results = lime_attributions(f, examples, num_samples=num_samples, seed=seed)
    else:
        results = attention_attributions(f, examples)
    for result, example in zip(results, examples):
        result.word_index, result.n_words = example.word_index, example.n_words
    return results

"""Shapley-value estimators for attribution inside PPO: every response's coalitions scored in one pass.

Inside PPO a step explains a whole batch of fresh responses, so the cost that matters is
reward-model evaluations per response, and the overhead of explaining responses one at a time
(``shap``'s explainers take one instance per call) is paid 64 times a step. The estimators here
draw the coalitions of *all* responses first, score them in one batched pass through
:class:`rewardlab.shaping.masking.MaskedReward`, and score a coalition that repeats within a
response once (a cache: with T tokens and a few hundred draws, small and large coalitions repeat).
The sampled ones estimate the same Shapley values as ``shap``'s explainers, for the game
v(S) = R(x, y_S); the deterministic ones approximate them:

* **antithetic permutation sampling** (Mitchell et al. 2022, ``shap.PermutationExplainer``'s estimator):
  phi_t = mean over orders pi of v(S_pi,t + {t}) - v(S_pi,t), each order used forwards and
  reversed. One pair costs 2(T - 1) evaluations beyond v(empty) and v(full), and every order
  gives sum_t phi_t = v(full) - v(empty) exactly.
* **paired KernelSHAP** (Lundberg & Lee 2017; Covert & Lee 2021): coalition sizes drawn from the
  Shapley kernel, p(k) proportional to (T - 1) / (k (T - k)), each coalition with its complement,
  then the least-squares fit v(z) - v(empty) = z . phi under the constraint
  sum_t phi_t = v(full) - v(empty).
* **first and last position** (deterministic, 2T + 2 evaluations): each token's marginal
  contribution when it comes first and when it comes last,

      phi_t = 1/2 [(v({t}) - v(empty)) + (v(full) - v(full - {t}))],

  the two terms of the Shapley average with the largest weight, 1/T each. Exact when the game has
  no interaction among three or more tokens: for v(S) = sum_{t in S} a_t + sum_{t<u in S} b_tu the
  Shapley value is a_t + 1/2 sum_u b_tu, and so is this. Leave-one-out alone (the second term)
  would give a_t + sum_u b_tu, double-counting every pairwise interaction. When higher-order
  interactions break efficiency, the gap to v(full) - v(empty) is spread evenly over the tokens.
* **first position** (deterministic, T + 2 evaluations): the first term alone, phi_t = v({t}) - v(empty),
  with the efficiency gap spread evenly. Exact for additive games; a pairwise interaction b is
  seen by no singleton, so it is spread as b / T over all tokens instead of b / 2 to each partner.
  On the tiny reward model it agrees 0.97 with converged SHAP on PPO's responses, first-last 0.99
  (``benchmarks/bench_attribution.py``), at a sixth of first-last's token passes.

``tests/test_estimators.py`` checks them against ``shap``'s ``PermutationExplainer`` and
``KernelExplainer`` on the same reward model.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from rewardlab.rl.stacked import StackedGPT2
from rewardlab.shaping.masking import Example, MaskedReward, TokenAttribution, complete_to_reward, is_gpt2_scorer


def score_coalitions(f: MaskedReward, examples: list[Example], keeps: list[np.ndarray]) -> list[np.ndarray]:
    """v(z) for every row of ``keeps[i]`` [M_i, T_i] (bool), all responses in one pass; repeated rows of a
    response are scored once. Returns one array [M_i] per response."""
    unique, inverse, sequences = [], [], []
    for example, keep in zip(examples, keeps):
        rows, back = np.unique(np.asarray(keep, dtype=bool), axis=0, return_inverse=True)
        unique.append(len(rows))
        inverse.append(back.ravel())
        sequences += f.sequences(example, rows)
    scores = f(sequences)
    out, start = [], 0
    for count, back in zip(unique, inverse):
        out.append(scores[start: start + count][back])
        start += count
    return out


def permutation_orders(n_tokens: int, max_evals: int, rng: np.random.Generator) -> np.ndarray:
    """Antithetic orders [2P, T] within the budget: P = max(1, (max_evals - 2) // (2 (T - 1))) random orders
    and their reverses."""
    pairs = max(1, (max_evals - 2) // max(1, 2 * (n_tokens - 1)))
    forward = np.stack([rng.permutation(n_tokens) for _ in range(pairs)])
    return np.concatenate([forward, forward[:, ::-1]])


def permutation_shap(f: MaskedReward, examples: list[Example], max_evals: int, seed: int = 0) -> list[TokenAttribution]:
    """Antithetic permutation SHAP for every response, scored in one pass (see the module doc)."""
    start, evals_before = time.perf_counter(), f.evals
    plans, keeps = [], []
    for i, example in enumerate(examples):
        n = len(example.response_ids)
        orders = permutation_orders(n, max_evals, np.random.default_rng([seed, i]))
        # coalition k of an order keeps its first k tokens: [orders, T + 1, T]
        keep = np.zeros((len(orders), n + 1, n), dtype=bool)
        for o, order in enumerate(orders):
            for k in range(1, n + 1):
                keep[o, k:, order[k - 1]] = True
        plans.append(orders)
        keeps.append(keep.reshape(-1, n))
    values = score_coalitions(f, examples, keeps)
    seconds = (time.perf_counter() - start) / len(examples)
    results = []
    for example, orders, v in zip(examples, plans, values):
        n = len(example.response_ids)
        v = v.reshape(len(orders), n + 1)
        phi = np.zeros(n)
        for order, row in zip(orders, v):
            phi[order] += np.diff(row)
        phi /= len(orders)
        reward = float(v[0, -1])
        results.append(TokenAttribution("shap", example.tokens, phi, complete_to_reward(phi, reward), reward,
                                        len(np.unique(keeps[len(results)], axis=0)), seconds,
                                        {"base_value": float(v[0, 0]), "estimator": "permutation"}))
    assert f.evals - evals_before == sum(r.rm_evals for r in results)
    return results


def kernel_coalitions(n_tokens: int, max_evals: int, rng: np.random.Generator) -> np.ndarray:
    """Paired coalitions [2m, T] (bool) with sizes from the Shapley kernel; m = max(1, (max_evals - 2) // 2)."""
    pairs = max(1, (max_evals - 2) // 2)
    sizes = np.arange(1, n_tokens)
    weights = 1.0 / (sizes * (n_tokens - sizes))
    drawn = rng.choice(sizes, pairs, p=weights / weights.sum())
    keep = np.zeros((pairs, n_tokens), dtype=bool)
    for row, size in enumerate(drawn):
        keep[row, rng.choice(n_tokens, size, replace=False)] = True
    return np.concatenate([keep, ~keep])


def constrained_least_squares(z: np.ndarray, y: np.ndarray, total: float, ridge: float = 1e-9) -> np.ndarray:
    """argmin_phi ||y - z phi||^2 subject to sum(phi) = total (a Lagrange multiplier; ``ridge`` keeps
    z^T z invertible when a token was never left out)."""
    a = z.T @ z + ridge * np.eye(z.shape[1])
    inv_b, inv_1 = np.linalg.solve(a, z.T @ y), np.linalg.solve(a, np.ones(z.shape[1]))
    return inv_b - inv_1 * (inv_b.sum() - total) / inv_1.sum()


def kernel_shap(f: MaskedReward, examples: list[Example], max_evals: int, seed: int = 0) -> list[TokenAttribution]:
    """Paired KernelSHAP for every response, scored in one pass (see the module doc). A response of one
    token gets phi = v(full) - v(empty)."""
    start, evals_before = time.perf_counter(), f.evals
    keeps = []
    for i, example in enumerate(examples):
        n = len(example.response_ids)
        middle = kernel_coalitions(n, max_evals, np.random.default_rng([seed, i])) if n > 1 else np.zeros((0, n), bool)
        keeps.append(np.concatenate([np.zeros((1, n), bool), np.ones((1, n), bool), middle]))
    values = score_coalitions(f, examples, keeps)
    seconds = (time.perf_counter() - start) / len(examples)
    results = []
    for example, keep, v in zip(examples, keeps, values):
        empty, full = float(v[0]), float(v[1])
        phi = (constrained_least_squares(keep[2:].astype(float), v[2:] - empty, full - empty) if len(keep) > 2
               else np.array([full - empty]))
        results.append(TokenAttribution("shap", example.tokens, phi, complete_to_reward(phi, full), full,
                                        len(np.unique(keep, axis=0)), seconds,
                                        {"base_value": empty, "estimator": "kernel"}))
    assert f.evals - evals_before == sum(r.rm_evals for r in results)
    return results


def first_last_shap(f: MaskedReward, examples: list[Example], max_evals: int = 0, seed: int = 0) -> list[TokenAttribution]:
    """The first-and-last-position estimate for every response (see the module doc); ``max_evals`` and
    ``seed`` are unused (the estimate is deterministic and costs 2T + 2 evaluations)."""
    return _position_shap(f, examples, leave_one_out=True)


def first_position_shap(f: MaskedReward, examples: list[Example], max_evals: int = 0,
                        seed: int = 0) -> list[TokenAttribution]:
    """The first-position estimate for every response (see the module doc); ``max_evals`` and ``seed``
    are unused (deterministic, T + 2 evaluations)."""
    return _position_shap(f, examples, leave_one_out=False)


def _position_shap(f: MaskedReward, examples: list[Example], leave_one_out: bool) -> list[TokenAttribution]:
    """phi_t = v({t}) - v(empty), averaged with v(full) - v(full - {t}) when ``leave_one_out``, then the
    efficiency gap v(full) - v(empty) - sum_t phi_t spread evenly over the tokens. A GPT-2 reward model
    with deleted tokens goes through :func:`position_values`, which reuses every shared prefix; any other
    masker scores all coalitions in one pass of :func:`score_coalitions`."""
    start, evals_before = time.perf_counter(), f.evals
    sizes = [len(e.response_ids) for e in examples]
    model = getattr(f, "model", None)
    # the prefix-cached pass reads the score at <eos>, as HF does unless the pad id is the <eos> id
    if getattr(f, "mask_token_id", 0) is None and is_gpt2_scorer(model) and f.pad_id != f.eos_id:
        values = position_values(model, examples, f.eos_id, leave_one_out)
        evals = [(2 if leave_one_out else 1) * n + 2 for n in sizes]
        f.evals += sum(evals)
    else:
        keeps = [np.concatenate([np.zeros((1, n), bool), np.ones((1, n), bool), np.eye(n, dtype=bool),
                                 *([~np.eye(n, dtype=bool)] if leave_one_out else [])]) for n in sizes]
        values = score_coalitions(f, examples, keeps)
        evals = [len(np.unique(keep, axis=0)) for keep in keeps]
    seconds = (time.perf_counter() - start) / len(examples)
    name = "first-last" if leave_one_out else "first-position"
    results = []
    for example, n, v, cost in zip(examples, sizes, values, evals):
        empty, full = float(v[0]), float(v[1])
        phi = v[2: 2 + n] - empty
        if leave_one_out:
            phi = 0.5 * (phi + (full - v[2 + n: 2 + 2 * n]))
        phi = phi + (full - empty - phi.sum()) / n
        results.append(TokenAttribution("shap", example.tokens, phi, complete_to_reward(phi, full), full, cost, seconds,
                                        {"base_value": empty, "estimator": name}))
    assert f.evals - evals_before == sum(evals)
    return results


@torch.no_grad()
def position_values(model, examples: list[Example], eos_id: int, leave_one_out: bool = True) -> list[np.ndarray]:
    """v(empty), v(full), v({t}) for t = 1..T and, with ``leave_one_out``, v(full - {t}) for t = 1..T per
    response ([2T + 2] or [T + 2] each), for a ``GPT2ForSequenceClassification`` reading
    ``prompt kept-tokens <eos>`` (the score at <eos>).

    Causal attention lets the coalitions share work. The whole review runs once (v(full)); its keys
    and values of ``prompt`` serve every v({t}) (``y_t <eos>``, two tokens; all t in one pass, the
    prompt's cache repeated T times) and v(empty) (``<eos>``, one token). v(full - {t}) keeps the
    prefix ``prompt y_<t`` of the full review, so only ``y_>t <eos>`` is run, on the cached prefix;
    t goes from T down to 1, so each pass overwrites only cache positions that no later pass reads.
    Equal to scoring the coalitions whole, to float rounding (tested); with leave-one-out about 2.3x
    fewer token passes than that (T = 20), without it about 6x fewer."""
    stacked = StackedGPT2([model])
    w, head = stacked.weights(), model.score.weight[0].float()
    rows, width = len(examples), max(len(e.prompt_ids) for e in examples)
    longest = max(len(e.response_ids) for e in examples)
    ids = torch.zeros(rows, width + longest + 1, dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for i, e in enumerate(examples):
        p, r = len(e.prompt_ids), len(e.response_ids)
        ids[i, width - p: width + r + 1] = torch.tensor(e.prompt_ids + e.response_ids + [eos_id])
        mask[i, width - p: width + r + 1] = True
    lengths = torch.tensor([len(e.response_ids) for e in examples])
    prompt_lengths = torch.tensor([len(e.prompt_ids) for e in examples])
    out = torch.zeros(rows, (2 if leave_one_out else 1) * longest + 2)

    def run(tokens, positions, keys, cache, start, read):
        hidden = stacked.hidden(w, tokens[None], positions[None], keys[None], cache, start)[0]
        return hidden[torch.arange(len(tokens)), read] @ head

    cache = stacked.new_cache(rows, ids.shape[1])
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    out[:, 1] = run(ids, positions, mask, cache, 0, width + lengths)  # v(full): the whole review once
    prompt_keys = torch.cat([mask[:, :width], torch.ones(rows, 2, dtype=torch.bool)], dim=1)
    # v({t}), all t at once: row (i, t) runs y_t <eos> on a copy of response i's prompt cache
    repeated = [[kv[:, :, :width].repeat_interleave(longest, 0) for kv in layer] for layer in cache]
    singles = [[torch.cat([kv, kv.new_zeros(*kv.shape[:2], 2, kv.shape[-1])], dim=2) for kv in layer]
               for layer in repeated]
    pairs = torch.stack([ids[:, width: width + longest].reshape(-1), torch.full((rows * longest,), eos_id)], dim=1)
    starts = prompt_lengths.repeat_interleave(longest)
    out[:, 2: 2 + longest] = run(pairs, starts[:, None] + torch.arange(2)[None], prompt_keys.repeat_interleave(longest, 0),
                                 singles, width, torch.ones(rows * longest, dtype=torch.long)).view(rows, longest)
    for t in range(longest, 0, -1) if leave_one_out else ():  # v(full - {t}): y_>t <eos> after prompt y_<t
        suffix = torch.full((rows, longest - t + 1), 0, dtype=torch.long)
        for i, e in enumerate(examples):
            rest = e.response_ids[t:] + [eos_id] if t <= len(e.response_ids) else [eos_id]
            suffix[i, : len(rest)] = torch.tensor(rest)
        start = width + t - 1
        keys = torch.cat([mask[:, :start], torch.ones(rows, suffix.shape[1], dtype=torch.bool)], dim=1)
        where = prompt_lengths[:, None] + t - 1 + torch.arange(suffix.shape[1])[None]
        read = (lengths - t).clamp(min=0)
        out[:, 1 + t + longest] = run(suffix, where, keys, cache, start, read)
    # last: it overwrites the first response position, which the passes above read
    out[:, 0] = run(torch.full((rows, 1), eos_id), prompt_lengths[:, None], prompt_keys[:, :width + 1], cache, width,
                    torch.zeros(rows, dtype=torch.long))  # v(empty): prompt <eos>
    values = []
    for i, n in enumerate(lengths.tolist()):
        row = out[i].double().numpy()
        tail = [row[2 + longest: 2 + longest + n]] if leave_one_out else []
        values.append(np.concatenate([row[:2], row[2: 2 + n], *tail]))
    return values

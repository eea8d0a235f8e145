"""Preference data: chain and tree sampling, gold labelling, TRL's ``chosen``/``rejected`` format.

Chain (the usual way): for each prompt, K independent responses from the SFT policy; labelled
pairs are drawn among them.

Tree (Qiu et al. 2024, arXiv 2402.10184): for each prompt, a prefix tree of depth D and
branching factor B. The response is cut into D segments; every node is continued by B sampled
segments, so the B^D root-to-leaf paths are complete responses that share prefixes (siblings
differ only in their last segment). Each path is an ancestral sample of the same policy, so a
leaf has the same distribution as a chain response; what changes is the dependence between the
responses a pair compares. Written here because no library samples prefix trees from a policy.

Gold labels are a Bradley-Terry draw with label noise tau:

    P(y_a > y_b) = sigma((g(y_a) - g(y_b)) / tau),   g = the gold judge.

Output is a ``datasets.Dataset`` in TRL's preference format: ``prompt``, ``chosen``,
``rejected`` (responses with a leading space, so ``prompt + chosen`` is the full text, as TRL
concatenates them), plus ``chosen_gold``, ``rejected_gold``, ``prompt_id``, ``structure`` and
node ids: a tree leaf's path of child indices from the root (``"0.1.1"``: first branch, then
second, then second), a chain response's index (``"3"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .quiet import quiet_datasets

REQUIRED_COLUMNS = ("prompt", "chosen", "rejected")


@dataclass
class ResponseGroup:
    """The responses sampled for one prompt, with their node ids (tree paths or chain indices)."""

    prompt: str
    responses: list[str]
    node_ids: list[str]


def sample_chain(model, tokenizer, prompts: Sequence[str], n_responses: int, seed: int,
                 **generation) -> list[ResponseGroup]:
    """``n_responses`` independent samples per prompt."""
    from .policy import sample_n

    if n_responses < 2:
        raise ValueError(f"n_responses must be at least 2 to form a pair, got {n_responses}")
    responses = sample_n(model, tokenizer, prompts, n_responses, seed=seed, **generation)
    return [ResponseGroup(p, r, [str(k) for k in range(n_responses)]) for p, r in zip(prompts, responses)]


def segment_lengths(depth: int, segment_tokens: int, max_new_tokens: int) -> list[int]:
    """Tokens per tree level: ``segment_tokens`` for each inner level, the rest for the leaves.

    Inner segments should be shorter than typical responses, else most responses end before
    the last level and sibling leaves come out identical.
    """
    rest = max_new_tokens - segment_tokens * (depth - 1)
    if depth < 1 or segment_tokens < 1 or rest < 1:
        raise ValueError(f"depth={depth} levels of {segment_tokens} tokens leave no room in "
                         f"max_new_tokens={max_new_tokens}; lower tree_depth or tree_segment_tokens")
    return [segment_tokens] * (depth - 1) + [rest]


def sample_tree(model, tokenizer, prompts: Sequence[str], depth: int, branching: int, seed: int,
                segment_tokens: int = 10, max_new_tokens: int = 48, **generation) -> list[ResponseGroup]:
    """A prefix tree of ``branching ** depth`` leaves per prompt, expanded level by level.

    A node whose segment ended with end-of-sequence is complete: its children copy it, so a
    prompt always has exactly B^D leaves (identical leaves are never paired).
    """
    from .policy import generate

    if branching < 2:
        raise ValueError(f"branching must be at least 2 for leaves to differ, got {branching}")
    # nodes per prompt: (node id, text so far, finished)
    frontier = [[("", "", False)] for _ in prompts]
    for level, length in enumerate(segment_lengths(depth, segment_tokens, max_new_tokens)):
        children = [[(f"{nid}.{b}" if nid else str(b), text, done) for nid, text, done in nodes
                     for b in range(branching)] for nodes in frontier]
        open_nodes = [(i, j) for i, nodes in enumerate(children) for j, (_, _, done) in enumerate(nodes) if not done]
        contexts = [f"{prompts[i]} {children[i][j][1]}".strip() for i, j in open_nodes]
        if contexts:
            texts, finished = generate(model, tokenizer, contexts, seed=seed + 1000 * level,
                                       max_new_tokens=length, **generation)
            for (i, j), text, done in zip(open_nodes, texts, finished):
                nid, prefix, _ = children[i][j]
                children[i][j] = (nid, f"{prefix} {text}".strip(), bool(done))
        frontier = children
    return [ResponseGroup(p, [t for _, t, _ in nodes], [nid for nid, _, _ in nodes])
            for p, nodes in zip(prompts, frontier)]


def _distinct_pairs(group: ResponseGroup) -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(group.responses)) for b in range(a + 1, len(group.responses))
            if group.responses[a] != group.responses[b] and group.responses[a] and group.responses[b]]


def draw_pairs(groups: Sequence[ResponseGroup], budget: int, seed: int) -> list[tuple[int, int, int]]:
    """``budget`` distinct unordered pairs ``(group, a, b)`` spread evenly over the groups.

    Pairs of identical or empty responses are never drawn. A budget larger than the pool of
    distinct pairs raises ValueError with the pool's size.
    """
    rng = np.random.default_rng(seed)
    pools = [_distinct_pairs(g) for g in groups]
    available = sum(len(p) for p in pools)
    if budget > available:
        raise ValueError(f"budget of {budget} pairs exceeds the {available} distinct pairs these "
                         f"{len(groups)} prompts offer; lower the budget or sample more responses")
    order = [list(rng.permutation(len(p))) for p in pools]
    chosen: list[tuple[int, int, int]] = []
    while len(chosen) < budget:  # round-robin over prompts, so each prompt gets an equal share
        for g in rng.permutation(len(groups)):
            if order[g] and len(chosen) < budget:
                a, b = pools[g][order[g].pop()]
                chosen.append((int(g), a, b))
    return chosen


def bradley_terry_labels(gold_a: np.ndarray, gold_b: np.ndarray, tau: float, seed: int) -> np.ndarray:
    """True where a is preferred: a draw with P(a > b) = sigma((g_a - g_b) / tau). tau=0: argmax."""
    gold_a, gold_b = np.asarray(gold_a, float), np.asarray(gold_b, float)
    if tau == 0:
        return gold_a >= gold_b
    if tau < 0:
        raise ValueError(f"label noise tau must be >= 0, got {tau}")
    p_a = 1.0 / (1.0 + np.exp(-(gold_a - gold_b) / tau))
    return np.random.default_rng(seed).random(len(p_a)) < p_a


def label_pairs(groups: Sequence[ResponseGroup], pairs: Sequence[tuple[int, int, int]],
                judge: Callable[[Sequence[str]], np.ndarray], tau: float, seed: int, structure: str):
    """The labelled pairs as a TRL-format ``datasets.Dataset`` (see module docstring)."""
    import datasets

    if not pairs:
        raise ValueError("no pairs to label; draw_pairs returned none")
    first = [groups[g].responses[a] for g, a, _ in pairs]
    second = [groups[g].responses[b] for g, _, b in pairs]
    gold_first, gold_second = judge(first), judge(second)
    first_wins = bradley_terry_labels(gold_first, gold_second, tau, seed)
    rows = {k: [] for k in ("prompt", "chosen", "rejected", "chosen_gold", "rejected_gold", "prompt_id",
                            "structure", "chosen_node", "rejected_node")}
    for (g, a, b), wins, ga, gb in zip(pairs, first_wins, gold_first, gold_second):
        (ca, cg), (ra, rg) = ((a, ga), (b, gb)) if wins else ((b, gb), (a, ga))
        rows["prompt"].append(groups[g].prompt)
        rows["chosen"].append(" " + groups[g].responses[ca])
        rows["rejected"].append(" " + groups[g].responses[ra])
        rows["chosen_gold"].append(float(cg))
        rows["rejected_gold"].append(float(rg))
        rows["prompt_id"].append(int(g))
        rows["structure"].append(structure)
        rows["chosen_node"].append(groups[g].node_ids[ca])
        rows["rejected_node"].append(groups[g].node_ids[ra])
    return datasets.Dataset.from_dict(rows)


def check_preference_dataset(dataset) -> None:
    """Raise ValueError naming what is wrong: missing columns, no rows, empty responses."""
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"preference dataset lacks column(s) {', '.join(missing)}; it needs "
                         f"{', '.join(REQUIRED_COLUMNS)} (TRL's format), has {', '.join(dataset.column_names)}")
    if len(dataset) == 0:
        raise ValueError("preference dataset is empty")
    for column in ("chosen", "rejected"):
        empty = [i for i, text in enumerate(dataset[column]) if not text.strip()]
        if empty:
            raise ValueError(f"{len(empty)} empty {column!r} response(s), first at row {empty[0]}; drop them first")


def equal_budget_datasets(model, tokenizer, prompts: Sequence[str], judge, budget: int, depth: int,
                          branching: int, tau: float, seed: int, segment_tokens: int = 10, **generation):
    """Chain and tree datasets over the same prompts with the same number of labelled pairs.

    The chain samples as many responses per prompt as the tree has leaves (B^D), so both draw
    from pools of the same size. Returns ``(chain_dataset, tree_dataset, chain_groups, tree_groups)``.
    """
    leaves = branching ** depth
    chain = sample_chain(model, tokenizer, prompts, leaves, seed=seed, **generation)
    tree = sample_tree(model, tokenizer, prompts, depth, branching, seed=seed + 1,
                       segment_tokens=segment_tokens, **generation)
    chain_pairs = draw_pairs(chain, budget, seed=seed + 2)
    tree_pairs = draw_pairs(tree, budget, seed=seed + 2)
    return (label_pairs(chain, chain_pairs, judge, tau, seed + 3, "chain"),
            label_pairs(tree, tree_pairs, judge, tau, seed + 3, "tree"), chain, tree)


def load_preference_data(preset, policy, tokenizer, world, judge, progress: bool = True):
    """The preset's standard preference data, cached: ``(train, heldout)`` TRL-format datasets.

    train: chain samples (``responses_per_prompt`` per prompt) for ``pref_train_prompts`` training
    prompts, ``pref_train_pairs`` pairs labelled by a Bradley-Terry draw with ``label_noise_tau``.
    heldout: the same from ``pref_eval_prompts`` test prompts, labelled without noise (tau = 0),
    so that accuracy on it is accuracy against the gold judge.
    """
    import datasets

    from . import artifacts
    from .world import world_fingerprint

    from .policy import SFT_FIELDS

    fields = SFT_FIELDS + ["pref_train_prompts", "pref_train_pairs", "pref_eval_prompts", "pref_eval_pairs",
                           "responses_per_prompt", "label_noise_tau", "temperature", "top_k",
                           "max_new_tokens", "gold_judge"]
    generation = dict(temperature=preset.temperature, top_k=preset.top_k, max_new_tokens=preset.max_new_tokens,
                      batch_size=preset.eval_batch_size, progress=progress)

    def build(folder):
        for split, n_prompts, budget, tau, offset in (
                ("train", preset.pref_train_prompts, preset.pref_train_pairs, preset.label_noise_tau, 0),
                ("test", preset.pref_eval_prompts, preset.pref_eval_pairs, 0.0, 100)):
            prompts = list(dict.fromkeys(world.splits[split]["prompt"]))[:n_prompts]
            groups = sample_chain(policy, tokenizer, prompts, preset.responses_per_prompt,
                                  seed=preset.seed + offset, **generation)
            pairs = draw_pairs(groups, budget, seed=preset.seed + offset + 1)
            with quiet_datasets():
                label_pairs(groups, pairs, judge, tau, preset.seed + offset + 2, "chain").save_to_disk(folder / split)

    config = {**preset.subset(fields), **world_fingerprint(preset)}
    path = artifacts.cached(preset, "preference-data", config, build)
    return datasets.load_from_disk(path / "train"), datasets.load_from_disk(path / "test")

"""Tree-structured preference data (Qiu et al. 2024, arXiv 2402.10184): responses sampled as prefix trees.

For each prompt, a prefix tree of depth D and branching factor B. The response is cut into D
segments; every node is continued by B sampled segments, so the B^D root-to-leaf paths are
complete responses that share prefixes (siblings differ only in their last segment). Each path
is an ancestral sample of the same policy, so a leaf has the same distribution as a chain
response; what changes is the dependence between the responses a pair compares. Written here
because no library samples prefix trees from a policy. A tree leaf's node id is its path of
child indices from the root (``"0.1.1"``: first branch, then second, then second). Pairs are
drawn and labelled as for chains (:mod:`rewardlab.reward.preferences`).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt

from rewardlab.core.policy import generate
from rewardlab.reward.preferences import (
    ResponseGroup,
    draw_pairs,
    label_pairs,
    sample_chain,
)


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


def plot_prefix_tree(leaves: list[str], node_ids: list[str], segment_words: int, ax=None,
                     words_per_label: int = 6):
    """Draw one prompt's prefix tree: one box per segment, the root (prompt) on the left.

    ``leaves`` are the complete responses, ``node_ids`` their paths (``"0.1.1"``); inner level k
    holds words [k * segment_words, (k + 1) * segment_words) of every leaf below it (one token
    is one word in the review world), the leaves hold the rest.
    """
    ax = ax or plt.gca()
    depth = len(node_ids[0].split("."))
    position: dict[str, float] = {}
    label: dict[str, str] = {}
    for row, (leaf, nid) in enumerate(zip(leaves, node_ids)):
        words, parts = leaf.split(), nid.split(".")
        for level in range(depth):
            key = ".".join(parts[: level + 1])
            stop = (level + 1) * segment_words if level < depth - 1 else len(words)
            segment = words[level * segment_words: stop]
            text = " ".join(segment[:words_per_label]) + (" …" if len(segment) > words_per_label else "")
            label.setdefault(key, text or "(ended)")
            position.setdefault(key, [])
            position[key].append(row)
    y = {key: -sum(rows) / len(rows) for key, rows in position.items()}
    y[""] = -(len(leaves) - 1) / 2
    for key in position:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        level = key.count(".") + 1
        ax.plot([level - 1, level], [y[parent], y[key]], color="grey", lw=0.8, zorder=1)
        ax.text(level, y[key], label[key], fontsize=7, va="center", ha="left",
                bbox=dict(boxstyle="round", fc="white", ec="C0", lw=0.6), zorder=2)
    ax.text(0, y[""], "prompt", fontsize=8, va="center", ha="right",
            bbox=dict(boxstyle="round", fc="C0", ec="C0", alpha=0.3))
    ax.set_xlim(-0.6, depth + 1.6)
    ax.set_ylim(-len(leaves) + 0.5, 0.5)
    ax.axis("off")
    return ax

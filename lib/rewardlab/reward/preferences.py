"""Preference data: chain sampling, gold labelling, TRL's ``chosen``/``rejected`` format.

Chain (the usual way): for each prompt, K independent responses from the SFT policy; labelled
pairs are drawn among them (tree sampling: :mod:`rewardlab.tree.sampling`).

Gold labels are a Bradley-Terry draw with label noise tau:

    P(y_a > y_b) = sigma((g(y_a) - g(y_b)) / tau),   g = the gold judge.

Output is a ``datasets.Dataset`` in TRL's preference format: ``prompt``, ``chosen``,
``rejected`` (responses with a leading space, so ``prompt + chosen`` is the full text, as TRL
concatenates them), plus ``chosen_gold``, ``rejected_gold``, ``prompt_id``, ``structure`` and
node ids (a chain response's index, ``"3"``; a tree leaf's path, ``"0.1.1"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import datasets
import numpy as np

from rewardlab.core import artifacts
from rewardlab.core.policy import sample_n
from rewardlab.core.quiet import quiet_datasets
from rewardlab.core.world import world_fingerprint

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
    if n_responses < 2:
        raise ValueError(f"n_responses must be at least 2 to form a pair, got {n_responses}")
    responses = sample_n(model, tokenizer, prompts, n_responses, seed=seed, **generation)
    return [ResponseGroup(p, r, [str(k) for k in range(n_responses)]) for p, r in zip(prompts, responses)]


def _distinct_pairs(group: ResponseGroup) -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(group.responses)) for b in range(a + 1, len(group.responses))
            if group.responses[a] != group.responses[b] and group.responses[a] and group.responses[b]]


def shared_segments(node_a: str, node_b: str) -> int:
    """How many leading segments two responses share: the common prefix of their node ids (tree leaves
    ``"0.1.1"`` and ``"0.1.0"`` share 2; chain samples, whose ids are single numbers, share 0)."""
    shared = 0
    for x, y in zip(node_a.split("."), node_b.split(".")):
        if x != y:
            break
        shared += 1
    return shared


def draw_pairs(groups: Sequence[ResponseGroup], budget: int, seed: int,
               closest_first: bool = False) -> list[tuple[int, int, int]]:
    """``budget`` distinct unordered pairs ``(group, a, b)`` spread evenly over the groups.

    Within a group the pairs come in random order, or with ``closest_first`` the pairs sharing the most
    leading segments first (a tree's siblings, then cousins; ties in random order). Pairs of identical or
    empty responses are never drawn. A budget larger than the pool of distinct pairs raises ValueError
    with the pool's size.
    """
    rng = np.random.default_rng(seed)
    pools = [_distinct_pairs(g) for g in groups]
    available = sum(len(p) for p in pools)
    if budget > available:
        raise ValueError(f"budget of {budget} pairs exceeds the {available} distinct pairs these "
                         f"{len(groups)} prompts offer; lower the budget or sample more responses")
    order = [list(rng.permutation(len(p))) for p in pools]
    if closest_first:  # pop() takes from the end: the closest pairs go last, a stable sort keeps ties random
        order = [sorted(o, key=lambda k, g=g: shared_segments(groups[g].node_ids[pools[g][k][0]],
                                                              groups[g].node_ids[pools[g][k][1]]))
                 for g, o in enumerate(order)]
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
    """Raise ValueError naming what is wrong and where: a missing column, no rows, or the first bad row.

    A row is bad when its prompt, chosen or rejected is not a string, when chosen or rejected is
    empty (or only spaces), or when chosen and rejected are the same text (a pair that says nothing).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"preference dataset lacks column(s) {', '.join(missing)}; it needs "
                         f"{', '.join(REQUIRED_COLUMNS)} (TRL's format), has {', '.join(dataset.column_names)}")
    if len(dataset) == 0:
        raise ValueError("preference dataset is empty; it needs at least one (prompt, chosen, rejected) row")
    columns = {c: dataset[c] for c in REQUIRED_COLUMNS}
    problems = []
    for row, (prompt, chosen, rejected) in enumerate(zip(*columns.values())):
        texts = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        wrong_type = [name for name, text in texts.items() if not isinstance(text, str)]
        if wrong_type:
            problems.append((row, f"{', '.join(wrong_type)} is not a string ({type(texts[wrong_type[0]]).__name__})"))
        elif not chosen.strip() or not rejected.strip():
            problems.append((row, f"{'chosen' if not chosen.strip() else 'rejected'} is empty"))
        elif chosen.strip() == rejected.strip():
            problems.append((row, f"chosen and rejected are the same text ({chosen.strip()[:40]!r})"))
    if problems:
        row, reason = problems[0]
        raise ValueError(f"{len(problems)} bad preference row(s); first: row {row}: {reason}. "
                         "Drop or fix these rows (dataset.filter) before training or scoring")


def load_preference_data(preset, policy, tokenizer, world, judge, progress: bool = True):
    """The preset's standard preference data, cached: ``(train, heldout)`` TRL-format datasets.

    train: chain samples (``responses_per_prompt`` per prompt) for ``pref_train_prompts`` training
    prompts, ``pref_train_pairs`` pairs labelled by a Bradley-Terry draw with ``label_noise_tau``.
    heldout: the same from ``pref_eval_prompts`` test prompts, labelled without noise (tau = 0),
    so that accuracy on it is accuracy against the gold judge.
    """
    generation = dict(temperature=preset.sampling.temperature, top_k=preset.sampling.top_k, max_new_tokens=preset.sampling.max_new_tokens,
                      batch_size=preset.sampling.eval_batch_size, progress=progress)

    def build(folder):
        for split, n_prompts, budget, tau, offset in (
                ("train", preset.preferences.train_prompts, preset.preferences.train_pairs, preset.preferences.label_noise_tau, 0),
                ("test", preset.preferences.eval_prompts, preset.preferences.eval_pairs, 0.0, 100)):
            prompts = list(dict.fromkeys(world.splits[split]["prompt"]))[:n_prompts]
            groups = sample_chain(policy, tokenizer, prompts, preset.preferences.responses_per_prompt,
                                  seed=preset.seed + offset, **generation)
            pairs = draw_pairs(groups, budget, seed=preset.seed + offset + 1)
            with quiet_datasets():
                label_pairs(groups, pairs, judge, tau, preset.seed + offset + 2, "chain").save_to_disk(folder / split)

    config = preset.key("world", "sft", "sampling", "preferences", seed=preset.seed, **world_fingerprint(preset))
    path = artifacts.cached(preset, "preference-data", config, build)
    return datasets.load_from_disk(path / "train"), datasets.load_from_disk(path / "test")


def load_calibration_pairs(preset, policy, tokenizer, world, judge, progress: bool = True):
    """Pairs over *validation* prompts, labelled like the training pairs (``label_noise_tau``), cached.

    A BRME's sigma must be fitted on pairs its backbone never saw (:mod:`rewardlab.brme.training`);
    these come from the validation split (the first ``eval_prompts`` distinct prompts, ``eval_pairs``
    pairs), so the backbone can be the Bradley-Terry model trained on every training pair.
    Issue 25: this replaced holding 20% of the training prompts out of a second stage-1 model
    (``brme.calibration = "split"``), which cost one reward-model training per BRME seed.
    """
    def build(folder):
        prompts = list(dict.fromkeys(world.splits["validation"]["prompt"]))[: preset.preferences.eval_prompts]
        groups = sample_chain(policy, tokenizer, prompts, preset.preferences.responses_per_prompt, seed=preset.seed + 200,
                              temperature=preset.sampling.temperature, top_k=preset.sampling.top_k,
                              max_new_tokens=preset.sampling.max_new_tokens, batch_size=preset.sampling.eval_batch_size,
                              progress=progress)
        pairs = draw_pairs(groups, preset.preferences.eval_pairs, seed=preset.seed + 201)
        with quiet_datasets():
            label_pairs(groups, pairs, judge, preset.preferences.label_noise_tau, preset.seed + 202,
                        "chain").save_to_disk(folder / "validation")

    config = preset.key("world", "sft", "sampling", "preferences", seed=preset.seed, **world_fingerprint(preset))
    path = artifacts.cached(preset, "calibration-pairs", config, build)
    return datasets.load_from_disk(path / "validation")

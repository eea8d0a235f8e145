"""Demonstration sets for RCfD: several continuations of one prompt that share the review's latent polarity.

Why. RCfD pays a response for matching its prompt's *target*, the mean reward of the prompt's
demonstrations (:class:`rewardlab.rcfd.calibration.CalibratedReward`). The review world draws one
demonstration per review, and a 4-word prompt says little about it, so that target is mostly noise
(issue 24). A target carries information only when two things hold:

* it is **reliable**: averaged over several demonstrations of the same review (the same polarity z),
  not read off one draw. Reliability = 1 - (within-set variance / n) / variance of the set means;
* it is **predictable from the prompt**, the only thing the policy sees. Measured as the R^2 of the
  target on the gold score of the prompt, this is a lower bound: a policy can read more than the
  prompt's VADER score.

A set here is one review's z, its opening (the opinion sentence, then more sentences until it holds
``world.prompt_words`` words) and ``per_prompt`` continuations of that opening drawn from the same z.
``prompt="words"`` cuts the prompt at ``world.prompt_words`` words, as the world's splits do, and the rest of
the opening starts every demonstration. ``prompt="opening"`` gives the policy the whole opening. Measured
with ``python -m rewardlab.rcfd.demonstrations`` (3,000 sets of 8 on the tiny preset, gold = VADER before issue 42,
demonstrations cut to the RCfD response budget):

================================  ===========  ===================
prompt                            reliability  R^2 on gold(prompt)
================================  ===========  ===================
first 4 words                     0.918        0.127
the opening (7.4 words on avg.)   0.885        0.356
================================  ===========  ===================

For reference, in the world's training split (one demonstration per review) the prompt explains 0.084 of
the variance of a demonstration's gold score (:func:`prompt_share`). Eight continuations make the target
reliable either way. Only a prompt that carries the opening opinion makes it predictable, because a 4-word
prompt reveals little of z. So the RCfD study should use ``prompt="opening"``.

Written here: the review world's generator is rewardlab's own (:mod:`rewardlab.core.world`).
"""

from __future__ import annotations

import argparse
from typing import Callable, Sequence

import datasets
import numpy as np

from rewardlab.core.config import Preset
from rewardlab.core.world import ReviewGenerator
from rewardlab.rcfd.calibration import positive_demonstrations, truncate_words

PROMPT_KINDS = ("opening", "words")


def _opening(generator: ReviewGenerator, rng: np.random.Generator, z: float, min_words: int) -> list[str]:
    """The review's opinion sentence, then more sentences of polarity z until it holds ``min_words`` words."""
    words: list[str] = []
    while len(words) < min_words:
        words += generator._sentence(rng, z, opinion=not words)
    return words


def _continuation(generator: ReviewGenerator, rng: np.random.Generator, z: float, prefix: list[str],
                  lo: int, hi: int) -> list[str]:
    """``prefix`` continued with sentences of polarity z to a length in [lo, hi] words (the generator's rule)."""
    while (words := generator.extend(rng, z, prefix, lo, hi)) is None:
        pass
    return words


def demonstration_sets(preset: Preset, n_sets: int, per_prompt: int, seed: int,
                       prompt: str = "opening") -> datasets.Dataset:
    """``n_sets`` reviews x ``per_prompt`` continuations, long format: columns ``prompt``, ``demonstration``,
    ``set`` (the review's index) and ``polarity`` (its z). Every demonstration holds between
    ``world.min_response_words`` and ``world.max_response_words`` words after its prompt."""
    if preset.world.source != "review_world":
        raise ValueError(f"demonstration sets need the review world's latent polarity; world.source is "
                         f"{preset.world.source!r} (use the tiny preset's review_world)")
    if prompt not in PROMPT_KINDS:
        raise ValueError(f"prompt must be one of {PROMPT_KINDS}, got {prompt!r}")
    if n_sets < 1 or per_prompt < 1:
        raise ValueError(f"n_sets and per_prompt must be >= 1, got {n_sets} and {per_prompt}")
    world, generator = preset.world, ReviewGenerator(preset)
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"prompt": [], "demonstration": [], "set": [], "polarity": []}
    for index in range(n_sets):
        z = float(rng.uniform(-1, 1))
        opening = _opening(generator, rng, z, world.prompt_words)
        cut = len(opening) if prompt == "opening" else world.prompt_words
        lo, hi = cut + world.min_response_words, cut + world.max_response_words
        for _ in range(per_prompt):
            words = _continuation(generator, rng, z, opening, max(lo, len(opening)), hi)
            rows["prompt"].append(" ".join(words[:cut]))
            rows["demonstration"].append(" ".join(words[cut:]))
            rows["set"].append(index)
            rows["polarity"].append(z)
    return datasets.Dataset.from_dict(rows)


def target_quality(sets: datasets.Dataset, gold: Callable[[Sequence[str]], np.ndarray],
                   max_words: int | None = None) -> dict[str, float]:
    """How much a per-set target (the mean gold of its demonstrations, each cut to ``max_words``) carries:
    ``reliability`` = 1 - (mean within-set variance / n per set) / variance of the set means, and
    ``prompt_r2``, the squared correlation of the target with the gold score of the set's prompt."""
    demos = [" ".join(d.split()[:max_words]) if max_words else d for d in sets["demonstration"]]
    values, ids = np.asarray(gold(demos), float), np.asarray(sets["set"])
    order = np.unique(ids)
    if len(order) < 3:
        raise ValueError(f"target_quality needs at least 3 sets to estimate variances, got {len(order)}")
    groups = [values[ids == i] for i in order]
    sizes = {len(g) for g in groups}
    if len(sizes) != 1 or sizes == {1}:
        raise ValueError("every set must hold the same number (>= 2) of demonstrations")
    n = sizes.pop()
    means = np.array([g.mean() for g in groups])
    within = float(np.mean([g.var(ddof=1) for g in groups]))
    prompts = np.asarray(sets["prompt"], dtype=object)
    prompt_gold = np.asarray(gold([prompts[ids == i][0] for i in order]), float)
    return {"reliability": float(1 - (within / n) / means.var(ddof=1)),
            "prompt_r2": float(np.corrcoef(means, prompt_gold)[0, 1] ** 2), "per_set": n, "sets": len(order)}


def prompt_share(prompts: Sequence[str], values) -> float:
    """The share of the variance of ``values`` that the prompt explains (one-way ANOVA), over the prompts with
    at least two values: 1 - within-prompt variance (unbiased) / total variance."""
    prompts, values = np.asarray(prompts, dtype=object), np.asarray(values, float)
    _, ids, counts = np.unique(prompts, return_inverse=True, return_counts=True)
    keep = counts[ids] >= 2
    ids, values = ids[keep], values[keep]
    if len(np.unique(ids)) < 2:
        raise ValueError("prompt_share needs at least two prompts with two or more values each")
    sums, sizes = np.bincount(ids, values), np.bincount(ids)
    residual = values - (sums / np.maximum(sizes, 1))[ids]
    within = (residual ** 2).sum() / (len(values) - len(np.unique(ids)))
    return float(1 - within / values.var(ddof=1))


def positive_sets(sets: datasets.Dataset, gold: Callable[[Sequence[str]], np.ndarray], threshold: float,
                  max_words: int | None = None) -> tuple[list[str], list[str]]:
    """The (prompt, demonstration) rows of the sets whose mean gold score (demonstrations cut to ``max_words``)
    is >= ``threshold``: a "continue this review positively" task whose targets are set means."""
    values = np.asarray(gold(truncate_words(sets["demonstration"], max_words)), float)
    ids = np.asarray(sets["set"])
    means = np.bincount(ids, values) / np.maximum(np.bincount(ids), 1)
    keep = means[ids] >= threshold
    if not keep.any():
        raise ValueError(f"no demonstration set has a mean gold score >= {threshold}; lower rcfd.positive_threshold")
    return ([p for p, k in zip(sets["prompt"], keep) if k], [d for d, k in zip(sets["demonstration"], keep) if k])


def study_demonstrations(preset: Preset, world, gold: Callable[[Sequence[str]], np.ndarray], eval_prompts: int,
                         max_words: int | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """The RCfD study's positive demonstrations, ``{"train": (prompts, demos), "eval": (prompts, demos)}``.

    Review world: ``rcfd.train_sets`` demonstration sets of ``rcfd.demos_per_prompt`` continuations
    (``rcfd.demo_prompt`` prompts, seed ``preset.seed``), the positive ones kept (:func:`positive_sets`);
    the held-out sets come from seed ``preset.seed + 1`` (other reviews), the first ``eval_prompts``
    positive ones whose prompt no training set has. Other worlds (IMDb) have one demonstration per review: the positive (prompt,
    demonstration) pairs of the train and validation splits, at most ``eval_prompts`` held-out prompts.
    """
    config = preset.rcfd
    if preset.world.source != "review_world":
        out = {}
        for key, split in (("train", "train"), ("eval", "validation")):
            data = world.splits[split]
            out[key] = positive_demonstrations(list(data["prompt"]), list(data["demonstration"]), gold,
                                               config.positive_threshold, max_words)
        chosen = set(list(dict.fromkeys(out["eval"][0]))[:eval_prompts])
        out["eval"] = tuple(map(list, zip(*[(p, d) for p, d in zip(*out["eval"]) if p in chosen])))
        return out
    train = positive_sets(demonstration_sets(preset, config.train_sets, config.demos_per_prompt, preset.seed,
                                             config.demo_prompt), gold, config.positive_threshold, max_words)
    held = demonstration_sets(preset, 3 * eval_prompts, config.demos_per_prompt, preset.seed + 1, config.demo_prompt)
    prompts, demos = positive_sets(held, gold, config.positive_threshold, max_words)
    seen = set(train[0])  # an opening can recur across reviews: held-out prompts are ones PPO never trained on
    chosen = set([p for p in dict.fromkeys(prompts) if p not in seen][:eval_prompts])
    if len(chosen) < eval_prompts:
        raise ValueError(f"only {len(chosen)} positive held-out sets of {eval_prompts} wanted; lower "
                         "rcfd.positive_threshold or runs.eval_prompts")
    return {"train": train, "eval": tuple(map(list, zip(*[(p, d) for p, d in zip(prompts, demos) if p in chosen])))}


def main(argv: list[str] | None = None) -> int:
    from rewardlab.core.judges import load_gold_judge
    from rewardlab.core.presets import load_preset
    from rewardlab.core.world import build_world

    parser = argparse.ArgumentParser(description="Reliability and prompt-predictability of RCfD targets")
    parser.add_argument("--sets", type=int, default=3000)
    parser.add_argument("--per-prompt", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    preset = load_preset("tiny")
    budget, judge = preset.rcfd.ppo.max_new_tokens, load_gold_judge(preset)
    train = build_world(preset).splits["train"]
    share = prompt_share(train["prompt"], judge([" ".join(d.split()[:budget]) for d in train["demonstration"]]))
    print(f"the world's training split, one demonstration per review: the prompt explains {share:.3f} of the "
          "variance of a demonstration's gold")
    for kind in PROMPT_KINDS:
        sets = demonstration_sets(preset, args.sets, args.per_prompt, args.seed, prompt=kind)
        quality = target_quality(sets, judge, max_words=budget)
        words = np.mean([len(p.split()) for p in sets["prompt"][:: args.per_prompt]])
        print(f"prompt={kind:8s} ({words:.1f} words): reliability {quality['reliability']:.3f}, "
              f"R^2 on gold(prompt) {quality['prompt_r2']:.3f} ({quality['sets']} sets of {quality['per_set']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

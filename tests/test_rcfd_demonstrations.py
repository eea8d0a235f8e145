"""RCfD demonstration sets: continuations of one review that share its polarity, and how much their target carries."""
import dataclasses

import numpy as np
import pytest

from rewardlab.core.judges import VaderJudge
from rewardlab.core.presets import load_preset
from rewardlab.core.vocabulary import generator_vocabulary
from rewardlab.rcfd import demonstrations as D


@pytest.mark.parametrize("kind", D.PROMPT_KINDS)
def test_every_set_shares_a_prompt_and_a_polarity_and_is_reproducible(smoke_preset, kind):
    sets = D.demonstration_sets(smoke_preset, n_sets=20, per_prompt=4, seed=3, prompt=kind)
    assert len(sets) == 80 and sorted(set(sets["set"])) == list(range(20))
    world, vocabulary = smoke_preset.world, set(generator_vocabulary(smoke_preset))
    for index in range(20):
        rows = sets.select(range(4 * index, 4 * index + 4))
        assert len(set(rows["prompt"])) == 1 and len(set(rows["polarity"])) == 1 and set(rows["set"]) == {index}
        prompt = rows["prompt"][0].split()
        if kind == "words":
            assert len(prompt) == world.prompt_words
        else:
            assert prompt[-1] == "." and len(prompt) >= world.prompt_words  # a whole opening, sentences and all
        for demonstration in rows["demonstration"]:
            words = demonstration.split()
            assert world.min_response_words <= len(words) <= world.max_response_words and set(words) <= vocabulary
    again = D.demonstration_sets(smoke_preset, n_sets=20, per_prompt=4, seed=3, prompt=kind)
    assert again["demonstration"] == sets["demonstration"]
    assert D.demonstration_sets(smoke_preset, 20, 4, seed=4, prompt=kind)["demonstration"] != sets["demonstration"]


def test_the_demonstrations_follow_the_polarity_and_the_opening_predicts_the_target_better():
    preset = load_preset("tiny")  # the full world: its vocabulary, its response budget
    judge, budget = VaderJudge(), preset.rcfd.ppo.max_new_tokens
    opening = D.demonstration_sets(preset, n_sets=400, per_prompt=8, seed=0, prompt="opening")
    gold = judge(opening["demonstration"])
    assert np.corrcoef(gold, opening["polarity"])[0, 1] > 0.5  # the continuations carry the review's z
    quality = {kind: D.target_quality(D.demonstration_sets(preset, 400, 8, seed=0, prompt=kind), judge, budget)
               for kind in D.PROMPT_KINDS}
    assert all(q["reliability"] > 0.8 and q["per_set"] == 8 and q["sets"] == 400 for q in quality.values())
    assert quality["opening"]["prompt_r2"] > quality["words"]["prompt_r2"] + 0.1


def test_prompt_share_is_the_anova_share_over_repeated_prompts():
    prompts = ["a", "a", "b", "b", "c"]  # "c" has one value and is left out
    values = [1.0, 3.0, 5.0, 7.0, 100.0]
    within = (1 + 1 + 1 + 1) / (4 - 2)
    assert D.prompt_share(prompts, values) == pytest.approx(1 - within / np.var([1, 3, 5, 7], ddof=1))
    assert D.prompt_share(["a", "a", "b", "b"], [1.0, 1.0, 2.0, 2.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two prompts"):
        D.prompt_share(["a", "a", "b"], [1.0, 2.0, 3.0])


def test_bad_requests_name_the_fix(smoke_preset):
    with pytest.raises(ValueError, match="prompt must be one of"):
        D.demonstration_sets(smoke_preset, 2, 2, seed=0, prompt="sentence")
    with pytest.raises(ValueError, match="n_sets and per_prompt must be >= 1"):
        D.demonstration_sets(smoke_preset, 0, 2, seed=0)
    imdb = dataclasses.replace(smoke_preset, world=dataclasses.replace(smoke_preset.world, source="imdb"))
    with pytest.raises(ValueError, match="latent polarity"):
        D.demonstration_sets(imdb, 2, 2, seed=0)
    single = D.demonstration_sets(smoke_preset, 5, 1, seed=0)
    with pytest.raises(ValueError, match="same number"):
        D.target_quality(single, VaderJudge())


def test_the_study_keeps_whole_positive_sets_and_holds_out_other_reviews(smoke_preset, smoke_world):
    judge, config = VaderJudge(), smoke_preset.rcfd
    sets = D.demonstration_sets(smoke_preset, 12, 3, seed=1)
    prompts, demos = D.positive_sets(sets, judge, 0.05, max_words=18)
    means = {}
    for prompt, demo in zip(sets["prompt"], sets["demonstration"]):
        means.setdefault(prompt, []).append(float(judge([" ".join(demo.split()[:18])])[0]))
    kept = {p for p, values in means.items() if np.mean(values) >= 0.05}
    assert set(prompts) == kept and all(len([p for p in prompts if p == k]) == 3 for k in kept)
    with pytest.raises(ValueError, match="lower rcfd.positive_threshold"):
        D.positive_sets(sets, judge, 2.0)
    study = D.study_demonstrations(smoke_preset, smoke_world, judge, eval_prompts=4, max_words=18)
    train_prompts, eval_prompts = study["train"][0], study["eval"][0]
    assert len(set(eval_prompts)) == 4 and len(eval_prompts) == 4 * config.demos_per_prompt
    assert len(train_prompts) % config.demos_per_prompt == 0 and not set(train_prompts) & set(eval_prompts)
    assert np.mean(judge(study["eval"][1])) > 0.05  # a "continue positively" task

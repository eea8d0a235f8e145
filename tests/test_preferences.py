import numpy as np
import pytest

from rewardlab.reward import preferences as P
from rewardlab.tree import sampling as Tree
from rewardlab.core.judges import VaderJudge


@pytest.fixture(scope="module")
def prompts(smoke_world):
    return list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:6]


def test_chain_gives_k_independent_responses(smoke_policy, prompts):
    model, tokenizer, _ = smoke_policy
    groups = P.sample_chain(model, tokenizer, prompts, 4, seed=0, max_new_tokens=12)
    assert [g.prompt for g in groups] == prompts
    assert all(len(g.responses) == 4 and g.node_ids == ["0", "1", "2", "3"] for g in groups)
    assert groups[0].responses == P.sample_chain(model, tokenizer, prompts, 4, seed=0, max_new_tokens=12)[0].responses


def test_tree_shape_and_shared_prefixes(smoke_policy, prompts):
    model, tokenizer, _ = smoke_policy
    depth, branching, segment = 3, 2, 3
    groups = Tree.sample_tree(model, tokenizer, prompts, depth, branching, seed=0, segment_tokens=segment,
                           max_new_tokens=12)
    for group in groups:
        assert len(group.responses) == branching ** depth
        assert group.node_ids == [f"{a}.{b}.{c}" for a in range(2) for b in range(2) for c in range(2)]
        words = [r.split() for r in group.responses]
        for i in range(len(words)):
            for j in range(len(words)):
                shared_levels = 0
                while shared_levels < depth - 1 and group.node_ids[i].split(".")[shared_levels] == group.node_ids[j].split(".")[shared_levels]:
                    shared_levels += 1
                n = segment * shared_levels  # leaves sharing k levels share the first k segments
                if len(words[i]) >= n and len(words[j]) >= n:
                    assert words[i][:n] == words[j][:n]
        assert all(len(w) <= 12 for w in words)
    # siblings' leaves differ somewhere: the tree is not a set of copies
    assert sum(len(set(g.responses)) for g in groups) > len(groups) * 2


def test_segment_lengths():
    assert Tree.segment_lengths(3, 10, 48) == [10, 10, 28]
    assert Tree.segment_lengths(1, 10, 48) == [48]
    with pytest.raises(ValueError, match="no room"):
        Tree.segment_lengths(5, 12, 48)


def test_draw_pairs_budget_spread_and_errors():
    groups = [P.ResponseGroup("p", ["a", "b", "c", "c"], list("0123")), P.ResponseGroup("q", ["d", "e", "f", ""], list("0123"))]
    pairs = P.draw_pairs(groups, 6, seed=0)
    assert len(pairs) == len(set(pairs)) == 6
    assert sorted(g for g, _, _ in pairs) == [0, 0, 0, 1, 1, 1]  # equal share per prompt
    for g, a, b in pairs:  # never identical or empty responses
        assert groups[g].responses[a] != groups[g].responses[b] and groups[g].responses[a] and groups[g].responses[b]
    assert len(P.draw_pairs(groups, 8, seed=0)) == 8  # 5 distinct pairs in p (c == c), 3 in q ("" is empty)
    with pytest.raises(ValueError, match="exceeds the 8 distinct pairs"):
        P.draw_pairs(groups, 9, seed=0)


def test_closest_first_draws_siblings_before_cousins_and_keeps_the_default_draw():
    ids = ["0.0.0", "0.0.1", "0.1.0", "0.1.1", "1.0.0", "1.0.1", "1.1.0", "1.1.1"]
    groups = [P.ResponseGroup(f"p{g}", [f"r{g}-{k}" for k in range(8)], ids) for g in range(5)]
    close = P.draw_pairs(groups, 4 * 5 + 5, seed=3, closest_first=True)
    depth = [P.shared_segments(ids[a], ids[b]) for _, a, b in close]
    assert depth[:20] == [2] * 20  # the 4 sibling pairs of every prompt first ...
    assert depth[20:] == [1] * 5  # ... then one cousin each
    assert P.shared_segments("0.1.1", "0.1.0") == 2 and P.shared_segments("3", "5") == 0
    assert P.draw_pairs(groups, 12, seed=3) == P.draw_pairs(groups, 12, seed=3, closest_first=False)
    assert sorted(P.draw_pairs(groups, 12, seed=3)) != sorted(close[:12])


def test_bradley_terry_labels_follow_the_model():
    gold_a, gold_b = np.full(20000, 0.1), np.zeros(20000)
    wins = P.bradley_terry_labels(gold_a, gold_b, tau=0.1, seed=0)
    assert wins.mean() == pytest.approx(1 / (1 + np.exp(-1)), abs=0.01)
    assert P.bradley_terry_labels(np.array([0.2, -0.2]), np.zeros(2), tau=0, seed=0).tolist() == [True, False]
    with pytest.raises(ValueError, match="tau"):
        P.bradley_terry_labels(gold_a, gold_b, tau=-1, seed=0)


def test_label_pairs_trl_format():
    groups = [P.ResponseGroup("the plot was", ["good .", "awful ."], ["0.0", "0.1"])]
    ds = P.label_pairs(groups, [(0, 0, 1)], VaderJudge(), tau=0, seed=0, structure="tree")
    row = ds[0]
    assert row["prompt"] + row["chosen"] == "the plot was good ."
    assert row["rejected"] == " awful ." and row["chosen_gold"] > row["rejected_gold"]
    assert (row["chosen_node"], row["rejected_node"], row["structure"]) == ("0.0", "0.1", "tree")
    P.check_preference_dataset(ds)


def test_check_preference_dataset_errors():
    import datasets

    with pytest.raises(ValueError, match="lacks column.*rejected"):
        P.check_preference_dataset(datasets.Dataset.from_dict({"prompt": ["a"], "chosen": ["b"]}))
    with pytest.raises(ValueError, match="is empty; it needs at least one"):
        P.check_preference_dataset(datasets.Dataset.from_dict({"prompt": [], "chosen": [], "rejected": []}))

    def rows(chosen, rejected):
        good = {"prompt": ["p"] * 3, "chosen": [" good", " fine", " great"], "rejected": [" bad", " awful", " dull"]}
        good["chosen"][2], good["rejected"][2] = chosen, rejected
        return datasets.Dataset.from_dict(good)

    with pytest.raises(ValueError, match=r"1 bad preference row\(s\); first: row 2: rejected is empty\. Drop"):
        P.check_preference_dataset(rows(" b", " "))
    with pytest.raises(ValueError, match=r"row 2: chosen and rejected are the same text \('same words'\)"):
        P.check_preference_dataset(rows(" same words", "same words "))
    with pytest.raises(ValueError, match="row 2: chosen is not a string"):
        P.check_preference_dataset(datasets.Dataset.from_dict({"prompt": ["p"] * 3, "chosen": ["a", "b", None],
                                                              "rejected": ["c", "d", "e"]}))


def test_equal_budget_control(smoke_policy, prompts):
    model, tokenizer, _ = smoke_policy
    chain, tree, chain_groups, tree_groups = Tree.equal_budget_datasets(
        model, tokenizer, prompts, VaderJudge(), budget=12, depth=2, branching=2, tau=0.1, seed=0,
        segment_tokens=4, max_new_tokens=12)
    assert len(chain) == len(tree) == 12
    assert sorted(set(chain["prompt"])) == sorted(set(tree["prompt"])) == sorted(prompts)
    assert sorted(chain["prompt"]) == sorted(tree["prompt"])  # same pairs per prompt
    assert [len(g.responses) for g in chain_groups] == [len(g.responses) for g in tree_groups] == [4] * 6

import math

import numpy as np
import pytest
import torch

from rewardlab.core.judges import ClassifierJudge, VaderJudge, word_credit
from rewardlab.rl.evaluation import distinct_n, naturalness_nll
from rewardlab.core.world import generate_reviews


@pytest.mark.parametrize("text, expected", [
    ("the plot was good", 0.4404),        # VADER: good = 1.9 -> 1.9 / sqrt(1.9^2 + 15)
    ("the plot was not good", -0.3412),   # negation: 1.9 * -0.74
    ("i saw it at the cinema with my sister .", 0.0),
])
def test_vader_known_scores(text, expected):
    assert VaderJudge()([text])[0] == pytest.approx(expected, abs=1e-4)


def test_vader_matches_its_formula():
    s = 1.9 + 0.293  # "very good": booster adds 0.293
    assert VaderJudge()(["very good"])[0] == pytest.approx(s / math.sqrt(s * s + 15), abs=1e-4)


def test_judge_is_batched_and_rejects_a_bare_string(smoke_world):
    responses = smoke_world.splits["test"]["demonstration"][:30]
    judge = VaderJudge()
    assert np.allclose(judge(responses), [judge([r])[0] for r in responses])
    with pytest.raises(TypeError, match="list"):
        judge("a single string")


def test_credit_sums_to_gold_on_generated_reviews(smoke_preset):
    judge = VaderJudge()
    for review in generate_reviews(smoke_preset, n=200, seed=11):
        text = " ".join(review)
        credit = word_credit(text)
        assert credit.shape == (len(review),)
        assert credit.sum() == pytest.approx(judge([text])[0], abs=1e-9)


def test_negation_intensifier_and_contrast_credit():
    words, credit = "the plot was not good".split(), word_credit("the plot was not good", scale_to_compound=False)
    assert credit[:3].tolist() == [0, 0, 0]
    assert credit[4] == pytest.approx(1.9)                 # good keeps its lexicon valence
    assert credit[3] == pytest.approx(1.9 * -0.74 - 1.9)   # not takes the flip
    credit = word_credit("very good", scale_to_compound=False)
    assert credit.tolist() == pytest.approx([0.293, 1.9])
    text = "the plot was good but the acting was bad"
    credit = word_credit(text, scale_to_compound=False)
    # but: good x 0.5 (-0.95) and bad (-2.5) x 1.5 (-1.25)
    assert credit[text.split().index("but")] == pytest.approx(-0.95 - 1.25)


def test_two_modifiers_split_by_shapley():
    credit = word_credit("not very good", scale_to_compound=False)
    v = lambda not_, very: (1.9 + 0.293 * very) * (-0.74 if not_ else 1)  # noqa: E731
    shapley_not = 0.5 * (v(1, 0) - v(0, 0)) + 0.5 * (v(1, 1) - v(0, 1))
    assert credit[0] == pytest.approx(shapley_not)
    assert credit.sum() == pytest.approx(v(1, 1))


def test_distinct_n():
    assert distinct_n(["a b a b"], 1) == 0.5
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["a", "b"], 2) == 0.0
    assert distinct_n(["a b", "c d"], 2) == 1.0


def test_naturalness_is_the_mean_token_nll(smoke_policy):
    model, tokenizer, _ = smoke_policy
    prompts, responses = ["the plot was", "i thought the"], ["very good .", "acting was awful . i saw it"]
    nll = naturalness_nll(model, tokenizer, prompts, responses)
    for prompt, response, value in zip(prompts, responses, nll):
        ids = [tokenizer.bos_token_id] + tokenizer(prompt + " " + response, add_special_tokens=False)["input_ids"]
        n_prompt = 1 + len(prompt.split())
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0, :-1], -1)
        expected = -np.mean([logp[t - 1, ids[t]].item() for t in range(n_prompt, len(ids))])
        assert value == pytest.approx(expected, abs=1e-5)


def test_classifier_judge_from_a_local_model(tmp_path, smoke_preset):
    from transformers import GPT2Config, GPT2ForSequenceClassification

    from rewardlab.core.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(smoke_preset)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, num_labels=2,
                        pad_token_id=tokenizer.pad_token_id, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                        label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(0)
    GPT2ForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    judge = ClassifierJudge(str(tmp_path), batch_size=2)
    assert judge.positive_index == 1
    scores = judge(["the plot was good .", "the plot was awful .", "the end ."])
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert np.allclose(scores, judge(["the plot was good .", "the plot was awful .", "the end ."]))

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from rewardlab.core.presets import load_preset
from rewardlab.rl import rollouts as R
from rewardlab.rl import held_out as H
from rewardlab.rl import trainer as P
from rewardlab.reward.models import build_reward_model, score
from rewardlab.shaping.shapes import SHAPES, shaped_reward_fn


def _rollout(n_tokens, finished, width=4):
    rows = len(n_tokens)
    action_mask = torch.zeros(rows, width, dtype=torch.long)
    for i, (n, done) in enumerate(zip(n_tokens, finished)):
        action_mask[i, : n + done] = 1
    sequences = torch.zeros(rows, 2 + width, dtype=torch.long)
    return R.Rollout(["p"] * rows, ["r"] * rows, sequences, torch.cat([torch.ones(rows, 2, dtype=torch.long),
                     action_mask], 1), action_mask, list(n_tokens), list(finished))


def test_rewards_land_on_the_actions_and_the_last_one_is_paid_at_the_end():
    rollout = _rollout([3, 2], [False, True])
    # a scalar is sparse: the whole reward on the final action (<eos> for a finished response)
    scalars = R.token_reward_tensor([1.5, -2.0], rollout, step=1, name="sparse")
    assert torch.equal(scalars, torch.tensor([[0, 0, 1.5, 0], [0, 0, -2.0, 0]]))
    dense = R.token_reward_tensor([np.array([0.1, 0.2, 0.3]), torch.tensor([0.5, 0.25])], rollout, 1, "uniform")
    assert torch.allclose(dense, torch.tensor([[0.1, 0.2, 0.3, 0], [0.5, 0, 0.25, 0]]))
    # a scalar R and [0, ..., 0, R] are the same reward
    same = R.token_reward_tensor([np.array([0, 0, 1.5]), np.array([0, -2.0])], rollout, 1, "sparse")
    assert torch.equal(same, scalars)


def test_bad_rewards_name_the_step_the_shaping_and_the_lengths():
    rollout = _rollout([3, 2], [False, True])
    with pytest.raises(ValueError, match=r"step 4: reward 'shap' gave 2 token rewards for response 0, expected 3"):
        R.token_reward_tensor([np.zeros(2), np.zeros(2)], rollout, step=4, name="shap")
    with pytest.raises(ValueError, match="returned 1 rewards for 2 responses"):
        R.token_reward_tensor([1.0], rollout, step=4, name="shap")
    with pytest.raises(FloatingPointError, match=r"step 7: reward 'lime' is not finite for response 1"):
        R.token_reward_tensor([np.zeros(3), np.array([0.0, np.nan])], rollout, step=7, name="lime")
    with pytest.raises(FloatingPointError, match="step 2: reward 'sparse'"):
        R.token_reward_tensor([np.inf, 0.0], rollout, step=2, name="sparse")


@pytest.fixture(scope="module")
def ppo_setup(smoke_preset, smoke_policy, smoke_world):
    policy, tokenizer, _ = smoke_policy
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:40]
    return smoke_preset.shaping.ppo, policy, tokenizer, prompts


def _count_reward(tokenizer, word):
    """One point per occurrence of ``word``, paid on that token: a dense reward with a known optimum."""
    def reward_fn(prompts, responses):
        return [np.array([1.0 if w == word else 0.0 for w in tokenizer.tokenize(" " + r)]) for r in responses]
    return reward_fn


def test_ppo_run_logs_every_quantity_is_reproducible_and_keeps_the_reference(ppo_setup):
    config, policy, tokenizer, prompts = ppo_setup
    before = [p.detach().clone() for p in policy.parameters()]
    reward_fn = _count_reward(tokenizer, "the")
    first = P.train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=3, name="count", progress=False,
                        gold_fn=lambda responses: np.zeros(len(responses)))
    second = P.train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=3, name="count", progress=False,
                         gold_fn=lambda responses: np.zeros(len(responses)))
    assert set(first.log) == set(P.LOG_KEYS) and first.log["step"] == list(range(1, config.steps + 1))
    tracked = P.train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=3, name="count", progress=False,
                          gold_fn=lambda responses: np.zeros(len(responses)),
                          track={"words": lambda p, r: [len(x.split()) for x in r]})
    assert tracked.log["proxy_reward"] == first.log["proxy_reward"]  # logging only: the run is unchanged
    assert len(tracked.log["words"]) == config.steps and all(w > 0 for w in tracked.log["words"])
    with pytest.raises(ValueError, match="clash"):
        P.train_ppo(config, policy, tokenizer, reward_fn, prompts, track={"kl": reward_fn}, progress=False)
    for key in P.LOG_KEYS:
        if key not in ("seconds", "reward_seconds"):
            assert np.all(np.isfinite(first.log[key])), key
            assert first.log[key] == second.log[key], key  # the same seed, the same run
    assert first.log["kl"][0] == pytest.approx(0.0, abs=1e-5)  # step 1 samples from the reference itself
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters()))  # the reference stays frozen
    # and the caller's policy keeps its gradients (a later run, or TRL, must still be able to train it)
    assert all(p.requires_grad for p in policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, first.model.parameters()))


def test_held_out_evaluation_is_logging_only_uses_common_draws_and_does_not_depend_on_the_stack(ppo_setup):
    config, policy, tokenizer, prompts = ppo_setup
    config = dataclasses.replace(config, steps=3)
    reward_fn, gold = _count_reward(tokenizer, "the"), (lambda responses: [len(r.split()) for r in responses])
    evaluation = H.Evaluation(prompts[:6], every=2, scores={"words": lambda p, r: [len(x.split()) for x in r]})
    plain = P.train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=1, gold_fn=gold, progress=False)
    stacked = P.train_ppo_seeds(config, policy, tokenizer, [reward_fn] * 2, prompts, seeds=[0, 1], gold_fn=gold,
                                progress=False, evaluation=evaluation)
    alone = P.train_ppo(config, policy, tokenizer, reward_fn, prompts, seed=1, gold_fn=gold, progress=False,
                        evaluation=evaluation)
    assert alone.log["proxy_reward"] == plain.log["proxy_reward"]  # evaluating does not touch the run
    for key in evaluation.keys():
        assert stacked[1].log[key] == alone.log[key] or np.allclose(stacked[1].log[key], alone.log[key], equal_nan=True)
        assert np.isnan(alone.log[key][0]) and np.all(np.isfinite(np.array(alone.log[key])[[1, 2]])), key  # steps 2, 3
    # common random numbers: policies that have not moved answer the held-out prompts identically
    still = dataclasses.replace(config, learning_rate=1e-12)
    per_seed = dataclasses.replace(evaluation, scores={"seed": H.PerSeed(lambda seed: lambda p, r: [seed] * len(r))})
    frozen = P.train_ppo_seeds(still, policy, tokenizer, [reward_fn] * 2, prompts, seeds=[0, 7], gold_fn=gold,
                               progress=False, evaluation=per_seed)
    assert frozen[0].log["eval_gold"][1] == frozen[1].log["eval_gold"][1]
    assert (frozen[0].log["eval_seed"][1], frozen[1].log["eval_seed"][1]) == (0, 7)  # a PerSeed score reads its seed
    assert frozen[0].log["eval_kl"][1] == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError, match="every"):
        H.Evaluation(prompts[:2], every=0)


def test_ppo_learns_a_dense_reward(ppo_setup):
    """Rewarding every "the" must make the policy say "the" more often (12 steps of 16 responses)."""
    config, policy, tokenizer, prompts = ppo_setup
    config = dataclasses.replace(config, steps=12, batch_size=16, minibatch_size=8, learning_rate=3e-3, kl_coef=0.0)
    result = P.train_ppo(config, policy, tokenizer, _count_reward(tokenizer, "the"), prompts, seed=0,
                         name="count", progress=False)
    rewards = result.log["proxy_reward"]
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 0.5, rewards


def test_action_log_probs_are_those_of_the_distribution_sampled_from(ppo_setup):
    """Suppressed special tokens and a first <eos> are never sampled, so they hold no probability:
    log-probs renormalise over the allowed tokens (else a policy could park mass on <unk> and
    the KL estimate E[log pi - log pi_ref] would go negative)."""
    config, policy, tokenizer, prompts = ppo_setup
    torch.manual_seed(0)
    rollout = R.sample_rollout(policy, tokenizer, prompts[:6], max_new_tokens=6)
    assert rollout.suppressed_ids and tokenizer.eos_token_id not in rollout.suppressed_ids
    with torch.no_grad():
        logprobs, _, entropy = R.action_stats(policy, rollout)
        position_ids = (rollout.attention_mask.cumsum(-1) - 1).clamp(min=0)
        logits = policy(input_ids=rollout.sequences, attention_mask=rollout.attention_mask,
                        position_ids=position_ids).logits[:, rollout.prompt_width - 1: -1]
    allowed = torch.ones(logits.shape[-1], dtype=torch.bool)
    allowed[list(rollout.suppressed_ids)] = False
    for t in range(logits.shape[1]):
        keep = allowed.clone()
        if t == 0:
            keep[tokenizer.eos_token_id] = False
        expected = torch.log_softmax(logits[:, t, keep], -1)
        actions = rollout.sequences[:, rollout.prompt_width + t]
        index = torch.cumsum(keep.long(), 0)[actions] - 1  # the action's position among the allowed tokens
        mask = rollout.action_mask[:, t].bool()
        assert torch.allclose(logprobs[mask, t], expected[mask].gather(-1, index[mask, None])[:, 0], atol=1e-5)
        assert torch.allclose(entropy[:, t], -(expected.exp() * expected).sum(-1), atol=1e-5)
    assert torch.isfinite(entropy).all()


def test_bad_reward_during_training_stops_with_the_step_and_the_name(ppo_setup):
    config, policy, tokenizer, prompts = ppo_setup
    with pytest.raises(FloatingPointError, match="step 1: reward 'broken'"):
        P.train_ppo(config, policy, tokenizer, lambda p, r: [float("nan")] * len(r), prompts, name="broken",
                    progress=False)
    with pytest.raises(ValueError, match="expected"):
        P.train_ppo(config, policy, tokenizer, lambda p, r: [np.zeros(99)] * len(r), prompts, name="long",
                    progress=False)
    with pytest.raises(ValueError, match="needs prompts"):
        P.train_ppo(config, policy, tokenizer, lambda p, r: [0.0] * len(r), [], progress=False)


@pytest.mark.parametrize("shape", list(SHAPES) + ["pure-sparse mixture"])
def test_shaped_rewards_line_up_with_the_policy_tokens_and_sum_to_the_score(shape, ppo_setup, smoke_preset):
    config, policy, tokenizer, prompts = ppo_setup
    reward_model = build_reward_model(smoke_preset, tokenizer, seed=1).eval()
    torch.manual_seed(0)
    rollout = R.sample_rollout(policy, tokenizer, prompts[:4], max_new_tokens=8)
    weights = {"shap": 0.25, "lime": 0.25, "attention": 0.25, "sparse": 0.25} if shape == "mixture" else None
    if shape == "pure-sparse mixture":  # a vertex of the simplex: no explainer runs at all
        shape, weights = "mixture", {"sparse": 1.0}
    reward_fn = shaped_reward_fn(shape, reward_model, tokenizer, weights=weights, shap_max_evals=40, lime_num_samples=16)
    token_rewards = reward_fn(rollout.prompts, rollout.responses)
    placed = R.token_reward_tensor(token_rewards, rollout, step=1, name=shape)  # lengths checked here
    expected = score(reward_model, tokenizer, rollout.prompts, rollout.responses)
    assert placed.sum(dim=1).numpy() == pytest.approx(expected, abs=1e-4)


def test_steps_to_threshold_uses_a_trailing_mean_and_reports_never_as_nan():
    from rewardlab.rl.evaluation import learning_speed, steps_to_threshold

    curve = [0.0, 0.9, 0.0, 0.3, 0.6, 0.9]
    assert steps_to_threshold(curve, 0.5, window=1) == 2  # one lucky batch is enough without smoothing
    assert steps_to_threshold(curve, 0.5, window=3) == 6  # trailing means .3, .4, .3, .6
    assert np.isnan(steps_to_threshold(curve, 0.95))
    with pytest.raises(ValueError, match="window"):
        steps_to_threshold(curve, 0.5, window=0)
    import pandas as pd

    steps = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 3, "seed": 0, "step": [1, 2, 3] * 2,
                          "gold_reward": [0.1, 0.6, 0.7, 0.0, 0.1, 0.2]})
    speed = learning_speed(steps, 0.5, window=1).set_index("method")
    assert speed.loc["a", "steps_to_threshold"] == 2 and np.isnan(speed.loc["b", "steps_to_threshold"])
    assert speed.loc["a", "mean_gold"] == pytest.approx(1.4 / 3) and speed.loc["b", "mean_gold"] == pytest.approx(0.1)


def test_seed_stacks_split_a_method_only_when_workers_would_idle():
    from rewardlab.rl.runs import seed_stacks

    assert seed_stacks(["a", "b"], [0, 1, 2], 2) == [("a", [0, 1, 2]), ("b", [0, 1, 2])]
    assert seed_stacks(["a"], list(range(5)), 2) == [("a", [0, 1, 2]), ("a", [3, 4])]
    assert seed_stacks(["a", "b"], [0, 1], 4) == [("a", [0]), ("a", [1]), ("b", [0]), ("b", [1])]
    assert seed_stacks(["a"], [7], 8) == [("a", [7])] and seed_stacks(["a"], [0, 1], 1) == [("a", [0, 1])]


def test_run_methods_gives_the_same_runs_in_worker_processes_as_in_process(ppo_setup, smoke_preset):
    """Forked workers (closures as reward functions, one torch thread each) reproduce the in-process runs,
    also when a method's seeds are split into several stacks (4 workers, 2 methods: a stack per seed)."""
    from rewardlab.rl.runs import Method, run_methods

    config, policy, tokenizer, prompts = ppo_setup
    config = dataclasses.replace(config, steps=2)
    reward_model = build_reward_model(smoke_preset, tokenizer, seed=1).eval()
    methods = {"the": Method(lambda seed: _count_reward(tokenizer, "the")),
               "a, beta 0": Method(lambda seed: _count_reward(tokenizer, "a"), {"kl_coef": 0.0})}
    gold = lambda responses: np.zeros(len(responses))  # noqa: E731
    runs = {}
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' setting, so the in-process runs are comparable bit for bit
    try:
        for workers in (1, 2, 4):
            runs[workers] = run_methods(load_preset("smoke", **{"runs.workers": workers}), config, policy, tokenizer,
                                        reward_model, prompts, prompts[:4], gold, methods, [0, 1], progress=False,
                                        track={"words": lambda p, r: [len(x.split()) for x in r]})
    finally:
        torch.set_num_threads(saved)
    (steps_1, summary_1) = runs[1]
    timing = ["seconds", "reward_seconds"]
    for workers in (2, 4):
        steps_n, summary_n = runs[workers]
        assert list(summary_n[["method", "seed"]].itertuples(index=False, name=None)) == [
            ("the", 0), ("a, beta 0", 0), ("the", 1), ("a, beta 0", 1)]
        pd.testing.assert_frame_equal(steps_1.drop(columns=timing), steps_n.drop(columns=timing))
        pd.testing.assert_frame_equal(summary_1.drop(columns=timing), summary_n.drop(columns=timing))
    steps_2 = runs[2][0]
    assert steps_2.groupby("method")["kl"].count().to_dict() == {"the": 4, "a, beta 0": 4}


def test_held_out_summary_reads_the_evaluations_and_interpolates_gold_at_a_kl():
    from rewardlab.rl.evaluation import gold_at_kl, held_out_summary

    nan = float("nan")
    steps = pd.DataFrame({"method": "a", "seed": 0, "step": [1, 2, 3, 4], "proxy_reward": [0.0, 1.0, 2.0, 3.0],
                          "eval_gold": [nan, 0.2, nan, 0.6], "eval_kl": [nan, 1.0, nan, 3.0]})
    row = held_out_summary(steps, at_steps=[4], at_kl=2.0, tail=2).iloc[0]
    assert row["mean_eval_gold"] == pytest.approx(0.4) and row["eval_gold_at_4"] == 0.6
    assert row["eval_gold_at_kl"] == pytest.approx(0.4) and row["trained_reward_final"] == 2.5
    assert np.isnan(gold_at_kl([1.0, 3.0], [0.2, 0.6], 5.0)) and np.isnan(gold_at_kl([1.0], [0.2], 0.5))
    with pytest.raises(ValueError, match="no evaluation at step 3"):
        held_out_summary(steps, at_steps=[3])


def test_an_interrupted_grid_resumes_from_the_cache_with_identical_runs(ppo_setup, smoke_preset, monkeypatch):
    """Issue 25: a grid stopped by Ctrl-C after its first job finished restores that job from the artifact cache
    and trains only the rest; every number equals an uninterrupted, uncached grid's."""
    from rewardlab.rl.runs import Method, grid_cache_key, run_methods

    config, policy, tokenizer, prompts = ppo_setup
    config = dataclasses.replace(config, steps=2)
    reward_model = build_reward_model(smoke_preset, tokenizer, seed=1).eval()
    preset = load_preset("smoke", **{"runs.workers": 1})  # in-process, so the test sees every reward call
    calls = []

    def counted(word, stop=False):
        def reward_fn(seed):
            calls.append((word, seed))
            if stop:
                raise KeyboardInterrupt  # Ctrl-C while the second job starts; the first has finished
            return _count_reward(tokenizer, word)
        return reward_fn

    def methods(stop=False):
        return {"the": Method(counted("the")), "a": Method(counted("a", stop), {"kl_coef": 0.0})}

    gold = lambda responses: np.zeros(len(responses))  # noqa: E731
    grid = dict(policy=policy, tokenizer=tokenizer, reward_model=reward_model, prompts=prompts,
                eval_prompts=prompts[:4], gold_fn=gold, seeds=[0, 1], progress=False)
    plain = run_methods(preset, config, methods=methods(), **grid)
    with pytest.raises(KeyboardInterrupt):
        run_methods(preset, config, methods=methods(stop=True), cache_key={"grid": "test"}, **grid)
    calls.clear()
    resumed = run_methods(preset, config, methods=methods(), cache_key={"grid": "test"}, **grid)
    assert calls == [("a", 0), ("a", 1)]  # only the lost job ran again
    timing = ["seconds", "reward_seconds"]
    pd.testing.assert_frame_equal(plain[0].drop(columns=timing), resumed[0].drop(columns=timing))
    pd.testing.assert_frame_equal(plain[1].drop(columns=timing), resumed[1].drop(columns=timing))
    calls.clear()
    again = run_methods(preset, config, methods=methods(), cache_key={"grid": "test"}, **grid)
    assert calls == [] and again[1].equals(resumed[1])  # a finished grid comes back whole
    other = run_methods(preset, dataclasses.replace(config, learning_rate=2e-4), methods=methods(),
                        cache_key={"grid": "test"}, **grid)
    assert len(calls) == 4 and not other[1].equals(resumed[1])  # another PPO config is another key
    monkeypatch.delenv("REWARDLAB_NOTEBOOK_HASH", raising=False)
    assert grid_cache_key("dense") is None  # no caching outside reproduce: edited cells are not hashed
    monkeypatch.setenv("REWARDLAB_NOTEBOOK_HASH", "abc")
    assert grid_cache_key("dense", rm=3) == {"grid": "dense", "notebook": "abc", "rm": 3}

import json
from pathlib import Path

import numpy as np
import pytest

from rewardlab.core.kernels import library_kernels
from rewardlab.shaping import bo, bo_surrogate


def test_stick_breaking_maps_the_box_onto_the_simplex_and_back():
    u = np.random.default_rng(0).random((500, 3))
    w = bo_surrogate.box_to_simplex(u)
    assert w.shape == (500, 4) and np.all(w >= 0) and np.allclose(w.sum(axis=1), 1)
    assert np.allclose(bo_surrogate.simplex_to_box(w), u)
    # the corners of the box reach the vertices: a single explainer, or pure sparse
    assert np.allclose(bo_surrogate.box_to_simplex([1, 0, 0]), [1, 0, 0, 0])
    assert np.allclose(bo_surrogate.box_to_simplex([0, 1, 0]), [0, 1, 0, 0])
    assert np.allclose(bo_surrogate.box_to_simplex([0, 0, 0]), [0, 0, 0, 1])
    # a uniform box gives a uniform simplex (Dirichlet(1,1,1,1)): every weight has mean 1/4, variance 3/80
    w = bo_surrogate.box_to_simplex(np.random.default_rng(1).random((20000, 3)))
    assert np.allclose(w.mean(axis=0), 0.25, atol=0.01) and np.allclose(w.var(axis=0), 3 / 80, atol=0.004)
    with pytest.raises(ValueError, match="sum to 1"):
        bo_surrogate.simplex_to_box([0.5, 0.6, 0.0, 0.0])


def _objective(spec):
    """A smooth function of the weights with its optimum inside the simplex, plus seeded noise."""
    w = np.array([spec["weights"][k] for k in bo_surrogate.WEIGHT_NAMES])
    noise = np.random.default_rng(spec["seeds"]).normal(0, 0.01)
    return {"objective": float(-np.sum((w - [0.1, 0.5, 0.1, 0.3]) ** 2) + noise), "extra": spec["trial"]}


class Interrupt(Exception):
    pass


def test_an_interrupted_study_resumes_at_the_next_trial_with_nothing_lost(tmp_path):
    path = tmp_path / "bo.jsonl"
    calls = []

    def flaky(spec):
        calls.append(spec["trial"])
        if spec["trial"] == 3 and calls.count(3) == 1:
            raise Interrupt  # the machine goes away during trial 3
        return _objective(spec)

    with pytest.raises(Interrupt):
        bo.run_study(path, flaky, strategy="bo", budget=6, n_init=3, q=1, seed=0, progress=False)
    assert len(path.read_text().splitlines()) == 1 + 3  # header + trials 0..2, each written when it finished
    trials = bo.run_study(path, flaky, strategy="bo", budget=6, n_init=3, q=1, seed=0, progress=False)
    assert [t["trial"] for t in trials] == list(range(6))
    assert calls == [0, 1, 2, 3, 3, 4, 5]  # trials 0..2 were not run again
    assert [t["kind"] for t in trials] == ["sobol"] * 3 + ["bo"] * 3
    assert all(t["seeds"] == [t["trial"]] and np.isclose(sum(t["weights"].values()), 1) for t in trials)
    # the Sobol design is shared by BO and random search
    random = bo.run_study(tmp_path / "rs.jsonl", _objective, strategy="random", budget=5, n_init=3, progress=False)
    assert [t["u"] for t in random[:3]] == [t["u"] for t in trials[:3]]
    assert bo.best_so_far(random).tolist() == list(np.maximum.accumulate([t["objective"] for t in random]))
    # ... and need not be run twice: reused trials are copied, only the random ones are evaluated
    calls.clear()
    counted = lambda spec: calls.append(spec["trial"]) or _objective(spec)  # noqa: E731
    shared = bo.run_study(tmp_path / "rs2.jsonl", counted, strategy="random", budget=5, n_init=3, reuse=trials,
                          progress=False)
    assert calls == [3, 4] and [t["objective"] for t in shared] == [t["objective"] for t in random]
    assert [t.get("reused", False) for t in shared] == [True] * 3 + [False] * 2
    with pytest.raises(ValueError, match="cannot reuse trial 0"):
        bo.run_study(tmp_path / "rs3.jsonl", counted, strategy="random", budget=5, n_init=3, seed=9, reuse=trials,
                     progress=False)


def test_a_corrupted_line_or_a_foreign_log_is_reported(tmp_path):
    path = tmp_path / "bo.jsonl"
    bo.run_study(path, _objective, strategy="random", budget=3, n_init=2, progress=False)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1] + [lines[-1][:25]]) + "\n")  # a torn last line
    with pytest.raises(ValueError, match=r"line 4 of 4 is corrupted.*delete that line"):
        bo.run_study(path, _objective, strategy="random", budget=3, n_init=2, progress=False)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="belongs to another study"):
        bo.run_study(path, _objective, strategy="random", budget=3, n_init=2, seed=5, progress=False)
    with pytest.raises(ValueError, match="unknown strategy"):
        bo.run_study(path, _objective, strategy="grid", budget=3, n_init=2, progress=False)


def test_common_random_numbers_and_the_posterior_mean_recommendation(tmp_path):
    """With inner_seeds every trial runs the same seeds (so the noise of _objective is the same draw for all);
    the recommendation maximises the GP's posterior mean, near the smooth objective's optimum."""
    trials = bo.run_study(tmp_path / "crn.jsonl", _objective, strategy="bo", budget=12, n_init=4, q=2,
                          inner_seeds=[7, 8], progress=False)
    assert all(t["seeds"] == [7, 8] for t in trials)
    z, objective = bo_surrogate.trial_points(trials), np.array([t["objective"] for t in trials])
    w = bo_surrogate.recommend(z, objective, seed=0, noise_free=True)
    assert w == bo_surrogate.recommend(z, objective, seed=0, noise_free=True)  # seeded: the same trials, the same recommendation
    assert np.isclose(sum(w.values()), 1) and min(w.values()) >= 0
    best_trial = max(t["objective"] for t in trials)
    assert _objective({"weights": w, "seeds": [7, 8], "trial": 0})["objective"] >= best_trial - 0.02
    with pytest.raises(ValueError, match="belongs to another study"):  # other seeds: another study
        bo.run_study(tmp_path / "crn.jsonl", _objective, strategy="bo", budget=12, n_init=4, q=2, inner_seeds=[7],
                     progress=False)


def test_bo_improves_on_its_initial_design_on_a_smooth_objective(tmp_path):
    """A sanity check of the GP + acquisition machinery (one seed), not a claim that BO always wins."""
    trials = bo.run_study(tmp_path / "bo.jsonl", _objective, strategy="bo", budget=12, n_init=4, q=2, progress=False)
    best = bo.best_so_far(trials)
    assert [t["kind"] for t in trials] == ["sobol"] * 4 + ["bo"] * 8
    assert best[-1] > best[3] + 0.03, best
    json.loads((tmp_path / "bo.jsonl").read_text().splitlines()[0])  # the header is JSON too


def test_parallel_trials_give_the_numbers_of_sequential_ones(smoke_preset, smoke_policy, tmp_path):
    """q = 2 PPO trials (two inner seeds each, stacked) in two worker processes match the same trials run one
    after the other."""
    from functools import partial

    from rewardlab.core.presets import load_preset

    from rewardlab.shaping.study import shape_trial

    preset = load_preset("smoke", **{"bo.ppo.steps": 2})
    evaluate = partial(shape_trial, preset=preset, threads=1)
    kwargs = dict(strategy="random", budget=2, n_init=2, q=2, seed=0, inner_seeds=[0, 1], progress=False)
    sequential = bo.run_study(tmp_path / "one.jsonl", evaluate, workers=1, **kwargs)
    parallel = bo.run_study(tmp_path / "two.jsonl", evaluate, workers=2, **kwargs)
    for a, b in zip(sequential, parallel):
        assert a["weights"] == b["weights"] and a["seeds"] == b["seeds"]
        assert a["objective"] == b["objective"] and a["gold_curve"] == b["gold_curve"]
        assert np.isfinite(a["final_gold"]) and len(a["objective_by_seed"]) == 2


def test_fixed_specs_resume_and_keep_their_order(tmp_path):
    path, header = tmp_path / "confirm.jsonl", {"confirm": {"seeds": [5, 6]}}
    specs = [{"weights": {"lime": 1.0}, "seed": s, "trial": -1} for s in (5, 6, 7)]
    calls = []

    def flaky(spec):
        calls.append(spec["seed"])
        if spec["seed"] == 6 and calls.count(6) == 1:
            raise Interrupt
        return {"objective": float(spec["seed"])}

    with pytest.raises(Interrupt):
        bo.run_specs(path, header, flaky, specs)
    done = bo.run_specs(path, header, flaky, specs)
    assert calls == [5, 6, 6, 7]  # spec 0 was not run again
    assert [(t["trial"], t["seed"], t["objective"]) for t in done] == [(0, 5, 5.0), (1, 6, 6.0), (2, 7, 7.0)]


def test_the_same_seed_gives_the_same_proposals_and_recommendation_whatever_ran_before(tmp_path):
    import torch

    def study(name):
        trials = bo.run_study(tmp_path / f"{name}.jsonl", _objective, strategy="bo", budget=7, n_init=3, q=2, seed=5,
                              progress=False)
        return trials, bo_surrogate.recommend(bo_surrogate.trial_points(trials), np.array([t["objective"] for t in trials]), seed=5)

    first, first_pick = study("a")
    torch.manual_seed(123), torch.rand(1000), np.random.seed(7)  # other draws in between must not leak in
    second, second_pick = study("b")
    assert [t["kind"] for t in first] == ["sobol"] * 3 + ["bo"] * 4
    assert [t["u"] for t in first] == [t["u"] for t in second]  # every proposal, exactly
    assert first_pick == second_pick


def test_proposals_do_not_depend_on_the_order_in_which_a_batch_finishes(tmp_path, monkeypatch):
    """Issue 25: with two workers the q trials of a batch finish in either order; the GP used to see them in
    that order, so the same study proposed other points (notebook 08's best trial moved). Every proposal of a
    study whose batches finish last-first equals the one whose batches finish first-first, and a batch cut
    short after its second trial resumes to the same numbers."""
    def last_first(evaluate, items, pool):  # as two workers may: the batch's last trial finishes first
        yield from ((item, evaluate(item[0])) for item in reversed(items))

    kwargs = dict(strategy="bo", budget=8, n_init=4, q=2, seed=3, progress=False)
    first = bo.run_study(tmp_path / "a.jsonl", _objective, **kwargs)
    monkeypatch.setattr(bo, "_evaluate_each", last_first)
    second = bo.run_study(tmp_path / "b.jsonl", _objective, **kwargs)
    assert [t["kind"] for t in first] == ["sobol"] * 4 + ["bo"] * 4
    assert [t["u"] for t in first] == [t["u"] for t in second]  # every proposal, exactly
    assert [t["objective"] for t in first] == [t["objective"] for t in second]

    calls = []

    def cut_after_trial_5(spec):  # the batch (4, 5) finishes 5 first, then the machine goes away
        calls.append(spec["trial"])
        if spec["trial"] == 4 and calls.count(4) == 1:
            raise Interrupt
        return _objective(spec)

    with pytest.raises(Interrupt):
        bo.run_study(tmp_path / "c.jsonl", cut_after_trial_5, **kwargs)
    assert [json.loads(line)["trial"] for line in (tmp_path / "c.jsonl").read_text().splitlines()[1:]] == [0, 1, 2, 3, 5]
    resumed = bo.run_study(tmp_path / "c.jsonl", cut_after_trial_5, **kwargs)
    assert calls.count(5) == 1 and calls.count(4) == 2  # only the missing trial of the batch ran again
    assert [t["u"] for t in resumed] == [t["u"] for t in first]
    assert [t["objective"] for t in resumed] == [t["objective"] for t in first]


def _vertex_objective(spec):
    """Deterministic under common random numbers, best at the SHAP vertex: the case of the powered run, whose
    box GP proposed that vertex four times from four different box points (one PPO run, four trials)."""
    w = np.array([spec["weights"][k] for k in bo_surrogate.WEIGHT_NAMES])
    return {"objective": float(w[0] - 0.3 * np.sum((w[1:] - [0.2, 0.1, 0.0]) ** 2))}


def test_under_common_random_numbers_no_trial_repeats_a_finished_one(tmp_path):
    trials = bo.run_study(tmp_path / "v.jsonl", _vertex_objective, strategy="bo", budget=12, n_init=4, q=2,
                          inner_seeds=[0], progress=False)
    weights = [np.array([t["weights"][k] for k in bo_surrogate.WEIGHT_NAMES]) for t in trials]
    for i, w in enumerate(weights):
        assert bo_surrogate.repeat_of(w, weights[:i]) is None, (i, w, bo_surrogate.repeat_of(w, weights[:i]))
    assert max(t["objective"] for t in trials) > 0.8  # and it still finds the vertex region
    # the GP's inputs are the simplex's free coordinates: two box points of one vertex are one input
    assert np.allclose(bo_surrogate.trial_points([{"weights": bo_surrogate.weights_dict([1, 0.2, 0.9])},
                                        {"weights": bo_surrogate.weights_dict([1, 0.7, 0.1])}]), [[1, 0, 0], [1, 0, 0]])


def test_a_repeated_proposal_is_replaced_by_the_most_uncertain_point(monkeypatch):
    z = bo_surrogate.box_to_simplex(bo_surrogate.sobol_points(5, 3, seed=1))[:, :-1]
    objective = np.arange(5, dtype=float)
    new = np.array([0.1, 0.1, 0.1])
    monkeypatch.setattr(bo_surrogate, "_maximise", lambda acquisition, dim, q: np.stack([z[2], new, new])[:q])
    points, repeats = bo_surrogate.propose_bo(z, objective, q=3, seed=0, noise_free=True)
    assert repeats == [2, None, -1]  # repeats finished trial 2; new; repeats an earlier proposal of its batch
    assert np.array_equal(points[1], new)
    seen = [bo_surrogate.to_weights(p) for p in z]
    for k in (0, 2):
        assert bo_surrogate.repeat_of(bo_surrogate.to_weights(points[k]), seen + [bo_surrogate.to_weights(p) for p in points[:k]]) is None
    assert np.all(points >= 0) and np.all(points.sum(axis=1) <= 1 + 1e-9)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def test_a_proposal_is_the_same_to_the_bit_on_every_kind_of_machine():
    """Notebook 08's first model-guided batch, from its four Sobol trials (study tier, inner seeds 0 and 1). With
    numpy's and OpenBLAS's kernels unpinned, the machine of the committed run proposed SHAP 0.0813912 here and an
    AVX2-only one 0.0814205 (rewardlab.core.kernels); pinned, every x86 machine with AVX2 is to give the value below."""
    points = np.array([[0.19334058492990314, 0.29173767466917155, 0.2546180949854314],
                       [0.2856886261517555, 0.06419023257124248, 0.5559391759674042],
                       [0.5751827926384439, 0.21484539793697863, 0.024189049464013967],
                       [0.07792022842693702, 0.2628991280387055, 0.476381752872194]])
    objective = np.array([0.1210510177963448, 0.251199329160575, 0.027828819444444444, 0.16227171904946192])
    # the pin has to be in effect first (conftest imports rewardlab before numpy loads); else the test says so
    assert library_kernels() == "numpy X86_V3; openblas Haswell", library_kernels()
    z, _ = bo_surrogate.propose_bo(points, objective, 2, 4, noise_free=True)
    assert z[0, 0] == 8.142052955265838e-02 and z[0, 2] == 4.606922535592049e-01, (z, _cpu_model())

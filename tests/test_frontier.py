"""The frontier's readings (rewardlab.frontier.curves), its selections and its replicate layout, on known inputs."""

import numpy as np
import pandas as pd
import pytest

from rewardlab.frontier import curves
from rewardlab.rl.evaluation import gold_at_kl
from rewardlab.frontier.arms import AA_SEED_OFFSET, replicate_of
from rewardlab.frontier.study import best_beta, per_replicate, tuned_beta_alignment


def _run(method, seed, kl, gold, every=1):
    """A per-step log with a held-out evaluation every ``every`` steps."""
    rows = []
    for step, (k, g) in enumerate(zip(kl, gold), start=1):
        evaluated = step % every == 0 or step == len(kl)
        rows.append({"method": method, "seed": seed, "step": step, "eval_kl": k if evaluated else np.nan,
                     "eval_gold": g if evaluated else np.nan})
    return pd.DataFrame(rows)


def test_gold_at_interpolates_the_first_crossing_and_is_nan_beyond_the_path():
    d, g = np.array([0.0, 1.0, 3.0, 2.0]), np.array([0.0, 0.5, -0.5, 0.2])
    assert gold_at_kl(d, g, 0.0) == 0.0
    assert gold_at_kl(d, g, 0.5) == pytest.approx(0.25)
    assert gold_at_kl(d, g, 2.0) == pytest.approx(0.0)  # first crossing: between 1 and 3, not the later 2
    assert np.isnan(gold_at_kl(d, g, 3.5))


def test_trajectory_starts_at_the_sft_point_and_reads_sqrt_kl():
    d, g = curves.trajectory(_run("a", 0, [1.0, 4.0, 9.0, 16.0], [0.1, 0.2, 0.3, 0.4], every=2), sft_gold=-0.1)
    assert d.tolist() == [0.0, 2.0, 4.0] and g.tolist() == [-0.1, 0.2, 0.4]


def test_penalty_frontier_goes_through_the_sft_point_and_the_endpoints_and_is_flat_beyond():
    ends = [(4.0, -1.0), (1.0, 0.5), (2.0, 0.6)]  # beta = 0 spends the most and ends lowest
    values = curves.penalty_frontier(ends, 0.0, [0.0, 0.5, 1.5, 3.0, 4.0, 9.0])
    assert values == pytest.approx([0.0, 0.25, 0.55, -0.2, -1.0, -1.0])


def test_readings_contrast_each_defence_with_the_frontier_at_its_own_kl():
    # two replicates; beta arms end at (d=1, 0.4) and (d=3, -0.5); the defence ends at d=2 with gold 0.3
    frames = []
    for seed in (0, 1):
        frames += [_run("β=1", seed, [1.0], [0.4]), _run("β=0", seed, [1.0, 4.0, 9.0], [0.4, 0.2, -0.5]),
                   _run("RCfD", seed, [1.0, 4.0], [0.2, 0.3 + seed * 0.1])]
    out = curves.frontier_readings(pd.concat(frames), 0.0, [1, 2], ["β=1", "β=0"], "β=0")
    assert out["seeds"] == [0, 1]
    # the frontier at d = 2: halfway from (1, 0.4) to (3, -0.5) = -0.05
    assert out["penalty"]["2"] == pytest.approx([-0.05, -0.05])
    assert out["minus_penalty"]["RCfD"] == pytest.approx([0.35, 0.45])
    assert "β=0" not in out["minus_penalty"]
    assert out["gold_at_sqrt_kl"]["RCfD"]["1"] == pytest.approx([0.2, 0.2])
    assert out["best_gold"]["β=0"] == [0.4, 0.4] and out["sqrt_kl_at_best"]["β=0"] == [1.0, 1.0]
    # early stopping at 1/4, 1/2, 3/4 of beta = 0's final sqrt KL (3): its path vs the frontier at 0.75, 1.5, 2.25
    d, g = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.4, 0.2, -0.5])
    frontier = curves.penalty_frontier([(1.0, 0.4), (3.0, -0.5)], 0.0, [0.75, 1.5, 2.25])
    expected = np.mean([gold_at_kl(d, g, k) for k in (0.75, 1.5, 2.25)] - frontier)
    assert out["early_stop_minus_penalty"] == pytest.approx([expected, expected])


def test_tuned_beta_is_chosen_on_the_other_replicates():
    rows = []
    a_values = {0.0: [0.9, 0.9, 0.9], 0.1: [0.1, 0.5, 0.5], 1.0: [0.4, 0.2, 0.2]}  # A per replicate (lower = better)
    for beta, values in a_values.items():
        rows += [{"method": f"β={beta:g}", "seed": s, "A": a} for s, a in enumerate(values)]
    chosen, values = tuned_beta_alignment(pd.DataFrame(rows), [0.0, 0.1, 1.0])
    # replicate 0 alone favours 0.1 (A 0.1) but the others favour 1.0 (mean 0.2 vs 0.5): never tuned on itself
    assert chosen == [1.0, 0.1, 0.1] and values == [0.4, 0.5, 0.5]


def test_best_beta_and_per_replicate_read_the_summary():
    summary = pd.DataFrame({"method": ["β=0", "β=0", "β=0.1", "β=0.1"], "seed": [1, 0, 0, 1],
                            "final_gold": [-0.5, -0.7, 0.2, 0.4]})
    assert best_beta(summary, [0.0, 0.1]) == 0.1
    assert per_replicate(summary, "final_gold") == {"β=0": [-0.7, -0.5], "β=0.1": [0.2, 0.4]}


def test_the_aa_arm_runs_other_seeds_on_its_replicates_proxy():
    assert replicate_of(3) == 3 and replicate_of(3 + AA_SEED_OFFSET) == 3


def test_ensemble_members_of_different_replicates_are_disjoint(smoke_preset):
    from rewardlab.frontier.arms import ProxyFamily

    class FakeStack:
        preset = smoke_preset

    family = ProxyFamily.__new__(ProxyFamily)
    family.stack, family.seeds = FakeStack(), [0, 1, 2, 3]
    members = [family.member_seeds(s) for s in family.seeds]
    flat = [m for row in members for m in row]
    assert [row[0] for row in members] == family.seeds  # each replicate's own proxy first
    assert len(set(flat)) == len(flat) == 4 * smoke_preset.frontier.members


def test_proxy_family_builds_every_reward_on_one_scale_with_either_brme_calibration(smoke_policy):
    """Each replicate's rewards: z(R) has mean 0 and sd 1 on the SFT samples; the robust mix at w = 1 is the BRME's
    nominal reward on the same scale; the ensemble's worst member is never above its mean − 0·std; RCfD peaks (0)
    at the demonstrations' own reward. With brme.calibration = "split" (the powered preset) the BRME trains its
    own stage 1 on part of the proxy's pairs instead of reusing the proxy."""
    from rewardlab.core.presets import load_preset
    from rewardlab.frontier.arms import ProxyFamily
    from rewardlab.stack import load_stack

    for calibration in ("validation", "split"):
        stack = load_stack(load_preset("tiny", smoke=True, brme={"calibration": calibration}), progress=False)
        prompts = list(dict.fromkeys(stack.train_prompts))[:16]
        responses = [" the movie was good .", " it was bad and boring ."] * 8
        demos = (prompts[:4], [" a fine film . i enjoyed it .", " the plot was good .", " it was great .", " ok ."])
        family = ProxyFamily(stack, [0], (prompts, responses), demos, max_words=18)
        z = np.asarray(family.z(0)(prompts, responses))
        assert z.mean() == pytest.approx(0, abs=1e-9) and z.std() == pytest.approx(1, abs=1e-9)
        assert family.brme(0) is family.brme(0) and family.brme(0, noisy=True) is not family.brme(0)
        import torch

        backbone, proxy = family.brme(0).reward_model.state_dict(), family.proxy(0).state_dict()
        shares_backbone = backbone.keys() == proxy.keys() and all(torch.equal(backbone[k], proxy[k]) for k in proxy)
        assert shares_backbone == (calibration == "validation")
        nominal = np.asarray(family.robust(0, 1.0)(prompts, responses))
        assert nominal.mean() == pytest.approx(0, abs=1e-6)
        worst = np.asarray(family.ensemble(0, None)(prompts, responses))
        mean = np.asarray(family.ensemble(0, 0.0)(prompts, responses))
        assert np.all(worst <= mean + 1e-12)
        rcfd = family.calibrated(0, "prompt")
        assert rcfd(demos[0][:1], demos[1][:1])[0] == pytest.approx(0, abs=1e-9)

"""The named presets: ``tiny`` (the default), ``quick``, ``smoke`` and ``paper``; :func:`load_preset` picks one.

* ``tiny`` (default): the study tier. The offline review world, built from scratch on a CPU; its runs are
  committed. Its budget is 90 minutes for the whole collection on the 2-core machine, each notebook at most 30.
  Issue 25 sized it from measured costs with the AVX2 kernels (02's reward models ~190 s an epoch of 64,000
  pairs, 0.3-0.5 s per PPO run-step of 32 responses on two workers); the README's "Run times" gives the
  measured minutes of each notebook.
* ``quick``: the teaching tier. The same world and code at smaller sizes: every notebook runs and draws every
  figure, and every verdict is underpowered (its SUMMARY says so). Budget 15 minutes from an empty cache.
* ``powered``: the study tier at the sizes issues 22-24 chose for power (10 x 60-step replicates in 07, 16,000
  pairs in 03, ...), about 4 hours on the 2-core machine; written into ``powered_runs/``.
* ``smoke``: the review world at sizes a test executes in seconds (``load_preset("tiny", smoke=True)``).
* ``paper``: GPT-2 policy, IMDb prompts and demonstrations, a Hub sentiment classifier as the gold
  judge; meant for a GPU with Hub access.

A notebook's ``parameters`` cell names a preset and a few overrides; papermill injects them::

    preset = load_preset("tiny", seed=1, smoke=True)
    preset = load_preset("paper", ppo={"steps": 400}, **{"runs.seeds": 5})
"""

from __future__ import annotations

import dataclasses

from rewardlab.core.config import (
    AttributionConfig,
    BRMEConfig,
    PreferenceConfig,
    Preset,
    RewardModelConfig,
    SamplingConfig,
    SFTConfig,
    WorldConfig,
    validate,
)
from rewardlab.core.study_configs import (
    BOConfig,
    FrontierConfig,
    GaoConfig,
    PPOConfig,
    RCfDConfig,
    RobustConfig,
    RunsConfig,
    ShapingConfig,
    TreeConfig,
)
from rewardlab.core.fields import with_overrides

TINY = Preset()

_SMOKE_PPO = PPOConfig(steps=2, batch_size=8, minibatch_size=4, epochs=2,
                       max_new_tokens=18)  # > min_response_words: cut demonstrations still vary in length (09)
SMOKE = Preset(
    name="smoke", smoke=True,
    world=WorldConfig(n_reviews=400),
    sft=SFTConfig(steps=20, batch_size=16, warmup_steps=2, eval_every=10),
    sampling=SamplingConfig(eval_batch_size=64),
    preferences=PreferenceConfig(train_prompts=40, train_pairs=80, eval_prompts=20, eval_pairs=40),
    reward_model=RewardModelConfig(epochs=1, seeds=2, bon_prompts=10, bon_max_n=8, curve_points=3, probe_pairs=20),
    brme=BRMEConfig(epochs=3),
    attribution=AttributionConfig(responses=4, shap_max_evals=200, lime_num_samples=64, reference_budget=400,
                                  convergence_responses=4),
    runs=RunsConfig(seeds=2, eval_prompts=16),
    shaping=ShapingConfig(ppo=_SMOKE_PPO, shap_max_evals=40, lime_num_samples=16, replicates=2, eval_every=1,
                          eval_prompts=8, rloo_seeds=1),
    bo=BOConfig(ppo=dataclasses.replace(_SMOKE_PPO, steps=2), trials=3, init=2, shap_max_evals=40,
                lime_num_samples=16, confirm_seeds=2),
    gao=GaoConfig(ppo=dataclasses.replace(_SMOKE_PPO, steps=4, kl_coef=0.0), small_pairs=20, full_length_replicates=2, middle_pairs=40, small_epochs=2,
                  middle_epochs=2, replicates=2, eval_every=2, eval_prompts=8, bon_prompts=4, bon_max_n=8, sft_samples=16),
    tree=TreeConfig(small_budget=8, large_budget=16, seeds=2, ppo=_SMOKE_PPO, ppo_seeds_per_pair=2),
    rcfd=RCfDConfig(ppo=_SMOKE_PPO, demos_per_prompt=2, train_sets=12, seeds=2, tuning_seeds=1, bon_prompts=8, bon_max_n=4),
    robust=RobustConfig(ppo=dataclasses.replace(_SMOKE_PPO, steps=6), seeds=2, eval_every=2, eval_prompts=8),
    frontier=FrontierConfig(ppo=dataclasses.replace(_SMOKE_PPO, steps=4, kl_coef=0.0), replicates=2, members=2,
                            eval_every=2, eval_prompts=8, sft_samples=16),
)

_QUICK_PPO = PPOConfig(steps=15, batch_size=16, minibatch_size=8)
QUICK = Preset(
    name="quick",
    sft=SFTConfig(steps=150),
    preferences=PreferenceConfig(train_prompts=1000, train_pairs=6000, eval_prompts=300, eval_pairs=1500),
    reward_model=RewardModelConfig(seeds=2, bon_prompts=48, bon_max_n=16, curve_points=3, probe_pairs=100),
    brme=BRMEConfig(epochs=6),
    attribution=AttributionConfig(responses=12, shap_max_evals=128, lime_num_samples=128, reference_budget=512,
                                  convergence_responses=6),
    runs=RunsConfig(seeds=2, eval_prompts=64),
    shaping=ShapingConfig(ppo=dataclasses.replace(_QUICK_PPO, steps=20), replicates=2, eval_every=5, eval_prompts=32,
                          rloo_seeds=0),
    bo=BOConfig(ppo=dataclasses.replace(_QUICK_PPO, steps=6), trials=5, init=3, inner_seeds=1, confirm_seeds=2),
    gao=GaoConfig(ppo=dataclasses.replace(_QUICK_PPO, steps=30, kl_coef=0.0), small_pairs=500, full_length_replicates=2, middle_pairs=2000,
                  replicates=3, eval_every=3, eval_prompts=64, bon_prompts=32, bon_max_n=256, sft_samples=256),
    tree=TreeConfig(small_budget=800, large_budget=1600, seeds=2, ppo=_QUICK_PPO, ppo_seeds_per_pair=2),
    rcfd=RCfDConfig(ppo=dataclasses.replace(_QUICK_PPO, steps=20), demos_per_prompt=4, train_sets=300, seeds=2,
                    tuning_seeds=1, bon_prompts=32, bon_max_n=16),
    robust=RobustConfig(ppo=dataclasses.replace(_QUICK_PPO, steps=15, kl_coef=0.0), seeds=2, eval_every=5,
                        eval_prompts=32),
    frontier=FrontierConfig(ppo=PPOConfig(steps=20, batch_size=16, minibatch_size=8, kl_coef=0.0), replicates=2,
                            members=2, eval_every=5, eval_prompts=32, sft_samples=256),
)

POWERED = Preset(
    name="powered",
    reward_model=RewardModelConfig(epochs=2, curve_points=7),
    # sigma calibrated on validation pairs over notebook 02's backbone, as in the study tier: "split" trained a
    # stage-1 reward model of its own per seed (11 of the powered tier's 78 reward-model trainings, about a fifth of
    # its reward-model arithmetic) for a calibration set the validation prompts already give
    brme=BRMEConfig(epochs=40),
    shaping=ShapingConfig(ppo=PPOConfig(steps=60, batch_size=32, minibatch_size=8), replicates=10),
    bo=BOConfig(ppo=PPOConfig(steps=20, batch_size=32, minibatch_size=8), trials=16, confirm_seeds=10),
    tree=TreeConfig(small_budget=4000, large_budget=16000, seeds=5, ppo=PPOConfig(steps=50, batch_size=32, minibatch_size=8)),
    rcfd=RCfDConfig(ppo=PPOConfig(steps=100, batch_size=32, minibatch_size=8), seeds=5, tuning_seeds=2),
    robust=RobustConfig(ppo=PPOConfig(steps=60, batch_size=32, minibatch_size=8, kl_coef=0.0), seeds=8),
    frontier=FrontierConfig(ppo=PPOConfig(steps=60, batch_size=32, minibatch_size=8, kl_coef=0.0), replicates=8),
)

_PAPER_PPO = PPOConfig(steps=200, learning_rate=1.41e-5)
PAPER = Preset(
    name="paper", device="cuda",
    world=WorldConfig(source="imdb", dataset_name="stanfordnlp/imdb", prompt_words=8, min_response_words=16,
                      max_response_words=48, gold_judge="lvwerra/distilbert-imdb"),
    sft=SFTConfig(base="gpt2", n_positions=1024, dropout=0.1, steps=2000, batch_size=32, learning_rate=5e-5,
                  warmup_steps=100, eval_every=200),
    sampling=SamplingConfig(max_new_tokens=64, eval_batch_size=64),
    reward_model=RewardModelConfig(base="gpt2", learning_rate=1e-5, batch_size=16, epochs=1),
    runs=RunsConfig(workers=1),  # one GPU: runs one after another (forked workers do not survive CUDA)
    shaping=ShapingConfig(ppo=_PAPER_PPO, shap_max_evals=512, lime_num_samples=512),
    bo=BOConfig(ppo=dataclasses.replace(_PAPER_PPO, steps=20)),
    tree=TreeConfig(ppo=_PAPER_PPO),
    rcfd=RCfDConfig(ppo=_PAPER_PPO, positive_threshold=0.0),  # positive-class logit > 0: the classifier's positive side
    robust=RobustConfig(ppo=dataclasses.replace(_PAPER_PPO, steps=40)),
)

PRESETS: dict[str, Preset] = {"tiny": TINY, "quick": QUICK, "powered": POWERED, "smoke": SMOKE, "paper": PAPER}


def load_preset(name: str = "tiny", smoke: bool = False, **overrides) -> Preset:
    """The preset ``name`` with ``overrides`` applied, validated.

    ``smoke=True`` picks the ``smoke`` preset (the review world at test sizes) in place of ``tiny``.
    Overrides are identity fields (``seed``, ``device``), a stage given as a dict
    (``ppo={"steps": 5}``) or dotted paths (``**{"bo.ppo.steps": 5}``).

    >>> load_preset("tiny", seed=3).seed
    3
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}")
    if not isinstance(smoke, bool):
        raise ValueError(f"preset field 'smoke' must be bool, got {smoke!r} ({type(smoke).__name__})")
    if smoke and name not in ("tiny", "quick", "powered", "smoke"):
        raise ValueError(f"smoke sizes exist for the review world only; use load_preset('smoke') instead of "
                         f"load_preset({name!r}, smoke=True)")
    if "name" in overrides:
        raise ValueError("override 'name' cannot rename a preset; pass the preset name instead")
    base = PRESETS["smoke" if smoke else name]
    return validate(with_overrides(base, overrides))


def changed_fields(preset: Preset) -> dict:
    """The dotted fields where ``preset`` differs from its named preset at the same seed and device, e.g.
    ``{"shaping.shap_estimator": "first-last"}`` (a run's metrics record them: :mod:`rewardlab.reporting.metrics`)."""
    if preset.name not in PRESETS:
        return {}
    base = dataclasses.replace(PRESETS[preset.name], seed=preset.seed, device=preset.device)

    def flat(config, prefix=""):
        out = {}
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            out.update(flat(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else {prefix + f.name: value})
        return out
    mine, theirs = flat(preset), flat(base)
    return {k: v for k, v in mine.items() if theirs.get(k) != v}

"""Configuration: one frozen dataclass per stage, composed into a :class:`Preset`.

Stages and what each builds or runs::

    WorldConfig        the prompts, demonstrations and gold judge (review world or IMDb)
    SFTConfig          the policy's architecture and its supervised fine-tuning
    SamplingConfig     how notebooks sample and evaluate (temperature, top-k, batch size)
    PreferenceConfig   gold-labelled preference pairs: chain and tree sampling, label noise
    RewardModelConfig  the Bradley-Terry reward model and its best-of-n evaluation
    BRMEConfig         the Bayesian reward-model ensemble (K Gaussian heads)
    AttributionConfig  SHAP / LIME budgets when explaining a reward model
    PPOConfig          per-token PPO (rewardlab.rl.trainer); a study that runs PPO owns one
    RunsConfig         the run grid: seeds, held-out prompts, worker processes
    ShapingConfig      dense shaping (notebook 07): explainer budgets inside PPO, its PPO config
    BOConfig           Bayesian optimisation of the shape (notebook 08), its inner PPO config
    GaoConfig          Gao's over-optimisation harness (notebook 06): proxies of three strengths, best-of-n, PPO
    TreeConfig         chain vs tree preference pairs at equal budgets, then PPO on each (notebook 03)
    RCfDConfig         reward calibration from demonstrations (notebook 09), its PPO config
    RobustConfig       reward-robust RLHF against a BRME (notebook 10), its PPO config
    FrontierConfig     every defence against over-optimisation on one gold-against-KL frontier (notebook 11)

An artifact's cache key is the hash of the stage configs that build it (:meth:`Preset.key`), so a
field added to a stage moves every key that depends on that stage; nothing is listed by hand.
Field checks come from field metadata (``positive``, ``nonnegative``, ``fraction``, ``choice``),
plus the few rules that tie two fields together (:func:`validate`); the checks and the override
rules are in :mod:`rewardlab.core.fields`, the named presets in :mod:`rewardlab.core.presets`.

    preset = load_preset("tiny", seed=1, shaping={"ppo": {"steps": 5}}, **{"bo.trials": 6})
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass


from rewardlab.core.fields import (
    check_fields,
    choice,
    fraction,
    nonnegative,
    positive,
    stage,
    study_size,
)


# SHAP's estimators (rewardlab.shaping.attribution.attribute): shap's PermutationExplainer, or rewardlab's batched
# permutation, paired-kernel and first-and-last-position estimators (rewardlab.shaping.estimators)
SHAP_ESTIMATORS = ("package", "permutation", "kernel", "first-last", "first-position")


@dataclass(frozen=True)
class WorldConfig:
    source: str = choice("review_world", ("review_world", "imdb"))  # generated here, or a Hub dataset
    dataset_name: str = ""  # Hub id or local path of the dataset when source == "imdb"
    n_reviews: int = positive(12000)  # generated reviews, before the split (review_world only)
    n_sentiment_words: int = positive(600)  # VADER-lexicon words (adjectives + 10 verbs) in the vocabulary
    prompt_words: int = positive(4)
    min_response_words: int = positive(16)
    max_response_words: int = positive(48)
    validation_fraction: float = fraction(0.1)
    test_fraction: float = fraction(0.1)
    gold_judge: str = "reader"  # "reader" (rewardlab.core.reader), "vader" (VADER alone) or a classifier's Hub id / path


@dataclass(frozen=True)
class SFTConfig:
    base: str = ""  # empty: a GPT-2 built from the fields below; else a Hub id or local path
    n_layer: int = positive(2)
    n_head: int = positive(4)
    n_embd: int = positive(128)
    n_positions: int = positive(64)
    dropout: float = nonnegative(0.1)
    steps: int = positive(800)  # 400 left 4.4% of the sentences it writes off the world's grammar, 800 1.9% (issue 42)
    batch_size: int = positive(64)
    learning_rate: float = positive(2e-3)
    warmup_steps: int = nonnegative(30)
    eval_every: int = positive(50)


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = positive(1.0)
    top_k: int = nonnegative(0)  # 0 = no top-k filtering
    max_new_tokens: int = positive(48)
    eval_batch_size: int = positive(256)


@dataclass(frozen=True)
class PreferenceConfig:
    label_noise_tau: float = nonnegative(0.1)  # P(a > b) = sigmoid((g_a - g_b) / tau); 0 = noiseless
    train_prompts: int = positive(6000)  # capped by the distinct training prompts (5,686 in the tiny world)
    train_pairs: int = positive(64000)  # about 11 per prompt; the learning curve of notebook 02 shows why
    eval_prompts: int = positive(800)  # capped by the distinct test prompts (724 in the tiny world)
    eval_pairs: int = positive(6000)
    responses_per_prompt: int = positive(8)  # chain: K independent samples = the tree's leaves
    tree_depth: int = positive(3)
    tree_branching: int = positive(2)
    tree_segment_tokens: int = positive(10)  # tokens per inner tree level; the leaves take the rest


@dataclass(frozen=True)
class RewardModelConfig:
    base: str = ""  # empty: a small GPT-2 built from the fields below; else a Hub id / path
    n_layer: int = positive(2)
    n_head: int = positive(8)
    n_embd: int = positive(128)
    dropout: float = nonnegative(0.0)
    learning_rate: float = positive(1e-3)
    batch_size: int = positive(32)  # pairs per step
    epochs: int = positive(1)  # one pass over prompt-grouped batches, half the cost of two (0.854 in 196 s, issue 20): every reward model of the 90-minute study tier (issue 25)
    center_coefficient: float = nonnegative(0.0)  # TRL's center_rewards_coefficient; 0 = off
    seeds: int = study_size(3)  # reward models trained per study (seeds preset.seed, preset.seed + 1, ...)
    bon_prompts: int = study_size(200)
    bon_max_n: int = study_size(64)
    curve_points: int = study_size(5)  # learning-curve sizes: the training pairs halved 0..curve_points-1 times (7 in issue 20)
    probe_pairs: int = study_size(400)  # pairs per phenomenon of the probe set (notebook 02)


@dataclass(frozen=True)
class BRMEConfig:
    heads: int = positive(5)
    hidden: int = positive(64)  # hidden width of each head's MLP
    epochs: int = positive(10)  # the study tier (issue 25); 40 in issue 23's runs
    batch_size: int = positive(256)  # pairs per step (the backbone is frozen: features are cached)
    learning_rate: float = positive(3e-3)
    anchor_weight: float = nonnegative(0.0)  # MSE anchor of every head's mean to the stage-1 score; 1.0 made the heads copies (issue 23)
    data: str = choice("shards", ("shards", "bootstrap"))  # which pairs each head learns from: a prompt shard, or a Poisson bootstrap
    # where sigma is fitted: pairs over validation prompts on notebook 02's backbone ("validation", issue 25), or a
    # share of the training prompts held out of a stage-1 model of its own ("split", issue 23's runs)
    calibration: str = choice("validation", ("validation", "split"))
    calibration_fraction: float = fraction(0.2)  # "split": share of training prompts kept from stage 1 to fit sigma


@dataclass(frozen=True)
class AttributionConfig:
    responses: int = positive(64)  # held-out SFT responses explained per reward-model seed
    shap_max_evals: int = positive(512)  # reward-model evaluations per response for permutation SHAP
    lime_num_samples: int = positive(512)  # perturbed responses per response for LIME
    reference_budget: int = positive(2048)  # notebook 05's convergence check: the budget taken as converged ...
    convergence_responses: int = positive(12)  # ... on this many responses (issue 25: 4,096 on 16 took 142 s of the quick tier)


@dataclass(frozen=True)
class PPOConfig:
    """Per-token PPO (:func:`rewardlab.rl.trainer.train_ppo`); usable on its own, outside any preset."""

    steps: int = positive(30)  # rollout + update rounds
    batch_size: int = positive(64)  # responses per rollout
    minibatch_size: int = positive(16)
    epochs: int = positive(4)  # passes over each rollout
    learning_rate: float = positive(1e-4)
    max_new_tokens: int = positive(20)
    temperature: float = positive(1.0)
    kl_coef: float = nonnegative(0.05)  # beta of the per-token KL penalty
    kl_target: float = nonnegative(0.0)  # > 0: adaptive beta aiming at this KL per response (Ziegler et al.)
    kl_horizon: int = positive(10000)
    gamma: float = positive(1.0)
    lam: float = positive(0.95)
    clip_range: float = positive(0.2)
    value_clip_range: float = positive(0.2)
    vf_coef: float = nonnegative(0.1)
    whiten_rewards: bool = False

    def __post_init__(self):  # checked when made, alone or in a preset: a bad value never reaches a run
        check_fields(self, "PPOConfig", what="field")
        check_ppo(self, "PPOConfig")


@dataclass(frozen=True)
class RunsConfig:
    seeds: int = positive(3)  # PPO seeds of every study's run grid
    eval_prompts: int = positive(256)  # held-out prompts on which every trained policy is evaluated
    workers: int = positive(2)  # processes running PPO runs (and BO trials) at once, one torch thread each; 1 = in-process


@dataclass(frozen=True)
class ShapingConfig:
    # notebook 07's PPO: 32 responses a step in 8-response minibatches keep 16 updates a step at about half the cost
    # of 64. The study tier (issue 25) runs 5 replicates of 25 steps, the climb where dense and sparse credit differ
    # (issue 22's pilot: held-out gold 0.92 from step 45 on; 5 x 40 took 14.0 minutes with AVX2 kernels); issue 22's
    # powered runs were 10 x 60 (the `powered` preset)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=25, batch_size=32, minibatch_size=8))
    shap_max_evals: int = positive(64)  # per-response SHAP budget inside PPO (attribution runs every step)
    lime_num_samples: int = positive(48)  # agrees 0.933 with converged LIME (benchmarks/RESULTS.md)
    shap_estimator: str = choice("first-last", SHAP_ESTIMATORS)  # attribution.attribute's estimator in PPO
    replicates: int = positive(5)  # notebook 07: (PPO seed, reward-model seed) replicates of every arm
    eval_every: int = positive(5)  # held-out evaluation of every run every this many steps (and at the last)
    eval_prompts: int = positive(128)  # ... on the first this many held-out prompts (the final evaluation: all)
    rloo_seeds: int = nonnegative(2)  # TRL RLOO reference runs beside the grid


@dataclass(frozen=True)
class BOConfig:
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=12, batch_size=32, minibatch_size=8))  # the inner run of a trial (20 in issue 22)
    trials: int = positive(8)  # trials per strategy (BO, random search), the shared Sobol design included
    init: int = positive(4)  # Sobol trials shared by both strategies
    q: int = positive(2)  # proposals per round, evaluated at once
    shap_max_evals: int = positive(64)
    lime_num_samples: int = positive(64)
    shap_estimator: str = choice("first-last", SHAP_ESTIMATORS)
    inner_seeds: int = positive(2)  # PPO runs per trial, the same seeds for every trial (common random numbers)
    confirm_seeds: int = positive(5)  # fresh seeds of the confirmation runs (10 in issue 22)


@dataclass(frozen=True)
class GaoConfig:
    # the Gao notebook: PPO at beta = 0 against proxies of three strengths, evaluated often at small KL so that a
    # turn of the reader gold shows; the largest proxy is notebook 02's (every training pair, its reward-model seeds)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=60, batch_size=32, minibatch_size=8, kl_coef=0.0))
    small_pairs: int = positive(2000)  # training pairs of the weakest proxy (a nested subset, as notebook 02's curve)
    middle_pairs: int = positive(8000)  # ... and of the middle one
    # epochs of the smaller proxies: one epoch of 2,000 or 4,000 pairs leaves a model near chance (0.51-0.55 and
    # 0.55-0.66 held-out accuracy), an undertrained proxy rather than one that learned what its pairs teach
    small_epochs: int = positive(8)
    middle_epochs: int = positive(2)  # 8,000 pairs: 0.771 held-out accuracy after 3 epochs (seed 0), 2 to fit the budget
    replicates: int = study_size(8)  # (reward-model seed, PPO seed) replicates of the middle proxy (the turn claim)
    eval_every: int = positive(3)  # held-out evaluation every this many PPO steps (and at the last)
    eval_prompts: int = positive(128)  # ... on the first this many held-out prompts (two halves of 64)
    bon_prompts: int = study_size(64)  # held-out prompts of best-of-n ...
    bon_max_n: int = positive(1024)  # ... with n = 1, 2, 4, ..., this many SFT samples each
    sft_samples: int = positive(512)  # SFT samples (training prompts) that standardise each proxy


@dataclass(frozen=True)
class TreeConfig:
    # notebook 03: 4 pairs per prompt are all the sibling pairs of a depth-3, branching-2 tree, so the sibling arm
    # can hold nothing but siblings at the chain's and the tree's budget and prompts
    pairs_per_prompt: int = positive(4)
    small_budget: int = positive(1500)  # labelled pairs of the smaller budget ...
    large_budget: int = positive(6000)  # ... and of the larger, where the claims are read and PPO runs (16,000 in issue 24)
    seeds: int = study_size(4)  # replicates: each re-draws the pairs, labels, reward models and PPO seed (pools drawn once)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=30, batch_size=32, minibatch_size=8))  # PPO against each reward model


@dataclass(frozen=True)
class RCfDConfig:
    # notebook 09: 30 steps of 32 responses in the study tier (issue 25); issue 24 ran 100, where the beta = 0 reward
    # curve has flattened (RCfD's from about step 40)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=30, batch_size=32, minibatch_size=8))
    positive_threshold: float = 0.05  # a demonstration set is positive when its mean gold score is >= this (VADER's cut)
    demo_prompt: str = choice("opening", ("opening", "words"))  # the prompt of a demonstration set (rcfd.demonstrations)
    demos_per_prompt: int = positive(8)  # continuations of one review's opening: the per-prompt target averages them
    train_sets: int = positive(2000)  # demonstration sets drawn for training (review world), before the positive filter
    seeds: int = study_size(4)  # PPO seeds of every arm
    tuning_seeds: int = study_size(2)  # separate seeds on which the KL baseline's beta is chosen (lowest A); at least two
    bon_prompts: int = positive(128)  # held-out prompts of the best-of-n curve
    bon_max_n: int = positive(64)  # samples per prompt: best-of-n for n = 1, 2, 4, ..., this


@dataclass(frozen=True)
class RobustConfig:
    # notebook 10: beta = 0, so nominal RLHF is free to exploit its reward (a pilot over 60 steps: KL to SFT 70-110
    # nats, naturalness NLL 7+ vs 2.3 at beta = 0.05) and the robust objective has something to resist; 32 responses
    # a step, 4 seeds of 30 steps in the study tier (issue 25; issue 23 ran 8 of 60)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=30, batch_size=32, minibatch_size=8, kl_coef=0.0))
    seeds: int = positive(4)  # PPO seeds of every arm (the arms share them); the A/A arm uses as many others
    uwo_penalty: float = nonnegative(1.0)  # lambda of mean - lambda * std (Coste et al.)
    noisy_head: int = nonnegative(0)  # the head trained with flipped labels in the label-noise experiment
    label_flip: float = fraction(0.35)  # ... the share of its pairs (training and calibration) read with the label flipped
    eval_every: int = positive(10)  # held-out evaluation of every run every this many steps (and at the last)
    eval_prompts: int = positive(128)  # ... on the first this many held-out prompts


@dataclass(frozen=True)
class FrontierConfig:
    # the frontier notebook: every defence against over-optimisation on one gold-against-KL figure. The proxy family
    # is the Gao notebook's middle proxy (gao.middle_pairs pairs, gao.middle_epochs): replicate r trains against the
    # proxy, BRME and ensemble of its own seed, with PPO seed r; the KL grid is the notebook's BETAS
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=40, batch_size=32, minibatch_size=8, kl_coef=0.0))
    replicates: int = study_size(4)  # (reward-model seed, BRME seed, PPO seed) replicates of every arm
    members: int = positive(3)  # Coste et al.'s ensemble: seeded Bradley-Terry proxies per replicate (its own first)
    uwo_penalty: float = nonnegative(1.0)  # lambda of the ensemble's mean - lambda * std
    eval_every: int = positive(5)  # held-out evaluation every this many PPO steps (and at the last)
    eval_prompts: int = positive(128)  # ... on the first this many held-out prompts
    sft_samples: int = positive(512)  # SFT samples (training prompts) that standardise every reward


@dataclass(frozen=True)
class Preset:
    """One experiment world: identity fields, then one config per stage."""

    name: str = "tiny"
    seed: int = 0
    smoke: bool = False
    device: str = choice("cpu", ("cpu", "cuda", "auto"))
    world: WorldConfig = stage(WorldConfig)
    sft: SFTConfig = stage(SFTConfig)
    sampling: SamplingConfig = stage(SamplingConfig)
    preferences: PreferenceConfig = stage(PreferenceConfig)
    reward_model: RewardModelConfig = stage(RewardModelConfig)
    brme: BRMEConfig = stage(BRMEConfig)
    attribution: AttributionConfig = stage(AttributionConfig)
    runs: RunsConfig = stage(RunsConfig)
    shaping: ShapingConfig = stage(ShapingConfig)
    bo: BOConfig = stage(BOConfig)
    gao: GaoConfig = stage(GaoConfig)
    tree: TreeConfig = stage(TreeConfig)
    rcfd: RCfDConfig = stage(RCfDConfig)
    robust: RobustConfig = stage(RobustConfig)
    frontier: FrontierConfig = stage(FrontierConfig)

    def key(self, *stages: str, **extra) -> dict:
        """What an artifact built from ``stages`` depends on: those stage configs, whole, and ``extra`` (a
        seed, a data fingerprint). Its hash (:func:`rewardlab.core.artifacts.entry_key`) is the cache key,
        so any field added to a stage moves the keys of everything built from it."""
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; stages: {', '.join(STAGES)}")
        return {**{s: _key_fields(getattr(self, s)) for s in stages}, **extra}

    def fingerprint(self) -> str:
        """Short stable hash of the whole preset (a study's trial log records it)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _key_fields(config) -> dict:
    values = dataclasses.asdict(config)
    return {f.name: values[f.name] for f in dataclasses.fields(config) if f.metadata.get("cache_key", True)}


IDENTITY = ("name", "seed", "smoke", "device")
STAGES = tuple(f.name for f in dataclasses.fields(Preset) if f.name not in IDENTITY)


def check_ppo(ppo: PPOConfig, path: str) -> None:
    if ppo.batch_size % ppo.minibatch_size:
        raise ValueError(f"{path}.batch_size ({ppo.batch_size}) must be a multiple of {path}.minibatch_size "
                         f"({ppo.minibatch_size})")
    if ppo.gamma > 1 or ppo.lam > 1:
        raise ValueError(f"{path}.gamma and {path}.lam must lie in (0, 1], got {ppo.gamma} and {ppo.lam}")


def validate(preset: Preset) -> Preset:
    """Raise ValueError, naming the field and the fix, for a preset that cannot work."""
    check_fields(preset, "")
    world, sft, rm = preset.world, preset.sft, preset.reward_model
    if world.min_response_words > world.max_response_words:
        raise ValueError(f"world.min_response_words ({world.min_response_words}) exceeds world.max_response_words "
                         f"({world.max_response_words}); lower the first or raise the second")
    if sft.n_embd % sft.n_head:
        raise ValueError(f"sft.n_embd ({sft.n_embd}) must be divisible by sft.n_head ({sft.n_head})")
    if rm.n_embd % rm.n_head:
        raise ValueError(f"reward_model.n_embd ({rm.n_embd}) must be divisible by reward_model.n_head ({rm.n_head})")
    if not 0 < world.validation_fraction + world.test_fraction < 1:
        raise ValueError("world.validation_fraction + world.test_fraction must lie strictly between 0 and 1")
    if world.source == "imdb" and not world.dataset_name:
        raise ValueError("world.source='imdb' needs world.dataset_name (a Hub id or a local dataset path)")
    for name in ("shaping", "bo", "gao", "tree", "rcfd", "robust", "frontier"):  # every study that runs PPO owns its config
        check_ppo(getattr(preset, name).ppo, f"{name}.ppo")
    if preset.runs.workers > 1 and preset.device != "cpu":
        raise ValueError(f"runs.workers={preset.runs.workers} runs PPO in forked processes, which needs device='cpu' "
                         f"(got {preset.device!r}); set runs.workers=1 on a GPU")
    if preset.tree.small_budget > preset.tree.large_budget:
        raise ValueError(f"tree.small_budget ({preset.tree.small_budget}) exceeds tree.large_budget "
                         f"({preset.tree.large_budget}); swap them")
    if preset.bo.init > preset.bo.trials:
        raise ValueError(f"bo.init ({preset.bo.init}) exceeds bo.trials ({preset.bo.trials}); the Sobol design is "
                         "part of each strategy's budget")
    if not preset.robust.noisy_head < preset.brme.heads:
        raise ValueError(f"robust.noisy_head must be one of the {preset.brme.heads} BRME heads "
                         f"(0..{preset.brme.heads - 1}), got {preset.robust.noisy_head}")
    if not preset.robust.label_flip < 0.5:
        raise ValueError(f"robust.label_flip ({preset.robust.label_flip}) must be below 0.5: at 0.5 the labels carry no signal")
    needed = world.prompt_words + world.max_response_words + 2
    if not sft.base and sft.n_positions < needed:
        raise ValueError(f"sft.n_positions ({sft.n_positions}) is shorter than bos + prompt + response + eos "
                         f"({needed}); raise sft.n_positions")
    return preset


def resolve_device(preset: Preset) -> str:
    """'auto' becomes 'cuda' where a GPU is visible, else 'cpu'."""
    import torch  # local: importing torch costs ~3 s (measured); presets and the CLIs' argument checks need none

    if preset.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preset.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"preset {preset.name!r} asks for device='cuda' but no GPU is visible; "
                         "pass device='cpu' (slow) or run on a GPU machine")
    return preset.device

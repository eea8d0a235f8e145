"""Configuration: one frozen dataclass per stage, composed into a :class:`Preset`.

Stages and what each builds or runs::

    WorldConfig        the prompts, demonstrations and gold judge (review world or IMDb)
    SFTConfig          the policy's architecture and its supervised fine-tuning
    SamplingConfig     how notebooks sample and evaluate (temperature, top-k, batch size)
    PreferenceConfig   gold-labelled preference pairs: chain and tree sampling, label noise
    RewardModelConfig  the Bradley-Terry reward model and its best-of-n evaluation
    BRMEConfig         the Bayesian reward-model ensemble (K Gaussian heads)
    AttributionConfig  SHAP / LIME budgets when explaining a reward model
    (the configs from PPOConfig down live in rewardlab.core.study_configs)
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


from rewardlab.core.study_configs import (  # the configs of the studies that run PPO
    BOConfig,
    FrontierConfig,
    GaoConfig,
    RCfDConfig,
    RobustConfig,
    RunsConfig,
    ShapingConfig,
    TreeConfig,
    check_ppo,
)
from rewardlab.core.fields import (
    check_fields,
    choice,
    fraction,
    nonnegative,
    positive,
    stage,
    study_size,
)


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

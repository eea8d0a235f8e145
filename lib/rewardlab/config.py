"""Presets: every size, name and hyper-parameter a notebook depends on, in one frozen dataclass.

Two presets share one code path:

* ``tiny`` (default): the offline review world, built from scratch on a CPU in minutes.
* ``paper``: GPT-2 policy, IMDb prompts and demonstrations, a Hub sentiment classifier as
  the gold judge; meant for a GPU with Hub access.

A notebook's ``parameters`` cell names a preset and a few overrides; papermill injects them::

    preset = load_preset("tiny", seed=1, smoke=True)

``smoke=True`` shrinks every size to what a test can execute in seconds; explicit overrides
still win over the smoke sizes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """One experiment world. Field groups: identity, world, gold judge, policy, SFT, sampling."""

    # identity
    name: str = "tiny"
    seed: int = 0
    smoke: bool = False
    device: str = "cpu"  # "cpu", "cuda" or "auto"

    # world: where prompts and demonstrations come from
    world: str = "review_world"  # "review_world" (generated here) or "imdb" (Hub dataset)
    dataset_name: str = ""  # Hub id or local path of the dataset when world == "imdb"
    n_reviews: int = 12000  # generated reviews, before the split (review_world only)
    n_sentiment_words: int = 1450  # VADER-lexicon words in the generator's vocabulary
    prompt_words: int = 4
    min_response_words: int = 16
    max_response_words: int = 48
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    # gold judge
    gold_judge: str = "vader"  # "vader" or a Hub id / local path of a sentiment classifier

    # policy: built from this config when policy_name is empty, else loaded by name or path
    policy_name: str = ""
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 64
    dropout: float = 0.1

    # supervised fine-tuning
    sft_steps: int = 400
    sft_batch_size: int = 64
    sft_learning_rate: float = 2e-3
    sft_warmup_steps: int = 30
    sft_eval_every: int = 50

    # sampling
    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k filtering
    max_new_tokens: int = 48
    eval_batch_size: int = 256

    # preference data (Bradley-Terry gold labels) and reward models
    label_noise_tau: float = 0.1  # P(a > b) = sigmoid((g_a - g_b) / tau)
    pref_train_prompts: int = 1000
    pref_train_pairs: int = 4000
    pref_eval_prompts: int = 300
    pref_eval_pairs: int = 1200
    responses_per_prompt: int = 8  # chain: K independent samples = the tree's leaves
    tree_depth: int = 3
    tree_branching: int = 2
    tree_segment_tokens: int = 10  # tokens per inner tree level; the leaves take the rest
    rm_base: str = ""  # empty: a small GPT-2 built from the fields below; else a Hub id / path
    rm_n_layer: int = 2
    rm_n_head: int = 2
    rm_n_embd: int = 64
    rm_dropout: float = 0.0
    rm_learning_rate: float = 1e-3
    rm_batch_size: int = 32  # pairs per step
    rm_epochs: int = 3
    rm_center_coefficient: float = 0.0  # TRL's center_rewards_coefficient; 0 = off
    rm_seeds: int = 3
    bon_prompts: int = 200
    bon_max_n: int = 64

    # BRME (Bayesian reward model ensemble): K Gaussian heads on the stage-1 backbone
    brme_heads: int = 5
    brme_hidden: int = 64  # hidden width of each head's MLP
    brme_epochs: int = 40
    brme_batch_size: int = 256  # pairs per step (the backbone is frozen: features are cached)
    brme_learning_rate: float = 3e-3
    brme_anchor_weight: float = 1.0  # weight of the MSE anchor of every head's mean to the stage-1 score
    brme_calibration_fraction: float = 0.2  # share of training prompts kept from stage 1 to fit sigma

    # token attribution (SHAP, LIME, attention) of the reward model's score
    attribution_responses: int = 64  # held-out SFT responses explained per reward-model seed
    shap_max_evals: int = 512  # reward-model evaluations per response for permutation SHAP
    lime_num_samples: int = 512  # perturbed responses per response for LIME

    # PPO with per-token rewards (rewardlab.ppo_trainer)
    ppo_steps: int = 30  # rollout + update rounds
    ppo_batch_size: int = 64  # responses per rollout
    ppo_minibatch_size: int = 16
    ppo_epochs: int = 4  # passes over each rollout
    ppo_learning_rate: float = 1e-4
    ppo_max_new_tokens: int = 20
    ppo_kl_coef: float = 0.05  # beta of the per-token KL penalty
    ppo_kl_target: float = 0.0  # > 0: adaptive beta aiming at this KL per response (Ziegler et al.)
    ppo_kl_horizon: int = 10000
    ppo_gamma: float = 1.0
    ppo_lam: float = 0.95
    ppo_clip_range: float = 0.2
    ppo_value_clip_range: float = 0.2
    ppo_vf_coef: float = 0.1
    ppo_whiten_rewards: bool = False
    ppo_seeds: int = 3
    ppo_shap_max_evals: int = 64  # per-response SHAP budget inside PPO (attribution runs every step)
    ppo_lime_num_samples: int = 64
    ppo_eval_prompts: int = 256  # held-out prompts on which every trained policy is evaluated
    ppo_workers: int = 2  # processes running PPO runs (and BO trials) at once, one torch thread each; 1 = in-process

    # Bayesian optimisation of the mixture weights (rewardlab.bo): BoTorch outside, PPO inside
    bo_trials: int = 8  # trials per strategy (BO, random search), the shared Sobol design included
    bo_init: int = 4  # Sobol trials shared by both strategies
    bo_q: int = 2  # proposals per round, evaluated at once
    bo_inner_steps: int = 20  # PPO steps of an inner run
    bo_shap_max_evals: int = 64
    bo_lime_num_samples: int = 64
    bo_confirm_seeds: int = 3  # fresh seeds of the confirmation runs

    # Over-optimisation and reward calibration from demonstrations (rewardlab.rcfd)
    rcfd_positive_threshold: float = 0.05  # a demonstration is positive when its gold score is >= this (VADER's cut)
    rcfd_length_alpha: float = 0.1  # alpha of the length-penalised baseline R - alpha |y| (per word)
    rcfd_bon_prompts: int = 128  # held-out prompts of the best-of-n curve
    rcfd_bon_max_n: int = 64  # samples per prompt: best-of-n for n = 1, 2, 4, ..., this

    # Reward-robust RLHF against a BRME (rewardlab.robust)
    robust_ppo_steps: int = 40  # longer than ppo_steps, so a nominal-only run has room to over-optimise
    robust_uwo_penalty: float = 1.0  # lambda of mean - lambda * std (Coste et al.)
    robust_corrupt_head: int = 0  # the head negated in the corruption experiment (a head trained on flipped labels)

    def config_hash(self, fields: typing.Iterable[str] | None = None) -> str:
        """Short stable hash of the named fields (all fields when None): the artifact cache key."""
        values = dataclasses.asdict(self)
        chosen = {k: values[k] for k in sorted(fields)} if fields is not None else values
        blob = json.dumps(chosen, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def subset(self, fields: typing.Iterable[str]) -> dict:
        values = dataclasses.asdict(self)
        return {k: values[k] for k in fields}


PRESETS: dict[str, Preset] = {
    "tiny": Preset(),
    "paper": Preset(
        name="paper",
        device="cuda",
        world="imdb",
        dataset_name="stanfordnlp/imdb",
        prompt_words=8,
        min_response_words=16,
        max_response_words=48,
        gold_judge="lvwerra/distilbert-imdb",
        policy_name="gpt2",
        n_positions=1024,
        dropout=0.1,
        sft_steps=2000,
        sft_batch_size=32,
        sft_learning_rate=5e-5,
        sft_warmup_steps=100,
        sft_eval_every=200,
        max_new_tokens=64,
        eval_batch_size=64,
        rm_base="gpt2",
        rm_learning_rate=1e-5,
        rm_batch_size=16,
        rm_epochs=1,
        ppo_steps=200,
        ppo_learning_rate=1.41e-5,
        ppo_shap_max_evals=512,
        ppo_lime_num_samples=512,
        ppo_workers=1,  # one GPU: runs one after another (worker processes are forked, which CUDA does not survive)
        rcfd_positive_threshold=0.0,  # positive-class logit > 0: about the classifier's positive side
    ),
}

# Sizes for smoke runs (tests, `--smoke`): seconds, not minutes. Applied before user overrides.
SMOKE_OVERRIDES: dict[str, object] = {
    "n_reviews": 400,
    "sft_steps": 20,
    "sft_batch_size": 16,
    "sft_warmup_steps": 2,
    "sft_eval_every": 10,
    "eval_batch_size": 64,
    "pref_train_prompts": 40,
    "pref_train_pairs": 80,
    "pref_eval_prompts": 20,
    "pref_eval_pairs": 40,
    "rm_epochs": 1,
    "rm_seeds": 2,
    "bon_prompts": 10,
    "bon_max_n": 8,
    "brme_epochs": 3,
    "attribution_responses": 4,
    "shap_max_evals": 200,
    "lime_num_samples": 64,
    "ppo_steps": 2,
    "ppo_batch_size": 8,
    "ppo_minibatch_size": 4,
    "ppo_epochs": 2,
    "ppo_max_new_tokens": 18,  # > min_response_words: cut demonstrations still vary in length (notebook 08)
    "ppo_seeds": 2,
    "ppo_shap_max_evals": 40,
    "ppo_lime_num_samples": 16,
    "ppo_eval_prompts": 16,
    "bo_trials": 3,
    "bo_init": 2,
    "bo_inner_steps": 2,
    "bo_shap_max_evals": 40,
    "bo_lime_num_samples": 16,
    "bo_confirm_seeds": 2,
    "rcfd_bon_prompts": 8,
    "rcfd_bon_max_n": 4,
    "robust_ppo_steps": 6,
}

_POSITIVE_FIELDS = (
    "n_reviews", "n_sentiment_words", "prompt_words", "min_response_words", "max_response_words",
    "n_layer", "n_head", "n_embd", "n_positions", "sft_steps", "sft_batch_size",
    "sft_eval_every", "max_new_tokens", "eval_batch_size", "pref_train_prompts", "pref_train_pairs",
    "pref_eval_prompts", "pref_eval_pairs", "responses_per_prompt", "tree_depth", "tree_branching", "tree_segment_tokens",
    "rm_n_layer", "rm_n_head", "rm_n_embd", "rm_batch_size", "rm_epochs", "rm_seeds", "bon_prompts",
    "bon_max_n", "brme_heads", "brme_hidden", "brme_epochs", "brme_batch_size",
    "attribution_responses", "shap_max_evals", "lime_num_samples", "ppo_steps", "ppo_batch_size",
    "ppo_minibatch_size", "ppo_epochs", "ppo_learning_rate", "ppo_max_new_tokens", "ppo_kl_horizon",
    "ppo_gamma", "ppo_lam", "ppo_clip_range", "ppo_value_clip_range", "ppo_seeds", "ppo_shap_max_evals",
    "ppo_lime_num_samples", "ppo_eval_prompts", "bo_trials", "bo_init", "bo_q", "ppo_workers", "bo_inner_steps",
    "bo_shap_max_evals", "bo_lime_num_samples", "bo_confirm_seeds", "rcfd_bon_prompts", "rcfd_bon_max_n",
    "robust_ppo_steps",
)


def _type_ok(value: object, annotation: str) -> bool:
    expected = {"str": str, "int": int, "float": (int, float), "bool": bool}[annotation]
    if annotation in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def validate(preset: Preset) -> Preset:
    """Raise ValueError, naming the field and the fix, for a preset that cannot work."""
    for f in dataclasses.fields(preset):
        value = getattr(preset, f.name)
        if not _type_ok(value, f.type):
            raise ValueError(
                f"preset field {f.name!r} must be {f.type}, got {value!r} ({type(value).__name__})"
            )
    for name in _POSITIVE_FIELDS:
        if getattr(preset, name) <= 0:
            raise ValueError(f"preset field {name!r} must be positive, got {getattr(preset, name)}")
    if preset.min_response_words > preset.max_response_words:
        raise ValueError(
            f"min_response_words ({preset.min_response_words}) exceeds max_response_words "
            f"({preset.max_response_words}); lower the first or raise the second"
        )
    if preset.n_embd % preset.n_head:
        raise ValueError(f"n_embd ({preset.n_embd}) must be divisible by n_head ({preset.n_head})")
    if not 0 < preset.validation_fraction + preset.test_fraction < 1:
        raise ValueError("validation_fraction + test_fraction must lie strictly between 0 and 1")
    if preset.world not in ("review_world", "imdb"):
        raise ValueError(f"world must be 'review_world' or 'imdb', got {preset.world!r}")
    if preset.world == "imdb" and not preset.dataset_name:
        raise ValueError("world='imdb' needs dataset_name (a Hub id or a local dataset path)")
    if preset.device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {preset.device!r}")
    if preset.rm_n_embd % preset.rm_n_head:
        raise ValueError(f"rm_n_embd ({preset.rm_n_embd}) must be divisible by rm_n_head ({preset.rm_n_head})")
    if preset.label_noise_tau < 0:
        raise ValueError(f"label_noise_tau must be >= 0 (0 = noiseless labels), got {preset.label_noise_tau}")
    if not 0 < preset.brme_calibration_fraction < 1:
        raise ValueError(f"brme_calibration_fraction must lie strictly between 0 and 1, got {preset.brme_calibration_fraction}")
    if preset.brme_anchor_weight < 0 or preset.brme_learning_rate <= 0:
        raise ValueError("brme_anchor_weight must be >= 0 and brme_learning_rate > 0, got "
                         f"{preset.brme_anchor_weight} and {preset.brme_learning_rate}")
    if preset.ppo_batch_size % preset.ppo_minibatch_size:
        raise ValueError(f"ppo_batch_size ({preset.ppo_batch_size}) must be a multiple of ppo_minibatch_size "
                         f"({preset.ppo_minibatch_size})")
    if preset.ppo_workers > 1 and preset.device != "cpu":
        raise ValueError(f"ppo_workers={preset.ppo_workers} runs PPO in forked processes, which needs device='cpu' "
                         f"(got {preset.device!r}); set ppo_workers=1 on a GPU")
    if preset.bo_init > preset.bo_trials:
        raise ValueError(f"bo_init ({preset.bo_init}) exceeds bo_trials ({preset.bo_trials}); the Sobol design is "
                         "part of each strategy's budget")
    if preset.ppo_kl_coef < 0 or preset.ppo_kl_target < 0 or preset.ppo_vf_coef < 0:
        raise ValueError("ppo_kl_coef, ppo_kl_target and ppo_vf_coef must be >= 0, got "
                         f"{preset.ppo_kl_coef}, {preset.ppo_kl_target} and {preset.ppo_vf_coef}")
    if preset.ppo_gamma > 1 or preset.ppo_lam > 1:
        raise ValueError(f"ppo_gamma and ppo_lam must lie in (0, 1], got {preset.ppo_gamma} and {preset.ppo_lam}")
    if preset.temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {preset.temperature}")
    if preset.robust_uwo_penalty < 0 or not 0 <= preset.robust_corrupt_head < preset.brme_heads:
        raise ValueError(f"robust_uwo_penalty must be >= 0 and robust_corrupt_head one of the {preset.brme_heads} "
                         f"BRME heads (0..{preset.brme_heads - 1}); got {preset.robust_uwo_penalty} and "
                         f"{preset.robust_corrupt_head}")
    needed = preset.prompt_words + preset.max_response_words + 2
    if not preset.policy_name and preset.n_positions < needed:
        raise ValueError(
            f"n_positions ({preset.n_positions}) is shorter than bos + prompt + response + eos "
            f"({needed}); raise n_positions"
        )
    return preset


def load_preset(name: str = "tiny", **overrides) -> Preset:
    """The preset ``name`` with ``overrides`` applied, validated.

    >>> load_preset("tiny", seed=3).seed
    3
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}")
    valid = [f.name for f in dataclasses.fields(Preset)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown preset override(s) {', '.join(unknown)}; valid fields: {', '.join(valid)}"
        )
    if "name" in overrides and overrides["name"] != name:
        raise ValueError("override 'name' cannot rename a preset; pass the preset name instead")
    values = {}
    if overrides.get("smoke", PRESETS[name].smoke):
        values.update(SMOKE_OVERRIDES)
    values.update(overrides)
    return validate(dataclasses.replace(PRESETS[name], **values))


def resolve_device(preset: Preset) -> str:
    """'auto' becomes 'cuda' where a GPU is visible, else 'cpu'."""
    import torch

    if preset.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preset.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"preset {preset.name!r} asks for device='cuda' but no GPU is visible; "
            "pass device='cpu' (slow) or run on a GPU machine"
        )
    return preset.device

"""The configs of the studies that run PPO, and PPO's own: a part of :mod:`rewardlab.core.config`.

Each is a frozen dataclass; a :class:`~rewardlab.core.config.Preset` holds one per study (see the stage
list in :mod:`rewardlab.core.config`). :class:`PPOConfig` also stands alone (:mod:`rewardlab.rl`) and checks
its fields when made.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardlab.core.fields import check_fields, choice, fraction, nonnegative, positive, stage, study_size

# SHAP's estimators (rewardlab.shaping.attribution.attribute): shap's PermutationExplainer, or rewardlab's batched
# permutation, paired-kernel and first-and-last-position estimators (rewardlab.shaping.estimators)
SHAP_ESTIMATORS = ("package", "permutation", "kernel", "first-last", "first-position")


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
    # attribution.attribute's estimator in PPO: first-and-last position, exact when no three tokens interact (it
    # splits a negation's interaction with the word it flips as Shapley does). First-position agrees 0.975 with
    # converged SHAP on PPO's responses at a third of the passes, but in a paired A/B of powered notebook 07 (same
    # seeds, every other arm identical) SHAP-shaped PPO ended 0.464 [0.224, 0.704] lower in mean held-out gold
    # with it (benchmarks/ab_shap_estimator.py): a speed-up that moves a verdict is not taken
    shap_estimator: str = choice("first-last", SHAP_ESTIMATORS)
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
    shap_estimator: str = choice("first-last", SHAP_ESTIMATORS)  # as ShapingConfig's
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
    # the middle proxy's first this many replicates again with responses of the world's length
    # (sampling.max_new_tokens): do the turn's verdicts, read at ppo.max_new_tokens = 20, hold at full length?
    full_length_replicates: int = nonnegative(3)


@dataclass(frozen=True)
class TreeConfig:
    # notebook 03: 4 pairs per prompt are all the sibling pairs of a depth-3, branching-2 tree, so the sibling arm
    # can hold nothing but siblings at the chain's and the tree's budget and prompts
    pairs_per_prompt: int = positive(4)
    small_budget: int = positive(1500)  # labelled pairs of the smaller budget ...
    large_budget: int = positive(6000)  # ... and of the larger, where the claims are read and PPO runs (16,000 in issue 24)
    seeds: int = study_size(4)  # replicates: each re-draws the pairs, labels, reward models and PPO seed (pools drawn once)
    ppo: PPOConfig = stage(lambda: PPOConfig(steps=30, batch_size=32, minibatch_size=8))  # PPO against each reward model
    # PPO seeds per reward-model pair: the win rate of a replicate is their mean, so PPO noise averages within the
    # unit of replication (the reward-model pair), and two seeds of one reward model give the A/A floor
    ppo_seeds_per_pair: int = positive(3)


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


def check_ppo(ppo: PPOConfig, path: str) -> None:
    if ppo.batch_size % ppo.minibatch_size:
        raise ValueError(f"{path}.batch_size ({ppo.batch_size}) must be a multiple of {path}.minibatch_size "
                         f"({ppo.minibatch_size})")
    if ppo.gamma > 1 or ppo.lam > 1:
        raise ValueError(f"{path}.gamma and {path}.lam must lie in (0, 1], got {ppo.gamma} and {ppo.lam}")

"""TRL as a peer: the same models and data trained with TRL's trainers, for parity and speed checks.

rewardlab trains its reward models with its own loop (needed later for BRME heads and per-token
work TRL does not do); these functions train the *same* model on the *same* pairs with TRL, so
a notebook or benchmark can show that both reach the same accuracy and compare their speed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import time
import warnings

import datasets
import numpy as np
from accelerate.state import AcceleratorState
from trl import RewardConfig, RewardTrainer, RLOOConfig, RLOOTrainer

from rewardlab.core.config import Preset, resolve_device
from rewardlab.core.study_configs import PPOConfig
from rewardlab.core.quiet import quiet_datasets, quiet_transformers
from rewardlab.reward.models import build_reward_model, score
from rewardlab.reward.preferences import check_preference_dataset


def train_with_trl_reward_trainer(preset: Preset, tokenizer, train_dataset, seed: int = 0):
    """Train ``build_reward_model(preset, tokenizer, seed)`` with ``trl.RewardTrainer``.

    Hyper-parameters mirror :func:`rewardlab.reward.models.train_reward_model`: AdamW at
    ``rm_learning_rate`` with linear decay, ``rm_epochs`` epochs of ``rm_batch_size`` pairs,
    gradient clipping at 1, the same centring coefficient. One difference: TRL draws random batches of
    pairs and reads both texts of every pair; rewardlab batches whole prompts and reads each response
    once for all its pairs (the same loss per pair, different batch composition). Returns
    ``(model, seconds)``.
    """
    check_preference_dataset(train_dataset)
    # An in-memory copy: TRL's map() must not write cache files next to a cached dataset.
    data = datasets.Dataset.from_dict({c: list(train_dataset[c]) for c in ("prompt", "chosen", "rejected")})
    model = build_reward_model(preset, tokenizer, seed)
    with tempfile.TemporaryDirectory() as output_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' renamed options, inside TRL
        args = RewardConfig(
            output_dir=output_dir, per_device_train_batch_size=preset.reward_model.batch_size,
            num_train_epochs=preset.reward_model.epochs, learning_rate=preset.reward_model.learning_rate,
            lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            seed=seed, data_seed=seed, report_to=[], save_strategy="no", logging_strategy="no",
            disable_tqdm=True, use_cpu=preset is None or resolve_device(preset) == "cpu",
            center_rewards_coefficient=preset.reward_model.center_coefficient or None,
            max_length=None, disable_dropout=False,
            bf16=False,  # TRL's configs default to bf16 autocast; rewardlab trains in float32: like for like
        )
        try:
            with quiet_transformers(), quiet_datasets():
                trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
                start = time.perf_counter()
                trainer.train()
                seconds = time.perf_counter() - start
        finally:
            # The Trainer configures accelerate's process-wide state (its data-loader sampling
            # among it); without a reset, a rewardlab training run later in the same process
            # shuffles differently and stops being reproducible from its seed.
            AcceleratorState._reset_state(reset_partial_state=True)
    return trainer.model.eval(), seconds


def train_with_trl_rloo(preset: Preset, ppo: PPOConfig, policy, tokenizer, reward_model, prompts, *, seed: int = 0,
                        steps: int | None = None, num_generations: int = 4, gold_fn=None, score_fn=None):
    """Train a copy of ``policy`` with ``trl.RLOOTrainer`` on the reward model's sequence reward.

    Matched to :func:`rewardlab.rl.trainer.train_ppo` with the same ``ppo`` config: ``steps`` rollouts of
    ``batch_size`` responses (``batch_size / num_generations`` prompts, ``num_generations`` samples each,
    the leave-one-out baseline), ``max_new_tokens`` tokens, KL coefficient ``kl_coef``, the same
    learning rate, ``epochs`` passes of ``minibatch_size`` minibatches per rollout, dropout off,
    advantages normalised over the rollout (rewardlab whitens its GAE advantages). What differs is
    the method: RLOO's baseline is the mean reward of the other samples of the same prompt, its KL
    term sits in the loss (TRL's choice) rather than in the per-token reward.
    ``score_fn(prompts, texts) -> rewards`` replaces the reward model (``reward_model`` may then be None), and
    ``preset=None`` runs on the CPU: any causal LM and any sequence reward. Returns ``(model, log, seconds)``; ``log`` has ``proxy_reward`` and ``gold_reward`` per rollout
    (recorded inside the reward function, so they describe the responses RLOO trained on).
    """
    steps = ppo.steps if steps is None else steps
    if ppo.batch_size % num_generations:
        raise ValueError(f"ppo.batch_size ({ppo.batch_size}) must be a multiple of num_generations ({num_generations})")
    bos = f"{tokenizer.bos_token} " if tokenizer.bos_token else ""
    log = {"proxy_reward": [], "gold_reward": []}

    def reward(prompts, completions, **_):
        texts = [" ".join(c.split()) or tokenizer.eos_token for c in completions]
        plain = [p[len(bos):] if p.startswith(bos) else p for p in prompts]
        rewards = (np.asarray(score_fn(plain, texts), dtype=float) if score_fn
                   else score(reward_model, tokenizer, plain, texts))
        log["proxy_reward"].append(float(np.mean(rewards)))
        log["gold_reward"].append(float(np.mean(gold_fn(texts))) if gold_fn else float("nan"))
        return rewards.tolist()

    reward.__name__ = "reward_model"
    minibatches = ppo.batch_size // ppo.minibatch_size
    data = datasets.Dataset.from_dict({"prompt": [bos + p for p in prompts]})
    suppress = sorted({t for t in tokenizer.all_special_ids if t != tokenizer.eos_token_id})
    with tempfile.TemporaryDirectory() as output_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' renamed options, inside TRL
        args = RLOOConfig(
            output_dir=output_dir, per_device_train_batch_size=ppo.minibatch_size,
            steps_per_generation=minibatches, num_iterations=ppo.epochs, num_generations=num_generations,
            max_steps=steps * minibatches * ppo.epochs, learning_rate=ppo.learning_rate,
            lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            beta=ppo.kl_coef, epsilon=ppo.clip_range, normalize_advantages=True,
            max_completion_length=ppo.max_new_tokens,
            temperature=ppo.temperature, top_k=0, disable_dropout=True, seed=seed, data_seed=seed, report_to=[],
            save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=preset is None or resolve_device(preset) == "cpu",
            generation_kwargs={"min_new_tokens": 1, "suppress_tokens": suppress},
            bf16=False,  # TRL's configs default to bf16 autocast; rewardlab trains in float32: like for like
        )
        try:
            # the Trainer prints a summary dict when it ends
            with quiet_transformers(), quiet_datasets(), contextlib.redirect_stdout(io.StringIO()):
                trainer = RLOOTrainer(model=copy.deepcopy(policy).requires_grad_(True), reward_funcs=reward, args=args,
                                      train_dataset=data, processing_class=tokenizer)
                start = time.perf_counter()
                trainer.train()
                seconds = time.perf_counter() - start
        finally:
            AcceleratorState._reset_state(reset_partial_state=True)  # see train_with_trl_reward_trainer
    return trainer.model.eval(), log, seconds

"""TRL as a peer: the same models and data trained with TRL's trainers, for parity and speed checks.

rewardlab trains its reward models with its own loop (needed later for BRME heads and per-token
work TRL does not do); these functions train the *same* model on the *same* pairs with TRL, so
a notebook or benchmark can show that both reach the same accuracy and compare their speed.
"""

from __future__ import annotations

import tempfile
import time

from .config import Preset, resolve_device
from .preferences import check_preference_dataset
from .quiet import quiet_datasets, quiet_transformers
from .reward_models import build_reward_model


def train_with_trl_reward_trainer(preset: Preset, tokenizer, train_dataset, seed: int = 0):
    """Train ``build_reward_model(preset, tokenizer, seed)`` with ``trl.RewardTrainer``.

    Hyper-parameters mirror :func:`rewardlab.reward_models.train_reward_model`: AdamW at
    ``rm_learning_rate`` with linear decay, ``rm_epochs`` epochs of ``rm_batch_size`` pairs,
    gradient clipping at 1, the same centring coefficient. Returns ``(model, seconds)``.
    """
    import datasets
    from accelerate.state import AcceleratorState
    from trl import RewardConfig, RewardTrainer

    check_preference_dataset(train_dataset)
    # An in-memory copy: TRL's map() must not write cache files next to a cached dataset.
    data = datasets.Dataset.from_dict({c: list(train_dataset[c]) for c in ("prompt", "chosen", "rejected")})
    model = build_reward_model(preset, tokenizer, seed)
    with tempfile.TemporaryDirectory() as output_dir:
        args = RewardConfig(
            output_dir=output_dir, per_device_train_batch_size=preset.rm_batch_size,
            num_train_epochs=preset.rm_epochs, learning_rate=preset.rm_learning_rate,
            lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            seed=seed, data_seed=seed, report_to=[], save_strategy="no", logging_strategy="no",
            disable_tqdm=True, use_cpu=resolve_device(preset) == "cpu",
            center_rewards_coefficient=preset.rm_center_coefficient or None,
            max_length=None, disable_dropout=False,
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

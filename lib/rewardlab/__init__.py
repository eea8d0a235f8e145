"""rewardlab: four lines of RLHF reward research on one shared task, in notebooks backed by this package.

The map, bottom to top (a layer imports only from layers below it):

    core/        config (a config per stage, composed into a preset), fields (checks, overrides), presets,
                 artifacts (the on-disk cache), world (the review world), grammar (its sentences),
                 judges (the gold judges: reader, vader, a classifier), policy (SFT, sampling, log-probs), stats (intervals, Holm, verdicts),
                 claim (what a pre-registered claim declares), quiet
    reward/      preferences (chain sampling, gold labels), models (Bradley-Terry reward models),
                 accuracy (pair accuracy, rank correlation, win rates), probes (minimal pairs per phenomenon)
    rl/          ppo (the equations), trainer (per-token PPO, the public interface), runs (a grid of
                 runs in worker processes), evaluation (held-out scores, best-of-n, learning curves),
                 trl_peers (TRL's RewardTrainer and RLOOTrainer as peers)
    one package per paper idea, each with its claims (claims.py):
    gao/         Gao et al. 2022: fits (the functional forms, bootstrap, cross-fitted peaks), study (proxies of
                 three strengths, best-of-n, PPO at beta = 0); also declares notebook 01's claim on the gold
    shaping/     Koo et al. 2025: attribution (SHAP, LIME, attention), faithfulness, shapes (per-token
                 rewards), bo (BoTorch over mixture weights), study (the PPO grid, a BO trial), views
    rcfd/        Rita et al. 2024: calibration (the RCfD reward), alignment (A = KL of reward densities)
    tree/        Qiu et al. 2024: sampling (prefix trees of responses)
    brme/        Yan et al. 2024: ensemble (K Gaussian heads), training, robust (the robust objective),
                 study (notebook 10's runs), probes (out-of-distribution inputs for sigma)
    stack        the one loader: world, tokenizer, SFT policy, gold judge, preference data, reward models
    reporting/   claims (claims.json), metrics (a notebook's numbers), figures (style, bands, saving,
                 make figures), summary (SUMMARY.md)
    reproduce    make reproduce (papermill);  train: python -m rewardlab.train / accelerate launch

    from rewardlab import load_preset, load_stack
    stack = load_stack(load_preset("tiny"))
"""

from rewardlab.core.kernels import pin_cpu_kernels

pin_cpu_kernels()  # before anything imports torch: the same kernels, so the same numbers, on every x86 machine

from rewardlab.core.config import Preset  # noqa: E402
from rewardlab.core.presets import load_preset  # noqa: E402

__all__ = ["Preset", "load_preset", "load_stack"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``rewardlab.load_stack`` on first use: the stack imports transformers, datasets and the models (about
    5 s measured here), which ``import rewardlab.<anything>`` (make figures, reproduce's argument errors) need not pay."""
    if name == "load_stack":
        from rewardlab.stack import load_stack

        return load_stack
    raise AttributeError(f"module 'rewardlab' has no attribute {name!r}")

"""The frontier's arms: every defence against over-optimisation as a PPO reward, on one proxy family and one scale.

**Replicate.** Replicate r has seed s = ``preset.seed + r``: PPO seed s, and a proxy family of its own,

* the proxy R_s: the Gao notebook's middle proxy of seed s (``gao.middle_pairs`` pairs, a nested subset of that
  seed, ``gao.middle_epochs`` epochs; :func:`rewardlab.gao.study.proxy_model`), cached and shared with it;
* the BRME of seed s: K Gaussian heads on R_s's frozen backbone, trained on R_s's pairs (prompt shards), with
  sigma fitted on the validation pairs (:func:`rewardlab.brme.training.load_brme`), and the same BRME with head
  ``robust.noisy_head`` trained on ``robust.label_flip`` flipped labels;
* Coste et al.'s ensemble: ``frontier.members`` seeded proxies, R_s first and then the proxies of seeds
  s + m·n (m = 1, 2, ...; n the number of replicates), so that no two replicates share a member and, at the
  study sizes, the members are the Gao notebook's cached proxies.

So the unit of replication spans the reward model: a contrast's interval counts reward-model draws as well as
PPO seeds. The A/A arm is the β = 0 arm again with PPO seed s + ``AA_SEED_OFFSET`` on the same proxy.

**One scale.** Every reward a policy is paid is standardised on the same SFT samples (:mod:`rewardlab.rl.scale`):
z = (R − μ)/σ, so that one β means the same price of KL for every arm. The robust mixes use the nominal reward's
(μ, σ) for all heads (one affine map, so the mix keeps its meaning); the ensemble standardises each member before
mean − λ·std or the minimum; RCfD is whitened by its own construction (:mod:`rewardlab.rcfd.calibration`).

Arms (:func:`arm_rewards`), all trained from the SFT policy with the frontier's PPO config:

=================  =======================================================================  ==========
arm                reward                                                                   β
=================  =======================================================================  ==========
``β=<b>``          z(R_s): the KL-penalty family (``β=0`` read along its path: early stop)   b
``β=0 (A/A)``      z(R_s) again, PPO seed s + offset                                         0
``RCfD``           −((R_s(x, y) − R_s(x, y_d)) / sd_d)², per-prompt demonstration target     0
``RCfD constant``  the same against one target, the mean over all demonstrations             0
``w=<w>``          w·nominal + (1 − w)·worst head of the BRME (Yan et al.)                   0
``noisy w=<w>``    the same against the BRME with a label-noise head                         0
``UWO``            mean_k z_k − λ·std_k z_k over the ensemble (Coste et al.)                 0
``worst member``   min_k z_k                                                                 0
``dense SHAP``     z(R_s) spread over the tokens by SHAP (:mod:`rewardlab.shaping.shapes`)   β*
``oracle``         z(reader gold): the ceiling                                               0
=================  =======================================================================  ==========
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from rewardlab.brme.robust import BRMEReward
from rewardlab.brme.training import load_brme
from rewardlab.gao.study import proxy_model, proxy_pairs, proxy_preset
from rewardlab.rcfd.calibration import CalibratedReward
from rewardlab.reward.models import reward_function
from rewardlab.rl.runs import AA_SEED_OFFSET, Method
from rewardlab.rl.scale import score_scale, standardised
from rewardlab.shaping.shapes import shaped_reward_fn
from rewardlab.stack import Stack

AA_ARM = "β=0 (A/A)"
ROBUST_WEIGHTS = (1.0, 0.5, 0.0)  # Yan et al.'s nominal weight w: 1 = nominal RLHF, 0 = worst head
NOISY_WEIGHTS = (1.0, 0.5)


def beta_arm(beta: float) -> str:
    return f"β={beta:g}"


def replicate_of(seed: int) -> int:
    """The replicate seed s of a run seed (the A/A arm runs s + ``AA_SEED_OFFSET``)."""
    return seed - AA_SEED_OFFSET if seed >= AA_SEED_OFFSET else seed


class ProxyFamily:
    """The reward models of the replicates (module doc), each built on first use and kept, with the SFT samples
    every reward is standardised on and the RCfD demonstrations (training prompts and demonstrations)."""

    def __init__(self, stack: Stack, seeds: Sequence[int], sft: tuple[Sequence[str], Sequence[str]],
                 demonstrations: tuple[Sequence[str], Sequence[str]], max_words: int):
        self.stack, self.seeds, self.sft = stack, list(seeds), (list(sft[0]), list(sft[1]))
        self.demonstrations, self.max_words = demonstrations, max_words
        self.pairs = stack.preset.gao.middle_pairs
        self._models: dict = {}
        self._brmes: dict = {}
        self._scales: dict = {}

    def member_seeds(self, seed: int) -> list[int]:
        """The ensemble's proxy seeds of replicate ``seed``: its own, then seed + m·(number of replicates)."""
        return [seed + m * len(self.seeds) for m in range(self.stack.preset.frontier.members)]

    def proxy(self, seed: int):
        if seed not in self._models:
            self._models[seed] = proxy_model(self.stack, self.pairs, seed)
        return self._models[seed]

    def raw(self, seed: int) -> Callable:
        """R_seed(prompts, responses), unstandardised."""
        return reward_function(self.proxy(seed), self.stack.tokenizer, self.stack.preset.sampling.eval_batch_size)

    def scale(self, key, score_fn: Callable) -> tuple[float, float]:
        if key not in self._scales:
            self._scales[key] = score_scale(score_fn, *self.sft)
        return self._scales[key]

    def z(self, seed: int) -> Callable:
        """z(R_seed) on the SFT samples' scale."""
        return standardised(self.raw(seed), *self.scale(("proxy", seed), self.raw(seed)))

    def standardise(self, seed: int, raw) -> np.ndarray:
        """Raw scores of R_seed on the scale z(R_seed) pays."""
        mu, sd = self.scale(("proxy", seed), self.raw(seed))
        return (np.asarray(raw, dtype=float) - mu) / sd

    def brme(self, seed: int, noisy: bool = False):
        """The BRME of replicate ``seed`` on its proxy's backbone and pairs (``noisy``: with the label-noise head)."""
        if (seed, noisy) not in self._brmes:
            stack = self.stack
            preset = proxy_preset(stack, self.pairs)
            split = preset.brme.calibration == "split"  # stage 1 then trains on part of the pairs, not the proxy
            noise = dict(noisy_heads=[preset.robust.noisy_head], label_flip=preset.robust.label_flip) if noisy else {}
            self._brmes[seed, noisy] = load_brme(
                preset, stack.tokenizer, proxy_pairs(stack, self.pairs, seed), seed=seed, progress=False,
                calibration_dataset=None if split else stack.calibration_pairs,
                stage1=None if split else self.proxy(seed), **noise)[0]
        return self._brmes[seed, noisy]

    def robust(self, seed: int, weight: float, noisy: bool = False) -> Callable:
        """w·nominal + (1 − w)·worst head, standardised by the nominal reward's SFT scale."""
        batch = self.stack.preset.sampling.eval_batch_size
        brme = self.brme(seed, noisy)
        nominal = BRMEReward(brme, self.stack.tokenizer, nominal_weight=1.0, batch_size=batch)
        mix = BRMEReward(brme, self.stack.tokenizer, nominal_weight=weight, batch_size=batch)
        return standardised(mix, *self.scale(("nominal", seed, noisy), nominal))

    def ensemble(self, seed: int, penalty: float | None) -> Callable:
        """mean_k z_k − penalty·std_k z_k over the members (``penalty=None``: min_k z_k, the worst member)."""
        members = [self.z(s) for s in self.member_seeds(seed)]

        def reward(prompts, responses):
            values = np.stack([np.asarray(m(prompts, responses), dtype=float) for m in members])  # [K, N]
            return values.min(0) if penalty is None else values.mean(0) - penalty * values.std(0)

        return reward

    def calibrated(self, seed: int, target: str) -> CalibratedReward:
        """RCfD on R_seed (whitened by the demonstrations' spread, so R's scale does not matter)."""
        prompts, demos = self.demonstrations
        return CalibratedReward({"reward_model": self.raw(seed)}, prompts, demos, max_words=self.max_words,
                                target=target)

    def dense(self, seed: int) -> Callable:
        """z(R_seed) spread over the tokens by SHAP (the estimator and budget of ``preset.shaping``)."""
        study = self.stack.preset.shaping
        shaped = shaped_reward_fn("shap", self.proxy(seed), self.stack.tokenizer, seed=seed,
                                  shap_max_evals=study.shap_max_evals, shap_estimator=study.shap_estimator)
        return standardised(shaped, *self.scale(("proxy", seed), self.raw(seed)))

    def oracle(self) -> Callable:
        judge = self.stack.judge

        def gold(prompts, responses):
            return judge(responses)

        return standardised(gold, *self.scale("gold", gold))

    def build(self) -> None:
        """Load (or train) every reward model of every replicate here, before PPO's workers fork."""
        self.oracle()
        for seed in self.seeds:
            for member in self.member_seeds(seed):
                self.z(member)
            self.robust(seed, 1.0), self.robust(seed, 1.0, noisy=True)


def arm_rewards(family: ProxyFamily, betas: Sequence[float]) -> dict[str, Method]:
    """Every arm but the dense one (which needs β*, :func:`dense_arm`) and the A/A arm (:func:`aa_arm`)."""
    uwo = family.stack.preset.frontier.uwo_penalty
    methods = {beta_arm(b): Method(lambda seed: family.z(replicate_of(seed)), {"kl_coef": float(b)}) for b in betas}
    methods["RCfD"] = Method(lambda seed: family.calibrated(seed, "prompt"))
    methods["RCfD constant"] = Method(lambda seed: family.calibrated(seed, "constant"))
    for w in ROBUST_WEIGHTS:
        methods[f"w={w:g}"] = Method(lambda seed, w=w: family.robust(seed, w))
    for w in NOISY_WEIGHTS:
        methods[f"noisy w={w:g}"] = Method(lambda seed, w=w: family.robust(seed, w, noisy=True))
    methods["UWO"] = Method(lambda seed: family.ensemble(seed, uwo))
    methods["worst member"] = Method(lambda seed: family.ensemble(seed, None))
    methods["oracle"] = Method(lambda seed: family.oracle())
    return methods


def aa_arm(family: ProxyFamily) -> dict[str, Method]:
    """β = 0 again: run it on seeds s + ``AA_SEED_OFFSET``; its reward is replicate s's proxy."""
    return {AA_ARM: Method(lambda seed: family.z(replicate_of(seed)), {"kl_coef": 0.0})}


def dense_arm(family: ProxyFamily, beta: float) -> dict[str, Method]:
    return {"dense SHAP": Method(lambda seed: family.dense(seed), {"kl_coef": float(beta)})}

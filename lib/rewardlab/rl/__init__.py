"""Per-token PPO for a Hugging Face causal LM, usable on its own (no preset, world or artifact cache).

The public interface is seven names:

    PPOConfig   the hyperparameters, a frozen dataclass (:class:`rewardlab.core.config.PPOConfig`)
    train_ppo   train_ppo(config, policy, tokenizer, reward_fn, prompts, *, seed=0, name="reward",
                          gold_fn=None, track=None, device="cpu", progress=True, evaluation=None,
                          peft_config=None) -> PPOResult
    train_ppo_seeds   train_ppo_seeds(config, policy, tokenizer, reward_fns, prompts, *, seeds, ...)
                      -> [PPOResult, ...]: several seeds, each seed's numbers bit-identical to
                      its train_ppo run
    word_rewards_on_tokens   word scores of a reward model with another tokenizer, on the policy's tokens
    PPOResult   what a run gives back
    LOG_KEYS    the per-step quantities every run logs

    from rewardlab.rl import PPOConfig, train_ppo

    def reward_fn(prompts, responses):  # +1 on every "blue" (a word-level tokenizer: one token per word)
        return [[1.0 if word == "blue" else 0.0 for word in response.split()] for response in responses]

    result = train_ppo(PPOConfig(steps=8, batch_size=16, minibatch_size=8), policy, tokenizer, reward_fn, prompts)
    result.model.save_pretrained("trained")

``policy`` is any Hugging Face causal LM (``AutoModelForCausalLM``: Llama, Qwen2, GPT-NeoX, OPT, GPT-2,
...); ``train_ppo`` trains a copy of it with a linear value head on the hidden state entering its LM head
and keeps another copy as the frozen KL reference, so the caller's model is left as it was. With
``peft_config=LoraConfig(...)`` only LoRA adapters train and the reference is the same model with its
adapters disabled. GPT-2 policies train their seeds as one stacked model (:mod:`rewardlab.rl.stacked`),
every other one seed by seed through its own forward (:mod:`rewardlab.rl.causal_lm`); a seed's numbers
do not depend on how many seeds run. docs/ppo.md is the user guide. ``tokenizer`` needs an ``<eos>`` and a pad token (the
pad may be the ``<eos>``); its ``<bos>``, when it has one, is put before every prompt. Each step
samples ``config.batch_size`` prompts from ``prompts`` (with replacement) and one response to
each. ``train_ppo`` seeds the global ``random``, NumPy and torch generators from ``seed``; on one
machine the same seed gives the same log, timings aside. ``device="cpu"`` keeps the run on the
CPU; any other value lets ``accelerate`` choose the device.

Reward contract. ``reward_fn(prompts, responses)`` gets the prompts and the decoded responses
(whitespace normalised) and returns, for each response, either a scalar (paid on the response's
final action: its ``<eos>`` when it finished) or one reward per generated token, ``<eos>``
excluded. Re-tokenising the response text gives back the generated tokens only for a tokenizer
that round-trips (a word-level one); with a subword tokenizer, give ``reward_fn`` a parameter
named ``tokens`` and it is called as ``reward_fn(prompts, responses, tokens=...)``, where
``tokens[i]`` are the strings (``tokenizer.convert_ids_to_tokens``) of the tokens generated for
response i: one per reward expected. A wrong number of rewards raises ``ValueError`` and a NaN or
infinite one ``FloatingPointError``, both naming the step. The full contract is in the docstring
of :mod:`rewardlab.rl.trainer`.

PPOResult. ``model``: the trained policy (the value head dropped), in eval mode with gradients
off, ready for ``save_pretrained``. ``log``: a dict from each of ``LOG_KEYS`` (plus each name in
``track``) to a list with one value per step:

    step             1 .. config.steps
    proxy_reward     mean over the rollout of the summed reward_fn rewards (before the KL penalty)
    gold_reward      mean of gold_fn(responses), logged only; NaN without gold_fn
    kl               mean over the rollout of the summed per-token KL estimate to the reference
    entropy          mean entropy per action of the distribution the rollout was sampled from
    value_loss, policy_loss, clip_fraction     means over the step's minibatch updates
    naturalness_nll  the reference's negative log-likelihood per response token (<eos> excluded)
    response_tokens  mean number of generated tokens per response (<eos> excluded)
    kl_coef          the KL coefficient beta used at this step (adaptive when config.kl_target > 0)
    seconds, reward_seconds   wall-clock time of the step and of its reward_fn call

With ``evaluation=Evaluation(prompts, every, seed, scores)`` the log also has ``eval_gold``,
``eval_kl`` and ``eval_<name>``: held-out prompts answered by the policy after that step's update,
every ``every`` steps and at the last, with the same random draws for every run (NaN elsewhere).

``samples``: (step, prompt, response) of the first response of every step.

The math (per-token KL-penalised rewards, GAE, the clipped policy and value losses, the adaptive
KL coefficient) is in :mod:`rewardlab.rl.ppo`, one function per equation, with references.
"""

from rewardlab.core.study_configs import PPOConfig
from rewardlab.rl.held_out import Evaluation
from rewardlab.rl.trainer import LOG_KEYS, PPOResult, train_ppo, train_ppo_seeds
from rewardlab.rl.word_rewards import word_rewards_on_tokens

__all__ = ["LOG_KEYS", "Evaluation", "PPOConfig", "PPOResult", "train_ppo", "train_ppo_seeds", "word_rewards_on_tokens"]

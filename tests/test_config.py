import dataclasses
import math

import pytest

from rewardlab.core.config import STAGES, Preset
from rewardlab.core.study_configs import PPOConfig
from rewardlab.core.fields import field_paths
from rewardlab.core.presets import PRESETS, load_preset


def test_default_is_tiny():
    preset = load_preset()
    assert preset == PRESETS["tiny"]
    assert preset.name == "tiny" and preset.world.source == "review_world" and preset.world.gold_judge == "reader"
    assert preset.sft.base == ""  # built from scratch, nothing downloaded


def test_paper_preset_names_hub_models():
    preset = load_preset("paper")
    assert preset.sft.base == "gpt2" and preset.reward_model.base == "gpt2"
    assert preset.world.source == "imdb" and preset.world.dataset_name == "stanfordnlp/imdb"
    assert preset.world.gold_judge != "vader" and preset.device == "cuda"
    # every study's PPO config carries the paper's learning rate; BO and robust change only their length
    assert {preset.shaping.ppo.learning_rate, preset.bo.ppo.learning_rate, preset.rcfd.ppo.learning_rate,
            preset.robust.ppo.learning_rate} == {1.41e-5}
    assert (preset.bo.ppo.steps, preset.robust.ppo.steps) == (20, 40)


def test_overrides_nested_dotted_and_frozen():
    preset = load_preset("tiny", seed=7, sft={"steps": 3}, **{"bo.ppo.steps": 5, "runs.seeds": 4})
    assert (preset.seed, preset.sft.steps, preset.bo.ppo.steps, preset.runs.seeds) == (7, 3, 5, 4)
    assert preset.sft.batch_size == PRESETS["tiny"].sft.batch_size  # the rest of the stage is kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.seed = 1


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown preset 'huge'.*paper, powered, quick, smoke, tiny"):
        load_preset("huge")


def test_unknown_override_names_the_valid_fields_and_the_new_home_of_an_old_name():
    with pytest.raises(ValueError) as info:
        load_preset("tiny", n_epochs=3)
    assert "n_epochs" in str(info.value) and "sft.steps" in str(info.value) and "seed" in str(info.value)
    with pytest.raises(ValueError, match="did you mean .*sft.steps"):
        load_preset("tiny", sft_steps=3)
    with pytest.raises(ValueError, match="'shaping.ppo' is a stage config; pass a dict"):
        load_preset("tiny", shaping={"ppo": 3})


@pytest.mark.parametrize("overrides, message", [
    ({"seed": "zero"}, "'seed' must be int"),
    ({"sft.steps": 0}, "'sft.steps' must be positive"),
    ({"world.min_response_words": 50}, "exceeds world.max_response_words"),
    ({"sft.n_embd": 130}, "divisible by sft.n_head"),
    ({"sampling.temperature": 0.0}, "'sampling.temperature' must be positive"),
    ({"sft.n_positions": 16}, "raise sft.n_positions"),
    ({"world.source": "imdb"}, "needs world.dataset_name"),
    ({"world.source": "wiki"}, "'world.source' must be one of 'review_world', 'imdb'"),
    ({"device": "tpu"}, "'device' must be one of"),
    ({"shaping.ppo.minibatch_size": 7}, "shaping.ppo.batch_size .* multiple of shaping.ppo.minibatch_size"),
    ({"brme.calibration_fraction": 1.0}, "'brme.calibration_fraction' must lie strictly between 0 and 1"),
    ({"brme.anchor_weight": -0.5}, "'brme.anchor_weight' must be >= 0"),
    ({"robust.noisy_head": 5}, "robust.noisy_head must be one of the 5 BRME heads"),
    ({"robust.label_flip": 0.5}, "robust.label_flip .* must be below 0.5"),
    ({"brme.data": "halves"}, "'brme.data' must be one of 'shards', 'bootstrap'"),
    ({"bo.init": 17}, "bo.init .* exceeds bo.trials"),
    ({"rcfd.ppo.learning_rate": math.nan}, "'rcfd.ppo.learning_rate' must be a finite number"),
    ({"preferences.label_noise_tau": math.inf}, "'preferences.label_noise_tau' must be a finite number"),
])
def test_bad_values_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_preset("tiny", **overrides)


def test_smoke_is_a_preset_of_its_own_and_explicit_overrides_win():
    assert load_preset("tiny", smoke=True) == PRESETS["smoke"] == load_preset("smoke")
    smoke = PRESETS["smoke"]
    assert smoke.smoke and smoke.world.n_reviews < PRESETS["tiny"].world.n_reviews
    assert load_preset("tiny", smoke=True, **{"sft.steps": 5}).sft.steps == 5
    with pytest.raises(ValueError, match="'smoke' must be bool"):
        load_preset("tiny", smoke=1)
    with pytest.raises(ValueError, match="use load_preset\\('smoke'\\)"):
        load_preset("paper", smoke=True)


def test_every_preset_is_valid_and_every_field_has_a_path():
    for preset in PRESETS.values():
        load_preset(preset.name)
    paths = field_paths(Preset())
    assert "ppo.steps" not in paths and "shaping.ppo.steps" in paths and "bo.ppo.kl_coef" in paths
    assert set(STAGES) == {p.split(".")[0] for p in paths if "." in p}


def test_cache_key_is_the_stage_configs_that_build_an_artifact():
    tiny = load_preset("tiny")
    key = tiny.key("world", "sft", seed=tiny.seed)
    assert key["sft"] == dataclasses.asdict(tiny.sft) and key["seed"] == 0
    # a change to a stage moves the keys built from it and no other
    changed = load_preset("tiny", **{"sft.dropout": 0.2})
    assert changed.key("world", "sft") != tiny.key("world", "sft")
    assert changed.key("preferences") == tiny.key("preferences")
    # study sizes (how many seeds a study runs) are not part of how a model is built
    more = load_preset("tiny", **{"reward_model.seeds": 8})
    assert more.key("reward_model") == tiny.key("reward_model")
    with pytest.raises(ValueError, match="unknown stage"):
        tiny.key("ppo")


def test_a_new_field_enters_the_key_without_any_list_to_update():
    @dataclasses.dataclass(frozen=True)
    class WiderSFT(type(PRESETS["tiny"].sft)):
        label_smoothing: float = 0.0

    base = PRESETS["tiny"]
    wider = dataclasses.replace(base, sft=WiderSFT())
    assert "label_smoothing" in wider.key("sft")["sft"]
    assert dataclasses.replace(base, sft=WiderSFT(label_smoothing=0.1)).key("sft") != wider.key("sft")


def test_fingerprint_tracks_every_field():
    assert Preset().fingerprint() == load_preset("tiny").fingerprint()
    assert load_preset("tiny", seed=1).fingerprint() != load_preset("tiny").fingerprint()
    assert load_preset("tiny", **{"bo.q": 1}).fingerprint() != load_preset("tiny").fingerprint()


def test_ppo_config_stands_alone():
    config = PPOConfig(steps=3, batch_size=8, minibatch_size=4)
    assert config.epochs == 4 and config.kl_coef == 0.05

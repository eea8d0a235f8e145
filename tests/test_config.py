import dataclasses

import pytest

from rewardlab.config import PRESETS, SMOKE_OVERRIDES, load_preset


def test_default_is_tiny():
    preset = load_preset()
    assert preset == PRESETS["tiny"]
    assert preset.name == "tiny" and preset.world == "review_world" and preset.gold_judge == "vader"
    assert preset.policy_name == ""  # built from scratch, nothing downloaded


def test_paper_preset_names_hub_models():
    preset = load_preset("paper")
    assert preset.policy_name == "gpt2"
    assert preset.world == "imdb" and preset.dataset_name == "stanfordnlp/imdb"
    assert preset.gold_judge != "vader" and preset.device == "cuda"


def test_overrides_and_frozen():
    preset = load_preset("tiny", seed=7, sft_steps=3)
    assert (preset.seed, preset.sft_steps) == (7, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.seed = 1


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown preset 'huge'.*paper, tiny"):
        load_preset("huge")


def test_unknown_override_names_the_valid_fields():
    with pytest.raises(ValueError) as info:
        load_preset("tiny", n_epochs=3)
    assert "n_epochs" in str(info.value) and "sft_steps" in str(info.value) and "seed" in str(info.value)


@pytest.mark.parametrize("overrides, message", [
    ({"seed": "zero"}, "'seed' must be int"),
    ({"sft_steps": 0}, "'sft_steps' must be positive"),
    ({"min_response_words": 50}, "exceeds max_response_words"),
    ({"n_embd": 130}, "divisible by n_head"),
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"n_positions": 16}, "raise n_positions"),
    ({"world": "imdb"}, "needs dataset_name"),
    ({"smoke": 1}, "'smoke' must be bool"),
])
def test_bad_values_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_preset("tiny", **overrides)


def test_smoke_shrinks_sizes_but_explicit_overrides_win():
    smoke = load_preset("tiny", smoke=True)
    for key, value in SMOKE_OVERRIDES.items():
        assert getattr(smoke, key) == value
    assert load_preset("tiny", smoke=True, sft_steps=5).sft_steps == 5


def test_config_hash_tracks_fields():
    a, b = load_preset("tiny"), load_preset("tiny", seed=1)
    assert a.config_hash() == load_preset("tiny").config_hash()
    assert a.config_hash() != b.config_hash()
    assert a.config_hash(["n_layer"]) == b.config_hash(["n_layer"])


def test_brme_fields_are_validated():
    assert load_preset("tiny").brme_heads == 5
    with pytest.raises(ValueError, match="brme_heads"):
        load_preset("tiny", brme_heads=0)
    with pytest.raises(ValueError, match="brme_calibration_fraction"):
        load_preset("tiny", brme_calibration_fraction=1.0)
    with pytest.raises(ValueError, match="brme_anchor_weight"):
        load_preset("tiny", brme_anchor_weight=-0.5)

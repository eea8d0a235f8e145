"""Shared fixtures. Tests never download: every model and dataset here is built or saved locally.

The artifact cache points at a per-session temporary folder, so tests neither reuse nor
pollute ``artifacts/``; notebook smoke runs inherit it through the environment.
"""

import os

import pytest

from rewardlab.core.presets import load_preset


@pytest.fixture(scope="session", autouse=True)
def isolated_artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    saved = os.environ.get("REWARDLAB_ARTIFACTS")
    os.environ["REWARDLAB_ARTIFACTS"] = str(root)
    yield root
    if saved is None:
        os.environ.pop("REWARDLAB_ARTIFACTS", None)
    else:
        os.environ["REWARDLAB_ARTIFACTS"] = saved


@pytest.fixture(scope="session")
def smoke_preset():
    return load_preset("tiny", smoke=True)


@pytest.fixture(scope="session")
def smoke_world(smoke_preset):
    from rewardlab.core.world import build_world

    return build_world(smoke_preset)


@pytest.fixture(scope="session")
def smoke_policy(smoke_preset, smoke_world):
    """(model, tokenizer, log) of a 20-step SFT policy: a few seconds."""
    from rewardlab.core.policy import load_sft_policy

    return load_sft_policy(smoke_preset, world=smoke_world, progress=False)


@pytest.fixture(scope="session")
def smoke_pairs(smoke_policy, smoke_world):
    """60 gold-labelled chain pairs over 30 training prompts, sampled from the smoke policy."""
    from rewardlab.reward import preferences
    from rewardlab.core.judges import VaderJudge

    model, tokenizer, _ = smoke_policy
    prompts = list(dict.fromkeys(smoke_world.splits["train"]["prompt"]))[:30]
    groups = preferences.sample_chain(model, tokenizer, prompts, 4, seed=0, max_new_tokens=20)
    pairs = preferences.draw_pairs(groups, 60, seed=1)
    return preferences.label_pairs(groups, pairs, VaderJudge(), 0.1, 2, "chain")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and steadily when other jobs share the cores (a test module opts in
    with ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch  # here: rewardlab pins torch's kernels when it is imported first

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)

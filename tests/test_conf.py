"""Every configuration profile loads and is self-consistent."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from epoch_kedro.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"


def parameters(env: str) -> dict:
    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    return OmegaConfigLoader(str(CONF), env=env, **args)["parameters"]


@pytest.mark.parametrize("env", ["local", "smoke", "paper"])
def test_render_size_matches_regnet_input(env):
    params = parameters(env)
    assert params["render"]["size"] == params["regnet"]["model"]["image_size"]


def test_paper_profile_is_larger_than_the_default():
    base, paper = parameters("local"), parameters("paper")
    assert paper["render"]["size"] > base["render"]["size"]
    assert paper["regnet"]["loop"]["epochs"] > base["regnet"]["loop"]["epochs"]
    assert len(paper["regnet"]["model"]["widths"]) > len(base["regnet"]["model"]["widths"])
    assert paper["liftnet"]["model"]["width"] > base["liftnet"]["model"]["width"]
    # soft merge: keys the profile does not state come from base
    assert paper["regnet"]["losses"] == base["regnet"]["losses"]


def test_default_chain_trains_liftnet_on_regnet_inputs():
    params = parameters("local")
    assert params["liftnet"]["train_inputs"] == "regnet_camera"
    assert params["liftnet_weak"]["train_inputs"] == "ground_truth"
    assert params["liftnet_reference"]["train_inputs"] == "ground_truth"

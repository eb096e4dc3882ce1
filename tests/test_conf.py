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
def test_image_sizes_match_the_networks_inputs(env):
    params = parameters(env)
    # RegNet reads person crops; the localiser the resized full frames.
    assert params["render"]["crop_size"] == params["regnet"]["model"]["image_size"]
    assert params["render"]["size"] == params["localizer"]["model"]["image_size"]
    assert params["generate_inputs"]["boxes"] in ("found", "label")
    assert "depth_prior" not in params["regnet"]["model"]


def test_paper_profile_is_larger_than_the_default():
    base, paper = parameters("local"), parameters("paper")
    assert paper["render"]["size"] > base["render"]["size"]
    assert paper["render"]["crop_size"] >= base["render"]["crop_size"]
    # ... and reads the crop at full stem resolution where the default pools it
    assert paper["regnet"]["model"]["stem_stride"] < base["regnet"]["model"]["stem_stride"]
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


@pytest.mark.parametrize("env", ["local", "smoke", "paper"])
def test_the_ground_truth_liftnets_train_alike_at_each_profiles_scale(env):
    params = parameters(env)
    epochs = {
        name: params[name]["loop"]["epochs"] for name in ("liftnet_weak", "liftnet_reference")
    }
    # equal training for the camera-model comparison; a profile's scale reaches the variants
    assert epochs["liftnet_weak"] == epochs["liftnet_reference"]
    assert epochs["liftnet_reference"] >= params["liftnet"]["loop"]["epochs"]
    assert params["liftnet"]["concurrent"] is True


@pytest.mark.parametrize("env", ["local", "smoke", "paper"])
def test_every_profile_builds_the_localizer_regnet_and_chain_settings(env):
    from epoch_kedro.chain import ChainSettings
    from epoch_kedro.data.config import render_config
    from epoch_kedro.training import localizer, regnet
    from epoch_kedro.utils.config import from_params

    params = parameters(env)
    run_keys = ("resume", "checkpoint_dir", "torch_threads", "concurrent")

    def model_params(name):
        return {k: v for k, v in params[name].items() if k not in run_keys}

    regnet_config = regnet.training_config(model_params("regnet"))
    localizer_config = localizer.training_config(model_params("localizer"))
    render = render_config(params["render"])
    assert regnet_config.model.image_size == render.crop_size
    assert localizer_config.model.image_size == render.size
    assert render.box.margin > 1
    settings = from_params(ChainSettings, params["generate_inputs"], "generate_inputs")
    assert settings.boxes == "found" and settings.refine >= 0

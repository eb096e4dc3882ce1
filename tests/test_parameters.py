"""The parameter layer (epoch_kedro.parameters): every group, every number, every loss weight,
checked before anything trains; an unknown group named with its nearest known one."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from epoch_kedro.errors import ParameterError
from epoch_kedro.parameters import check_parameters

CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"liftnet": {"loop": {"lr": math.inf}}}, r"liftnet.loop.lr=inf: expected a finite"),
        ({"regnet": {"loop": {"lr": math.nan}}}, r"regnet.loop.lr=nan: expected a finite"),
        ({"liftnet": {"losses": {"flow": -1.0}}},
         r"liftnet.losses.flow=-1.0: expected a loss weight >= 0 \(0 switches the term off\)"),
        ({"regnet": {"losses": {"kp2d": -0.1}}}, r"regnet.losses.kp2d=-0.1: expected a loss"),
        ({"liftnet_weak": {"losses": {"cycle_3d": -2.0}}}, r"liftnet_weak.losses.cycle_3d=-2.0"),
        ({"liftnet": {"loop": {"device": "tpu"}}},
         r"liftnet.loop.device='tpu': expected auto, cpu or cuda"),
        ({"liftnet_weak": {"model": {"weak_depth": 0}}},
         r"liftnet_weak.model.weak_depth=0.0: expected > 0"),
        ({"liftnet": {"dropout": {"random_rate": 2.0}}},
         r"liftnet.dropout.random_rate=2.0: expected a share"),
        ({"adapt": {"replay_share": 1.5}}, r"adapt.replay_share=1.5: expected a share"),
        ({"adapt": {"stepz": 3}}, r"adapt: unknown parameter\(s\) \['stepz'\]"),
        ({"liftnett": {"loop": {"epochs": 3}}},
         r"liftnett: unknown parameter group; did you mean 'liftnet'\?"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_refused_in_one_line_naming_it(params, message):
    with pytest.raises(ParameterError, match=message) as err:
        check_parameters(params)
    assert "\n" not in str(err.value)


def test_a_cuda_device_on_a_machine_without_one_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match=r"regnet.loop.device='cuda': this machine has no"):
        check_parameters({"regnet": {"loop": {"device": "cuda"}}})


def test_zero_switches_a_term_off_and_the_shipped_profiles_pass():
    from kedro.config import OmegaConfigLoader

    check_parameters({"liftnet": {"losses": {"flow": 0.0}}, "splits": {}, "report": {}})
    for env in ("base", "smoke", "paper"):
        conf = OmegaConfigLoader(str(CONF), base_env="base", default_run_env=env)
        check_parameters(conf["parameters"])

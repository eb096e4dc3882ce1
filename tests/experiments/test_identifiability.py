"""The focal-length identifiability study: exact at zero 3D error, degrading with it."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.normalize import to_model_input
from tests.experiments.helpers import load_experiment

study = load_experiment("identifiability")
FocalProfile, best_ratio = study.FocalProfile, study.best_ratio
focal_profile, focal_study = study.focal_profile, study.focal_study


@pytest.fixture(scope="module")
def split(synthetic_small):
    return to_model_input(synthetic_small)


def test_profile_is_least_at_the_true_focal_length(split):
    grid = np.exp(np.linspace(np.log(0.5), np.log(2.0), 21))
    cam = split["pose3d_cam"][5]
    profile = focal_profile(cam - cam[0], split["kp2d"][5], split["K"][5], cam[0], grid)
    assert profile.cost.min() < 1e-6
    assert best_ratio(profile) == pytest.approx(1.0, abs=0.02)
    assert profile.cost[0] > 1.0 and profile.cost[-1] > 1.0  # a wrong f leaves a misfit


def test_best_ratio_refines_between_grid_points():
    grid = np.exp(np.linspace(-1, 1, 21))
    cost = (np.log(grid) - 0.033) ** 2
    assert best_ratio(FocalProfile(grid=grid, cost=cost)) == pytest.approx(np.exp(0.033), 1e-3)


def test_study_recovers_f_without_noise_and_loses_it_with_noise(split):
    exact = focal_study(split, noise_m=0.0, videos=3, frames=3)
    noisy = focal_study(split, noise_m=0.03, videos=3, frames=3)
    assert exact["frames"] == 9 and exact["videos"] == 3
    assert exact["focal_rel_err_per_frame"] < 0.02
    assert noisy["focal_rel_err_per_frame"] > 5 * exact["focal_rel_err_per_frame"]

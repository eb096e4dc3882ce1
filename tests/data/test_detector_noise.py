"""Detector-noise augmentation: where it acts, what it keeps, and that it is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.detector_noise import DetectorNoise, corrupt
from epoch_kedro.geometry import normalize_2d
from epoch_kedro.skeleton import LEFT_JOINTS, RIGHT_JOINTS


def batch(n: int = 256, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    rays = rng.normal(0.0, 0.15, (n, 17, 2)) + rng.normal(0.0, 0.3, (n, 1, 2))
    pose2d, scale = normalize_2d(rays)
    return {
        "pose2d": torch.as_tensor(pose2d, dtype=torch.float32),
        "scale2d": torch.as_tensor(scale, dtype=torch.float32),
        "root_ray": torch.as_tensor(rays[:, 0], dtype=torch.float32),
        "gravity": torch.zeros(n, 3),
    }


def rays_of(b: dict[str, torch.Tensor]) -> torch.Tensor:
    return b["pose2d"] * b["scale2d"][:, None, None] + b["root_ray"][:, None]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_switched_off_by_default_and_at_zero_share():
    b = batch()
    assert corrupt(b, DetectorNoise(), gen()) is b
    assert corrupt(b, DetectorNoise(share=0.0, sigma=0.5), gen()) is b


def test_jitter_moves_the_rays_by_sigma_times_scale_and_keeps_the_normalised_form():
    b = batch()
    out = corrupt(b, DetectorNoise(share=1.0, sigma=0.1), gen())
    assert torch.allclose(out["pose2d"][:, 0], torch.zeros(2), atol=1e-6)
    rms = out["pose2d"].pow(2).sum(-1).mean(-1).sqrt()
    assert torch.allclose(rms, torch.ones_like(rms), atol=1e-5)
    # Each coordinate of each joint moved by sigma * (the pose's scale) in ray units.
    moved = (rays_of(out) - rays_of(b)) / b["scale2d"][:, None, None]
    assert moved.std().item() == pytest.approx(0.1, rel=0.05)
    assert abs(moved.mean().item()) < 0.01
    assert out["gravity"] is b["gravity"]


def test_the_input_batch_is_left_untouched():
    b = batch()
    before = {k: v.clone() for k, v in b.items()}
    corrupt(b, DetectorNoise(share=1.0, sigma=0.2, outlier_rate=0.3, swap_rate=1.0), gen())
    for key, value in before.items():
        assert torch.equal(b[key], value)


def test_share_corrupts_about_that_fraction_of_samples():
    b = batch(2000)
    out = corrupt(b, DetectorNoise(share=0.3, sigma=0.05), gen())
    changed = (out["pose2d"] - b["pose2d"]).abs().amax((1, 2)) > 1e-6
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.04)


def test_outliers_are_rare_and_large():
    b = batch(2000)
    noise = DetectorNoise(share=1.0, sigma=0.0, outlier_rate=0.05, outlier_sigma=0.5)
    moved = ((rays_of(corrupt(b, noise, gen())) - rays_of(b)) / b["scale2d"][:, None, None]).norm(
        dim=-1
    )
    hit = moved > 1e-6
    assert hit.float().mean().item() == pytest.approx(0.05, abs=0.01)
    assert moved[hit].median().item() > 0.3


def test_a_swap_exchanges_one_whole_limb_and_nothing_else():
    b = batch(400)
    out = corrupt(b, DetectorNoise(share=1.0, swap_rate=1.0), gen())
    before, after = rays_of(b), rays_of(out)
    legs = list(zip(LEFT_JOINTS[:3], RIGHT_JOINTS[:3], strict=True))
    arms = list(zip(LEFT_JOINTS[3:], RIGHT_JOINTS[3:], strict=True))
    others = [j for j in range(17) if j not in LEFT_JOINTS + RIGHT_JOINTS]
    kinds = set()
    for i in range(len(after)):
        swapped = [
            all(torch.allclose(after[i, a], before[i, b], atol=1e-5) for a, b in limb)
            for limb in (legs, arms)
        ]
        assert sum(swapped) == 1
        kinds.add(swapped.index(True))
        assert torch.allclose(after[i, others], before[i, others], atol=1e-5)
    assert kinds == {0, 1}


def test_same_generator_seed_same_corruption():
    b = batch()
    noise = DetectorNoise(share=0.5, sigma=0.1, outlier_rate=0.1, swap_rate=0.2)
    one, two = corrupt(b, noise, gen(3)), corrupt(b, noise, gen(3))
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert not torch.equal(one["pose2d"], corrupt(b, noise, gen(4))["pose2d"])


@pytest.mark.parametrize(
    ("field", "value"), [("share", 1.5), ("outlier_rate", -0.1), ("sigma", -1.0)]
)
def test_out_of_range_parameters_name_themselves(field, value):
    with pytest.raises(ValueError, match=rf"liftnet\.noise\.{field}"):
        DetectorNoise(**{field: value}).validate()

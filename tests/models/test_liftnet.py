"""LiftNet geometry: exact perspective, metric scale from the bone prior, gravity handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.geometry import normalize_2d, project_normalized
from epoch_kedro.models.artifacts import liftnet_from_artifact, to_artifact
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.skeleton import JOINT_INDEX, bone_lengths

BONES = torch.full((16,), 0.25)


def inputs(n: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rays_xy = 0.2 * torch.randn(n, 17, 2, generator=g) + 0.1 * torch.randn(n, 1, 2, generator=g)
    pose2d, scale = normalize_2d(rays_xy)
    gravity = torch.tensor([0.0, 0.95, 0.3]).expand(n, 3)
    return {
        "rays_xy": rays_xy,
        "pose2d": pose2d,
        "scale2d": scale,
        "root_ray": rays_xy[:, 0],
        "gravity": gravity / gravity.norm(dim=-1, keepdim=True),
    }


def run(model, x, gravity=True):
    return model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"] if gravity else None)


def test_perspective_lift_lies_on_the_input_rays_and_is_metric():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), BONES)
    x = inputs()
    out = run(model, x)
    assert out.pose.shape == (8, 17, 3) and out.depth.shape == (8, 17)
    torch.testing.assert_close(project_normalized(out.pose), x["rays_xy"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bone_lengths(out.pose).sum(-1), torch.full((8,), 4.0))
    assert (out.pose[..., 2] > 0).all()
    torch.testing.assert_close(out.depth[:, 0], torch.zeros(8))


def test_weak_perspective_ignores_position_in_image():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1, camera_model="weak_perspective"), BONES)
    x = inputs()
    moved = dict(x, root_ray=x["root_ray"] + 0.3)
    torch.testing.assert_close(run(model, x).pose, run(model, moved).pose)
    root = run(model, x).pose[:, 0]
    torch.testing.assert_close(root[:, :2], torch.zeros(8, 2))  # on the optical axis


def test_known_gravity_sets_the_vertical_and_unknown_rows_use_the_elevation_head():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), BONES)
    x = inputs()
    out = run(model, x)
    torch.testing.assert_close(out.up, -x["gravity"])
    torch.testing.assert_close(out.elevation, torch.asin(x["gravity"][:, 2]))
    partial = x["gravity"].clone()
    partial[:3] = 0.0
    mixed = model(x["pose2d"], x["scale2d"], x["root_ray"], partial)
    blind = run(model, x, gravity=False)
    torch.testing.assert_close(mixed.up[:3], blind.up[:3])
    torch.testing.assert_close(mixed.up[3:], -x["gravity"][3:])
    assert torch.allclose(blind.up[:, 0], torch.zeros(8))  # no roll from an elevation alone


def test_config_rejects_unknown_camera_model():
    with pytest.raises(ValueError, match="camera_model must be one of"):
        LiftNetConfig(camera_model="orthographic")


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=16, blocks=2), BONES)
    x = inputs()
    x_blind = dict(x, gravity=torch.zeros_like(x["gravity"]))
    blind = run(model, x_blind)  # the elevation head acts only through the vertical axis
    partial = model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"], _face_hidden(8))
    loss = run(model, x).pose.square().sum() + blind.pose.square().sum() + blind.up.sum()
    (loss + partial.pose.square().sum()).backward()  # the position head acts on missing joints
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, missing
    assert np.isfinite(sum(p.grad.abs().sum().item() for p in model.parameters()))


def _face_hidden(n: int) -> torch.Tensor:
    present = torch.ones(n, 17, dtype=torch.bool)
    present[:, [JOINT_INDEX["Neck"], JOINT_INDEX["Head"]]] = False
    return present


def test_a_masked_joint_input_does_not_change_the_lift_and_all_17_come_back():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), BONES)
    x = inputs()
    present = _face_hidden(8)
    out = model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"], present)
    moved = x["pose2d"].clone()
    moved[:, ~present[0]] = torch.tensor([5.0, float("nan")])  # anything, NaN included
    again = model(moved, x["scale2d"], x["root_ray"], x["gravity"], present)
    torch.testing.assert_close(again.pose, out.pose)
    assert out.pose.shape == (8, 17, 3) and torch.isfinite(out.pose).all()
    # The present joints still lie on their input rays; the lift differs from the full one.
    seen = project_normalized(out.pose)[:, present[0]]
    torch.testing.assert_close(seen, x["rays_xy"][:, present[0]], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out.pose, run(model, x).pose)


def test_all_present_is_the_same_as_no_mask_given():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), BONES)
    x = inputs()
    full = torch.ones(8, 17, dtype=torch.bool)
    given = model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"], full)
    torch.testing.assert_close(given.pose, run(model, x).pose)


def test_a_liftnet_without_the_mask_refuses_a_partial_pose_and_old_artifacts_load_without_it():
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1, presence_mask=False), BONES)
    x = inputs()
    with pytest.raises(ValueError, match="trained without a presence mask"):
        model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"], _face_hidden(8))
    full = model(x["pose2d"], x["scale2d"], x["root_ray"], x["gravity"], torch.ones(8, 17) > 0)
    torch.testing.assert_close(full.pose, run(model, x).pose)
    artifact = to_artifact(model, "liftnet")
    del artifact["config"]["presence_mask"]  # written before the key existed
    loaded = liftnet_from_artifact(artifact)
    assert loaded.config.presence_mask is False
    torch.testing.assert_close(run(loaded, x).pose, run(model, x).pose)

"""The synthetic generator: determinism, anatomy, cameras and internal consistency."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.body import (
    REFERENCE_HEIGHT,
    forward_kinematics_frames,
    sample_subject,
    standing_height,
)
from epoch_kedro.data.synthetic.generate import CameraConfig
from epoch_kedro.data.synthetic.library import ACTIONS, sample_clip
from epoch_kedro.data.synthetic.motions import JOINT_LIMITS, LIMITS_HIGH, LIMITS_LOW, SCRIPTED
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.geometry import camera_elevation, project, rot_x, rot_y, rot_z, world_to_camera
from epoch_kedro.skeleton import ELBOWS, JOINT_INDEX, KNEES, SYMMETRIC_BONES, bone_lengths
from tests.conftest import SMALL_CONFIG as SMALL


@pytest.fixture(scope="module")
def small(synthetic_small) -> dict[str, np.ndarray]:
    return synthetic_small


def test_schema_and_size(small):
    validate_dataset(small, "synthetic")
    expected = 2 * len(ACTIONS) * 1 * 12 * 2
    assert len(small["kp2d"]) == expected
    assert small["pose3d_world"].dtype == np.float32


def test_same_seed_same_data_other_seed_other_data(small):
    again = generate_synthetic(SMALL)
    for key in small:
        np.testing.assert_array_equal(small[key], again[key], err_msg=key)
    other = generate_synthetic(dataclasses.replace(SMALL, seed=8))
    assert not np.allclose(other["pose3d_world"], small["pose3d_world"])


def test_adding_a_subject_leaves_the_others_unchanged(small):
    more = generate_synthetic(dataclasses.replace(SMALL, subjects=("S1", "S5", "S9")))
    for name in ("S1", "S9"):
        np.testing.assert_array_equal(
            more["pose3d_world"][more["subject"] == name],
            small["pose3d_world"][small["subject"] == name],
        )


def test_projection_is_consistent_with_the_cameras(small):
    X = world_to_camera(small["pose3d_world"], small["R"], small["t"])
    np.testing.assert_allclose(project(X, small["K"]), small["kp2d"], atol=1e-2)
    inside = np.all((small["kp2d"] >= 0) & (small["kp2d"] < small["image_size"][:, None]), -1)
    np.testing.assert_array_equal(small["visible"], inside & (X[..., 2] > 0.05))
    assert small["visible"].mean() > 0.8


def test_bones_are_rigid_and_left_right_symmetric(small):
    for name in ("S1", "S9"):
        bones = bone_lengths(small["pose3d_world"][small["subject"] == name].astype(np.float64))
        np.testing.assert_allclose(bones, np.broadcast_to(bones[0], bones.shape), atol=1e-5)
        for left, right in SYMMETRIC_BONES:
            np.testing.assert_allclose(bones[0, left], bones[0, right], rtol=1e-6)


def test_feet_stay_on_the_floor(small):
    ankles = small["pose3d_world"][:, [JOINT_INDEX["LFoot"], JOINT_INDEX["RFoot"]], 2].min(1)
    standing = sorted(set(SCRIPTED) - {"running", "jumping_jacks"})
    grounded = np.isin(small["action"], standing)  # the families: tests/data/test_families.py
    assert ankles.min() > 0.05
    np.testing.assert_allclose(ankles[grounded], np.median(ankles[grounded]), atol=0.02)


def test_subject_heights_follow_the_population():
    rng = np.random.default_rng(0)
    subjects = [sample_subject(f"S{i}", rng) for i in range(400)]
    heights = np.array([s.height for s in subjects])
    assert abs(heights.mean() - 1.72) < 0.02
    assert abs(heights.std() - 0.09) < 0.02
    for s in subjects[:20]:
        assert standing_height(s.offsets) == pytest.approx(s.height, rel=1e-9)
    assert subjects[0].ankle_height == pytest.approx(0.08 * subjects[0].height / REFERENCE_HEIGHT)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_clips_respect_joint_limits(action):
    clip = sample_clip(action, frames=40, fps=12.5, rng=np.random.default_rng(1))
    assert np.all(clip.angles >= LIMITS_LOW - 1e-9)
    assert np.all(clip.angles <= LIMITS_HIGH + 1e-9)
    moving = np.ptp(clip.angles, axis=0).max()
    assert moving > 5.0, f"{action} barely moves"


def _hinge_flexion_deg(pos, frames, chain, sign):
    """Signed flexion about the upper bone's own x axis, measured from the 3D joints."""
    upper, middle, lower = chain
    a = pos[:, middle] - pos[:, upper]
    b = pos[:, lower] - pos[:, middle]
    axis = frames[:, upper, :, 0]
    sin = sign * np.einsum("ti,ti->t", np.cross(a, b), axis)
    cos = np.einsum("ti,ti->t", a, b)
    return np.rad2deg(np.arctan2(sin, cos))


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_knees_and_elbows_never_hyperextend(action):
    """Geometric check on the 3D output, independent of the angle bookkeeping."""
    rng = np.random.default_rng(2)
    subject = sample_subject("S1", rng)
    clip = sample_clip(action, frames=40, fps=12.5, rng=rng)
    roll = np.zeros_like(clip.lean) if clip.roll is None else clip.roll
    root = rot_z(clip.heading) @ rot_x(-np.deg2rad(clip.lean)) @ rot_y(np.deg2rad(roll))
    pos, frames = forward_kinematics_frames(subject.offsets, clip.axis_angles_rad(), root)
    knee_max, elbow_max = JOINT_LIMITS["LKnee"][0][1], JOINT_LIMITS["LElbow"][0][1]
    for chain in KNEES:
        flex = _hinge_flexion_deg(pos, frames, chain, sign=-1)
        assert flex.min() >= -1e-6 and flex.max() <= knee_max + 1e-6
    for chain in ELBOWS:
        flex = _hinge_flexion_deg(pos, frames, chain, sign=1)
        assert flex.min() >= -1e-6 and flex.max() <= elbow_max + 1e-6


def test_limits_table_is_sane():
    for joint, limits in JOINT_LIMITS.items():
        assert joint in JOINT_INDEX
        assert all(lo <= hi for lo, hi in limits)


def test_wild_and_rig_cameras_cover_the_configured_ranges():
    config = dataclasses.replace(
        SMALL,
        subjects=("S1", "S5", "S9"),
        sequences_per_action=3,
        frames_per_sequence=4,
        cameras=CameraConfig(per_sequence=4, wild_fraction=0.5),
    )
    data = generate_synthetic(config)
    focal_ratio = data["K"][:, 0, 0] / data["image_size"][:, 0]
    assert focal_ratio.min() >= 0.6 - 1e-3 and focal_ratio.max() <= 2.0 + 1e-3
    assert focal_ratio.min() < 0.9 and focal_ratio.max() > 1.6  # wild lenses drawn
    assert np.any(np.abs(focal_ratio - 1.145) < 0.02)  # the rig
    X = world_to_camera(data["pose3d_world"], data["R"], data["t"])
    distance = np.linalg.norm(X[:, 0], axis=-1)
    assert distance.min() > 1.4 and distance.max() < 9.6
    elevation = np.rad2deg(camera_elevation(data["R"]))
    assert elevation.min() > -15.5 and elevation.max() < 45.5
    camera_height = -np.einsum("nji,nj->ni", data["R"], data["t"])[:, 2]
    assert camera_height.min() > 0.15


def test_config_rejects_unknown_keys_and_actions():
    with pytest.raises(ValueError, match=r"synthetic\.cameras: unknown parameter\(s\) \['lens'\]"):
        SyntheticConfig.from_params({"cameras": {"lens": 3}})
    with pytest.raises(ValueError, match=r"unknown.*'moonwalk'"):
        SyntheticConfig.from_params({"actions": ["walking", "moonwalk"]})
    with pytest.raises(ValueError, match="wild_fraction"):
        SyntheticConfig.from_params({"cameras": {"wild_fraction": 1.5}})
    config = SyntheticConfig.from_params({"seed": 3, "cameras": {"wild": {"focal_range": [1, 2]}}})
    assert config.cameras.wild.focal_range == (1, 2)
    assert config.cameras.per_sequence == 4


def test_subjects_are_people_not_their_mirror_images(synthetic_small):
    """Right x forward = up for a real person (facing north, the right hand is east)."""
    pose = synthetic_small["pose3d_world"].astype(np.float64)
    right = pose[:, JOINT_INDEX["RHip"]] - pose[:, JOINT_INDEX["LHip"]]
    up = pose[:, JOINT_INDEX["Thorax"]] - pose[:, JOINT_INDEX["Hip"]]
    forward = np.cross(up, right)  # facing direction if the subject is not mirrored
    nose = pose[:, JOINT_INDEX["Neck"]] - pose[:, JOINT_INDEX["Thorax"]]
    standing = np.isin(synthetic_small["action"], ["walking", "waving", "turning"])
    agree = np.einsum("ni,ni->n", forward[standing], nose[standing]) > 0
    assert agree.mean() > 0.95

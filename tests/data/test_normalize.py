"""Normalization: undistortion, rays, root-centring, camera frame, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.normalize import (
    dataset_statistics,
    hold_out_motions,
    seen_motions,
    split_by_subject,
    summarize,
    to_model_input,
)
from epoch_kedro.geometry import normalize_2d, project, project_distorted, world_to_camera
from epoch_kedro.skeleton import ROOT, bone_lengths

#: Human3.6M camera 54138969's lens (published with the dataset).
H36M_DIST = np.array(
    [
        -0.20709891617298126,
        0.24777518212795258,
        -0.0030751503072679043,
        -0.0009756988729350269,
        -0.00142447161488235,
    ]
)


@pytest.fixture(scope="module")
def model_input(synthetic_small):
    return to_model_input(synthetic_small)


def test_camera_frame_pose_reprojects_onto_the_2d(model_input):
    np.testing.assert_allclose(
        project(model_input["pose3d_cam"].astype(np.float64), model_input["K"]),
        model_input["kp2d"],
        atol=5e-3,
    )
    assert model_input["pose3d_cam"][..., 2].min() > 0


def test_rays_times_depth_recover_the_3d(model_input):
    X = model_input["rays"] * model_input["pose3d_cam"][..., 2:3]
    np.testing.assert_allclose(X, model_input["pose3d_cam"], atol=1e-5)
    np.testing.assert_array_equal(model_input["rays"][..., 2], 1.0)


def test_pose2d_is_root_centred_with_unit_rms(model_input):
    pose2d = model_input["pose2d"].astype(np.float64)
    np.testing.assert_allclose(pose2d[:, ROOT], 0.0, atol=1e-7)
    np.testing.assert_allclose(np.sqrt((pose2d**2).sum(-1).mean(-1)), 1.0, rtol=1e-5)
    rebuilt = pose2d * model_input["scale2d"][:, None, None] + model_input["rays"][:, :1, :2]
    np.testing.assert_allclose(rebuilt, model_input["rays"][..., :2], atol=1e-6)


def test_normalize_2d_is_scale_and_translation_invariant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 17, 2))
    a, _ = normalize_2d(x)
    b, _ = normalize_2d(3.0 * x + np.array([1.0, -2.0]))
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_distorted_observations_are_undistorted(synthetic_small):
    data = dict(synthetic_small)
    X = world_to_camera(data["pose3d_world"].astype(np.float64), data["R"], data["t"])
    data["dist"] = np.broadcast_to(H36M_DIST, (len(X), 5)).astype(np.float32)
    data["kp2d"] = project_distorted(X, data["K"], data["dist"]).astype(np.float32)
    out = to_model_input(data)
    # Only joints with modest image radius: the H36M lens model is not invertible far out.
    central = np.linalg.norm(X[..., :2] / X[..., 2:], axis=-1) < 0.5
    pinhole = project(X, data["K"])
    assert central.mean() > 0.9
    np.testing.assert_allclose(out["kp2d"][central], pinhole[central], atol=2e-2)
    np.testing.assert_array_equal(out["kp2d_observed"], data["kp2d"])


def test_gravity_points_down_the_image_for_upright_cameras(model_input):
    gravity = model_input["gravity"]
    np.testing.assert_allclose(np.linalg.norm(gravity, axis=-1), 1.0, rtol=1e-5)
    assert np.all(gravity[:, 1] > 0.5)  # roll is small: "down" is +y in the image


def test_split_by_subject_partitions_rows(synthetic_small):
    parts = split_by_subject(synthetic_small, {"train": ["S1"], "test": ["S9"]})
    assert set(parts["train"]["subject"]) == {"S1"}
    assert len(parts["train"]["kp2d"]) + len(parts["test"]["kp2d"]) == len(synthetic_small["kp2d"])


def test_held_out_motions_are_flagged_in_every_split_and_seen_motions_drops_them(
    synthetic_small,
):
    parts = split_by_subject(synthetic_small, {"train": ["S1"], "test": ["S9"]})
    held = hold_out_motions(parts, ["kicking", "waving"])
    for name, part in held.items():
        assert len(part["kp2d"]) == len(parts[name]["kp2d"])  # nothing leaves a split
        expected = np.isin(part["action"], ["kicking", "waving"])
        np.testing.assert_array_equal(part["heldout_motion"], expected)
        assert 0 < expected.sum() < len(expected)
        seen = seen_motions(part)
        assert not set(seen["action"].tolist()) & {"kicking", "waving"}
        np.testing.assert_array_equal(seen["kp2d"], part["kp2d"][~expected])
    # The flag survives normalisation; no held-out actions: nothing flagged, nothing dropped.
    test = held["test"]
    assert to_model_input(test)["heldout_motion"].sum() == test["heldout_motion"].sum()
    none = hold_out_motions(parts, [])
    assert not any(none[k]["heldout_motion"].any() for k in parts)
    assert seen_motions(none["train"]) is none["train"]
    assert seen_motions(parts["train"]) is parts["train"]  # no flag at all


def test_unknown_held_out_action_names_itself_and_the_known_ones(synthetic_small):
    parts = split_by_subject(synthetic_small, {"train": ["S1"], "test": ["S9"]})
    with pytest.raises(ValueError, match=r"\['kickin'\] are not actions.*'kicking'"):
        hold_out_motions(parts, ["kicking", "kickin"])


def test_statistics_are_population_summaries(model_input):
    stats = dataset_statistics(model_input)
    bones = bone_lengths(model_input["pose3d_cam"].astype(np.float64))
    np.testing.assert_allclose(stats["bone_length_mean"], bones.mean(0), rtol=1e-6)
    components = stats["pca_components"]
    np.testing.assert_allclose(components @ components.T, np.eye(34), atol=1e-8)
    assert np.all(np.diff(stats["pca_variance"]) <= 1e-12)
    # Root-centring removes two degrees of freedom: the last two variances vanish.
    assert stats["pca_variance"][-2:].max() < 1e-10
    summary = summarize({"train": model_input}, stats)
    assert summary["splits"]["train"]["samples"] == len(model_input["kp2d"])
    assert set(summary["bone_length_mean_m"]) >= {"RHip-RKnee", "LShoulder-LElbow"}


def test_joints_without_2d_become_the_presence_mask_and_complete_splits_have_none(
    synthetic_small, model_input
):
    assert "present" not in model_input  # every joint seen: the split is as before
    data = {k: v[:20] for k, v in synthetic_small.items()}
    data["kp2d"] = data["kp2d"].copy()
    data["visible"] = data["visible"].copy()
    data["kp2d"][3, 13] = np.nan
    data["visible"][3, 13] = False
    out = to_model_input(data)
    assert out["present"].sum() == 20 * 17 - 1 and not out["present"][3, 13]
    assert np.isfinite(out["pose2d"]).all() and out["pose2d"][3, 13].tolist() == [0.0, 0.0]
    data["visible"][3, 13] = True
    with pytest.raises(ValueError, match=r"kp2d\[3, 13\] is NaN but visible\[3, 13\] is True"):
        to_model_input(data)

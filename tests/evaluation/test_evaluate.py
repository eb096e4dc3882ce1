"""evaluate_setting: the metric reference (univ_annot3 where given), per activity and subject;
camera types and RegNet's camera errors per type."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.chain import video_ids
from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.synthetic.generate import _stream
from epoch_kedro.evaluation.evaluate import (
    camera_types,
    evaluate_setting,
    ray_floor,
    regnet_section,
)
from epoch_kedro.evaluation.metrics import pose_metrics
from epoch_kedro.geometry import rays
from tests.conftest import SMALL_CONFIG


def split_of(gt: np.ndarray, metric: np.ndarray | None = None) -> dict[str, np.ndarray]:
    n = len(gt)
    split = {
        "pose3d_cam": gt,
        "action": np.array(["Sitting", "Sports"] * (n // 2)),
        "subject": np.array(["TS1"] * (n // 2) + ["TS5"] * (n // 2)),
    }
    if metric is not None:
        split["pose3d_metric_cam"] = metric
    return split


def test_pck_and_auc_per_activity_against_the_metric_pose() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 0.3, (4, 17, 3)) + np.array([0.0, 0.0, 4.0])
    # Every non-root joint 98 mm off on "Sitting" rows, 198 mm off on "Sports" rows.
    offset = np.zeros((4, 17, 3))
    offset[0::2, 1:, 0], offset[1::2, 1:, 0] = 0.098, 0.198
    section = evaluate_setting(gt + offset, split_of(gt))
    sitting, sports = section["by_action"]["Sitting"], section["by_action"]["Sports"]
    root_share = 100 / 17  # the root is always exact after root alignment
    assert sitting["pck150"] == 100.0 and sports["pck150"] == round(root_share, 2)
    # AUC over 0, 5, ..., 150 mm: a 98 mm error is within 11 of the 31 thresholds (100..150).
    assert sitting["auc"] == round((16 * 11 / 31 + 1) / 17 * 100, 2)
    assert section["pck150"] == round((100 + root_share) / 2, 2)
    assert set(section["by_subject"]) == {"TS1", "TS5"}
    # With a separate metric reference the same prediction is scored against it instead.
    against_metric = evaluate_setting(gt + offset, split_of(gt, gt + offset))
    assert against_metric["mpjpe"] == 0.0 and against_metric["pck150"] == 100.0


# ---- camera types: a studio rig (one camera, several videos) or a camera set up per video ----


def cameras_split(cameras: list[int], subjects: list[str], actions: list[str]) -> dict:
    """One frame per entry, filmed by camera ``cameras[i]`` (distinct K and position each)."""
    n = len(cameras)
    K = np.zeros((n, 3, 3))
    R = np.tile(np.eye(3), (n, 1, 1))
    t = np.zeros((n, 3))
    for i, cam in enumerate(cameras):
        K[i] = [[1000.0 + 100 * cam, 0, 500], [0, 1000.0 + 100 * cam, 500], [0, 0, 1]]
        t[i] = [0.5 * cam, 0.0, 4.0]
    return {
        "K": K,
        "R": R,
        "t": t,
        "subject": np.array(subjects),
        "action": np.array(actions),
        "sequence": np.zeros(n, int),
    }


def test_a_camera_that_filmed_several_videos_is_a_rig():
    split = cameras_split(
        [0, 0, 0, 1, 1, 2],
        ["S1"] * 6,
        ["walking", "walking", "running", "sitting", "sitting", "waving"],
    )
    np.testing.assert_array_equal(
        camera_types(split), ["rig", "rig", "rig", "wild", "wild", "wild"]
    )


def test_cameras_are_told_apart_by_position_and_intrinsics():
    split = cameras_split([0, 1], ["S1", "S1"], ["walking", "running"])
    assert list(camera_types(split)) == ["wild", "wild"]
    moved = {**split, "K": np.repeat(split["K"][:1], 2, 0)}  # same lens, another place
    assert list(camera_types(moved)) == ["wild", "wild"]
    same = {**moved, "t": np.repeat(split["t"][:1], 2, 0)}
    assert list(camera_types(same)) == ["rig", "rig"]


def test_a_camera_that_filmed_two_subjects_is_a_rig():
    """Two videos that differ only by their subject are still two videos of one camera."""
    split = cameras_split([0, 0, 1], ["S1", "S9", "S1"], ["walking", "walking", "walking"])
    assert list(camera_types(split)) == ["rig", "rig", "wild"]


def test_camera_types_of_the_synthetic_set_follow_its_rig_and_wild_sequences(synthetic_small):
    data = synthetic_small
    keys = list(zip(data["subject"], data["action"], data["sequence"], strict=True))
    # The generator's own draw: a sequence is filmed by the subject's rig unless it drew wild.
    rig = {
        key: _stream(SMALL_CONFIG.seed, str(key[0]), str(key[1]), int(key[2]), "cameras").uniform()
        >= SMALL_CONFIG.cameras.wild_fraction
        for key in set(keys)
    }
    expected = np.array(["rig" if rig[key] else "wild" for key in keys])
    assert {"rig", "wild"} == set(expected)  # the fixture holds both kinds
    np.testing.assert_array_equal(camera_types(data), expected)


def generated_split(data: dict, videos: np.ndarray) -> dict:
    """A generate_inputs-like test split: the truth as ``*_gt``, RegNet's camera in ``K``."""
    split = to_model_input(data)
    out = {**split, "sample_id": np.arange(len(split["kp2d"]))}
    for key in ("kp2d", "K", "gravity", "elevation"):
        out[f"{key}_gt"] = split[key]
    out["pose3d_regnet"] = split["pose3d_cam"]
    types = camera_types(data)  # from the true cameras (see the test above)
    # RegNet's camera, pooled per video: each video gets its own estimate (here its principal
    # point 2 px apart from the next video's), 10 % too long a focal on rig frames, 30 % on wild.
    factor = np.where(types == "rig", 1.1, 1.3)
    out["K"] = split["K"].copy()
    out["K"][:, 0, 0] *= factor
    out["K"][:, 1, 1] *= factor
    out["K"][:, 0, 2] += 2.0 * videos
    return out, types


def test_regnet_section_reports_camera_errors_per_camera_type(synthetic_small):
    videos = video_ids(synthetic_small)
    test, types = generated_split(synthetic_small, videos)
    section = regnet_section(test, to_model_input(synthetic_small))
    assert section["px_error"] == 0.0 and section["frames"] == len(types)
    by_type = section["by_camera_type"]
    assert by_type["rig"]["frames"] == int((types == "rig").sum()) > 0
    assert by_type["wild"]["frames"] == int((types == "wild").sum()) > 0
    assert by_type["rig"]["focal_rel_err"] == pytest.approx(0.1, abs=0.005)
    assert by_type["wild"]["focal_rel_err"] == pytest.approx(0.3, abs=0.005)
    # The spreads say whether the estimate follows the cameras: here the true elevation.
    wild = by_type["wild"]
    assert wild["elevation_sd_deg"] == wild["elevation_sd_gt_deg"] > 0
    assert wild["focal_ratio_sd"] == pytest.approx(1.3 * wild["focal_ratio_sd_gt"], rel=0.02)


def test_ray_floor_is_the_truth_on_true_rays_and_keeps_every_true_depth(synthetic_small):
    split = to_model_input(synthetic_small)
    gt = split["pose3d_cam"].astype(np.float64)
    np.testing.assert_allclose(ray_floor(split), gt, atol=1e-6)
    # Rays off by a fixed angle: each joint keeps its depth and moves sideways by depth x shift.
    shifted = dict(split, rays=split["rays"] + np.array([0.01, 0.0, 0.0]))
    floor = ray_floor(shifted)
    np.testing.assert_allclose(floor[..., 2], gt[..., 2], atol=1e-6)
    np.testing.assert_allclose(floor[..., 0] - gt[..., 0], 0.01 * gt[..., 2], atol=1e-6)
    # Jitter per joint is what Procrustes cannot remove: the floor rises with it.
    rng = np.random.default_rng(0)
    small, large = (
        dict(
            split,
            rays=split["rays"]
            + np.pad(s * rng.normal(size=(*split["rays"].shape[:-1], 2)), ((0, 0), (0, 0), (0, 1))),
        )
        for s in (0.002, 0.02)
    )
    errors = [pose_metrics(ray_floor(s), gt)["pa_mpjpe"] for s in (small, large)]
    assert 0 < errors[0] < errors[1]
    # A generated split: exact 2D read with a focal length 30 % off. Through K_gt the floor is
    # the truth again (the camera's error is not the 2D's); without K_gt it is not.
    wrong = split["K"].astype(np.float64).copy()
    wrong[:, 0, 0] *= 1.3
    wrong[:, 1, 1] *= 1.3
    generated = dict(split, rays=rays(split["kp2d"], wrong), K=wrong, K_gt=split["K"])
    np.testing.assert_allclose(ray_floor(generated), gt, atol=1e-6)
    del generated["K_gt"]
    assert pose_metrics(ray_floor(generated), gt)["pa_mpjpe"] > 1.0


def test_the_placement_prior_is_flat_at_the_mean_training_distance_on_the_same_2d(
    synthetic_small,
):
    from epoch_kedro.evaluation.evaluate import flat_depth, mean_distance, prior_distance
    from epoch_kedro.geometry import project
    from epoch_kedro.skeleton import ROOT

    split = to_model_input(synthetic_small)
    distance = mean_distance(split)
    truth = np.linalg.norm(split["pose3d_cam"][:, ROOT], axis=-1)
    assert distance == pytest.approx(truth.mean())
    prior = prior_distance(split, distance)
    np.testing.assert_allclose(np.linalg.norm(prior[:, ROOT], axis=-1), distance)
    K = split["K"].astype(np.float64)
    np.testing.assert_allclose(project(prior, K), project(flat_depth(split), K), atol=1e-6)
    section = evaluate_setting(prior, split)
    assert 0 < section["placement"]["mrpe_rel"] < 100

"""Metrics against hand-computed cases and an independent scipy Procrustes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from epoch_kedro.evaluation import metrics as M


@pytest.fixture
def gt():
    return np.random.default_rng(0).normal(scale=0.3, size=(20, 17, 3))


def test_mpjpe_of_a_constant_offset_is_its_length_after_root_alignment(gt):
    pred = gt.copy()
    pred[:, 1:] += np.array([0.03, 0.04, 0.0])  # 5 cm on every non-root joint
    errors = M.joint_errors(pred, gt)
    assert errors[:, 0] == pytest.approx(0.0)
    np.testing.assert_allclose(errors[:, 1:], 50.0)
    assert M.pose_metrics(pred, gt)["mpjpe"] == pytest.approx(50.0 * 16 / 17)
    shifted = gt + 1.0  # a global translation is removed by root alignment
    assert M.pose_metrics(shifted, gt)["mpjpe"] == pytest.approx(0.0, abs=1e-9)


def test_n_mpjpe_removes_scale_only(gt):
    metrics = M.pose_metrics(2.5 * gt, gt)
    assert metrics["n_mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["mpjpe"] > 100
    rotated = Rotation.from_euler("z", 30, degrees=True).apply(gt.reshape(-1, 3)).reshape(gt.shape)
    assert M.pose_metrics(rotated, gt)["n_mpjpe"] > 10


def test_pa_mpjpe_removes_similarity_but_not_reflection(gt):
    R = Rotation.random(random_state=3).as_matrix()
    pred = 0.7 * gt @ R.T + np.array([1.0, 2.0, 3.0])
    assert M.pose_metrics(pred, gt)["pa_mpjpe"] == pytest.approx(0.0, abs=1e-9)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert M.pose_metrics(mirrored, gt)["pa_mpjpe"] > 10


def test_pa_mpjpe_matches_a_scipy_reference(gt):
    pred = gt + np.random.default_rng(1).normal(scale=0.05, size=gt.shape)
    expected = []
    for p, g in zip(pred, gt, strict=True):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        R, _ = orthogonal_procrustes(p0, g0)  # p0 @ R ~ g0
        assert np.linalg.det(R) > 0  # small noise: no reflection case
        s = np.trace((p0 @ R).T @ g0) / np.trace(p0.T @ p0)
        expected.append(np.linalg.norm(s * p0 @ R - g0, axis=-1).mean() * 1000)
    assert M.pose_metrics(pred, gt)["pa_mpjpe"] == pytest.approx(np.mean(expected), rel=1e-9)


def test_pck_and_auc_by_hand():
    errors = np.array([[0.0, 10.0, 149.0, 151.0]])
    assert M.pck(errors) == pytest.approx(75.0)
    # thresholds 0..150 step 5: joint 0 counts 31 times, joint 1 from 10 mm (29), joint 2 at
    # 150 mm only (1), joint 3 never: (31 + 29 + 1) / (4 * 31)
    assert M.auc(errors) == pytest.approx(100 * 61 / 124)


def test_distance_buckets_and_grouping(gt):
    labels = M.distance_buckets(np.array([1.0, 3.0, 4.5, 6.0, 8.0]))
    assert labels.tolist() == ["<3m", "3-6m", "3-6m", ">6m", ">6m"]
    groups = M.grouped(gt, gt, np.array(["a"] * 5 + ["b"] * 15))
    assert groups["a"]["count"] == 5 and groups["b"]["mpjpe"] == 0.0


def test_shape_mismatch_is_an_error(gt):
    with pytest.raises(ValueError, match=r"must both be \(N, J, 3\)"):
        M.joint_errors(gt[:, :16], gt)


def _standing_pose() -> np.ndarray:
    """A pose 4 m in front of the camera whose forearms point at the camera (clear depth order)."""
    rng = np.random.default_rng(1)
    pose = rng.normal(scale=0.2, size=(17, 3)) + np.array([0.0, 0.0, 4.0])
    for shoulder, elbow, wrist in ((11, 12, 13), (14, 15, 16)):
        pose[elbow] = pose[shoulder] + np.array([0.0, 0.3, 0.0])  # across the line of sight
        pose[wrist] = pose[elbow] + np.array([0.05, 0.0, -0.25])  # towards the camera
    return pose


def _flip_along_ray(pose: np.ndarray, near: int, far: int) -> np.ndarray:
    """The far joint at the other point of its ray at the same distance from the near joint."""
    out = pose.copy()
    ray = pose[far] / pose[far, 2]
    depth = 2 * ray @ pose[near] / (ray @ ray) - pose[far, 2]
    out[far] = ray * depth
    return out


def test_depth_flips_counts_a_forearm_lifted_on_the_wrong_side_of_its_ray():
    gt = np.stack([_standing_pose()] * 4)
    pred = gt.copy()
    pred[:2] = _flip_along_ray(gt[0], 12, 13)  # left forearm away from the camera instead
    # the flip keeps the 2D and the forearm's length: only the depth order tells it apart
    np.testing.assert_allclose(pred[0, 13, :2] / pred[0, 13, 2], gt[0, 13, :2] / gt[0, 13, 2])
    assert np.linalg.norm(pred[0, 13] - pred[0, 12]) == pytest.approx(0.255, abs=1e-3)
    flips = M.depth_flips(pred, gt)
    assert flips["share"] == pytest.approx(50.0)
    assert flips["segments"]["LElbow-LWrist"] == pytest.approx(50.0)
    assert flips["segments"]["RElbow-RWrist"] == pytest.approx(0.0)
    assert flips["pa_mpjpe_rest"] == pytest.approx(0.0, abs=1e-6)
    assert flips["pa_mpjpe_flipped"] > 10.0
    assert len(flips["segments"]) == 8


def test_depth_flips_ignores_segments_across_the_line_of_sight():
    gt = np.stack([_standing_pose()] * 2)
    pred = gt.copy()
    pred[:, 12, 2] += 0.02  # the upper arm (0 cm deep in the truth) now points away: no order
    pred[:, 13, 2] += 0.02
    flips = M.depth_flips(pred, gt)
    assert flips["segments"]["LShoulder-LElbow"] == pytest.approx(0.0)
    assert flips["share"] == pytest.approx(0.0)
    assert M.depth_flips(pred[:0], gt[:0])["pa_mpjpe_flipped"] is None


def test_unknown_truth_joints_are_left_out_as_if_absent(gt):
    """A NaN truth joint (an unreliable triangulation) has no say in any metric: the result is
    that of the same poses without that joint."""
    pred = gt + np.random.default_rng(2).normal(scale=0.05, size=gt.shape)
    hidden = gt.copy()
    hidden[:, [5, 9]] = np.nan
    keep = [j for j in range(17) if j not in (5, 9)]
    masked, dropped = M.pose_metrics(pred, hidden), M.pose_metrics(pred[:, keep], gt[:, keep])
    for key in ("mpjpe", "n_mpjpe", "pa_mpjpe", "pck150", "auc"):
        assert masked[key] == pytest.approx(dropped[key], rel=1e-9), key
    errors = M.joint_errors(pred, hidden, "procrustes")
    assert np.isnan(errors[:, [5, 9]]).all() and np.isfinite(errors[:, keep]).all()


def test_procrustes_needs_no_root_truth(gt):
    """Without the root's truth, PA-MPJPE is still scored on the other joints; root-aligned
    errors of that pose are unknown."""
    pred = gt + np.random.default_rng(4).normal(scale=0.05, size=gt.shape)
    hidden = gt.copy()
    hidden[0, 0] = np.nan
    assert np.isfinite(M.joint_errors(pred, hidden, "procrustes")[0, 1:]).all()
    assert np.isnan(M.joint_errors(pred, hidden, "root")[0]).all()
    assert np.isfinite(M.pose_metrics(pred, hidden)["mpjpe"])


def test_placement_is_the_root_position_error_in_mm_and_share_of_the_distance():
    gt = np.zeros((3, 17, 3))
    gt[:, 0] = [[0, 0, 4.0], [0, 0, 5.0], [np.nan, 0, 5.0]]  # the third root is not known
    pred = gt.copy()
    pred[0, 0, 2] += 0.2  # 200 mm too far at 4 m: 5 %
    pred[1, 0, 0] += 0.1  # 100 mm to the side at 5 m: 2 %
    placed = M.placement(pred, gt)
    assert placed["mrpe"] == pytest.approx(150.0) and placed["mrpe_mean"] == pytest.approx(150.0)
    assert placed["mrpe_rel"] == pytest.approx(3.5)
    assert M.placement(pred[2:], gt[2:]) == {"mrpe": None, "mrpe_rel": None, "mrpe_mean": None}

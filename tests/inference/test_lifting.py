"""LiftNet's flip test: the mirror image in ray coordinates, and a mirror-equivariant lift."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.inference.lifting import lift_tensors, mirror_inputs, mirror_poses, predict_poses
from epoch_kedro.liftnet_inputs import lift_inputs
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.skeleton import FLIP_PERMUTATION

BONES = torch.full((16,), 0.25)


def camera_and_keypoints(n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    K = np.array([[900.0, 0.0, 480.0], [0.0, 910.0, 530.0], [0.0, 0.0, 1.0]])
    kp2d = rng.uniform(200, 800, (n, 17, 2))
    gravity = rng.normal(size=(n, 3)) + np.array([0.0, 3.0, 0.0])
    gravity /= np.linalg.norm(gravity, axis=-1, keepdims=True)
    return np.repeat(K[None], n, 0), kp2d, gravity


def test_mirror_inputs_are_the_inputs_of_the_mirror_image():
    K, kp2d, gravity = camera_and_keypoints()
    # The image mirrored about the principal point's column, left and right joints swapped.
    mirrored_kp = kp2d[:, list(FLIP_PERMUTATION)].copy()
    mirrored_kp[..., 0] = 2 * K[:, None, 0, 2] - mirrored_kp[..., 0]
    mirrored_gravity = gravity * [-1.0, 1.0, 1.0]
    expected = lift_tensors(lift_inputs(mirrored_kp, K, mirrored_gravity))
    got = mirror_inputs(lift_tensors(lift_inputs(kp2d, K, gravity)))
    for key in ("pose2d", "scale2d", "root_ray", "gravity"):
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5)


def test_mirroring_twice_gives_the_inputs_and_poses_back():
    K, kp2d, gravity = camera_and_keypoints()
    inputs = {**lift_tensors(lift_inputs(kp2d, K, gravity)), "confidence": torch.rand(6, 17)}
    twice = mirror_inputs(mirror_inputs(inputs))
    for key, value in inputs.items():
        torch.testing.assert_close(twice[key], value)
    pose = torch.randn(6, 17, 3)
    torch.testing.assert_close(mirror_poses(mirror_poses(pose)), pose)
    assert not torch.allclose(mirror_poses(pose), pose)


def lifter() -> LiftNet:
    torch.manual_seed(0)
    return LiftNet(LiftNetConfig(width=32, blocks=1), BONES).eval()


def test_flip_test_averages_the_lift_and_the_unmirrored_lift_of_the_mirror_image():
    model = lifter()
    K, kp2d, gravity = camera_and_keypoints()
    inputs = lift_tensors(lift_inputs(kp2d, K, gravity))
    plain = predict_poses(model, inputs, flip=False)
    mirrored = predict_poses(model, mirror_inputs(inputs), flip=False)
    back = mirror_poses(torch.as_tensor(mirrored)).numpy()
    np.testing.assert_allclose(
        predict_poses(model, inputs), 0.5 * (plain + back), atol=1e-6, rtol=1e-6
    )
    # An untrained network is far from mirror-symmetric: the two lifts really differ.
    assert np.abs(plain - back).max() > 1e-3


def test_with_the_flip_test_the_mirror_image_lifts_to_the_mirrored_pose():
    model = lifter()
    K, kp2d, gravity = camera_and_keypoints()
    inputs = lift_tensors(lift_inputs(kp2d, K, gravity))
    pose = predict_poses(model, inputs, batch_size=4)
    of_mirror = predict_poses(model, mirror_inputs(inputs), batch_size=4)
    np.testing.assert_allclose(
        of_mirror, mirror_poses(torch.as_tensor(pose)).numpy(), atol=1e-5, rtol=1e-5
    )


def _hidden(n: int, *joints: int) -> np.ndarray:
    present = np.ones((n, 17), bool)
    present[:, list(joints)] = False
    return present


def test_missing_keypoints_are_ignored_and_the_scale_is_over_the_present_joints():
    K, kp2d, gravity = camera_and_keypoints()
    present = _hidden(len(kp2d), 10, 13)  # Head, LWrist
    anything = kp2d.copy()
    anything[:, [10, 13]] = np.nan
    got = lift_inputs(anything, K, gravity, present)
    again = lift_inputs(kp2d * np.where(present[..., None], 1.0, 7.0), K, gravity, present)
    for key in ("pose2d", "scale2d"):
        np.testing.assert_array_equal(got[key], again[key])
    assert np.isnan(got["rays"][:, [10, 13]]).all() and (got["pose2d"][:, [10, 13]] == 0).all()
    # The present joints' RMS distance from the root is 1, as normalize_2d makes it for all.
    rms = np.sqrt((got["pose2d"] ** 2).sum(-1).sum(-1) / present.sum(-1))
    np.testing.assert_allclose(rms, 1.0)
    full = lift_inputs(kp2d, K, gravity, np.ones((len(kp2d), 17), bool))
    np.testing.assert_allclose(full["pose2d"], lift_inputs(kp2d, K, gravity)["pose2d"])
    assert lift_tensors(got)["present"].dtype == torch.bool


def test_a_mask_without_the_root_or_of_the_wrong_shape_is_refused_in_one_line():
    K, kp2d, _ = camera_and_keypoints()
    for present, message in (
        (_hidden(len(kp2d), 0), r"present\[0, 0\] is False: the root \(pelvis"),
        (np.ones((len(kp2d), 16), bool), r"present must be a bool array of shape \(N, 17\)"),
        (np.ones((len(kp2d), 17)), r"present must be a bool array .* got float64"),
    ):
        with pytest.raises(ValueError, match=message) as err:
            lift_inputs(kp2d, K, present=present)
        assert "\n" not in str(err.value)


def test_the_mask_follows_its_joints_in_the_mirror_image_and_the_flip_test_runs():
    K, kp2d, gravity = camera_and_keypoints()
    present = _hidden(len(kp2d), 13)  # LWrist: RWrist in the mirror image
    batch = lift_tensors(lift_inputs(kp2d, K, gravity, present))
    mirrored = mirror_inputs(batch)
    assert not mirrored["present"][:, 16].any() and mirrored["present"][:, 13].all()
    pose = predict_poses(lifter(), batch)
    assert pose.shape == (len(kp2d), 17, 3) and np.isfinite(pose).all()

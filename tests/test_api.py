"""The public API: load a trained LiftNet artifact and lift pixel keypoints with K."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.api import lift, load_liftnet
from epoch_kedro.geometry import make_K, project
from epoch_kedro.utils.checkpoint import save_checkpoint

K = make_K(1000.0, 1000.0, 500.0, 500.0)


@pytest.fixture(scope="module")
def model_path(tiny_liftnet_path):
    return tiny_liftnet_path


@pytest.fixture(scope="module")
def keypoints(synthetic_small):
    pose_world = synthetic_small["pose3d_world"][:5].astype(np.float64)
    R, t = synthetic_small["R"][:5], synthetic_small["t"][:5]
    X = pose_world @ np.swapaxes(R, -1, -2) + t[:, None]
    return project(X, K), X


def test_round_trip_project_then_lift(model_path, keypoints):
    model = load_liftnet(model_path)
    kp, _ = keypoints
    pose = lift(model, kp, K)
    assert pose.shape == (5, 17, 3) and np.isfinite(pose).all()
    # Full perspective: the lifted joints lie exactly on the keypoints' viewing rays.
    np.testing.assert_allclose(project(pose, K), kp, atol=1e-2)
    per_pose_K = np.broadcast_to(K, (5, 3, 3))
    np.testing.assert_allclose(lift(model, kp, per_pose_K), pose, atol=1e-6)
    gravity = np.array([0.0, 1.0, 0.0])
    assert lift(model, kp, K, gravity=gravity).shape == (5, 17, 3)


def test_bad_inputs_are_refused_clearly(model_path, keypoints):
    model = load_liftnet(model_path)
    kp, _ = keypoints
    with pytest.raises(ValueError, match=r"keypoints_px must have shape \(N, 17, 2\)"):
        lift(model, kp[:, :16], K)
    bad = kp.copy()
    bad[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="keypoints_px contains NaN"):
        lift(model, bad, K)
    with pytest.raises(ValueError, match="non-positive focal length"):
        lift(model, kp, make_K(-5.0, 1000.0, 500.0, 500.0))
    with pytest.raises(ValueError, match=r"K must have shape \(3, 3\) or \(N, 3, 3\)"):
        lift(model, kp, np.broadcast_to(K, (4, 3, 3)))
    with pytest.raises(ValueError, match="gravity must have shape"):
        lift(model, kp, K, gravity=np.zeros(2))


def test_loading_something_else_fails_clearly(tmp_path):
    path = tmp_path / "flow.pt"
    save_checkpoint({"format": "epoch_kedro.model/v1", "kind": "pose_flow"}, path)
    with pytest.raises(ValueError, match="expected a 'liftnet' artifact"):
        load_liftnet(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_liftnet(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda kp, K, g: (kp / 1000.0, K, g), r"keypoints look normalised .* pass pixels"),
        (lambda kp, K, g: (kp, K.T, g), r"K\[0\] must be \[\[fx, s, cx\].* transposed"),
        (lambda kp, K, g: (kp, make_K(1e9, 1e9, 500.0, 500.0), g),
         r"fx=1e\+09 px with cx=500 px implies a 5.73e-05 deg field of view"),
        (lambda kp, K, g: (kp, make_K(5.0, 5.0, 500.0, 500.0), g), r"implies a 179 deg field"),
        (lambda kp, K, g: (kp, K, 9.81 * g), r"gravity\[0\] has norm 9.81: expected a unit"),
        (lambda kp, K, g: (kp, make_K(1000.0, 1000.0, -1000.0, -1000.0), g),
         r"K\[0\]: principal point \(-1000, -1000\) px is not inside an image"),
        (lambda kp, K, g: (kp, make_K(1000.0, 1000.0, 0.0, 0.0), g), r"principal point \(0, 0\)"),
    ],
)  # fmt: skip
def test_unit_mix_ups_are_refused_in_one_line(change, message, model_path, keypoints):
    kp, _ = keypoints
    args = change(kp, K, np.array([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match=message):
        lift(load_liftnet(model_path), *args)


def test_unknown_gravity_is_zeros_and_far_poses_warn(model_path, keypoints):
    model = load_liftnet(model_path)
    kp, _ = keypoints
    assert lift(model, kp, K, gravity=np.zeros(3)).shape == (5, 17, 3)  # zeros: unknown
    # A 1-pixel person at a long focal length lies kilometres away: a warning, not silence.
    tiny = 500.0 + (kp - 500.0) / 300.0
    with pytest.warns(UserWarning, match=r"poses lie more than 100 m from the camera"):
        lift(model, tiny, make_K(20000.0, 20000.0, 500.0, 500.0))


def _without(n: int, *joints: int) -> np.ndarray:
    present = np.ones((n, 17), bool)
    present[:, list(joints)] = False
    return present


def test_missing_joints_are_lifted_whatever_their_keypoints(model_path, keypoints):
    model = load_liftnet(model_path)
    kp, _ = keypoints
    present = _without(len(kp), 9, 10)  # Neck, Head
    hidden = np.where(present[..., None], kp, np.nan)
    pose = lift(model, hidden, K, present=present)
    assert pose.shape == (5, 17, 3) and np.isfinite(pose).all()
    np.testing.assert_allclose(lift(model, kp, K, present=present), pose)
    np.testing.assert_allclose(project(pose[:, present[0]], K), kp[:, present[0]], atol=1e-2)
    full = np.ones((len(kp), 17), bool)
    np.testing.assert_allclose(lift(model, kp, K, present=full), lift(model, kp, K), atol=1e-6)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nan where present", r"NaN or inf where present is True \(pose 0, joint 3\)"),
        ("no root", r"present\[0, 0\] is False: the root \(pelvis"),
        ("wrong shape", r"present must be a bool array of shape \(N, 17\)"),
        ("no mask in the model", r"present: this LiftNet was trained without a presence mask"),
    ],
)
def test_a_partial_pose_that_cannot_be_lifted_is_refused_in_one_line(
    case, message, model_path, keypoints, tmp_path
):
    import torch

    from epoch_kedro.models.artifacts import to_artifact
    from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig

    model = load_liftnet(model_path)
    kp, _ = keypoints
    kp, present = kp.copy(), _without(len(kp), 10)
    if case == "nan where present":
        kp[0, 3] = np.nan
    elif case == "no root":
        present[0, 0] = False
    elif case == "wrong shape":
        present = present[:, :16]
    else:
        torch.manual_seed(0)
        old = LiftNet(LiftNetConfig(width=16, blocks=1, presence_mask=False), np.full(16, 0.25))
        save_checkpoint(to_artifact(old, "liftnet"), tmp_path / "old.pt")
        model = load_liftnet(tmp_path / "old.pt")
    with pytest.raises(ValueError, match=message) as err:
        lift(model, kp, K, present=present)
    assert "\n" not in str(err.value)

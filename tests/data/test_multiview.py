"""The multi-view development set on a synthetic rig: association and leave-one-out truth.

Two BODY_25B-like people seen by four cameras with OpenCV distortion and 0.5 px noise, written
as OpenPose JSON: frame 0 has every view plus one spurious detection, frame 1 misses person B
in camera 2, frame 2 sees person B in two cameras only (not enough for a leave-one-out truth).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from epoch_kedro.data.calibration import Camera
from epoch_kedro.data.formats import DatasetFormatError
from epoch_kedro.data.multiview import (
    build_devset,
    leave_one_out_truth,
    read_openpose_views,
    to_h36m_3d,
    undistort_views,
)
from epoch_kedro.geometry import look_at, make_K, project_distorted_opencv, world_to_camera
from epoch_kedro.keypoints import mapping

# BODY_25B keypoints of a person standing at the origin facing +y (metres, z up).
_LEFT = {
    "Eye": (0.03, 0.08, 1.63), "Ear": (0.07, 0.0, 1.60), "Shoulder": (0.18, 0.0, 1.40),
    "Elbow": (0.22, 0.05, 1.12), "Wrist": (0.25, 0.20, 0.90), "Hip": (0.10, 0.0, 0.95),
    "Knee": (0.10, 0.05, 0.50), "Ankle": (0.10, 0.0, 0.08), "BigToe": (0.12, 0.15, 0.02),
    "SmallToe": (0.15, 0.13, 0.02), "Heel": (0.10, -0.05, 0.03),
}  # fmt: skip
_ORDER = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
    "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "UpperNeck",
    "HeadTop", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip


def _template() -> np.ndarray:
    pts = {"Nose": (0.0, 0.10, 1.60), "UpperNeck": (0.0, 0.0, 1.50), "HeadTop": (0.0, 0.0, 1.75)}
    for name, (x, y, z) in _LEFT.items():
        pts["L" + name], pts["R" + name] = (x, y, z), (-x, y, z)
    return np.array([pts[n] for n in _ORDER])


def _person(x: float, y: float, yaw: float, wave: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    body = _template()
    body[9] += (0.0, 0.0, wave)  # the left wrist moves from frame to frame
    return body @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + (x, y, 0.0)


def _rig() -> tuple[Camera, ...]:
    cams = []
    for i, az in enumerate(np.deg2rad([30, 120, 210, 300])):
        eye = (0.6 + 5 * np.cos(az), 0.25 + 5 * np.sin(az), 1.5)
        R, t = look_at(np.array(eye), np.array([0.6, 0.25, 1.0]))
        dist = np.array([-0.05, 0.01, 0.001, -0.001, 0.0])
        K = make_K(1000.0 + 10 * i, 1000.0 + 10 * i, 640.0, 480.0)
        cams.append(Camera(f"cam_{i + 1:02d}", K, dist, R, t, (1280, 960)))
    return tuple(cams)


# Which (frame, person) each camera sees; "spurious" is a random figure in camera 1, frame 0.
_VISIBLE = {
    (0, "A"): (0, 1, 2, 3), (0, "B"): (0, 1, 2, 3),
    (1, "A"): (0, 1, 2, 3), (1, "B"): (0, 1, 3),
    (2, "A"): (0, 1, 2, 3), (2, "B"): (0, 1),
}  # fmt: skip
NOISE_PX = 0.5
# 0.5 px at 5 m is ~2.5 mm per view; two opposite views (frame 1, person B, seen from camera
# 0's side by cameras 1 and 3 only) triangulate poorly along their baseline: up to ~20 mm.
TRUTH_TOL_MM = 30.0
TRUTH_MEAN_TOL_MM = 12.0


def _world(frame: int) -> dict[str, np.ndarray]:
    return {"A": _person(0.0, 0.0, 0.3, 0.1 * frame), "B": _person(1.2, 0.5, 1.9, -0.1 * frame)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """OpenPose folders on disk and, per frame and camera, the file index of each person."""
    root = tmp_path_factory.mktemp("multiview")
    rng = np.random.default_rng(0)
    cams = _rig()
    order = {}
    for c, cam in enumerate(cams):
        folder = root / f"cam{c + 1:02d}_json"
        folder.mkdir()
        for f in range(3):
            world = _world(f)
            people = {}
            for name, X in world.items():
                if c in _VISIBLE[(f, name)]:
                    u = project_distorted_opencv(world_to_camera(X, cam.R, cam.t), cam.K, cam.dist)
                    people[name] = u + rng.normal(0, NOISE_PX, u.shape)
            if (c, f) == (1, 0):
                people["spurious"] = rng.uniform(100, 900, (25, 2))
            names = sorted(people, reverse=bool((c + f) % 2))  # file order differs per view
            order[(f, c)] = {n: i for i, n in enumerate(names)}
            entries = [
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": np.c_[people[n], np.ones(25)].ravel().tolist(),
                }
                for n in names
            ] + [{"person_id": [-1], "pose_keypoints_2d": []}]  # OpenPose writes empty people
            (folder / f"cam{c + 1:02d}.{f:04d}.json").write_text(json.dumps({"people": entries}))
    folders = [root / f"cam{c + 1:02d}_json" for c in range(4)]
    kp, frames = read_openpose_views(folders)
    samples, summary = build_devset(kp, frames, cams)
    return {"cams": cams, "order": order, "kp": kp, "frames": frames, "samples": samples,
            "summary": summary, "root": root}  # fmt: skip


def _person_a(scene) -> np.ndarray:
    """Person A's undistorted keypoints in frame 0, every camera: (C, 25, 3)."""
    und = undistort_views(scene["kp"], scene["cams"])
    return np.stack([und[c, 0, scene["order"][(0, c)]["A"]] for c in range(4)])


def _groups(samples):
    """Per frame, the set of {(camera, detection)} of each associated person."""
    out: dict[int, set] = {}
    for f, p in {
        (int(f), int(p)) for f, p in zip(samples["frame"], samples["person"], strict=True)
    }:
        rows = (samples["frame"] == f) & (samples["person"] == p)
        dets = frozenset(
            zip(samples["camera"][rows].tolist(), samples["detection"][rows].tolist(), strict=True)
        )
        out.setdefault(f, set()).add(dets)
    return out


def test_reader_pads_people_and_pairs_frames(scene):
    kp = scene["kp"]
    assert kp.shape == (4, 3, 3, 25, 3)  # camera 1 has three people in frame 0
    assert scene["frames"].tolist() == [0, 1, 2]
    assert np.isnan(kp[2, 1, 1]).all()  # camera 2 saw only A in frame 1


def test_association_recovers_the_pairing(scene):
    expected: dict[int, set] = {}
    for (f, name), views in _VISIBLE.items():
        if len(views) >= 3:
            dets = frozenset((c, scene["order"][(f, c)][name]) for c in views)
            expected.setdefault(f, set()).add(dets)
    assert _groups(scene["samples"]) == expected


def test_spurious_and_two_view_detections_are_not_scored(scene):
    s, summary = scene["samples"], scene["summary"]
    spurious = scene["order"][(0, 1)]["spurious"]
    assert not ((s["frame"] == 0) & (s["camera"] == 1) & (s["detection"] == spurious)).any()
    # Frame 2: person B in two views only, so only person A (4 rows) is in the set.
    assert (s["frame"] == 2).sum() == 4
    assert summary["detections_unassociated"] == 3  # the spurious one and B's two views
    assert summary["people_associated"] == 5
    assert max(summary["assoc_error_px"]) < 3.0  # 0.5 px noise


def test_truth_matches_the_synthetic_pose(scene):
    s, cams, M = scene["samples"], scene["cams"], mapping("openpose25b")
    order = scene["order"]
    for i in range(len(s["frame"])):
        f, c, d = int(s["frame"][i]), int(s["camera"][i]), int(s["detection"][i])
        name = next(n for n, j in order[(f, c)].items() if j == d)
        truth = M @ world_to_camera(_world(f)[name], cams[c].R, cams[c].t)
        rel = s["reliable"][i]
        assert rel.all()
        err_mm = np.linalg.norm(s["pose3d_cam"][i] - truth, axis=-1) * 1000
        assert err_mm.max() < TRUTH_TOL_MM, (f, c, name, err_mm.max())
        assert err_mm.mean() < TRUTH_MEAN_TOL_MM, (f, c, name, err_mm.mean())
        assert s["usable"][i]
        np.testing.assert_array_equal(s["K"][i], cams[c].K)


def test_2d_input_is_the_cameras_own_undistorted_detection(scene):
    s, cams = scene["samples"], scene["cams"]
    und = undistort_views(scene["kp"], cams)
    i = int(np.flatnonzero((s["frame"] == 1) & (s["camera"] == 3))[0])
    own = und[3, 1, s["detection"][i]]
    np.testing.assert_allclose(s["kp2d"][i][1], own[12, :2])  # RHip is BODY_25B's RHip


def test_leave_one_out_truth_ignores_the_cameras_own_view(scene):
    cams = scene["cams"]
    rig = tuple(np.stack([getattr(c, a) for c in cams]) for a in ("K", "R", "t"))
    kp = _person_a(scene)
    X, rel = leave_one_out_truth(kp, rig)
    wild = kp.copy()
    wild[0, :, :2] += np.random.default_rng(1).uniform(-300, 300, (25, 2))
    X2, rel2 = leave_one_out_truth(wild, rig)
    np.testing.assert_allclose(X2[0], X[0], atol=1e-9)
    np.testing.assert_array_equal(rel2[0], rel[0])
    # The other cameras' truths do use camera 0 and now fail the reprojection check.
    assert not rel2[1:].all()


def test_keypoint_seen_by_one_other_view_is_unreliable(scene):
    cams = scene["cams"]
    rig = tuple(np.stack([getattr(c, a) for c in cams]) for a in ("K", "R", "t"))
    kp = _person_a(scene)
    kp[3] = np.nan  # three views
    kp[2, 11, 2] = 0.0  # LHip unseen in camera 2: cameras 0 and 1 have one other view of it
    _, rel = leave_one_out_truth(kp, rig)
    assert not rel[0, 11] and not rel[1, 11] and rel[2, 11]
    pose, ok = to_h36m_3d(np.zeros((25, 3)), rel[0])
    # LHip feeds Hip, LHip and Spine in H36M-17 (indices 0, 4, 7).
    assert np.flatnonzero(~ok).tolist() == [0, 4, 7]
    assert np.isnan(pose[~ok]).all()


def test_bad_openpose_file_names_the_file(tmp_path):
    (tmp_path / "cam01.0000.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match=r"cam01\.0000\.json.*people"):
        read_openpose_views([tmp_path])
    with pytest.raises(DatasetFormatError, match="not found"):
        read_openpose_views([tmp_path / "missing"])

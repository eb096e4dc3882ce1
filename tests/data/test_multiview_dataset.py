"""``dataset.kind: multiview``: a calibrated recording on disk -> an ingested test set.

The synthetic rig of ``test_multiview`` (two people, four distorted cameras, OpenPose JSON)
is laid out as a user's recording: a Pose2Sim TOML calibration and ``pose/camXX_json``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from epoch_kedro.data import sources
from epoch_kedro.data.formats import DatasetFormatError
from epoch_kedro.data.multiview_dataset import FACE_JOINTS, load_multiview
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.evaluation.evaluate import flat_depth, metric_pose
from epoch_kedro.evaluation.metrics import pose_metrics
from epoch_kedro.geometry import world_to_camera
from epoch_kedro.keypoints import mapping
from epoch_kedro.skeleton import JOINT_INDEX
from tests.data.test_multiview import _rig, _world, scene  # noqa: F401 - the shared fixture


def _toml(cams) -> str:
    out = []
    for cam in cams:
        out += [
            f"[{cam.name}]",
            f'name = "{cam.name}"',
            f"size = [{cam.image_size[0]}, {cam.image_size[1]}]",
            f"matrix = {np.asarray(cam.K).tolist()}",
            f"distortions = {np.asarray(cam.dist).tolist()[:4]}",
            f"rotation = {np.asarray(cam.R).tolist()}",
            f"translation = {np.asarray(cam.t).tolist()}",
            "fisheye = false",
            "",
        ]
    return "\n".join(out)


@pytest.fixture(scope="module")
def recording(scene, tmp_path_factory):  # noqa: F811 - the imported fixture
    root = tmp_path_factory.mktemp("recording")
    (root / "calibration").mkdir()
    (root / "calibration" / "Calib_scene.toml").write_text(_toml(scene["cams"]))
    for c in range(4):
        name = f"cam{c + 1:02d}_json"
        shutil.copytree(scene["root"] / name, root / "pose" / name)
    return root


@pytest.fixture(scope="module")
def data(recording):
    return load_multiview(recording, None, "rig")


def test_rows_are_the_triangulable_views_in_the_schema(data):
    validate_dataset(data, "rig")
    # A in 4 views in each of 3 frames; B in 4 (frame 0), 3 (frame 1), 2 (frame 2: no truth).
    assert len(data["kp2d"]) == 19
    assert set(data["camera_name"]) == {"cam_01", "cam_02", "cam_03", "cam_04"}
    assert set(data["subject"]) == {"rig"} and data["gravity_known"].all()  # world is z-up
    np.testing.assert_array_equal(data["dist"], 0.0)  # the 2D is undistorted already


def test_truth_is_the_synthetic_pose_and_the_face_is_not_scored(data):
    cams, M = _rig(), mapping("openpose25b")
    for i in range(len(data["kp2d"])):
        c, f = int(data["camera"][i]), int(data["frame"][i])
        cam = world_to_camera(data["pose3d_world"][i], cams[c].R, cams[c].t)
        truths = [M @ world_to_camera(X, cams[c].R, cams[c].t) for X in _world(f).values()]
        err = min(np.linalg.norm(cam - t, axis=-1)[data["truth_known"][i]].max() for t in truths)
        assert err < 0.03, (i, err)
    assert not data["truth_known"][:, list(FACE_JOINTS)].any()
    assert data["truth_known"].sum(-1).min() >= 10


def test_unknown_truth_joints_are_left_out_of_the_metrics(data):
    split = dict(data)
    split["pose3d_cam"] = np.stack([
        world_to_camera(X, R, t) for X, R, t in zip(data["pose3d_world"], data["R"], data["t"],
                                                    strict=True)
    ])  # fmt: skip
    gt = metric_pose(split)
    assert np.isnan(gt[:, list(FACE_JOINTS)]).all()
    wrong_face = split["pose3d_cam"].astype(np.float64).copy()
    wrong_face[:, list(FACE_JOINTS)] += 1.0  # a metre off where the truth is unknown
    assert pose_metrics(wrong_face, gt)["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)


def test_flat_depth_keeps_the_2d_and_the_root_depth():
    rays = np.random.default_rng(0).normal(size=(4, 17, 3))
    rays[..., 2] = 1.0
    rays[0, 3] = np.nan  # a joint without 2D
    pose3d = np.random.default_rng(1).normal(size=(4, 17, 3)) + np.array([0, 0, 4.0])
    flat = flat_depth({"rays": rays, "pose3d_cam": pose3d})
    np.testing.assert_allclose(flat[..., 2][np.isfinite(rays).all(-1)], np.repeat(
        pose3d[:, 0, 2], 17).reshape(4, 17)[np.isfinite(rays).all(-1)])  # fmt: skip
    assert np.isfinite(flat).all()


def test_multiview_is_a_test_set_only(recording):
    dataset = {"kind": "multiview", "root": str(recording), "name": "rig"}
    with pytest.raises(ValueError, match="cross_dataset"):
        sources.resolve_splits({"train": ["S1"]}, dataset)
    splits = sources.resolve_splits({}, {**dataset, "evaluate_only": True})
    assert splits == {"test": ["rig"]}
    data = sources.load_source({**dataset, "evaluate_only": True}, {}, splits)
    assert len(data["kp2d"]) == 19


def test_bad_recordings_are_refused_in_one_line(recording, tmp_path):
    with pytest.raises(DatasetFormatError, match="no calibration file"):
        load_multiview(tmp_path, None, "x")
    copy = tmp_path / "rec"
    shutil.copytree(recording, copy)
    shutil.rmtree(copy / "pose" / "cam04_json")
    with pytest.raises(DatasetFormatError, match="3 camera folders or files for 4"):
        load_multiview(copy, None, "x")
    with pytest.raises(ValueError, match="unknown key"):
        load_multiview(recording, {"joint_error": 3}, "x")


def test_coco_results_per_camera_read_like_openpose_folders(recording, data, tmp_path):
    """One COCO keypoint results file per camera (COCO-17: BODY_25B's first 17 keypoints),
    frames named by ``image_id``: the same rows, the same limb joints."""
    copy = tmp_path / "coco"
    shutil.copytree(recording / "calibration", copy / "calibration")
    for folder in sorted((recording / "pose").iterdir()):
        dets = []
        for path in sorted(folder.glob("*.json")):
            frame = path.stem.split(".")[-1]
            for person in json.loads(path.read_text())["people"]:
                if person["pose_keypoints_2d"]:
                    dets.append({"image_id": f"{folder.name}_{frame}", "score": 0.9,
                                 "keypoints": person["pose_keypoints_2d"][: 3 * 17]})  # fmt: skip
        (copy / "pose").mkdir(exist_ok=True)
        (copy / "pose" / f"{folder.name}.json").write_text(json.dumps(dets))
    coco = load_multiview(copy, None, "rig")
    assert len(coco["kp2d"]) == len(data["kp2d"])
    limbs = [JOINT_INDEX[n] for n in ("RHip", "RKnee", "RFoot", "LElbow", "LWrist", "RShoulder")]
    np.testing.assert_allclose(coco["kp2d"][:, limbs], data["kp2d"][:, limbs], atol=1e-3)
    bad = tmp_path / "bad"
    shutil.copytree(copy, bad)
    (bad / "pose" / "cam02_json.json").write_text(json.dumps([{"image_id": 1}]))
    expected = r"cam02_json.json: key '\[0\]': expected 'image_id' and 'keypoints'"
    with pytest.raises(DatasetFormatError, match=expected):
        load_multiview(bad, None, "rig")

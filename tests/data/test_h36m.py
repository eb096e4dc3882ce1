"""Human3.6M (VideoPose3D layout) loader: round trip with the real cameras, and every bad file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from epoch_kedro.data.formats import DatasetFormatError, load_npz_objects
from epoch_kedro.data.h36m import (
    BUILTIN_EXTRINSICS,
    H36MConfig,
    load_h36m,
    split_action_keys,
)
from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.geometry import backproject, quat_conjugate, quat_rotate
from epoch_kedro.skeleton import H36M32_TO_17

from .real_fixtures import with_builtin_cameras, write_h36m, write_npz_dict

SUBJECTS = {"S1": "S1", "S9": "S11"}


def load_error(root, **kwargs) -> str:
    """The message of the DatasetFormatError that loading ``root`` raises."""
    with pytest.raises(DatasetFormatError) as info:
        load_h36m(H36MConfig(root), **kwargs)
    return str(info.value)


@pytest.fixture(scope="module")
def h36m_data(synthetic_small) -> dict[str, np.ndarray]:
    """The small synthetic people seen by the built-in cameras of S1 and S11 (with distortion)."""
    return with_builtin_cameras(synthetic_small, SUBJECTS)


@pytest.fixture(scope="module")
def h36m_dir(h36m_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("h36m")
    write_h36m(h36m_data, root)
    return root


def files(root: Path) -> tuple[Path, Path]:
    return root / "data_3d_h36m.npz", root / "data_2d_h36m_gt.npz"


def read_dicts(root: Path) -> tuple[dict, dict]:
    p3, p2 = files(root)
    return (
        load_npz_objects(p3, ("positions_3d",))["positions_3d"],
        load_npz_objects(p2, ("positions_2d",))["positions_2d"],
    )


def rewrite(root: Path, tmp: Path, positions_3d=None, positions_2d=None) -> Path:
    """A copy of the fixture with one of the two dicts replaced."""
    p3, p2 = read_dicts(root)
    write_npz_dict(tmp / "data_3d_h36m.npz", positions_3d=positions_3d or p3)
    write_npz_dict(tmp / "data_2d_h36m_gt.npz", positions_2d=positions_2d or p2)
    return tmp


def test_round_trip_recovers_camera_frame_3d_within_1mm(h36m_dir, h36m_data) -> None:
    data = load_h36m(H36MConfig(h36m_dir))
    validate_dataset(data, "h36m")
    assert len(data["kp2d"]) == len(h36m_data["kp2d"])
    assert set(np.unique(data["subject"])) == {"S1", "S11"}
    assert (data["dist"] != 0).all(axis=1).all()  # the real lenses are distorted
    split = to_model_input(data)  # undistorts the 2D to the pinhole model
    # Independent truth: the doc's quaternion convention X_c = q^-1 (X_w - t), t in mm.
    truth = np.empty_like(split["pose3d_cam"], dtype=np.float64)
    for subject in ("S1", "S11"):
        for c, cam in enumerate(BUILTIN_EXTRINSICS[subject]):
            rows = (split["subject"] == subject) & (split["camera"] == c)
            q = np.asarray(cam["orientation"])
            t = np.asarray(cam["translation"]) / 1000.0
            X = split["pose3d_world"][rows].astype(np.float64) - t
            truth[rows] = quat_rotate(quat_conjugate(q), X)
    np.testing.assert_allclose(split["pose3d_cam"], truth, atol=1e-4)
    recovered = backproject(split["kp2d"], split["K"], truth[..., 2])
    err_mm = np.linalg.norm(recovered - truth, axis=-1) * 1000
    assert err_mm.max() < 1.0
    # Without undistortion the same recovery is off by centimetres: the test sees distortion.
    raw = backproject(split["kp2d_observed"], split["K"], truth[..., 2])
    assert (np.linalg.norm(raw - truth, axis=-1) * 1000).max() > 10.0


def test_rows_follow_the_file_order_and_select_subjects(h36m_dir) -> None:
    data = load_h36m(H36MConfig(h36m_dir), subjects=["S11"])
    assert set(np.unique(data["subject"])) == {"S11"}
    p3, _ = read_dicts(h36m_dir)
    first_key = next(iter(p3["S11"]))
    assert data["action"][0] == first_key.rpartition(" ")[0]
    np.testing.assert_array_equal(
        data["pose3d_world"][: len(p3["S11"][first_key])],
        p3["S11"][first_key][:, list(H36M32_TO_17)],
    )


def test_frame_stride_keeps_every_nth_frame(h36m_dir) -> None:
    full = load_h36m(H36MConfig(h36m_dir))
    strided = load_h36m(H36MConfig(h36m_dir), frame_stride={"S1": 5, "S11": 1})
    s1 = strided["subject"] == "S1"
    assert set(np.unique(strided["frame"][s1])) == {0, 5, 10}
    assert (~s1).sum() == (full["subject"] == "S11").sum()


def test_detections_are_trimmed_and_extra_subjects_ignored(h36m_dir, tmp_path) -> None:
    p3, p2 = read_dicts(h36m_dir)
    longer = {s: {a: [np.concatenate([v, v[:3]]) for v in views] for a, views in by.items()}
              for s, by in p2.items()}  # fmt: skip
    longer["S2"] = {"Walking": [np.zeros((4, 17, 2), np.float32)] * 4}  # 2D only, as in CPN files
    write_npz_dict(tmp_path / "det.npz", positions_2d=longer, metadata={"num_joints": 17})
    write_npz_dict(tmp_path / "data_3d_h36m.npz", positions_3d=p3)
    data = load_h36m(H36MConfig(tmp_path, positions_2d="det.npz"))
    reference = load_h36m(H36MConfig(h36m_dir))
    np.testing.assert_array_equal(data["kp2d"], reference["kp2d"])


def test_camera_file_adds_subjects_with_extrinsics_only(h36m_dir, tmp_path) -> None:
    p3, p2 = read_dicts(h36m_dir)
    rewrite(h36m_dir, tmp_path, {"S5": p3["S1"]}, {"S5": p2["S1"]})
    with pytest.raises(DatasetFormatError, match=r"no camera parameters for subject 'S5'"):
        load_h36m(H36MConfig(tmp_path))
    cams = {"S5": [dict(c) for c in BUILTIN_EXTRINSICS["S1"]]}  # VideoPose3D extrinsic table
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    data = load_h36m(H36MConfig(tmp_path, camera_file="cams.json"))
    reference = load_h36m(H36MConfig(h36m_dir), subjects=["S1"])
    for key in ("K", "R", "t", "dist", "kp2d"):
        np.testing.assert_allclose(data[key], reference[key], atol=1e-6, err_msg=key)


def test_action_keys_split_into_action_and_sequence() -> None:
    keys = ["Directions 1", "Directions", "Walking", "TakingPhoto", "TakingPhoto 1", "walking 2"]
    assert split_action_keys(keys) == {
        "Directions 1": ("Directions", 1),
        "Directions": ("Directions", 0),
        "Walking": ("Walking", 0),
        "TakingPhoto": ("Photo", 0),
        "TakingPhoto 1": ("Photo", 1),
        "walking 2": ("walking", 0),
    }


# ---- malformed files: each error names the file, the key and what was expected -------------


def test_missing_key(h36m_dir, tmp_path) -> None:
    p3, _ = read_dicts(h36m_dir)
    write_npz_dict(tmp_path / "data_3d_h36m.npz", poses=p3)
    msg = load_error(tmp_path)
    assert "data_3d_h36m.npz" in msg and "missing key 'positions_3d'" in msg and "'poses'" in msg


def test_missing_subject_in_3d(h36m_dir, tmp_path) -> None:
    rewrite(h36m_dir, tmp_path)
    msg = load_error(tmp_path, subjects=["S1", "S9"])
    assert "data_3d_h36m.npz" in msg and "'positions_3d'" in msg and "'S9' (subject)" in msg


def test_missing_subject_in_2d(h36m_dir, tmp_path) -> None:
    _, p2 = read_dicts(h36m_dir)
    rewrite(h36m_dir, tmp_path, positions_2d={"S1": p2["S1"]})
    msg = load_error(tmp_path)
    assert "data_2d_h36m_gt.npz" in msg and "'positions_2d'" in msg and "'S11' (subject)" in msg


def test_wrong_joint_count(h36m_dir, tmp_path) -> None:
    p3, _ = read_dicts(h36m_dir)
    key = next(iter(p3["S1"]))
    p3["S1"][key] = p3["S1"][key][:, list(H36M32_TO_17)]  # 17 joints where 32 are expected
    rewrite(h36m_dir, tmp_path, positions_3d=p3)
    msg = load_error(tmp_path)
    assert "data_3d_h36m.npz" in msg and f"positions_3d['S1'][{key!r}]" in msg
    assert "shape (T, 32, 3)" in msg and "got shape (12, 17, 3)" in msg


def test_wrong_joint_count_in_2d(h36m_dir, tmp_path) -> None:
    _, p2 = read_dicts(h36m_dir)
    key = next(iter(p2["S11"]))
    p2["S11"][key][2] = np.zeros((12, 16, 2), np.float32)
    rewrite(h36m_dir, tmp_path, positions_2d=p2)
    msg = load_error(tmp_path)
    assert "data_2d_h36m_gt.npz" in msg and f"positions_2d['S11'][{key!r}][2]" in msg
    assert "shape (T, 17, 2)" in msg and "got shape (12, 16, 2)" in msg


def test_2d_shorter_than_3d(h36m_dir, tmp_path) -> None:
    _, p2 = read_dicts(h36m_dir)
    key = next(iter(p2["S1"]))
    p2["S1"][key][0] = p2["S1"][key][0][:5]
    rewrite(h36m_dir, tmp_path, positions_2d=p2)
    with pytest.raises(DatasetFormatError, match=r"with T >= 12.*got shape \(5, 17, 2\)"):
        load_h36m(H36MConfig(tmp_path))


def test_wrong_axis_order(h36m_dir, tmp_path) -> None:
    p3, _ = read_dicts(h36m_dir)
    key = next(iter(p3["S11"]))
    p3["S11"][key] = np.ascontiguousarray(p3["S11"][key].transpose(2, 1, 0))  # (3, 32, T)
    rewrite(h36m_dir, tmp_path, positions_3d=p3)
    msg = load_error(tmp_path)
    assert "data_3d_h36m.npz" in msg and f"positions_3d['S11'][{key!r}]" in msg
    assert "shape (T, 32, 3)" in msg and "got shape (3, 32, 12)" in msg
    assert "axes in another order" in msg


def test_truncated_file(h36m_dir, tmp_path) -> None:
    rewrite(h36m_dir, tmp_path)
    path = tmp_path / "data_3d_h36m.npz"
    os.truncate(path, path.stat().st_size // 2)
    msg = load_error(tmp_path)
    assert "data_3d_h36m.npz" in msg and "truncated" in msg and "'positions_3d'" in msg


def test_wrong_camera_count(h36m_dir, tmp_path) -> None:
    _, p2 = read_dicts(h36m_dir)
    key = next(iter(p2["S1"]))
    p2["S1"][key] = p2["S1"][key][:3]
    rewrite(h36m_dir, tmp_path, positions_2d=p2)
    with pytest.raises(DatasetFormatError, match=r"positions_2d\['S1'\].*4 camera views, got 3"):
        load_h36m(H36MConfig(tmp_path))


def test_pickled_code_is_never_executed(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    write_npz_dict(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": Exploit()})
    with pytest.raises(DatasetFormatError, match=r"refusing to load global .*system"):
        load_h36m(H36MConfig(tmp_path))
    assert not marker.exists()

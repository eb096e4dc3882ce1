"""Tests of the VideoPose3D Human3.6M-layout exporter: round trip, cameras, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from epoch_kedro.data import export
from epoch_kedro.data.export import (
    H36M32_PARENTS,
    H36MLayoutError,
    export_h36m_layout,
    read_h36m_layout,
)
from epoch_kedro.skeleton import H36M32_TO_17, LEFT_JOINTS, RIGHT_JOINTS

from .test_validate import make_dataset

NAME = "synthetic"
FILES = {f"data_3d_{NAME}.npz", f"data_2d_{NAME}_gt.npz", f"cameras_{NAME}.json"}
SCHEMA_ORDER = ("subject", "action", "sequence", "camera", "frame")


def sort_samples(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows sorted by subject, action, sequence, camera, frame (the reader's order)."""
    order = np.lexsort(tuple(data[k] for k in reversed(SCHEMA_ORDER)))
    return {key: value[order] for key, value in data.items()}


def shuffled(data: dict[str, np.ndarray], seed: int = 1) -> dict[str, np.ndarray]:
    """The same dataset with its rows in random order."""
    perm = np.random.default_rng(seed).permutation(len(data["kp2d"]))
    return {key: value[perm] for key, value in data.items()}


def cameras_of(table: dict, subject: str, action_key: str) -> list[dict]:
    """The camera list that applies to one sequence of the cameras JSON."""
    return table["sequences"].get(subject, {}).get(action_key, table["subjects"][subject])


@pytest.fixture(params=[False, True], ids=["fixed-rig", "per-sequence-cameras"])
def data(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    """2 subjects x 2 actions x 2 sequences x 5 frames x 2 cameras, rows shuffled."""
    return shuffled(make_dataset(n_sequences=2, per_sequence_cameras=request.param))


def test_writes_three_files_and_no_temp_files(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    paths = export_h36m_layout(data, tmp_path / "out", NAME)
    assert set(paths) == {"positions_3d", "positions_2d", "cameras"}
    assert {p.name for p in paths.values()} == FILES
    assert {p.name for p in (tmp_path / "out").iterdir()} == FILES


def test_round_trip(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    export_h36m_layout(data, tmp_path, NAME)
    samples = sort_samples(read_h36m_layout(tmp_path, NAME)["samples"])
    expected = sort_samples(data)
    for key in (*SCHEMA_ORDER, "image_size"):
        np.testing.assert_array_equal(samples[key], expected[key], err_msg=key)
    for key in ("pose3d_world", "kp2d", "K", "R", "t", "dist"):
        np.testing.assert_allclose(samples[key], expected[key], rtol=0, atol=1e-6, err_msg=key)


def test_subjects_and_actions_keep_the_dataset_order(tmp_path: Path) -> None:
    data = make_dataset(subjects=("S9", "S1"), actions=("walking", "sitting"), n_sequences=2)
    export_h36m_layout(data, tmp_path, NAME)
    loaded = read_h36m_layout(tmp_path, NAME)
    assert list(loaded["positions_3d"]) == ["S9", "S1"]
    keys = ["walking 1", "walking 2", "sitting 1", "sitting 2"]
    assert list(loaded["positions_3d"]["S9"]) == keys
    # make_dataset rows are subject, action, sequence, camera, frame: the reader's order.
    for key in SCHEMA_ORDER:
        np.testing.assert_array_equal(loaded["samples"][key], data[key], err_msg=key)


def test_layout_per_group_and_frame(data: dict[str, np.ndarray], tmp_path: Path) -> None:
    export_h36m_layout(data, tmp_path, NAME)
    loaded = read_h36m_layout(tmp_path, NAME)
    assert sorted(loaded["positions_3d"]) == ["S1", "S5"]
    assert sorted(loaded["positions_3d"]["S1"]) == [
        "sitting 1",
        "sitting 2",
        "walking 1",
        "walking 2",
    ]
    for subject, action, sequence in [("S1", "walking", 1), ("S5", "sitting", 0)]:
        key = f"{action} {sequence + 1}"
        pos32 = loaded["positions_3d"][subject][key]
        views = loaded["positions_2d"][subject][key]
        assert pos32.dtype == np.float32 and pos32.shape == (5, 32, 3)
        assert len(views) == 2
        for frame in range(5):
            for camera in range(2):
                row = np.flatnonzero(
                    (data["subject"] == subject)
                    & (data["action"] == action)
                    & (data["sequence"] == sequence)
                    & (data["frame"] == frame)
                    & (data["camera"] == camera)
                )
                assert row.size == 1
                np.testing.assert_allclose(
                    pos32[frame, list(H36M32_TO_17)], data["pose3d_world"][row[0]], atol=1e-6
                )
                assert views[camera].dtype == np.float32 and views[camera].shape == (5, 17, 2)
                np.testing.assert_allclose(views[camera][frame], data["kp2d"][row[0]], atol=1e-6)


def test_32_joint_skeleton_fills_from_kept_ancestors(tmp_path: Path) -> None:
    data = make_dataset()
    export_h36m_layout(data, tmp_path, NAME)
    pos32 = read_h36m_layout(tmp_path, NAME)["positions_3d"]["S1"]["walking 1"]
    kept = set(H36M32_TO_17)
    for joint, parent in enumerate(H36M32_PARENTS):
        if joint not in kept:
            # The parent's slot already holds the nearest kept ancestor of both.
            np.testing.assert_array_equal(pos32[:, joint], pos32[:, parent])
    # Spot checks: the foot end sites copy RFoot, the hand ones LWrist.
    np.testing.assert_array_equal(pos32[:, 4], pos32[:, 3])
    np.testing.assert_array_equal(pos32[:, 21], pos32[:, 19])


def test_metadata(tmp_path: Path) -> None:
    paths = export_h36m_layout(make_dataset(), tmp_path, NAME)
    with np.load(paths["positions_2d"], allow_pickle=True) as npz:
        assert set(npz.files) == {"positions_2d", "metadata"}
        metadata = npz["metadata"].item()
    assert metadata == {
        "num_joints": 17,
        "keypoints_symmetry": [list(LEFT_JOINTS), list(RIGHT_JOINTS)],
    }
    assert metadata["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]


def test_cameras_json_reproduces_extrinsics_and_projection(
    data: dict[str, np.ndarray], tmp_path: Path
) -> None:
    export_h36m_layout(data, tmp_path, NAME)
    loaded = read_h36m_layout(tmp_path, NAME)
    table = loaded["cameras"]
    assert table["format"] == "epoch_kedro.cameras/v1"
    assert table["units"] == {"translation": "mm"}
    for i in range(0, len(data["kp2d"]), 3):
        subject, camera = str(data["subject"][i]), int(data["camera"][i])
        key = f"{data['action'][i]} {data['sequence'][i] + 1}"
        cam = cameras_of(table, subject, key)[camera]
        assert cam["id"] == f"{subject}-cam{camera}"
        assert (cam["res_w"], cam["res_h"]) == (1000, 1000)
        assert cam["radial_distortion"] == [0.0] * 3 and cam["tangential_distortion"] == [0.0] * 2
        assert cam["orientation"][0] >= 0
        # Human3.6M convention: X_cam = q^-1 (X_world - T), T the camera centre in mm.
        q = Rotation.from_quat(cam["orientation"], scalar_first=True)
        centre = np.array(cam["translation"]) / 1000.0
        R = q.as_matrix().T
        np.testing.assert_allclose(R, data["R"][i], atol=1e-6)
        np.testing.assert_allclose(-R @ centre, data["t"][i], atol=1e-6)

        frame = int(data["frame"][i])
        world = loaded["positions_3d"][subject][key][frame, list(H36M32_TO_17)].astype(np.float64)
        xyz = q.inv().apply(world - centre)
        uv = np.array(cam["focal_length"]) * xyz[:, :2] / xyz[:, 2:] + np.array(cam["center"])
        np.testing.assert_allclose(uv, data["kp2d"][i], atol=1e-3)


def test_fixed_rig_goes_under_subjects_only(tmp_path: Path) -> None:
    export_h36m_layout(make_dataset(n_sequences=2), tmp_path, NAME)
    table = read_h36m_layout(tmp_path, NAME)["cameras"]
    assert table["sequences"] == {}
    assert sorted(table["subjects"]) == ["S1", "S5"]
    assert [c["id"] for c in table["subjects"]["S5"]] == ["S5-cam0", "S5-cam1"]


def test_per_sequence_cameras_are_listed(tmp_path: Path) -> None:
    export_h36m_layout(make_dataset(n_sequences=2, per_sequence_cameras=True), tmp_path, NAME)
    table = read_h36m_layout(tmp_path, NAME)["cameras"]
    assert sorted(table["sequences"]) == ["S1", "S5"]
    per_seq = table["sequences"]["S1"]
    assert sorted(per_seq) == ["sitting 1", "sitting 2", "walking 1", "walking 2"]
    assert per_seq["sitting 1"] != per_seq["walking 2"]
    assert table["subjects"]["S1"] == per_seq["walking 1"]  # default: the first sequence


def test_only_the_subject_whose_rig_varies_gets_sequences(tmp_path: Path) -> None:
    fixed = make_dataset(subjects=("S1",), n_sequences=2, seed=3)
    varying = make_dataset(subjects=("S9",), n_sequences=2, per_sequence_cameras=True, seed=4)
    both = {key: np.concatenate([fixed[key], varying[key]]) for key in fixed}
    export_h36m_layout(both, tmp_path, NAME)
    table = read_h36m_layout(tmp_path, NAME)["cameras"]
    assert list(table["sequences"]) == ["S9"]


def test_mismatched_frame_sets_raise(tmp_path: Path) -> None:
    data = make_dataset()
    drop = np.flatnonzero(
        (data["subject"] == "S5")
        & (data["action"] == "walking")
        & (data["camera"] == 1)
        & (data["frame"] == 3)
    )
    data = {key: np.delete(value, drop, axis=0) for key, value in data.items()}
    with pytest.raises(
        H36MLayoutError,
        match=r"subject 'S5', sequence 'walking 1': every camera "
        r"must see the same frames.*only in camera 0: \[3\]",
    ):
        export_h36m_layout(data, tmp_path, NAME)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_frames_raise(tmp_path: Path) -> None:
    data = make_dataset()
    data["frame"][data["frame"] == 4] = 3
    with pytest.raises(H36MLayoutError, match=r"duplicate frame\(s\) \[3\]"):
        export_h36m_layout(data, tmp_path, NAME)


def test_3d_differing_between_cameras_raises(tmp_path: Path) -> None:
    data = make_dataset()
    row = np.flatnonzero((data["camera"] == 1) & (data["frame"] == 2))[0]
    data["pose3d_world"][row, 5] += 0.01
    with pytest.raises(
        H36MLayoutError,
        match=r"'pose3d_world' differs between camera 1 and "
        r"camera 0 at frame 2",
    ):
        export_h36m_layout(data, tmp_path, NAME)


def test_camera_changing_within_sequence_raises(tmp_path: Path) -> None:
    data = make_dataset()
    row = np.flatnonzero((data["camera"] == 0) & (data["frame"] == 4))[0]
    data["t"][row, 0] += 0.5
    with pytest.raises(H36MLayoutError, match=r"camera 0 changes its parameters .* at frame 4"):
        export_h36m_layout(data, tmp_path, NAME)


def test_invalid_dataset_is_rejected_before_writing(tmp_path: Path) -> None:
    data = make_dataset()
    data["kp2d"] = data["kp2d"][:, :16]
    with pytest.raises(ValueError, match=r"dataset 'synthetic': field 'kp2d'"):
        export_h36m_layout(data, tmp_path, NAME)
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_dataset()
    calls = []

    def half_write(file, **arrays) -> None:
        calls.append(sorted(arrays))
        if len(calls) == 2:  # the first npz is complete, the second dies half-way
            file.write(b"PK\x03\x04 half a zip")
            raise OSError("disk full")
        real_savez(file, **arrays)

    real_savez = np.savez_compressed
    monkeypatch.setattr(export.np, "savez_compressed", half_write)
    with pytest.raises(OSError, match="disk full"):
        export_h36m_layout(data, tmp_path, NAME)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_h36m_layout(make_dataset(seed=0), tmp_path, NAME)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(*args, **kwargs) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export.np, "savez_compressed", fail)
    with pytest.raises(OSError, match="disk full"):
        export_h36m_layout(make_dataset(seed=1), tmp_path, NAME)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

"""Tests of the ingested-dataset and split validators, on a tiny synthetic dataset built here."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from epoch_kedro.data.schema import SAMPLE_FIELDS
from epoch_kedro.data.validate import DatasetValidationError, validate_dataset, validate_splits
from epoch_kedro.skeleton import NUM_JOINTS

NAME = "synthetic"
IMAGE_SIZE = 1000

#: A standing pose, z-up, metres, feet on the floor, about 1.7 m tall.
STANDING_POSE = np.array(
    [
        [0.00, 0.0, 0.95],  # Hip
        [-0.13, 0.0, 0.93],
        [-0.13, 0.02, 0.50],
        [-0.13, 0.0, 0.08],  # right leg
        [0.13, 0.0, 0.93],
        [0.13, 0.02, 0.50],
        [0.13, 0.0, 0.08],  # left leg
        [0.00, 0.0, 1.20],
        [0.00, 0.0, 1.45],
        [0.00, 0.03, 1.55],
        [0.00, 0.0, 1.70],  # spine..head
        [0.18, 0.0, 1.42],
        [0.21, 0.02, 1.15],
        [0.22, 0.05, 0.90],  # left arm
        [-0.18, 0.0, 1.42],
        [-0.21, 0.02, 1.15],
        [-0.22, 0.05, 0.90],  # right arm
    ]
)


def random_camera(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A pinhole camera ~4 m from the origin looking at the body, slightly perturbed."""
    azimuth = rng.uniform(0, 2 * np.pi)
    centre = np.array([4 * np.cos(azimuth), 4 * np.sin(azimuth), rng.uniform(1.0, 1.6)])
    forward = np.array([0.0, 0.0, 0.9]) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    look_at = np.stack([right, np.cross(forward, right), forward])  # OpenCV: x right, y down
    R = Rotation.from_rotvec(rng.normal(0, 0.03, 3)).as_matrix() @ look_at
    f = rng.uniform(950, 1050)
    K = np.array([[f, 0, 500], [0, f * rng.uniform(0.99, 1.01), 500], [0, 0, 1]])
    return {"K": K, "R": R, "t": -R @ centre}


def random_poses(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """``n_frames`` jittered, yawed, shifted standing poses: (T, 17, 3) metres."""
    yaw = Rotation.from_euler("z", rng.uniform(-np.pi, np.pi, (n_frames, 1))).as_matrix()
    pose = STANDING_POSE + rng.normal(0, 0.02, (n_frames, NUM_JOINTS, 3))
    shift = np.concatenate(
        [rng.uniform(-0.3, 0.3, (n_frames, 1, 2)), np.zeros((n_frames, 1, 1))], axis=2
    )
    return np.einsum("tij,tkj->tki", yaw, pose) + shift


def project(pose: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pinhole projection of world points (..., 3) to pixels (..., 2)."""
    cam = pose @ R.T + t
    u = K[0, 0] * cam[..., 0] / cam[..., 2] + K[0, 2]
    v = K[1, 1] * cam[..., 1] / cam[..., 2] + K[1, 2]
    return np.stack([u, v], axis=-1)


def make_dataset(
    seed: int = 0,
    subjects: tuple[str, ...] = ("S1", "S5"),
    actions: tuple[str, ...] = ("walking", "sitting"),
    n_sequences: int = 1,
    n_frames: int = 5,
    n_cameras: int = 2,
    per_sequence_cameras: bool = False,
) -> dict[str, np.ndarray]:
    """A tiny valid ingested dataset: one row per (subject, action, sequence, frame, camera)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, np.ndarray]] = []
    for subject in subjects:
        rig = [random_camera(rng) for _ in range(n_cameras)]
        for action in actions:
            for sequence in range(n_sequences):
                if per_sequence_cameras:
                    rig = [random_camera(rng) for _ in range(n_cameras)]
                pose = random_poses(rng, n_frames).astype(np.float32)
                for c, cam in enumerate(rig):
                    K, R, t = (cam[k].astype(np.float32) for k in ("K", "R", "t"))
                    # Project the float32-stored values so the stored kp2d is exact for them.
                    kp2d = project(
                        pose.astype(np.float64),
                        K.astype(np.float64),
                        R.astype(np.float64),
                        t.astype(np.float64),
                    )
                    depth = (pose.astype(np.float64) @ R.T.astype(np.float64) + t)[..., 2]
                    inside = ((kp2d >= 0) & (kp2d < IMAGE_SIZE)).all(axis=-1)
                    rows.append(
                        {
                            "pose3d_world": pose,
                            "kp2d": kp2d.astype(np.float32),
                            "visible": inside & (depth > 0),
                            "K": np.broadcast_to(K, (n_frames, 3, 3)),
                            "R": np.broadcast_to(R, (n_frames, 3, 3)),
                            "t": np.broadcast_to(t, (n_frames, 3)),
                            "dist": np.zeros((n_frames, 5), np.float32),
                            "image_size": np.full((n_frames, 2), IMAGE_SIZE, np.int32),
                            "subject": np.full(n_frames, subject),
                            "action": np.full(n_frames, action),
                            "sequence": np.full(n_frames, sequence, np.int32),
                            "frame": np.arange(n_frames, dtype=np.int32),
                            "camera": np.full(n_frames, c, np.int32),
                        }
                    )
    return {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}


@pytest.fixture
def data() -> dict[str, np.ndarray]:
    """2 subjects x 2 actions x 1 sequence x 5 frames x 2 cameras = 40 samples."""
    return make_dataset()


def assert_invalid(data: dict[str, np.ndarray], field: str | None, pattern: str) -> str:
    """Validation fails with a message naming the dataset, the field and matching ``pattern``."""
    with pytest.raises(DatasetValidationError, match=pattern) as info:
        validate_dataset(data, NAME)
    message = str(info.value)
    assert f"dataset '{NAME}'" in message
    if field is not None:
        assert f"'{field}'" in message
    return message


def test_fixture_matches_schema(data: dict[str, np.ndarray]) -> None:
    assert set(data) == set(SAMPLE_FIELDS)
    assert len(data["kp2d"]) == 40
    assert data["visible"].all(), "the fixture's body should be fully in view"


def test_valid_dataset_passes(data: dict[str, np.ndarray]) -> None:
    validate_dataset(data, NAME)


def test_extra_fields_are_allowed(data: dict[str, np.ndarray]) -> None:
    validate_dataset({**data, "bbox": np.zeros((40, 4))}, NAME)


def test_missing_field(data: dict[str, np.ndarray]) -> None:
    del data["K"], data["visible"]
    message = assert_invalid(data, "K", r"missing required field")
    assert "'visible'" in message


def test_wrong_joint_count_reads_clearly(data: dict[str, np.ndarray]) -> None:
    data["kp2d"] = data["kp2d"][:, :16]
    assert_invalid(
        data, "kp2d", re.escape("field 'kp2d' must have shape (N, 17, 2), got (40, 16, 2)")
    )


def test_scalar_field_with_extra_axis(data: dict[str, np.ndarray]) -> None:
    data["frame"] = data["frame"][:, None]
    assert_invalid(data, "frame", re.escape("must have shape (N,), got (40, 1)"))


def test_mismatched_row_counts(data: dict[str, np.ndarray]) -> None:
    data["t"] = data["t"][:-3]
    assert_invalid(data, "t", r"same number of rows; most have 40, but field 't' has 37")


def test_empty_dataset(data: dict[str, np.ndarray]) -> None:
    assert_invalid({k: v[:0] for k, v in data.items()}, None, r"no samples")


def test_int_dtype_for_kp2d(data: dict[str, np.ndarray]) -> None:
    data["kp2d"] = data["kp2d"].astype(np.int32)
    assert_invalid(data, "kp2d", r"must have a float dtype, got int32")


def test_float_dtype_for_visible(data: dict[str, np.ndarray]) -> None:
    data["visible"] = data["visible"].astype(np.float32)
    assert_invalid(data, "visible", r"must have a bool dtype, got float32")


def test_object_dtype_for_subject(data: dict[str, np.ndarray]) -> None:
    data["subject"] = data["subject"].astype(object)
    assert_invalid(data, "subject", r"unicode string dtype, got object")


def test_unsigned_ints_are_integers(data: dict[str, np.ndarray]) -> None:
    data["frame"] = data["frame"].astype(np.uint16)
    validate_dataset(data, NAME)


def test_nan_in_pose3d_world(data: dict[str, np.ndarray]) -> None:
    data["pose3d_world"][[7, 9], 3, 1] = np.nan
    assert_invalid(data, "pose3d_world", r"non-finite .* in 2 of 40 samples, first at sample 7")


def test_inf_in_K(data: dict[str, np.ndarray]) -> None:
    data["K"] = data["K"].copy()
    data["K"][5, 0, 2] = np.inf
    assert_invalid(data, "K", r"non-finite .* first at sample 5")


def test_kp2d_nan_at_visible_joint_fails(data: dict[str, np.ndarray]) -> None:
    data["kp2d"][4, 10] = np.nan
    assert_invalid(data, "kp2d", r"NaN at visible joints .* first at sample 4")


def test_kp2d_nan_at_invisible_joint_passes(data: dict[str, np.ndarray]) -> None:
    data["kp2d"][4, 10] = np.nan
    data["visible"][4, 10] = False
    validate_dataset(data, NAME)


def test_kp2d_inf_fails_even_when_invisible(data: dict[str, np.ndarray]) -> None:
    data["kp2d"][4, 10] = np.inf
    data["visible"][4, 10] = False
    assert_invalid(data, "kp2d", r"inf values")


@pytest.mark.parametrize(("entry", "value"), [((0, 0), 0.0), ((1, 1), -900.0)])
def test_non_positive_focal_length(
    data: dict[str, np.ndarray], entry: tuple[int, int], value: float
) -> None:
    data["K"] = data["K"].copy()
    data["K"][(12, *entry)] = value
    assert_invalid(data, "K", r"non-positive focal length in 1 of 40 samples, first at sample 12")


@pytest.mark.parametrize("entry", [(0, 1), (1, 0), (2, 0), (2, 1), (2, 2)])
def test_intrinsics_structure(data: dict[str, np.ndarray], entry: tuple[int, int]) -> None:
    data["K"] = data["K"].copy()
    data["K"][(3, *entry)] += 0.5
    assert_invalid(data, "K", r"\[\[fx, 0, cx\], \[0, fy, cy\], \[0, 0, 1\]\].*first at sample 3")


def test_non_orthonormal_R(data: dict[str, np.ndarray]) -> None:
    data["R"] = data["R"].copy()
    data["R"][8] *= 1.01
    assert_invalid(data, "R", r"not orthonormal .* first at sample 8")


def test_reflection_R(data: dict[str, np.ndarray]) -> None:
    data["R"] = data["R"].copy()
    data["R"][8, 1] *= -1
    assert_invalid(data, "R", r"det != \+1 .* first at sample 8: det = -1")


def test_R_within_tolerance_passes(data: dict[str, np.ndarray]) -> None:
    data["R"] = data["R"] * np.float32(1 + 2e-4)
    validate_dataset(data, NAME)


def test_non_positive_image_size(data: dict[str, np.ndarray]) -> None:
    data["image_size"] = data["image_size"].copy()
    data["image_size"][6, 1] = 0
    assert_invalid(data, "image_size", r"non-positive image size .* first at sample 6")


def test_negative_frame(data: dict[str, np.ndarray]) -> None:
    data["frame"][2] = -1
    assert_invalid(data, "frame", r"negative values .* first at sample 2")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 39), st.integers(0, NUM_JOINTS - 1), st.integers(0, 2))
def test_any_nan_in_3d_is_located(sample: int, joint: int, axis: int) -> None:
    data = make_dataset()
    data["pose3d_world"][sample, joint, axis] = np.nan
    assert_invalid(data, "pose3d_world", rf"in 1 of 40 samples, first at sample {sample}\b")


def test_large_dataset_is_validated_vectorised(data: dict[str, np.ndarray]) -> None:
    big = {key: np.repeat(value, 2500, axis=0) for key, value in data.items()}  # 100k samples
    validate_dataset(big, NAME)
    big["R"] = big["R"].copy()
    big["R"][-1, 0] *= -1
    assert_invalid(big, "R", r"in 1 of 100000 samples, first at sample 99999")


SUBJECTS = np.array(["S1", "S1", "S5", "S6", "S7"])


def test_valid_splits_pass() -> None:
    validate_splits({"train": ["S1", "S5"], "val": ["S6"], "test": ["S7"]}, SUBJECTS, NAME)
    validate_splits({"train": ["S1"], "test": ["S5"]}, ["S1", "S5"], NAME)


def test_train_and_val_may_share_a_subject_but_test_may_not() -> None:
    validate_splits({"train": ["S1", "S5"], "val": ["S5"], "test": ["S7"]}, SUBJECTS, NAME)
    with pytest.raises(DatasetValidationError, match=r"'S5' is in both split 'val' and split"):
        validate_splits({"train": ["S1"], "val": ["S5"], "test": ["S5"]}, SUBJECTS, NAME)


def test_split_overlap_names_both_splits() -> None:
    with pytest.raises(
        DatasetValidationError,
        match=r"'S5' is in both split 'train' and split "
        r"'test'",
    ) as info:
        validate_splits({"train": ["S1", "S5"], "test": ["S5", "S7"]}, SUBJECTS, NAME)
    assert f"dataset '{NAME}'" in str(info.value)


def test_split_with_unknown_subject_lists_available() -> None:
    with pytest.raises(
        DatasetValidationError,
        match=r"split 'test' lists subject\(s\) \['S9'\] "
        r"absent .*\['S1', 'S5', 'S6', 'S7'\]",
    ):
        validate_splits({"train": ["S1"], "test": ["S9"]}, SUBJECTS, NAME)


@pytest.mark.parametrize("empty", ["train", "val", "test"])
def test_empty_split(empty: str) -> None:
    splits = {"train": ["S1"], "val": ["S6"], "test": ["S7"], empty: []}
    pattern = rf"dataset '{NAME}': split '{empty}' is empty"
    with pytest.raises(DatasetValidationError, match=pattern):
        validate_splits(splits, SUBJECTS, NAME)


def test_missing_test_split() -> None:
    with pytest.raises(
        DatasetValidationError,
        match=r"must include 'train' and 'test'; "
        r"missing \['test'\]",
    ):
        validate_splits({"train": ["S1"], "val": ["S5"]}, SUBJECTS, NAME)


def test_split_given_as_string() -> None:
    with pytest.raises(DatasetValidationError, match=r"split 'test' must be a list"):
        validate_splits({"train": ["S1"], "test": "S5"}, SUBJECTS, NAME)

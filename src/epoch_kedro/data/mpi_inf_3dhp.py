"""The MPI-INF-3DHP test set (``TS1..TS6/annot_data.mat``, MATLAB v7.3) -> an ingested dataset.

Each sequence is one camera; its 3D (``annot3``, mm) is already in the camera frame. Rows keep
only ``valid_frame == 1``; joints are mapped to our Human3.6M order; ``action`` holds the
activity name (so per-action metrics are the field's per-activity table). Metrics compare
against ``univ_annot3`` (the skeleton rescaled to the Human3.6M height), stored as the extra
field ``pose3d_metric_cam``. The extrinsics are unknown: the world frame is the camera frame
turned so a level camera would be z-up, and ``gravity_known`` is False so LiftNet is not fed a
made-up gravity direction.

MATLAB writes arrays column-major, so depending on the writer h5py shows ``annot2`` either as
(N, 1, 17, 2) or with every axis reversed, (2, 17, 1, N): both are accepted, anything else
fails with the file, key and expected shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from epoch_kedro.data.formats import DatasetFormatError, format_error
from epoch_kedro.data.image_files import cut_crop, open_rgb, resize_frame
from epoch_kedro.data.schema import INT_DTYPE, concat_rows
from epoch_kedro.data.synthetic.render import scale_intrinsics
from epoch_kedro.geometry import camera_to_world, make_K, project_distorted, world_to_camera
from epoch_kedro.skeleton import NUM_JOINTS

logger = logging.getLogger(__name__)

SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
#: A test set only: the whole of it is the test split. A standalone run (unsupervised training
#: on test sequences, not a published protocol) needs a train/val split of its sequences.
PROTOCOL_SPLITS: dict[str, list[str]] = {
    "train": ["TS1", "TS2", "TS3", "TS4"],
    "val": ["TS5"],
    "test": ["TS6"],
}
TEST_SUBJECTS: tuple[str, ...] = SEQUENCES
#: 3DHP test joint order -> ours (the dataset's documented joint list).
TO_H36M: tuple[int, ...] = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
ACTIVITIES: dict[int, str] = {
    1: "Standing/Walking",
    2: "Exercising",
    3: "Sitting",
    4: "Reaching/Crouching",
    5: "On the floor",
    6: "Sports",
    7: "Miscellaneous",
}
MM = 1000.0
MIN_DEPTH_M = 0.05


@dataclass(frozen=True)
class Camera3DHP:
    """Intrinsics (px), distortion (k1, k2, k3, p1, p2) and image size of a test sequence."""

    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, float, float, float, float]
    size: tuple[int, int]


STUDIO = Camera3DHP(1500.172, 1500.837, 1017.387, 1043.032, (0.0,) * 5, (2048, 2048))
OUTDOOR = Camera3DHP(
    1683.98,
    1672.59,
    939.858,
    560.141,
    (-0.27686, 0.13113, -0.04932, -0.00036, -0.00115),
    (1920, 1080),
)
CAMERAS: dict[str, Camera3DHP] = {"TS1": STUDIO, "TS2": STUDIO, "TS3": STUDIO, "TS4": STUDIO,
                                   "TS5": OUTDOOR, "TS6": OUTDOOR}  # fmt: skip

#: World-to-camera rotation of a level camera: world up (z) is image up (-y), world y is forward.
LEVEL_R = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def annot_path(root: Path, sequence: str) -> Path:
    return Path(root) / sequence / "annot_data.mat"


def _read(handle: h5py.File, path: Path, key: str) -> np.ndarray:
    if key not in handle:
        raise DatasetFormatError(f"{path}: missing key {key!r}; keys present: {sorted(handle)}")
    return np.asarray(handle[key][()])


def _per_frame(value: np.ndarray, path: Path, key: str, frames: int | None = None) -> np.ndarray:
    """A per-frame column ``(N, 1)`` or ``(1, N)`` (the transposed writer) as ``(N,)``."""
    n = frames if frames is not None else max(value.shape, default=0)
    if value.ndim != 2 or 1 not in value.shape or value.size != n:
        expected = f"shape (N, 1) or (1, N) with N = {n}" if frames else "shape (N, 1) or (1, N)"
        raise format_error(path, key, expected, f"shape {value.shape}")
    return value.reshape(-1)


def _joints(value: np.ndarray, path: Path, key: str, frames: int, dims: int) -> np.ndarray:
    """``(N, 1, 17, D)`` or the axis-reversed ``(D, 17, 1, N)`` as ``(N, 17, D)``."""
    if value.shape == (frames, 1, NUM_JOINTS, dims):
        return value[:, 0]
    if value.shape == (dims, NUM_JOINTS, 1, frames):
        return value.transpose(3, 2, 1, 0)[:, 0]
    expected = (
        f"shape (N, 1, 17, {dims}) or the axis-reversed ({dims}, 17, 1, N) with N = {frames} "
        f"(the length of 'valid_frame')"
    )
    raise format_error(path, key, expected, f"shape {value.shape}")


def read_annotations(path: Path) -> dict[str, np.ndarray]:
    """Every frame of one ``annot_data.mat``: valid (N,), activity (N,), 2D/3D in our order."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found (expected keys valid_frame, annot2, ...)")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetFormatError(
            f"{path}: cannot read as MATLAB v7.3 / HDF5 (truncated or an older .mat version?; "
            f"expected keys valid_frame (N, 1), annot2 (N, 1, 17, 2), ...): {exc}"
        ) from exc
    with handle:
        try:
            valid = _per_frame(_read(handle, path, "valid_frame"), path, "valid_frame")
            n = len(valid)
            activity = _per_frame(
                _read(handle, path, "activity_annotation"), path, "activity_annotation", n
            )
            annot2 = _joints(_read(handle, path, "annot2"), path, "annot2", n, 2)
            annot3 = _joints(_read(handle, path, "annot3"), path, "annot3", n, 3)
            univ = _joints(_read(handle, path, "univ_annot3"), path, "univ_annot3", n, 3)
        except OSError as exc:  # a dataset whose bytes are cut off reads as an HDF5 error
            raise DatasetFormatError(f"{path}: truncated or corrupt HDF5 data: {exc}") from exc
    order = list(TO_H36M)
    return {
        "valid": valid.astype(bool),
        "activity": activity.astype(np.int64),
        "annot2": annot2[:, order].astype(np.float64),
        "annot3": annot3[:, order].astype(np.float64) / MM,
        "univ_annot3": univ[:, order].astype(np.float64) / MM,
    }


def _activity_names(codes: np.ndarray, path: Path) -> np.ndarray:
    bad = ~np.isin(codes, list(ACTIVITIES))
    if bad.any():
        raise format_error(
            path, "activity_annotation", f"labels in {sorted(ACTIVITIES)} on valid frames",
            f"{int(codes[bad][0])} at valid frame {int(np.argmax(bad))}",
        )  # fmt: skip
    return np.array([ACTIVITIES[int(c)] for c in codes])


def sequence_rows(root: Path, sequence: str, stride: int = 1) -> dict[str, np.ndarray]:
    """The ingested rows of one test sequence: every ``stride``-th valid frame."""
    if sequence not in CAMERAS:
        raise DatasetFormatError(
            f"{root}: unknown 3DHP test sequence {sequence!r}; known {SEQUENCES}"
        )
    path = annot_path(root, sequence)
    annot = read_annotations(path)
    frames = np.flatnonzero(annot["valid"])[::stride]
    cam = CAMERAS[sequence]
    n = len(frames)
    pose_cam = annot["annot3"][frames]
    R, t = LEVEL_R, np.zeros(3)
    kp2d = annot["annot2"][frames]
    size = np.array(cam.size)
    visible = (pose_cam[..., 2] > MIN_DEPTH_M) & np.all((kp2d >= 0) & (kp2d < size), axis=-1)
    # Metrics root-align, so univ_annot3's absolute position does not matter.
    return {
        "pose3d_world": camera_to_world(pose_cam, R, t),
        "pose3d_metric_cam": annot["univ_annot3"][frames],
        "kp2d": kp2d,
        "visible": visible,
        "gravity_known": np.zeros(n, bool),
        "K": np.broadcast_to(make_K(cam.fx, cam.fy, cam.cx, cam.cy), (n, 3, 3)),
        "R": np.broadcast_to(R, (n, 3, 3)),
        "t": np.broadcast_to(t, (n, 3)),
        "dist": np.broadcast_to(np.array(cam.dist), (n, 5)),
        "image_size": np.broadcast_to(size, (n, 2)),
        "subject": np.full(n, sequence),
        "action": _activity_names(annot["activity"][frames], path),
        "sequence": np.zeros(n, INT_DTYPE),
        "camera": np.zeros(n, INT_DTYPE),
        "frame": frames.astype(INT_DTYPE),
    }


def load_mpi_inf_3dhp(
    root: str | Path,
    sequences: Sequence[str] | None = None,
    frame_stride: Mapping[str, int] | int = 1,
) -> dict[str, np.ndarray]:
    """The ingested dataset of the test ``sequences`` (default TS1..TS6) under ``root``."""
    wanted = list(SEQUENCES if sequences is None else sequences)
    chunks = []
    for sequence in wanted:
        stride = frame_stride if isinstance(frame_stride, int) else frame_stride.get(sequence, 1)
        chunks.append(sequence_rows(Path(root), sequence, int(stride)))
    data = concat_rows(chunks)
    logger.info(
        "MPI-INF-3DHP: %d valid frames of %s from %s (median reprojection error %.2f px)",
        len(data["kp2d"]),
        wanted,
        root,
        check_projection(data),
    )
    return data


def check_projection(data: dict[str, np.ndarray]) -> float:
    """Median distance (px) between ``kp2d`` and the distortion-aware projection of the 3D.

    A sanity check on the camera figures: large values mean the intrinsics do not fit the data.
    """
    X = world_to_camera(data["pose3d_world"].astype(np.float64), data["R"], data["t"])
    proj = project_distorted(X, data["K"].astype(np.float64), data["dist"].astype(np.float64))
    return float(np.median(np.linalg.norm(proj - data["kp2d"], axis=-1)))


def image_path(root: str | Path, sequence: str, frame: int) -> Path:
    """``TS*/imageSequence/img_%06d.jpg``; MATLAB numbers frames from 1."""
    return Path(root) / sequence / "imageSequence" / f"img_{frame + 1:06d}.jpg"


def has_images(root: str | Path, data: dict[str, np.ndarray]) -> bool:
    """Whether every sequence of ``data`` has an ``imageSequence/`` directory under ``root``."""
    sequences = np.unique(data["subject"]).tolist()
    return all((Path(root) / s / "imageSequence").is_dir() for s in sequences)


def read_images(
    root: str | Path, data: dict[str, np.ndarray], rows: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Full frames of ``rows`` resized to ``size`` x ``size`` (uint8), and their scaled K.

    The same convention as the synthetic renderer (whole frame, per-axis scale), so RegNet
    reads real and rendered images alike.
    """
    images = np.empty((len(rows), size, size, 3), np.uint8)
    for i, row in enumerate(rows):
        path = image_path(root, str(data["subject"][row]), int(data["frame"][row]))
        if not path.is_file():
            raise DatasetFormatError(
                f"{path}: image of valid frame {int(data['frame'][row])} missing"
            )
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG decodes at 1/2..1/8 scale: much faster
            images[i] = resize_frame(image.convert("RGB"), size)
    K = scale_intrinsics(data["K"][rows], data["image_size"][rows], size)
    return images, K.astype(np.float32)


def read_crops(
    root: str | Path, data: dict[str, np.ndarray], rows: np.ndarray, boxes: np.ndarray, size: int
) -> np.ndarray:
    """Square crops ``(M, size, size, 3)`` uint8 of the frames of ``rows`` at full-frame boxes
    ``(cx, cy, b)`` (:func:`~epoch_kedro.data.image_files.cut_crop`; black outside the frame)."""
    crops = np.empty((len(rows), size, size, 3), np.uint8)
    for i, (row, box) in enumerate(zip(rows, boxes, strict=True)):
        path = image_path(root, str(data["subject"][row]), int(data["frame"][row]))
        if not path.is_file():
            raise DatasetFormatError(
                f"{path}: image of valid frame {int(data['frame'][row])} missing"
            )
        crops[i] = cut_crop(open_rgb(path), box, size)
    return crops

"""The ingested-dataset schema shared by every source (synthetic, Human3.6M, MPI-INF-3DHP).

An ingested dataset is a flat ``dict[str, np.ndarray]`` with one row per *sample* (one frame seen
by one camera). It is stored as an ``.npz`` without pickled objects.

Conventions: world frame is z-up, metres; cameras follow OpenCV (x right, y down, z forward);
``X_cam = R @ X_world + t``; ``dist`` holds ``(k1, k2, k3, p1, p2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.skeleton import NUM_JOINTS

J = NUM_JOINTS


@dataclass(frozen=True)
class Field:
    """One array of the schema: its trailing shape (after the sample axis) and dtype kind."""

    shape: tuple[int, ...]
    kind: str  # numpy dtype kind: "f" float, "i" signed int, "b" bool, "U" unicode
    doc: str


#: Required per-sample fields of an ingested dataset.
SAMPLE_FIELDS: dict[str, Field] = {
    "pose3d_world": Field((J, 3), "f", "3D joints in the world frame, metres (NaN-free)"),
    "kp2d": Field((J, 2), "f", "observed 2D joints in pixels (with lens distortion if any)"),
    "visible": Field((J,), "b", "joint lies inside the image and in front of the camera"),
    "K": Field((3, 3), "f", "intrinsics [[fx,0,cx],[0,fy,cy],[0,0,1]] in pixels"),
    "R": Field((3, 3), "f", "world-to-camera rotation"),
    "t": Field((3,), "f", "world-to-camera translation, metres"),
    "dist": Field((5,), "f", "distortion (k1, k2, k3, p1, p2); zeros for a pinhole camera"),
    "image_size": Field((2,), "i", "image width and height in pixels"),
    "subject": Field((), "U", "subject name, e.g. 'S1'"),
    "action": Field((), "U", "action name, e.g. 'walking'"),
    "sequence": Field((), "i", "repetition index of the action for this subject"),
    "frame": Field((), "i", "frame index within the sequence"),
    "camera": Field((), "i", "camera index within the subject/sequence"),
}

#: Per-sample fields a source may add; checked when present, carried into the model inputs.
OPTIONAL_FIELDS: dict[str, Field] = {
    "pose3d_metric_cam": Field(
        (J, 3), "f", "camera-frame 3D that metrics compare against (MPI-INF-3DHP: univ_annot3)"
    ),
    "gravity_known": Field((), "b", "False where R is not measured (gravity fed as unknown)"),
    "truth_known": Field(
        (J,), "b", "False where the 3D truth of a joint is not measured: left out of metrics"
    ),
    "camera_name": Field((), "U", "the camera's name in its calibration (multi-view rigs)"),
}

#: The arrays LiftNet's training reads from a model-input split, beside the ingested fields
#: (:func:`epoch_kedro.data.normalize.to_model_input` writes them).
LIFT_INPUT_FIELDS: dict[str, Field] = {
    "pose2d": Field((J, 2), "f", "2D pose, root-centred and scaled (NaN only at hidden joints)"),
    "scale2d": Field((), "f", "the 2D pose's scale"),
    "rays": Field((J, 3), "f", "each joint's viewing ray in the camera frame"),
    "gravity": Field((3,), "f", "the gravity direction in the camera frame"),
}

FLOAT_DTYPE = np.float32
INT_DTYPE = np.int32


def num_samples(data: dict[str, np.ndarray]) -> int:
    """Number of samples (rows) of an ingested dataset."""
    return len(data["kp2d"])


def take(data: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """Rows ``index`` (a boolean mask or integer indices) of every per-sample array."""
    return {key: value[index] for key, value in data.items()}


def concat_rows(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-sample chunks with the same keys stacked into one dataset, in the schema's dtypes."""
    out = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    for key, value in out.items():
        if value.dtype.kind == "f":
            out[key] = value.astype(FLOAT_DTYPE)
        elif value.dtype.kind in "iu":
            out[key] = value.astype(INT_DTYPE)
    return out


def join_keys(data: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    """One string per row joining the named fields present in ``data`` (``"S1|walk|0"``).

    Rows share a string exactly when they share every field: a video, an outfit, a camera.
    """
    parts = [np.asarray(data[k]).astype(str) for k in keys if k in data]
    if not parts:
        return np.full(len(next(iter(data.values()))), "all")
    joined = parts[0]
    for part in parts[1:]:
        joined = np.char.add(np.char.add(joined, "|"), part)
    return joined

"""Write an ingested dataset in the VideoPose3D Human3.6M layout, and read such files back.

For a dataset ``name`` the exporter writes three files into one directory:

- ``data_3d_{name}.npz``: ``positions_3d`` = subject -> action_key -> float32 (T, 32, 3), metres,
  world frame. Our 17 joints sit at ``H36M32_TO_17``; every other slot holds the position of its
  nearest kept ancestor in the 32-joint mocap tree, so the skeleton stays plausible.
- ``data_2d_{name}_gt.npz``: ``positions_2d`` = subject -> action_key -> list over cameras (ordered
  by the ``camera`` field) of float32 (T, 17, 2) pixels, and ``metadata``.
- ``cameras_{name}.json``: VideoPose3D camera fields, in the Human3.6M extrinsic convention
  ``X_cam = q^-1 (X_world - translation)`` with ``translation`` the camera centre in mm.

Both npz files hold pickled dicts like the real ones; they are read back with the restricted
unpickler of :mod:`epoch_kedro.data.formats`, never numpy's own unpickling.
Samples are grouped by (subject, action, sequence) into ``action_key = f"{action} {sequence + 1}"``
and frames are written in increasing ``frame`` order; the layout stores no frame numbers, so a
reader sees frames 0..T-1. Camera ids are ``f"{subject}-cam{c}"`` with ``c`` the ``camera`` field.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from epoch_kedro.data.formats import load_npz_objects
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.errors import EpochError
from epoch_kedro.geometry import h36m_extrinsics, make_K, rt_to_h36m_extrinsics
from epoch_kedro.skeleton import (
    H36M32_TO_17,
    LEFT_JOINTS,
    NUM_H36M32_JOINTS,
    NUM_JOINTS,
    RIGHT_JOINTS,
)
from epoch_kedro.utils.io import atomic_path

#: Parent of each joint of the 32-joint Human3.6M mocap skeleton (-1 for the root).
H36M32_PARENTS: tuple[int, ...] = (
    -1,
    0,
    1,
    2,
    3,
    4,
    0,
    6,
    7,
    8,
    9,
    0,
    11,
    12,
    13,
    14,
    12,
    16,
    17,
    18,
    19,
    20,
    19,
    22,
    12,
    24,
    25,
    26,
    27,
    28,
    27,
    30,
)
CAMERA_FORMAT = "epoch_kedro.cameras/v1"
#: Largest allowed difference (metres) between the 3D of one frame seen from two cameras.
FRAME_3D_TOL = 1e-5
#: Relative/absolute tolerance for a camera's parameters to count as constant over a sequence.
CAMERA_PARAM_TOL = 1e-6
_MM_PER_M = 1000.0


class H36MLayoutError(EpochError, ValueError):
    """A dataset cannot be written in, or a file cannot be read as, the Human3.6M layout."""


def _nearest_kept_ancestor() -> np.ndarray:
    """Index into our 17 joints of each 32-joint slot's nearest kept ancestor (or itself): (32,)."""
    kept = {j32: j17 for j17, j32 in enumerate(H36M32_TO_17)}
    fill = np.empty(NUM_H36M32_JOINTS, dtype=np.intp)
    for joint in range(NUM_H36M32_JOINTS):
        ancestor = joint
        while ancestor not in kept:
            ancestor = H36M32_PARENTS[ancestor]
        fill[joint] = kept[ancestor]
    return fill


#: Index into our 17 joints that fills each of the 32 mocap slots.
H36M17_TO_32_FILL: np.ndarray = _nearest_kept_ancestor()


def expand_to_h36m32(pose17: np.ndarray) -> np.ndarray:
    """Embed 17-joint poses into the 32-joint mocap skeleton: ``(..., 17, D) -> (..., 32, D)``."""
    return pose17[..., H36M17_TO_32_FILL, :]


def h36m_layout_paths(out_dir: str | Path, name: str = "synthetic") -> dict[str, Path]:
    """Paths of the three files of dataset ``name`` under ``out_dir``."""
    out = Path(out_dir)
    return {
        "positions_3d": out / f"data_3d_{name}.npz",
        "positions_2d": out / f"data_2d_{name}_gt.npz",
        "cameras": out / f"cameras_{name}.json",
    }


def camera_to_h36m(
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    dist: np.ndarray,
    image_size: np.ndarray,
    camera_id: str,
) -> dict[str, Any]:
    """VideoPose3D camera dict from our (K (3,3), R (3,3), t (3,) m, dist (5,), image_size (2,))."""
    # matrix_to_quat returns w >= 0, so equal cameras serialise identically.
    quat, centre = rt_to_h36m_extrinsics(np.asarray(R, np.float64), np.asarray(t, np.float64))
    return {
        "id": camera_id,
        "res_w": int(image_size[0]),
        "res_h": int(image_size[1]),
        "focal_length": [float(K[0, 0]), float(K[1, 1])],
        "center": [float(K[0, 2]), float(K[1, 2])],
        "radial_distortion": [float(v) for v in dist[:3]],
        "tangential_distortion": [float(v) for v in dist[3:5]],
        "orientation": [float(v) for v in quat],
        "translation": [float(v) for v in centre * _MM_PER_M],
    }


def camera_from_h36m(camera: dict[str, Any]) -> dict[str, np.ndarray]:
    """Our K (3,3), R (3,3), t (3,) metres, dist (5,), image_size (2,) from a VideoPose3D camera."""
    centre = np.asarray(camera["translation"], np.float64) / _MM_PER_M
    R, t = h36m_extrinsics(np.asarray(camera["orientation"], np.float64), centre)
    (fx, fy), (cx, cy) = camera["focal_length"], camera["center"]
    return {
        "K": make_K(fx, fy, cx, cy),
        "R": R,
        "t": t,
        "dist": np.array([*camera["radial_distortion"], *camera["tangential_distortion"]], float),
        "image_size": np.array([camera["res_w"], camera["res_h"]], dtype=np.int64),
    }


@dataclass
class _Sequence:
    """Rows of one (subject, action, sequence) group: one (T,) frame-sorted index per camera."""

    subject: str
    action_key: str
    cameras: list[int] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)


def _first_appearance(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values in order of first appearance, and each element's rank in that order."""
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], rank[inverse.reshape(-1)]


def _sequences(data: dict[str, np.ndarray]) -> list[_Sequence]:
    """Group samples by (subject, action, sequence); cameras and frames sorted within.

    Subjects and actions keep the dataset's order (first appearance), so a reader that walks
    the dicts in file order gets the rows back in the order the source produced them, and a
    pipeline run on the exported files trains on identically ordered data.
    """
    subjects, subject_idx = _first_appearance(data["subject"])
    actions, action_idx = _first_appearance(data["action"])
    seq, cam, frame = (data[k].astype(np.int64) for k in ("sequence", "camera", "frame"))
    order = np.lexsort((frame, cam, seq, action_idx, subject_idx))
    key = np.stack([subject_idx, action_idx, seq, cam], axis=1)[order]
    changed = key[1:] != key[:-1]
    run_starts = np.flatnonzero(np.r_[True, changed.any(axis=1)])
    new_group = np.r_[True, changed[:, :3].any(axis=1)][run_starts]
    run_ends = np.r_[run_starts[1:], len(order)]
    groups: list[_Sequence] = []
    for start, end, is_new in zip(run_starts, run_ends, new_group, strict=True):
        s, a, q, c = key[start]
        if is_new:
            groups.append(_Sequence(str(subjects[s]), f"{actions[a]} {q + 1}"))
        groups[-1].cameras.append(int(c))
        groups[-1].rows.append(order[start:end])
    return groups


def _check_sequence(data: dict[str, np.ndarray], seq: _Sequence, name: str) -> None:
    """Cameras of ``seq`` share one duplicate-free frame set and 3D per frame; params are fixed."""
    where = f"dataset {name!r}, subject {seq.subject!r}, sequence {seq.action_key!r}"
    frames0 = data["frame"][seq.rows[0]]
    for cam, rows in zip(seq.cameras, seq.rows, strict=True):
        frames = data["frame"][rows]
        dup = frames[1:][frames[1:] == frames[:-1]]
        if dup.size:
            raise H36MLayoutError(
                f"{where}: camera {cam} has duplicate frame(s) {np.unique(dup)[:10].tolist()}"
            )
        if not np.array_equal(frames, frames0):
            only_here = np.setdiff1d(frames, frames0)[:10].tolist()
            only_there = np.setdiff1d(frames0, frames)[:10].tolist()
            raise H36MLayoutError(
                f"{where}: every camera must see the same frames; camera {cam} has "
                f"{frames.size} frames, camera {seq.cameras[0]} has {frames0.size} (only in "
                f"camera {cam}: {only_here}; only in camera {seq.cameras[0]}: {only_there})"
            )
        pose, pose0 = data["pose3d_world"][rows], data["pose3d_world"][seq.rows[0]]
        err = np.abs(pose.astype(np.float64) - pose0).max(axis=(1, 2))
        if (err > FRAME_3D_TOL).any():
            i = int(np.argmax(err > FRAME_3D_TOL))
            raise H36MLayoutError(
                f"{where}: field 'pose3d_world' differs between camera {cam} and camera "
                f"{seq.cameras[0]} at frame {int(frames[i])} by {err[i]:.3g} m > {FRAME_3D_TOL}"
            )
        params = _camera_params(data, rows)
        varying = ~np.isclose(params, params[0], rtol=CAMERA_PARAM_TOL, atol=CAMERA_PARAM_TOL)
        if varying.any():
            i = int(np.argmax(varying.any(axis=1)))
            raise H36MLayoutError(
                f"{where}: camera {cam} changes its parameters (K, R, t, dist, image_size) at "
                f"frame {int(frames[i])}; the Human3.6M layout stores one camera per sequence"
            )


def _camera_params(data: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """All camera parameters of ``rows`` flattened: ``(n,) -> (n, 28)`` float64."""
    keys = ("K", "R", "t", "dist", "image_size")
    parts = [data[k][rows].reshape(len(rows), -1).astype(np.float64) for k in keys]
    return np.concatenate(parts, axis=1)


def _sequence_cameras(data: dict[str, np.ndarray], seq: _Sequence) -> list[dict[str, Any]]:
    """Camera dicts of ``seq``, in camera order, from each camera's first row."""
    cams = []
    for cam, rows in zip(seq.cameras, seq.rows, strict=True):
        i = rows[0]
        cams.append(
            camera_to_h36m(
                data["K"][i],
                data["R"][i],
                data["t"][i],
                data["dist"][i],
                data["image_size"][i],
                f"{seq.subject}-cam{cam}",
            )
        )
    return cams


def _camera_table(data: dict[str, np.ndarray], sequences: list[_Sequence]) -> dict[str, Any]:
    """The cameras JSON: per-subject cameras, plus per-sequence ones where a subject's rig varies.

    A subject whose rig is identical in every sequence (like Human3.6M) appears under "subjects"
    only; otherwise "sequences" lists all of its sequences and "subjects" holds the first's.
    """
    per_subject: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for seq in sequences:
        per_subject.setdefault(seq.subject, {})[seq.action_key] = _sequence_cameras(data, seq)
    table: dict[str, Any] = {
        "format": CAMERA_FORMAT,
        "units": {"translation": "mm"},
        "subjects": {},
        "sequences": {},
    }
    for subject, by_key in per_subject.items():
        first = next(iter(by_key.values()))
        table["subjects"][subject] = first
        if any(cams != first for cams in by_key.values()):
            table["sequences"][subject] = by_key
    return table


def _object_array(obj: Any) -> np.ndarray:
    """A 0-d object array holding ``obj`` (how VideoPose3D stores dicts in npz files)."""
    arr = np.empty((), dtype=object)
    arr[()] = obj
    return arr


def _write_atomically(writers: dict[Path, Callable[[IO[bytes]], None]]) -> None:
    """Write every target or none: each goes to a temp file, renamed only once all succeeded."""
    with contextlib.ExitStack() as stack:
        temps = {target: stack.enter_context(atomic_path(target)) for target in writers}
        for target, write in writers.items():
            with open(temps[target], "wb") as handle:
                write(handle)


def export_h36m_layout(
    data: dict[str, np.ndarray], out_dir: str | Path, name: str = "synthetic"
) -> dict[str, Path]:
    """Write ``data`` (an ingested dataset) as VideoPose3D Human3.6M files; returns their paths."""
    validate_dataset(data, name)
    sequences = _sequences(data)
    positions_3d: dict[str, dict[str, np.ndarray]] = {}
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for seq in sequences:
        _check_sequence(data, seq, name)
        if seq.action_key in positions_3d.get(seq.subject, {}):
            raise H36MLayoutError(
                f"dataset {name!r}, subject {seq.subject!r}: two (action, sequence) pairs map to "
                f"the same action key {seq.action_key!r}"
            )
        pose = data["pose3d_world"][seq.rows[0]].astype(np.float32)
        positions_3d.setdefault(seq.subject, {})[seq.action_key] = expand_to_h36m32(pose)
        positions_2d.setdefault(seq.subject, {})[seq.action_key] = [
            data["kp2d"][rows].astype(np.float32) for rows in seq.rows
        ]
    metadata = {
        "num_joints": NUM_JOINTS,
        "keypoints_symmetry": [list(LEFT_JOINTS), list(RIGHT_JOINTS)],
    }
    cameras_json = json.dumps(_camera_table(data, sequences), indent=1).encode()

    paths = h36m_layout_paths(out_dir, name)
    paths["cameras"].parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(
        {
            paths["positions_3d"]: lambda f: np.savez_compressed(
                f, positions_3d=_object_array(positions_3d)
            ),
            paths["positions_2d"]: lambda f: np.savez_compressed(
                f, positions_2d=_object_array(positions_2d), metadata=_object_array(metadata)
            ),
            paths["cameras"]: lambda f: f.write(cameras_json),
        }
    )
    return paths


def _load_pickled(path: Path, key: str) -> Any:
    """The object stored under ``key`` of a VideoPose3D npz file, read with the restricted
    unpickler (:func:`~epoch_kedro.data.formats.load_npz_objects`): a crafted file runs
    nothing, it is refused in one line."""
    return load_npz_objects(path, (key,))[key]


def _split_action_key(action_key: str) -> tuple[str, int]:
    """``"walking 2" -> ("walking", 1)``; a key without a trailing number is sequence 0."""
    action, _, number = action_key.rpartition(" ")
    return (action, int(number) - 1) if action and number.isdigit() else (action_key, 0)


def read_h36m_layout(out_dir: str | Path, name: str = "synthetic") -> dict[str, Any]:
    """Load the three files of ``name`` and rebuild per-sample arrays (M rows) under ``"samples"``.

    ``samples`` holds subject, action, sequence, camera (position in the camera list), frame
    (position in the sequence), pose3d_world (M, 17, 3), kp2d (M, 17, 2), K, R, t, dist,
    image_size, ordered by subject and action key (file order), camera, frame.
    """
    paths = h36m_layout_paths(out_dir, name)
    positions_3d = _load_pickled(paths["positions_3d"], "positions_3d")
    positions_2d = _load_pickled(paths["positions_2d"], "positions_2d")
    metadata = _load_pickled(paths["positions_2d"], "metadata")
    cameras = json.loads(paths["cameras"].read_text())
    chunks: list[dict[str, np.ndarray]] = []
    for subject, by_key in positions_3d.items():
        for action_key, pos32 in by_key.items():
            pose = pos32[:, list(H36M32_TO_17)]
            cams = cameras["sequences"].get(subject, {}).get(action_key)
            cams = cams if cams is not None else cameras["subjects"][subject]
            action, sequence = _split_action_key(action_key)
            views = zip(positions_2d[subject][action_key], cams, strict=True)
            for c, (kp2d, cam) in enumerate(views):
                n = len(pose)
                params = camera_from_h36m(cam)
                chunks.append(
                    {
                        "subject": np.full(n, subject),
                        "action": np.full(n, action),
                        "sequence": np.full(n, sequence, dtype=np.int32),
                        "camera": np.full(n, c, dtype=np.int32),
                        "frame": np.arange(n, dtype=np.int32),
                        "pose3d_world": pose,
                        "kp2d": kp2d,
                        **{k: np.broadcast_to(v, (n, *v.shape)) for k, v in params.items()},
                    }
                )
    samples = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]} if chunks else {}
    return {
        "positions_3d": positions_3d,
        "positions_2d": positions_2d,
        "metadata": metadata,
        "cameras": cameras,
        "samples": samples,
    }

"""Tiny files in exactly the public layouts of Human3.6M (VideoPose3D) and MPI-INF-3DHP.

Numbers come from the synthetic generator (plausible people), projected with the real camera
figures; nothing licensed is involved.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from epoch_kedro.data import mpi_inf_3dhp
from epoch_kedro.data.export import camera_from_h36m, export_h36m_layout
from epoch_kedro.data.h36m import builtin_cameras
from epoch_kedro.data.schema import take
from epoch_kedro.geometry import project_distorted, world_to_camera

#: Inverse of mpi_inf_3dhp.TO_H36M: our joint j sits at 3DHP index TO_H36M[j].
FROM_H36M = np.argsort(mpi_inf_3dhp.TO_H36M)


def with_builtin_cameras(data: dict[str, np.ndarray], subjects: dict[str, str]) -> dict:
    """``data``'s world poses (camera 0 rows) seen by the built-in cameras of Human3.6M subjects.

    ``subjects`` renames data subjects to built-in ones (e.g. {"S1": "S1", "S9": "S11"}); the
    2D is the distortion-aware projection, as in the real files.
    """
    table = builtin_cameras()
    rows = []
    for source, target in subjects.items():
        base = take(data, (data["subject"] == source) & (data["camera"] == 0))
        n = len(base["kp2d"])
        for c, cam in enumerate(table.subjects[target]):
            p = camera_from_h36m(cam)
            X = world_to_camera(base["pose3d_world"].astype(np.float64), p["R"], p["t"])
            kp2d = project_distorted(X, p["K"], p["dist"])
            inside = np.all((kp2d >= 0) & (kp2d < p["image_size"]), axis=-1)
            rows.append(
                {
                    **base,
                    "subject": np.full(n, target),
                    "camera": np.full(n, c, np.int32),
                    "kp2d": kp2d.astype(np.float32),
                    "visible": inside & (X[..., 2] > 0.05),
                    **{
                        k: np.broadcast_to(v, (n, *np.shape(v))).astype(
                            np.int32 if k == "image_size" else np.float32
                        )
                        for k, v in p.items()
                    },
                }
            )
    return {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}


def write_h36m(data: dict[str, np.ndarray], root: Path) -> dict[str, Path]:
    """The VideoPose3D files (``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``) + camera JSON."""
    return export_h36m_layout(data, root, "h36m")


def write_npz_dict(path: Path, **objects: object) -> None:
    """An npz whose members hold Python objects, the way VideoPose3D stores its dicts."""
    arrays = {}
    for key, obj in objects.items():
        arr = np.empty((), dtype=object)
        arr[()] = obj
        arrays[key] = arr
    np.savez_compressed(path, **arrays)


def mat_arrays(
    pose_cam_m: np.ndarray, sequence: str, activity: np.ndarray, valid: np.ndarray
) -> dict[str, np.ndarray]:
    """annot_data.mat content ``(N, 1, 17, D)`` in the 3DHP joint order from our (N, 17, 3) m."""
    cam = mpi_inf_3dhp.CAMERAS[sequence]
    K = np.array([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1.0]])
    kp2d = project_distorted(pose_cam_m, K, np.array(cam.dist))
    # univ_annot3: the skeleton scaled about the root, as the real files rescale it.
    root = pose_cam_m[:, :1]
    univ = root + 1.05 * (pose_cam_m - root)
    order = list(FROM_H36M)
    n = len(pose_cam_m)
    return {
        "valid_frame": valid.reshape(n, 1).astype(np.float64),
        "activity_annotation": activity.reshape(n, 1).astype(np.float64),
        "annot2": kp2d[:, order][:, None].astype(np.float32),
        "annot3": (pose_cam_m[:, order] * 1000.0)[:, None].astype(np.float32),
        "univ_annot3": (univ[:, order] * 1000.0)[:, None].astype(np.float32),
        "bb_crop": np.zeros((n, 34), np.float32),
    }


def write_mat(path: Path, arrays: dict[str, np.ndarray], transposed: bool = False) -> Path:
    """An HDF5 (MATLAB v7.3) file; ``transposed`` reverses every axis as MATLAB's writer does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as handle:
        for key, value in arrays.items():
            handle[key] = value.transpose() if transposed else value
    with open(path, "r+b") as f:  # MATLAB's v7.3 header lives in the user block
        f.write(b"MATLAB 7.3 MAT-file, created by tests".ljust(128, b" "))
    return path


def camera_poses(data: dict[str, np.ndarray], n: int, depth: float = 4.0) -> np.ndarray:
    """``n`` synthetic poses placed ``depth`` m in front of a level camera: (n, 17, 3) m."""
    pose = data["pose3d_world"][:n].astype(np.float64)
    centred = pose - pose[:, :1]
    # World z-up -> camera (x right, y down, z forward), then push it out along the axis.
    cam = centred @ mpi_inf_3dhp.LEVEL_R.T
    return cam + np.array([0.0, 0.0, depth])


def write_3dhp(
    root: Path, data: dict[str, np.ndarray], sequences=("TS1", "TS5"), n: int = 24, **kw
) -> Path:
    """``TS*/annot_data.mat`` for ``sequences``: every 4th frame invalid, activities 1..7."""
    poses = camera_poses(data, n)
    valid = (np.arange(n) % 4 != 3).astype(int)
    activity = np.arange(n) % 7 + 1
    for seq in sequences:
        arrays = mat_arrays(poses, seq, activity, valid)
        write_mat(mpi_inf_3dhp.annot_path(root, seq), arrays, **kw)
    return root

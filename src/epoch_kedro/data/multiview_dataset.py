"""A calibrated multi-view recording as an ingested dataset (``dataset.kind: multiview``).

Under ``dataset.root``: a calibration file (Qualisys ``.qca.txt`` as Pose2Sim writes it,
Pose2Sim's TOML, OpenCV YAML/JSON; :func:`~epoch_kedro.data.calibration.read_calibration`)
and a folder of per-camera keypoints (an OpenPose JSON folder, one file per frame, or a COCO
keypoint results ``.json``: any layout of ``epoch_kedro.keypoints``), paired with the
calibration's cameras in natural order (``cam01_json`` <-> ``cam_01``). Each row is one
camera's view of one person associated across views
(:func:`~epoch_kedro.data.multiview.build_devset`): that camera's own 2D detection,
undistorted, as the input, and the 3D triangulated from the *other* cameras as the truth, so
the lifted 2D never enters its own truth.

What is not measured is marked, not guessed: a truth joint the other views do not agree on is
left out of every metric (``truth_known``); a joint the camera's detector did not see is
missing in the 2D (``visible`` False, NaN); a pose is *triangulable* when its root and at
least ``min_truth_joints`` of the 15 body joints are known, and only those are rows. The
face-derived Neck and Head are not scored by default: their sources (nose, top of the head)
triangulate poorly and are not the points Human3.6M's skeleton marks. Rows the 2D converter
cannot lift (too little seen, :func:`~epoch_kedro.keypoints.to_h36m`) are dropped and counted:
the summary is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.data.calibration import Camera, read_calibration
from epoch_kedro.data.formats import DatasetFormatError
from epoch_kedro.data.multiview import (
    JOINT_ERROR_PX,
    MAX_ERROR_PX,
    MIN_CONFIDENCE,
    build_devset,
    read_keypoint_views,
)
from epoch_kedro.data.schema import FLOAT_DTYPE, INT_DTYPE
from epoch_kedro.keypoints import UndecidedLayout, guess_layout, layouts_with
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS, ROOT

logger = logging.getLogger(__name__)

CALIBRATION_SUFFIXES = (".txt", ".toml", ".yml", ".yaml", ".json")
FACE_JOINTS = (JOINT_INDEX["Neck"], JOINT_INDEX["Head"])
BODY_JOINTS = tuple(j for j in range(NUM_JOINTS) if j not in FACE_JOINTS)
#: World "up" must be within this angle of +z for a calibration's gravity to be trusted.
MAX_TILT_DEG = 15.0


@dataclass(frozen=True)
class MultiviewConfig:
    """``dataset.multiview``: where the files are and how strict the truth is."""

    calibration: str | None = None  # file under root; None: the one calibration file found
    keypoints: str = "pose"  # folder under root: one OpenPose folder or COCO file per camera
    layout: str = "auto"  # openpose25 | openpose25b | auto (decided from the keypoints)
    max_error_px: float = MAX_ERROR_PX  # association: worst view's median reprojection error
    joint_error_px: float = JOINT_ERROR_PX  # truth keypoint: worst other view's error
    min_truth_joints: int = 10  # of the 15 body joints, for a pose to be triangulable
    score_face: bool = False  # score Neck and Head too

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> MultiviewConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params or {}) - known)
        if unknown:
            raise ValueError(f"dataset.multiview has unknown key(s) {unknown}; known: "
                             f"{sorted(known)}")  # fmt: skip
        config = cls(**dict(params or {}))
        if not 1 <= config.min_truth_joints <= len(BODY_JOINTS):
            raise ValueError(f"dataset.multiview.min_truth_joints must be 1..{len(BODY_JOINTS)}, "
                             f"got {config.min_truth_joints}")  # fmt: skip
        return config


def find_calibration(root: Path, name: str | None, keypoints: str = "pose") -> Path:
    """``root/name``, or the single calibration file under ``root`` (any depth, outside the
    keypoint folder ``root/keypoints``)."""
    if name:
        path = root / name
        if not path.is_file():
            raise DatasetFormatError(f"{path}: calibration file not found (dataset.multiview."
                                     f"calibration)")  # fmt: skip
        return path
    skip = root / keypoints
    files = (p for p in root.rglob("*") if p.is_file() and skip not in p.parents)
    found = sorted(p for p in files if _is_calibration(p))
    if len(found) != 1:
        what = "no calibration file" if not found else f"{len(found)} calibration files"
        raise DatasetFormatError(f"{root}: {what} (.qca.txt, .toml, .yml/.yaml, .json outside "
                                 f"the keypoint folders); name one with dataset.multiview."
                                 f"calibration")  # fmt: skip
    return found[0]


def _is_calibration(path: Path) -> bool:
    if path.suffix == ".json" and any(p.name.endswith("_json") for p in path.parents):
        return False  # an OpenPose keypoint file
    if path.suffix == ".txt":
        return path.name.endswith(".qca.txt")
    return path.suffix in CALIBRATION_SUFFIXES


def camera_folders(root: Path, keypoints: str, cameras: tuple[Camera, ...]) -> list[Path]:
    """The per-camera keypoint sources (OpenPose folders or COCO results ``.json`` files),
    paired with the calibration's cameras in natural order."""
    base = root / keypoints
    if not base.is_dir():
        raise DatasetFormatError(f"{base}: keypoint folder not found (dataset.multiview."
                                 f"keypoints: one OpenPose folder or COCO results file per "
                                 f"camera)")  # fmt: skip
    entries = [p for p in base.iterdir() if p.is_dir() or p.suffix == ".json"]
    entries.sort(key=lambda p: _natural(p.name))
    if len(entries) != len(cameras):
        raise DatasetFormatError(f"{base}: {len(entries)} camera folders or files for "
                                 f"{len(cameras)} calibrated cameras")  # fmt: skip
    pairs = ", ".join(f"{c.name}={f.name}" for c, f in zip(cameras, entries, strict=True))
    logger.info("Multi-view cameras paired in order: %s", pairs)
    return entries


def _natural(name: str) -> list[int | str]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def decide_layout(kp: np.ndarray, layout: str) -> str:
    """``layout``, the one layout with the detections' keypoint count, or the one of two
    same-count layouts (BODY_25 / BODY_25B) that the keypoints' positions say."""
    if layout != "auto":
        return layout
    candidates = layouts_with(kp.shape[-2])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DatasetFormatError(f"{kp.shape[-2]} keypoints per person: no known layout "
                                 f"(docs/KEYPOINTS.md); set dataset.multiview.layout")  # fmt: skip
    poses = kp.reshape(-1, *kp.shape[-2:])
    poses = poses[np.isfinite(poses[..., 2]).any(-1)]
    try:
        guess = guess_layout(poses, candidates)
    except UndecidedLayout as err:
        raise DatasetFormatError(f"keypoint layout: {err}; set dataset.multiview.layout") from None
    logger.info("Multi-view keypoints read as %s", guess)
    return guess.layout


def load_multiview(root: str | Path, params: Mapping[str, Any] | None, name: str) -> dict:
    """The ingested dataset of the recording under ``root`` (see the module doc)."""
    root, config = Path(root), MultiviewConfig.from_params(params)
    cameras = read_calibration(find_calibration(root, config.calibration, config.keypoints))
    kp, frames = read_keypoint_views(camera_folders(root, config.keypoints, cameras))
    layout = decide_layout(kp, config.layout)
    samples, summary = build_devset(kp, frames, cameras, config.max_error_px,
                                    config.joint_error_px, layout=layout)  # fmt: skip
    rows, counts = select_rows(samples, config)
    logger.info("Multi-view %s: %d people associated in %d frames; %d views; %d triangulable; "
                "%d skipped (2D not liftable); %d rows", name, summary["people_associated"],
                summary["frames"], counts["views"], counts["triangulable"],
                counts["not_liftable"], len(rows))  # fmt: skip
    if not len(rows):
        raise DatasetFormatError(f"{root}: no triangulable, liftable pose (see the log)")
    return to_schema(samples, rows, cameras, name, config)


def truth_known(samples: Mapping[str, np.ndarray], config: MultiviewConfig) -> np.ndarray:
    """Which truth joints are scored ``(N, 17)``: reliable, and not face-derived unless asked."""
    known = samples["reliable"].astype(bool).copy()
    if not config.score_face:
        known[:, list(FACE_JOINTS)] = False
    return known


def select_rows(
    samples: Mapping[str, np.ndarray], config: MultiviewConfig
) -> tuple[np.ndarray, dict[str, int]]:
    """Rows that are triangulable and liftable, and how many views fell out at each step."""
    known = samples["reliable"].astype(bool)
    triangulable = known[:, ROOT] & (known[:, list(BODY_JOINTS)].sum(-1) >= config.min_truth_joints)
    liftable = samples["usable"].astype(bool)
    counts = {
        "views": len(known),
        "triangulable": int(triangulable.sum()),
        "not_liftable": int((triangulable & ~liftable).sum()),
    }
    return np.flatnonzero(triangulable & liftable), counts


def _gravity_known(samples: Mapping[str, np.ndarray], cameras: tuple[Camera, ...]) -> bool:
    """Whether the calibration's world is z-up: the people's spines point along +z."""
    local = samples["pose3d_cam"] - _translations(samples, cameras)[:, None]
    pose_world = np.einsum("nji,nkj->nki", _rotations(samples, cameras), local)
    spine = pose_world[:, JOINT_INDEX["Thorax"]] - pose_world[:, ROOT]
    spine = spine[np.isfinite(spine).all(-1)]
    if not len(spine):
        return False
    up = np.median(spine / np.linalg.norm(spine, axis=-1, keepdims=True), axis=0)
    tilt = np.degrees(np.arccos(np.clip(up[2] / np.linalg.norm(up), -1, 1)))
    logger.info("Multi-view world: people stand %.1f deg from +z; gravity %s", tilt,
                "used" if tilt <= MAX_TILT_DEG else "unknown")  # fmt: skip
    return bool(tilt <= MAX_TILT_DEG)


def _rotations(samples, cameras) -> np.ndarray:
    return np.stack([cameras[c].R for c in samples["camera"]])


def _translations(samples, cameras) -> np.ndarray:
    return np.stack([cameras[c].t for c in samples["camera"]])


def to_schema(
    samples: Mapping[str, np.ndarray],
    rows: np.ndarray,
    cameras: tuple[Camera, ...],
    name: str,
    config: MultiviewConfig,
) -> dict[str, np.ndarray]:
    """The selected rows in the ingested schema (``schema.py``), with ``truth_known`` and
    ``camera_name``; 2D already undistorted (``dist`` zero)."""
    s = {k: np.asarray(v)[rows] for k, v in samples.items()}
    gravity = _gravity_known(s, cameras)
    R, t = _rotations(s, cameras), _translations(s, cameras)
    known = truth_known(s, config)
    cam = np.where(known[..., None], s["pose3d_cam"], s["pose3d_cam"][:, ROOT : ROOT + 1])
    visible = (np.nan_to_num(s["confidence"]) >= MIN_CONFIDENCE) & np.isfinite(s["kp2d"]).all(-1)
    size = [cameras[c].image_size or _size_from_K(cameras[c]) for c in s["camera"]]
    n = len(rows)
    return {
        "pose3d_world": np.einsum("nji,nkj->nki", R, cam - t[:, None]).astype(FLOAT_DTYPE),
        "kp2d": np.where(visible[..., None], s["kp2d"], np.nan).astype(FLOAT_DTYPE),
        "visible": visible,
        "K": s["K"].astype(FLOAT_DTYPE),
        "R": R.astype(FLOAT_DTYPE),
        "t": t.astype(FLOAT_DTYPE),
        "dist": np.zeros((n, 5), FLOAT_DTYPE),
        "image_size": np.asarray(size, INT_DTYPE),
        "subject": np.full(n, name),
        "action": np.full(n, name),
        "sequence": np.zeros(n, INT_DTYPE),
        "frame": s["frame"].astype(INT_DTYPE),
        "camera": s["camera"].astype(INT_DTYPE),
        "camera_name": np.array([cameras[c].name for c in s["camera"]]),
        "truth_known": known,
        "gravity_known": np.full(n, gravity),
    }


def _size_from_K(camera: Camera) -> tuple[int, int]:
    """Image size from a principal point at the centre, where the calibration gives none."""
    return round(float(2 * camera.K[0, 2])), round(float(2 * camera.K[1, 2]))

"""A multi-view development set: per-camera 2D detections with leave-one-out 3D truth.

From a calibrated rig and one OpenPose BODY_25B folder per camera (several people per frame),
:func:`build_devset` returns, for every camera c and every person associated across views, the
H36M-17 2D input seen by c and the 3D pose triangulated from the *other* cameras only,
expressed in c's frame. Steps (docs/DEVSET.md):

1. :func:`read_openpose_views` reads the folders into ``(C, F, P, 25, 3)`` (NaN-padded
   people), frames paired by the number in their file names;
2. :func:`undistort_views` removes each camera's OpenCV distortion;
3. :func:`associate_frame` matches detections across views: every combination of one
   detection (or none) per camera with at least ``min_views`` views is triangulated, scored by
   the worst view's median reprojection error over confident keypoints, and the best
   combinations that do not reuse a detection are taken greedily below ``max_error_px``;
4. :func:`leave_one_out_truth` triangulates each camera's truth from the other views, marks
   keypoints seen by fewer than two other views or off by more than ``joint_error_px`` in
   them as unreliable, and maps them to H36M-17 (a joint is reliable only if all its sources
   are).

Bad input raises :class:`~epoch_kedro.data.formats.DatasetFormatError` with one line naming
the file and key.
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from epoch_kedro.data.calibration import Camera
from epoch_kedro.data.formats import DatasetFormatError, format_error
from epoch_kedro.geometry import (
    reprojection_error,
    triangulate,
    triangulate_leave_one_out,
    undistort_pixels_opencv,
    world_to_camera,
)
from epoch_kedro.keypoints import mapping, to_h36m

LAYOUT = "openpose25b"
#: Keypoints below this OpenPose confidence are treated as not seen.
MIN_CONFIDENCE = 0.3
#: A combination is a person when its worst view's median reprojection error is below this.
MAX_ERROR_PX = 30.0
#: A truth keypoint is unreliable when any other view misses it by more than this: just above
#: the 99th percentile (31.1 px) of all leave-one-out residuals of the development set's
#: associated people (docs/DEVSET.md), so it rejects outliers, not the rig's own disagreement.
JOINT_ERROR_PX = 32.0
#: Three views, so that leaving one out still leaves two to triangulate from.
MIN_VIEWS = 3
#: Frames with more detections in some camera are skipped (the search is exponential).
MAX_DETECTIONS = 4
#: A combination needs this many keypoints triangulated from confident views to be scored.
MIN_KEYPOINTS = 8

_FRAME_NUMBER = re.compile(r"(\d+)(?:_keypoints)?\.json$")


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def _frame_files(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        raise DatasetFormatError(f"{folder}: OpenPose folder not found")
    files = {}
    for path in sorted(folder.glob("*.json")):
        match = _FRAME_NUMBER.search(path.name)
        if match is None:
            raise format_error(path, "file name", "a frame number before .json", path.name)
        files[int(match.group(1))] = path
    if not files:
        raise DatasetFormatError(f"{folder}: no OpenPose .json files")
    return files


def _keypoints(path: Path, key: str, flat, count: int | None) -> np.ndarray:
    """``(K, 3)`` keypoints from a flat x, y, confidence list; undetected ones NaN."""
    if not isinstance(flat, list) or len(flat) % 3 or (count and len(flat) != 3 * count):
        expected = f"{3 * count} numbers" if count else "x, y, confidence triples"
        got = len(flat) if isinstance(flat, list) else type(flat).__name__
        raise format_error(path, key, expected, got)
    kp = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    kp[~(kp[:, 2] > 0), :2] = np.nan  # detectors put missing keypoints at (0, 0)
    return kp


def _people(path: Path, count: int | None = None) -> list[np.ndarray]:
    """The ``(K, 3)`` keypoints of each person in one OpenPose file; empty entries dropped."""
    try:
        data = json.loads(path.read_text())
        people = data["people"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise format_error(path, "people", "an OpenPose JSON list", "something else") from None
    out = []
    for i, person in enumerate(people):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not flat:  # OpenPose writes people without keypoints: nothing was detected
            continue
        out.append(_keypoints(path, f"people[{i}].pose_keypoints_2d", flat, count))
    return out


def _frame_of(path: Path, image_id) -> int:
    """A COCO ``image_id`` as a frame number: an int, or the last number in a name."""
    if isinstance(image_id, int) and not isinstance(image_id, bool):
        return image_id
    found = re.findall(r"\d+", str(image_id))
    if not found:
        raise format_error(path, "image_id", "a frame number or a name with one", image_id)
    return int(found[-1])


def _coco_frames(path: Path) -> dict[int, list[np.ndarray]]:
    """One camera's COCO keypoint results file -> the people of each frame (``image_id``)."""
    try:
        detections = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise format_error(path, "file", "a COCO keypoint results JSON list", "not JSON") from None
    if not isinstance(detections, list):
        raise format_error(path, "file", "a COCO keypoint results JSON list",
                           type(detections).__name__)  # fmt: skip
    frames: dict[int, list[np.ndarray]] = {}
    for i, det in enumerate(detections):
        if not isinstance(det, dict) or "image_id" not in det or "keypoints" not in det:
            raise format_error(path, f"[{i}]", "'image_id' and 'keypoints'", "neither or one")
        kp = _keypoints(path, f"[{i}].keypoints", det["keypoints"], None)
        frames.setdefault(_frame_of(path, det["image_id"]), []).append(kp)
    if not frames:
        raise DatasetFormatError(f"{path}: no detections")
    return frames


def _camera_frames(entry: Path) -> dict[int, list[np.ndarray]]:
    """One camera's people per frame: an OpenPose folder or a COCO results file."""
    if entry.is_file():
        return _coco_frames(entry)
    return {n: _people(f) for n, f in _frame_files(entry).items()}


def read_keypoint_views(entries: Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """One keypoint source per camera (an OpenPose folder, one file per frame, or a COCO
    keypoint results file) -> keypoints ``(C, F, P, K, 3)`` and frames ``(F,)``.

    Frames are the union of the frame numbers (file names; COCO ``image_id``); a camera
    without a person in a frame, and the padding people, are NaN (confidence NaN too). Every
    camera must have the same keypoint count ``K``.
    """
    cams = [_camera_frames(Path(e)) for e in entries]
    frames = np.array(sorted(set().union(*cams)), dtype=np.int64)
    counts = {len(kp) for cam in cams for people in cam.values() for kp in people}
    if len(counts) != 1:
        what = sorted(counts) if counts else "none"
        raise DatasetFormatError(f"{', '.join(map(str, entries))}: keypoints per person "
                                 f"{what}; every camera needs the same layout")  # fmt: skip
    people = [[cam.get(n, []) for n in frames] for cam in cams]
    p_max = max([len(p) for cam in people for p in cam] + [1])
    kp = np.full((len(cams), len(frames), p_max, counts.pop(), 3), np.nan)
    for c, cam in enumerate(people):
        for f, persons in enumerate(cam):
            if persons:
                kp[c, f, : len(persons)] = np.stack(persons)
    return kp, frames


def read_openpose_views(folders: Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_keypoint_views` of OpenPose folders (kept for its callers)."""
    return read_keypoint_views(folders)


def undistort_views(kp: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """Pinhole pixels of ``(C, ..., 25, 3)`` OpenCV-distorted keypoints (confidence kept)."""
    if kp.shape[0] != len(cameras):
        raise ValueError(f"keypoints have {kp.shape[0]} cameras, the rig {len(cameras)}")
    K = np.stack([c.K for c in cameras])
    dist = np.stack([c.dist for c in cameras])
    xy = kp[..., :2].reshape(len(cameras), -1, 2)
    out = kp.copy()
    out[..., :2] = undistort_pixels_opencv(xy, K, dist).reshape(kp[..., :2].shape)
    return out


# --------------------------------------------------------------------------------------------
# association
# --------------------------------------------------------------------------------------------


def _rig(cameras: Sequence[Camera]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.stack([getattr(c, a) for c in cameras]) for a in ("K", "R", "t"))


def _weights(kp: np.ndarray, min_confidence: float) -> np.ndarray:
    """Triangulation weights: the confidence, 0 below ``min_confidence`` or where missing."""
    conf = np.nan_to_num(kp[..., 2], nan=0.0)
    ok = (conf >= min_confidence) & np.isfinite(kp[..., :2]).all(-1)
    return np.where(ok, conf, 0.0)


def _candidates(kp_frame: np.ndarray, min_views: int) -> np.ndarray:
    """All combinations ``(M, C)`` of one detection or none (-1) per camera, >= min_views."""
    present = [
        np.flatnonzero(np.isfinite(kp_frame[c, :, :, 2]).any(-1)) for c in range(len(kp_frame))
    ]
    combos = np.array(list(itertools.product(*[[-1, *p] for p in present])), dtype=np.int64)
    return combos[(combos >= 0).sum(1) >= min_views]


def _gather(kp_frame: np.ndarray, combos: np.ndarray) -> np.ndarray:
    """Keypoints ``(C, M, 25, 3)`` of each combination; NaN for the cameras left out."""
    C = kp_frame.shape[0]
    picked = kp_frame[np.arange(C)[None], np.maximum(combos, 0)]  # (M, C, 25, 3)
    picked = np.where((combos >= 0)[..., None, None], picked, np.nan)
    return picked.swapaxes(0, 1)


def score_combinations(
    kp: np.ndarray, rig: tuple, min_confidence: float = MIN_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate ``(C, M, 25, 3)`` combinations -> points ``(M, 25, 3)``, scores ``(M,)`` px.

    The score is the worst used view's median reprojection error over its confident keypoints:
    the median ignores a few wrong keypoints, the worst view rejects one wrong detection that
    a median over all views would hide. NaN where fewer than MIN_KEYPOINTS are triangulated.
    """
    w = _weights(kp, min_confidence)
    X = triangulate(kp[..., :2], rig, w)
    err = reprojection_error(X, kp[..., :2], rig)  # (C, M, 25)
    err = np.where(w > 0, err, np.nan)
    with warnings.catch_warnings():  # all-NaN slices: views or combos without keypoints
        warnings.simplefilter("ignore", RuntimeWarning)
        per_view = np.nanmedian(err, axis=-1)  # (C, M); NaN for views not used
        score = np.nanmax(per_view, axis=0)
    enough = np.isfinite(X).all(-1).sum(-1) >= MIN_KEYPOINTS
    return X, np.where(enough, score, np.nan)


def _greedy(combos: np.ndarray, order: np.ndarray) -> list[int]:
    """Indices of combinations taken in ``order`` that reuse no detection."""
    used: set[tuple[int, int]] = set()
    taken = []
    for m in order:
        dets = {(c, int(d)) for c, d in enumerate(combos[m]) if d >= 0}
        if dets & used:
            continue
        used |= dets
        taken.append(int(m))
    return taken


def associate_frame(
    kp_frame: np.ndarray,
    rig: tuple,
    max_error_px: float = MAX_ERROR_PX,
    min_views: int = MIN_VIEWS,
    min_confidence: float = MIN_CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People of one frame ``(C, P, 25, 3)`` -> combinations ``(Q, C)`` (-1: not seen), scores.

    Also returns the scores of the greedy picks without a threshold (the distribution the
    threshold is chosen from). Among combinations below ``max_error_px``, more views come
    first, so that a 3-view subset of a 4-view person cannot take its place and strand the
    fourth detection; ties go to the lower error.
    """
    combos = _candidates(kp_frame, min_views)
    empty = np.zeros((0, kp_frame.shape[0]), np.int64)
    if len(combos) == 0:
        return empty, np.zeros(0), np.zeros(0)
    _, score = score_combinations(_gather(kp_frame, combos), rig, min_confidence)
    finite = np.isfinite(score)
    unthresholded = _greedy(combos, np.flatnonzero(finite)[np.argsort(score[finite])])
    ok = np.flatnonzero(finite & (score < max_error_px))
    views = (combos[ok] >= 0).sum(1)
    taken = _greedy(combos, ok[np.lexsort((score[ok], -views))])
    return combos[taken], score[taken], score[unthresholded]


# --------------------------------------------------------------------------------------------
# leave-one-out truth
# --------------------------------------------------------------------------------------------


def leave_one_out_truth(
    kp: np.ndarray,
    rig: tuple,
    joint_error_px: float = JOINT_ERROR_PX,
    min_confidence: float = MIN_CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Per camera c, the 25 keypoints from the other views: ``(C, 25, 3)`` world, reliable.

    ``kp (C, 25, 3)`` undistorted, NaN for cameras without the person. A keypoint is reliable
    when at least two other views see it confidently and none of them is off by more than
    ``joint_error_px`` (a wrong keypoint in one view would bend the truth).
    """
    w = _weights(kp, min_confidence)
    X = triangulate_leave_one_out(kp[..., :2], rig, w)  # (C, 25, 3)
    C = len(kp)
    err = np.stack([reprojection_error(X[c], kp[..., :2], rig) for c in range(C)])  # (c, C, 25)
    others = (w[None] > 0) & ~np.eye(C, dtype=bool)[..., None]
    worst = np.where(others, err, 0.0).max(1)
    reliable = (others.sum(1) >= 2) & (worst <= joint_error_px) & np.isfinite(X).all(-1)
    return X, reliable


def to_h36m_3d(
    X: np.ndarray, reliable: np.ndarray, layout: str = LAYOUT
) -> tuple[np.ndarray, np.ndarray]:
    """BODY_25B 3D keypoints ``(..., 25, 3)`` -> H36M-17 ``(..., 17, 3)`` and reliability.

    The keypoint map is linear, so it applies to 3D as to 2D; a joint is reliable only if all
    the keypoints it is made of are.
    """
    M = mapping(layout)
    out = np.einsum("jk,...kd->...jd", M, np.nan_to_num(X))
    ok = ~((M > 0) & ~reliable[..., None, :]).any(-1)
    return np.where(ok[..., None], out, np.nan), ok


# --------------------------------------------------------------------------------------------
# the dataset
# --------------------------------------------------------------------------------------------

_KEYS = ("kp2d", "confidence", "usable", "K", "pose3d_cam", "reliable", "camera", "frame",
         "person", "detection", "assoc_error_px", "views")  # fmt: skip


def _samples(kp_person: np.ndarray, rig: tuple, cameras, frame, person, score, options):
    """The rows of one associated person: one per camera that saw it."""
    joint_error_px, layout = options
    X, rel = leave_one_out_truth(kp_person, rig, joint_error_px)
    pose, reliable = to_h36m_3d(X, rel, layout)
    seen = np.flatnonzero(np.isfinite(kp_person[..., 2]).any(-1))
    conv = to_h36m(kp_person[seen], layout, MIN_CONFIDENCE)
    rows = []
    for i, c in enumerate(seen):
        rows.append({
            "kp2d": conv.keypoints[i], "confidence": conv.confidence[i],
            "usable": conv.usable[i], "K": cameras[c].K,
            "pose3d_cam": world_to_camera(pose[c], cameras[c].R, cameras[c].t),
            "reliable": reliable[c], "camera": c, "frame": frame, "person": person,
            "assoc_error_px": score, "views": len(seen),
        })  # fmt: skip
    return rows


def build_devset(
    kp: np.ndarray,
    frames: np.ndarray,
    cameras: Sequence[Camera],
    max_error_px: float = MAX_ERROR_PX,
    joint_error_px: float = JOINT_ERROR_PX,
    max_detections: int = MAX_DETECTIONS,
    layout: str = LAYOUT,
) -> tuple[dict[str, np.ndarray], dict]:
    """Samples (a dict of arrays, one row per camera and associated person) and a summary.

    ``kp (C, F, P, 25, 3)`` as :func:`read_openpose_views` returns it, distorted: it is
    undistorted here. ``person`` numbers the associated people within a frame (no identity
    across frames); ``detection`` is the index of the row's person in its camera's file.
    """
    rig = _rig(cameras)
    und = undistort_views(kp, cameras)
    det = np.isfinite(und[..., 2]).any(-1)  # (C, F, P)
    rows, accepted, unthresholded, crowded = [], [], [], 0
    for f, frame in enumerate(frames):
        if (det[:, f].sum(-1) > max_detections).any():
            crowded += 1
            continue
        combos, scores, picks = associate_frame(und[:, f], rig, max_error_px)
        unthresholded += picks.tolist()
        accepted += scores.tolist()
        for q, (combo, score) in enumerate(zip(combos, scores, strict=True)):
            person = _gather(und[:, f], combo[None])[:, 0]
            options = (joint_error_px, layout)
            new = _samples(person, rig, cameras, int(frame), q, float(score), options)
            for row in new:
                row["detection"] = int(combo[row["camera"]])
            rows += new
    samples = {k: np.array([r[k] for r in rows]) for k in _KEYS}
    if not rows:
        samples = {k: np.zeros((0,)) for k in _KEYS}
    n_det = int(det.sum())
    summary = {
        "frames": len(frames),
        "frames_crowded": crowded,
        "detections": n_det,
        "detections_associated": len(rows),
        "detections_unassociated": n_det - len(rows),
        "people_associated": len(accepted),
        "assoc_error_px": accepted,
        "greedy_error_px_unthresholded": unthresholded,
        "max_error_px": max_error_px,
        "joint_error_px": joint_error_px,
        "min_views": MIN_VIEWS,
        "min_confidence": MIN_CONFIDENCE,
    }
    return samples, summary

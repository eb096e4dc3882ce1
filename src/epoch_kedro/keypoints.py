"""2D keypoint layouts of common detectors and their mapping to the Human3.6M 17 joints.

Each layout maps to the project's skeleton (:mod:`epoch_kedro.skeleton`) by a fixed linear
combination of its own keypoints. Joints a layout has are copied. The ones it lacks are derived
the way lifting projects usually derive them:

- pelvis (``Hip``) = the midpoint of the two hips;
- ``Thorax`` = the midpoint of the shoulders;
- ``Spine`` = the midpoint of pelvis and thorax;
- ``Neck`` (the Human3.6M "nose" joint) = the nose;
- ``Head`` = the midpoint of the eyes.

A derived joint is as confident as the least confident keypoint it is made of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.skeleton import JOINT_NAMES, NUM_JOINTS

_LIMBS = ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")

#: Keypoint names of each layout, in the layout's own order.
LAYOUTS: dict[str, tuple[str, ...]] = {
    # COCO keypoints (also mmpose, detectron2, YOLO-pose exports).
    "coco17": (
        "Nose", "LEye", "REye", "LEar", "REar",
        "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist",
        "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
    ),
    # OpenPose BODY_25.
    "openpose25": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle",
        "REye", "LEye", "REar", "LEar",
        "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    ),
    # OpenPose COCO-18.
    "openpose18": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    # MediaPipe Pose (BlazePose) 33 landmarks.
    "mediapipe": (
        "Nose", "LEyeInner", "LEye", "LEyeOuter", "REyeInner", "REye", "REyeOuter",
        "LEar", "REar", "MouthLeft", "MouthRight",
        "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist",
        "LPinky", "RPinky", "LIndex", "RIndex", "LThumb", "RThumb",
        "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
        "LHeel", "RHeel", "LFootIndex", "RFootIndex",
    ),
    "h36m": JOINT_NAMES,
}  # fmt: skip


def _recipe() -> dict[str, dict[str, float]]:
    """Each Human3.6M joint as weights over layout keypoint names."""
    recipe: dict[str, dict[str, float]] = {}
    for side in "LR":
        for ours, theirs in (("Hip", "Hip"), ("Knee", "Knee"), ("Foot", "Ankle")):
            recipe[side + ours] = {side + theirs: 1.0}
        for limb in ("Shoulder", "Elbow", "Wrist"):
            recipe[side + limb] = {side + limb: 1.0}
    pelvis = {"LHip": 0.5, "RHip": 0.5}
    thorax = {"LShoulder": 0.5, "RShoulder": 0.5}
    recipe["Hip"] = pelvis
    recipe["Thorax"] = thorax
    recipe["Spine"] = {k: 0.5 * v for k, v in (pelvis | thorax).items()}
    recipe["Neck"] = {"Nose": 1.0}
    recipe["Head"] = {"LEye": 0.5, "REye": 0.5}
    return recipe


_RECIPE = _recipe()


def mapping(layout: str) -> np.ndarray:
    """The ``(17, K)`` matrix taking a layout's K keypoints to the Human3.6M 17 joints."""
    names = _layout(layout)
    if layout == "h36m":
        return np.eye(NUM_JOINTS)
    index = {name: k for k, name in enumerate(names)}
    weights = np.zeros((NUM_JOINTS, len(names)))
    for j, joint in enumerate(JOINT_NAMES):
        for name, w in _RECIPE[joint].items():
            weights[j, index[name]] = w
    return weights


def _layout(layout: str) -> tuple[str, ...]:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[layout]


def layout_of(n_keypoints: int) -> str:
    """The layout with ``n_keypoints`` keypoints (17 is read as COCO, not Human3.6M)."""
    by_count = {len(v): k for k, v in LAYOUTS.items() if k != "h36m"}
    if n_keypoints not in by_count:
        counts = ", ".join(f"{n} ({k})" for n, k in sorted(by_count.items()))
        raise ValueError(f"{n_keypoints} keypoints match no known layout; expected {counts}")
    return by_count[n_keypoints]


@dataclass(frozen=True)
class Converted:
    """Keypoints in Human3.6M order: ``keypoints (N, 17, 2)`` px, ``confidence (N, 17)``,
    ``usable (N,)`` and, per frame, why it is not usable (``None`` when it is)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    usable: np.ndarray
    reasons: tuple[str | None, ...]


def to_h36m(keypoints: np.ndarray, layout: str, min_confidence: float = 0.3) -> Converted:
    """Map ``(N, K, 2)`` or ``(N, K, 3)`` (x, y, confidence) keypoints of ``layout`` to H36M-17.

    A frame is usable when all 17 joints are finite and at least ``min_confidence`` confident
    (keypoints without a confidence column count as confident); otherwise its reason names
    the joints that are missing, never a pose lifted from zeros.
    """
    names = _layout(layout)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[1] != len(names) or kp.shape[2] not in (2, 3):
        raise ValueError(
            f"{layout} keypoints: expected shape (N, {len(names)}, 2 or 3), got {kp.shape}"
        )
    xy = kp[..., :2]
    conf = kp[..., 2] if kp.shape[2] == 3 else np.ones(kp.shape[:2])
    conf = np.where(np.isfinite(xy).all(-1), np.nan_to_num(conf, nan=0.0), 0.0)
    weights = mapping(layout)
    out = np.einsum("jk,nkd->njd", weights, np.nan_to_num(xy))
    # A derived joint is only as sure as its least sure source.
    sources = weights > 0
    joint_conf = np.where(sources[None], conf[:, None, :], np.inf).min(-1)
    low = joint_conf < min_confidence
    reasons = tuple(
        None
        if not row.any()
        else f"joints missing or below confidence {min_confidence}: "
        + ", ".join(JOINT_NAMES[j] for j in np.flatnonzero(row))
        for row in low
    )
    out[low] = np.nan
    return Converted(out, joint_conf, ~low.any(-1), reasons)

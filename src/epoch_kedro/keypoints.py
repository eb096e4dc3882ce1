"""2D keypoint layouts of common detectors and their mapping to the Human3.6M 17 joints.

Each layout maps to the project's skeleton (:mod:`epoch_kedro.skeleton`) by a fixed linear
combination of its own keypoints. Joints a layout has are copied. The ones it lacks are derived
the way lifting projects usually derive them:

- pelvis (``Hip``) = the midpoint of the two hips (in every layout, also those with a hip
  centre keypoint of their own, so that all layouts agree);
- ``Thorax`` = the midpoint of the shoulders;
- ``Spine`` = the midpoint of pelvis and thorax;
- ``Neck`` (the Human3.6M "nose" joint) = the nose;
- ``Head`` = the midpoint of the eyes; in layouts with a top-of-head keypoint (BODY_25B,
  HALPE-26) the midpoint of the eyes' midpoint and the top of the head, since the Human3.6M
  head joint sits about halfway between eye level and the top of the skull.

A derived joint is as confident as the least confident keypoint it is made of.

When the face is not seen (a person from behind: nose and eyes unsure, ears and shoulders
sure), ``Head`` and ``Neck`` fall back, frame by frame, on stand-ins placed along the line from
the thorax (:func:`_fallbacks`, docs/KEYPOINTS.md); :attr:`Converted.fallback` marks them.

BODY_25 and BODY_25B both have 25 keypoints in different orders: :func:`guess_layout` tells
them apart from the keypoints' positions (docs/KEYPOINTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

_COCO17 = (
    "Nose", "LEye", "REye", "LEar", "REar",
    "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist",
    "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
)  # fmt: skip
_HAND21 = ("Root", *(f"{f}{i}" for f in ("Thumb", "Index", "Middle", "Ring", "Pinky")
                     for i in range(1, 5)))  # fmt: skip

#: Keypoint names of each layout, in the layout's own order.
LAYOUTS: dict[str, tuple[str, ...]] = {
    # COCO keypoints (also mmpose, detectron2, YOLO-pose exports).
    "coco17": _COCO17,
    # OpenPose BODY_25.
    "openpose25": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle",
        "REye", "LEye", "REar", "LEar",
        "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    ),
    # OpenPose BODY_25B (the experimental model Pose2Sim uses): COCO order, then two head
    # points and the feet; same count as BODY_25, different order.
    "openpose25b": (
        *_COCO17, "UpperNeck", "HeadTop",
        "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    ),
    # OpenPose COCO-18.
    "openpose18": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    # HALPE-26 (AlphaPose, RTMPose / rtmlib): COCO order, then the tools' own "Head" (top of
    # the head), "Neck" and "Hip" (pelvis centre), then the feet.
    "halpe26": (
        *_COCO17, "Head", "Neck", "Hip",
        "LBigToe", "RBigToe", "LSmallToe", "RSmallToe", "LHeel", "RHeel",
    ),
    # COCO-WholeBody 133 (mmpose, DWPose, RTMW): COCO order, 6 foot points, 68 face points,
    # 21 points of the left hand, then of the right (each from the hand's root at the wrist).
    "coco_wholebody": (
        *_COCO17,
        "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
        *(f"Face{i}" for i in range(68)),
        *(f"LHand{p}" for p in _HAND21),
        *(f"RHand{p}" for p in _HAND21),
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

#: The top-of-head keypoint of the layouts that have one (named as the tools name it).
HEAD_TOP: dict[str, str] = {"openpose25b": "HeadTop", "halpe26": "Head"}

#: Layouts that share a keypoint count: the keypoints' positions decide (:func:`guess_layout`).
SAME_COUNT: dict[int, tuple[str, ...]] = {25: ("openpose25", "openpose25b")}


def _recipe(layout: str) -> dict[str, dict[str, float]]:
    """Each Human3.6M joint as weights over ``layout``'s keypoint names."""
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
    if layout in HEAD_TOP:
        # The eyes alone put the head joint several cm too low, the top of the head 10 cm too
        # high: halfway between them is close to Human3.6M's head joint.
        recipe["Head"] = {"LEye": 0.25, "REye": 0.25, HEAD_TOP[layout]: 0.5}
    return recipe


def mapping(layout: str) -> np.ndarray:
    """The ``(17, K)`` matrix taking a layout's K keypoints to the Human3.6M 17 joints."""
    names = _layout(layout)
    if layout == "h36m":
        return np.eye(NUM_JOINTS)
    index = {name: k for k, name in enumerate(names)}
    recipe = _recipe(layout)
    weights = np.zeros((NUM_JOINTS, len(names)))
    for j, joint in enumerate(JOINT_NAMES):
        for name, w in recipe[joint].items():
            weights[j, index[name]] = w
    return weights


def _layout(layout: str) -> tuple[str, ...]:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[layout]


def layouts_with(n_keypoints: int) -> tuple[str, ...]:
    """The layouts with ``n_keypoints`` keypoints (Human3.6M aside: 17 is read as COCO)."""
    return tuple(k for k, v in LAYOUTS.items() if k != "h36m" and len(v) == n_keypoints)


def layout_of(n_keypoints: int, keypoints: np.ndarray | None = None) -> str:
    """The layout with ``n_keypoints`` keypoints (17 is read as COCO, not Human3.6M).

    A count that two layouts share (25: BODY_25 or BODY_25B) is decided from ``keypoints``
    (:func:`guess_layout`); without them, or when they cannot tell, it is a ValueError.
    """
    candidates = layouts_with(n_keypoints)
    if not candidates:
        counts = {len(v): k for k, v in LAYOUTS.items() if k != "h36m"}
        listed = ", ".join(f"{n} ({' or '.join(layouts_with(n))})" for n in sorted(counts))
        raise ValueError(f"{n_keypoints} keypoints match no known layout; expected {listed}")
    if len(candidates) == 1:
        return candidates[0]
    if keypoints is None:
        raise ValueError(f"{n_keypoints} keypoints are {' or '.join(candidates)}; only the "
                         "keypoints' positions tell which")  # fmt: skip
    return guess_layout(keypoints, candidates).layout


#: Bones between keypoints that both 25-keypoint orders name. On any real body, seen from any
#: side, they are short against the body's size; read in the wrong order most of them join
#: far-apart points (an eye to an ankle, a heel to a hip).
_PROBE_BONES: tuple[tuple[str, str], ...] = (
    ("Nose", "LEye"), ("Nose", "REye"), ("LEye", "LEar"), ("REye", "REar"),
    ("LShoulder", "RShoulder"), ("LHip", "RHip"),
    *((s + a, s + b) for s in "LR" for a, b in (
        ("Shoulder", "Elbow"), ("Elbow", "Wrist"), ("Shoulder", "Hip"), ("Hip", "Knee"),
        ("Knee", "Ankle"), ("Ankle", "BigToe"), ("Ankle", "SmallToe"), ("Ankle", "Heel"),
    )),
)  # fmt: skip

#: How much longer the probe bones must be in the other order for a layout to be chosen.
MARGIN = 1.5
#: Fewest probe bones with both ends seen (in some pose) for an order to be judged.
MIN_BONES = 4


class UndecidedLayout(ValueError):
    """The keypoints' positions do not tell which of two same-count layouts they are."""


@dataclass(frozen=True)
class Guess:
    """A layout chosen from the keypoints' positions: ``ratio`` is how many times longer the
    probe bones are (:func:`bone_length`) when read in the ``other`` layout's order."""

    layout: str
    other: str
    ratio: float

    def __str__(self) -> str:
        return (f"{self.layout} (its bones are {self.ratio:.1f}x shorter than read as "
                f"{self.other})")  # fmt: skip


def _points(keypoints: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` positions, NaN where missing (non-finite or confidence 0: OpenPose writes
    undetected keypoints as 0, 0, 0)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    kp = kp[None] if kp.ndim == 2 else kp
    xy = kp[..., :2]
    seen = np.isfinite(xy).all(-1)
    if kp.shape[-1] == 3:
        seen &= np.nan_to_num(kp[..., 2]) > 0
    return np.where(seen[..., None], xy, np.nan)


def _sizes(xy: np.ndarray) -> np.ndarray:
    """Each pose's size: RMS distance of its seen points from their centroid (the same in any
    order, so it makes bone lengths comparable across poses); NaN below two distinct points."""
    seen = np.isfinite(xy).all(-1)
    count = seen.sum(-1)
    centre = np.where(seen[..., None], xy, 0.0).sum(1) / np.maximum(count, 1)[:, None]
    spread = np.where(seen, ((xy - centre[:, None]) ** 2).sum(-1), 0.0).sum(-1)
    size = np.sqrt(spread / np.maximum(count, 1))
    return np.where((count >= 2) & (size > 0), size, np.nan)


def bone_length(keypoints: np.ndarray, layout: str) -> float:
    """How long the probe bones are when ``keypoints`` ``(N, K, 2|3)`` are read in ``layout``'s
    order: per bone the median over poses (in units of each pose's size), then the mean over
    bones. NaN when fewer than :data:`MIN_BONES` bones are seen."""
    index = {name: k for k, name in enumerate(_layout(layout))}
    xy = _points(keypoints)
    size = _sizes(xy)
    medians = []
    for a, b in _PROBE_BONES:
        length = np.linalg.norm(xy[:, index[a]] - xy[:, index[b]], axis=-1) / size
        length = length[np.isfinite(length)]
        if len(length):
            medians.append(float(np.median(length)))
    return float(np.mean(medians)) if len(medians) >= MIN_BONES else float("nan")


def guess_layout(keypoints: np.ndarray, candidates: tuple[str, ...]) -> Guess:
    """Which of two same-count ``candidates`` all of ``keypoints`` ``(N, K, 2|3)`` (every pose
    of a source, not frame by frame) are: the order under which the probe bones are shorter,
    by at least :data:`MARGIN`. Raises :class:`UndecidedLayout` when no order is."""
    counts = {len(_layout(name)) for name in candidates}
    if len(counts) != 1 or np.shape(keypoints)[-2] not in counts:
        raise ValueError(f"{' and '.join(candidates)}: expected keypoints (N, K, 2 or 3) of "
                         f"one count, got shape {np.shape(keypoints)}")  # fmt: skip
    lengths = {name: bone_length(keypoints, name) for name in candidates}
    if not all(np.isfinite(v) for v in lengths.values()):
        raise UndecidedLayout(f"too few keypoints seen (under {MIN_BONES} bones with both ends)")
    best, other = sorted(candidates, key=lambda n: lengths[n])
    ratio = lengths[other] / lengths[best] if lengths[best] > 0 else float("inf")
    if not ratio >= MARGIN:
        raise UndecidedLayout(f"bones {ratio:.2f}x as long in one order as in the other, "
                              f"under the {MARGIN}x needed")  # fmt: skip
    return Guess(best, other, ratio)


@dataclass(frozen=True)
class Converted:
    """Keypoints in Human3.6M order: ``keypoints (N, 17, 2)`` px (NaN where missing),
    ``confidence (N, 17)``, ``usable (N,)``, per frame why it is not usable (``None`` when it
    is), and ``fallback (N, 17)``: the joints placed by a fallback, not by the layout's recipe."""

    keypoints: np.ndarray
    confidence: np.ndarray
    usable: np.ndarray
    reasons: tuple[str | None, ...]
    fallback: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """``(N, 17)``: the joints seen confidently (LiftNet's presence mask)."""
        return np.isfinite(self.keypoints).all(-1)

    @property
    def complete(self) -> np.ndarray:
        """``(N,)``: frames with all 17 joints seen (usable before missing joints were lifted)."""
        return self.present.all(-1)

    @property
    def notes(self) -> tuple[str | None, ...]:
        """Per frame, the joints a fallback placed (``None`` where none did), to report."""
        return tuple(
            None
            if not row.any()
            else "placed without the face: "
            + ", ".join(JOINT_NAMES[j] for j in np.flatnonzero(row))
            for row in self.fallback
        )


# Fallbacks for a face not seen, as fractions along the line from the thorax (the shoulders'
# midpoint). Each is the least-squares fit, in 2D, to the true joints of synthetic frames seen
# from behind (the head facing within 60 degrees of straight away from the camera: some 2,500
# frames in each of three sets of 8,000-12,000), with ears put 2 cm above and 10 cm behind the
# nose joint, 7.5 cm to either side, and the skull's top 10 cm above the head joint
# (docs/KEYPOINTS.md, "Seen from behind"; tests/test_keypoints.py refits them).
#: Head = thorax + EARS_TO_HEAD (ears' midpoint - thorax): the ears sit some 9 cm below the head
#: joint (fits 1.64-1.67 over three seeds).
EARS_TO_HEAD = 1.65
#: With one ear: ears' midpoint = ear - EAR_WIDTH (its shoulder - thorax); the head is about
#: half as wide as the shoulders (fits 0.47-0.50).
EAR_WIDTH = 0.48
#: Head = thorax + TOP_TO_HEAD (top of the head - thorax): the skull's top is 10 cm above the
#: head joint, 31 cm above the thorax (fit 0.677 on every seed).
TOP_TO_HEAD = 0.68
#: Neck (the nose joint) = thorax + NOSE_ALONG (Head - thorax) (fits 0.48-0.50).
NOSE_ALONG = 0.48


#: The 15 body joints: H36M-17 without the face-derived Neck and Head.
BODY_JOINTS: tuple[int, ...] = tuple(
    j for j, name in enumerate(JOINT_NAMES) if name not in ("Neck", "Head")
)
#: Fewest body joints seen for a frame to be lifted. Measured (docs/MISSING_JOINTS.md): each
#: hidden body joint adds some 8-10 mm PA-MPJPE; with 5 hidden the pose is still well under
#: the image chain's error on complete poses, beyond that a third of the body is guessed.
MIN_BODY_JOINTS = 10
_ROOT = JOINT_INDEX["Hip"]


def to_h36m(
    keypoints: np.ndarray,
    layout: str,
    min_confidence: float = 0.3,
    min_body_joints: int = MIN_BODY_JOINTS,
) -> Converted:
    """Map ``(N, K, 2)`` or ``(N, K, 3)`` (x, y, confidence) keypoints of ``layout`` to H36M-17.

    A joint is seen when it is finite, at least ``min_confidence`` confident (in [0, 1];
    keypoints without a confidence column count as confident) and not of zero confidence (a
    detector's "not found", whatever the threshold); the others are NaN, never zeros. A
    frame is usable, and lifted with the missing joints masked (docs/MISSING_JOINTS.md), when
    its pelvis (both hips: it places the person) and at least ``min_body_joints`` of the 15
    :data:`BODY_JOINTS` are seen; otherwise its reason says how much was seen and names the
    joints missing. ``Head`` and ``Neck`` whose face keypoints are unsure are first placed from
    the ears, the top of the head and the shoulders where those are sure (:func:`_fallbacks`).
    """
    names = _layout(layout)
    if not 0.0 <= min_confidence <= 1.0:  # NaN fails too
        raise ValueError(f"min_confidence={min_confidence}: expected a confidence in [0, 1]")
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
    # Zero confidence is how detectors write "not found" (OpenPose's 0, 0, 0): such a
    # keypoint is missing whatever the threshold, never a coordinate at the origin.
    conf = np.where(conf > 0, conf, -1.0)
    weights = mapping(layout)
    xy = np.nan_to_num(xy)
    out = np.einsum("jk,nkd->njd", weights, xy)
    # A derived joint is only as sure as its least sure source.
    sources = weights > 0
    joint_conf = np.where(sources[None], conf[:, None, :], np.inf).min(-1)
    fallback = _fallbacks(out, joint_conf, xy, conf, layout, min_confidence)
    low = joint_conf < min_confidence
    usable = ~low[:, _ROOT] & ((~low[:, BODY_JOINTS]).sum(-1) >= min_body_joints)
    reasons = tuple(
        None if ok else _too_little(row, min_confidence, min_body_joints)
        for row, ok in zip(low, usable, strict=True)
    )
    out[low] = np.nan
    return Converted(out, np.maximum(joint_conf, 0.0), usable, reasons, fallback)


def _too_little(low: np.ndarray, min_confidence: float, min_body_joints: int) -> str:
    """Why a frame with the ``low (17,)`` joints unseen is not lifted, in one line."""
    seen = int((~low[list(BODY_JOINTS)]).sum())
    need = "the pelvis (both hips) and " if low[_ROOT] else ""
    names = ", ".join(JOINT_NAMES[j] for j in np.flatnonzero(low))
    return (f"too little seen to lift ({seen} of {len(BODY_JOINTS)} body joints; needs "
            f"{need}{min_body_joints}): joints missing or below confidence {min_confidence}: "
            f"{names}")  # fmt: skip


_NECK, _HEAD, _THORAX = (JOINT_INDEX[j] for j in ("Neck", "Head", "Thorax"))


def _fallbacks(
    out: np.ndarray,
    joint_conf: np.ndarray,
    xy: np.ndarray,
    conf: np.ndarray,
    layout: str,
    min_confidence: float,
) -> np.ndarray:
    """Place ``Head``, then ``Neck``, by their first confident stand-in in frames where the
    recipe's are unsure (in place); return the ``(N, 17)`` mask of joints so placed.

    Human3.6M input has no stand-ins: its joints are the joints themselves.
    """
    fallback = np.zeros(joint_conf.shape, bool)
    if layout == "h36m":
        return fallback
    thorax, sure = out[:, _THORAX], joint_conf[:, _THORAX]

    def use(joint: int, place: np.ndarray, place_conf: np.ndarray) -> None:
        # As sure as its least sure source, the shoulders (the thorax) included.
        place_conf = np.minimum(place_conf, sure)
        take = (joint_conf[:, joint] < min_confidence) & (place_conf >= min_confidence)
        out[take, joint] = place[take]
        joint_conf[take, joint] = place_conf[take]
        fallback[take, joint] = True

    for place, place_conf in _head_stand_ins(xy, conf, layout, thorax):
        use(_HEAD, place, place_conf)
    # After the head, so that the nose joint follows the head wherever that came from.
    use(_NECK, thorax + NOSE_ALONG * (out[:, _HEAD] - thorax), joint_conf[:, _HEAD])
    return fallback


def _head_stand_ins(
    xy: np.ndarray, conf: np.ndarray, layout: str, thorax: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Where the head joint is, best first, from the top of the head, both ears, or one ear:
    ``(N, 2)`` positions and ``(N,)`` confidences (the thorax's left out)."""
    index = {name: k for k, name in enumerate(LAYOUTS[layout])}
    stand_ins = []
    if layout in HEAD_TOP:  # on the thorax-head line, so within 1-2 cm (docs/KEYPOINTS.md)
        top = index[HEAD_TOP[layout]]
        stand_ins.append((thorax + TOP_TO_HEAD * (xy[:, top] - thorax), conf[:, top]))
    if "LEar" not in index:
        return stand_ins
    ears = [(xy[:, index[s + "Ear"]], conf[:, index[s + "Ear"]], xy[:, index[s + "Shoulder"]])
            for s in "LR"]  # fmt: skip
    (left, left_conf, _), (right, right_conf, _) = ears
    # One ear: the head's half width is about half the shoulders', on the same side.
    mids = [(0.5 * (left + right), np.minimum(left_conf, right_conf))]
    mids += [(ear - EAR_WIDTH * (shoulder - thorax), c) for ear, c, shoulder in ears]
    stand_ins += [(thorax + EARS_TO_HEAD * (mid - thorax), c) for mid, c in mids]
    return stand_ins

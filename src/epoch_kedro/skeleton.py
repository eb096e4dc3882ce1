"""The Human3.6M 17-joint skeleton: the one source of truth for joint order and topology.

Every array in the project that has a joint axis uses this order.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "Hip",
    "RHip",
    "RKnee",
    "RFoot",
    "LHip",
    "LKnee",
    "LFoot",
    "Spine",
    "Thorax",
    "Neck",
    "Head",
    "LShoulder",
    "LElbow",
    "LWrist",
    "RShoulder",
    "RElbow",
    "RWrist",
)
NUM_JOINTS: int = len(JOINT_NAMES)
ROOT: int = 0
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

#: Parent of each joint (-1 for the root); parents always precede children.
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

LEFT_JOINTS: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
RIGHT_JOINTS: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

#: Bones as (parent, child) pairs, one per non-root joint, in joint order.
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)
NUM_BONES: int = len(BONES)
BONE_NAMES: tuple[str, ...] = tuple(f"{JOINT_NAMES[p]}-{JOINT_NAMES[c]}" for p, c in BONES)

#: Index pairs into BONES of bones that mirror each other (left, right).
SYMMETRIC_BONES: tuple[tuple[int, int], ...] = tuple(
    (BONES.index((PARENTS[lj], lj)), BONES.index((PARENTS[rj], rj)))
    for lj, rj in zip(LEFT_JOINTS, RIGHT_JOINTS, strict=True)
)

#: Joint permutation for a horizontal flip: the left and right joints swap.
_MIRROR = dict(zip(LEFT_JOINTS + RIGHT_JOINTS, RIGHT_JOINTS + LEFT_JOINTS, strict=True))
FLIP_PERMUTATION: tuple[int, ...] = tuple(_MIRROR.get(j, j) for j in range(NUM_JOINTS))

#: Joints whose bending is anatomically one-sided: (upper, middle, lower) chains.
KNEES: tuple[tuple[int, int, int], ...] = ((1, 2, 3), (4, 5, 6))
ELBOWS: tuple[tuple[int, int, int], ...] = ((11, 12, 13), (14, 15, 16))

#: Indices of our 17 joints inside the 32-joint Human3.6M mocap skeleton.
H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
NUM_H36M32_JOINTS: int = 32


def bone_vectors(pose: np.ndarray) -> np.ndarray:
    """Child minus parent for each bone: ``(..., 17, 3) -> (..., 16, 3)``.

    Works for numpy arrays and torch tensors alike (only indexing is used).
    """
    parents = [p for p, _ in BONES]
    children = [c for _, c in BONES]
    return pose[..., children, :] - pose[..., parents, :]


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """Length of each bone: ``(..., 17, 3) -> (..., 16)`` in the pose's units."""
    vec = bone_vectors(pose)
    return (vec**2).sum(-1) ** 0.5


#: Rest-pose (arms hanging, legs straight) offsets from each joint's parent, metres, body frame.
#: Lengths follow the mean Human3.6M bone lengths; the Neck joint sits forward, as the H36M "nose".
REST_OFFSETS: dict[str, tuple[float, float, float]] = {
    "Hip": (0.0, 0.0, 0.0),
    "RHip": (0.132, 0.0, -0.01),
    "RKnee": (0.0, 0.0, -0.445),
    "RFoot": (0.0, 0.0, -0.44),
    "LHip": (-0.132, 0.0, -0.01),
    "LKnee": (0.0, 0.0, -0.445),
    "LFoot": (0.0, 0.0, -0.44),
    "Spine": (0.0, 0.01, 0.232),
    "Thorax": (0.0, 0.0, 0.255),
    "Neck": (0.0, 0.07, 0.1),
    "Head": (0.0, -0.04, 0.11),
    "LShoulder": (-0.15, -0.01, -0.03),
    "LElbow": (0.0, 0.0, -0.28),
    "LWrist": (0.0, 0.0, -0.25),
    "RShoulder": (0.15, -0.01, -0.03),
    "RElbow": (0.0, 0.0, -0.28),
    "RWrist": (0.0, 0.0, -0.25),
}


def reference_offsets() -> np.ndarray:
    """Mean rest offsets ``(17, 3)`` at the reference height."""
    return np.array([REST_OFFSETS[name] for name in JOINT_INDEX], dtype=np.float64)


def rest_pose() -> np.ndarray:
    """The mean rest pose ``(17, 3)`` (arms hanging, legs straight), root at the origin, m.

    Body frame: x = the subject's right, y = forward, z = up.
    """
    offsets = reference_offsets()
    pose = np.zeros_like(offsets)
    for joint, parent in enumerate(PARENTS):  # parents precede their children
        if parent >= 0:
            pose[joint] = pose[parent] + offsets[joint]
    return pose

"""Synthetic subjects (proportions) and forward kinematics on the 17-joint tree.

Body frame: x = the subject's right, y = forward, z = up (right-handed, so a real person and
not its mirror image); the root (pelvis) is the origin.
Each joint ``j`` carries a local rotation ``L_j`` that moves the bones *below* it:
``G_j = G_parent(j) @ L_j`` and ``p_c = p_j + G_j @ offset_c`` for each child ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.geometry import rot_x, rot_y, rot_z
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, reference_offsets

#: Reference height (m) of the mean rest offsets (`skeleton.REST_OFFSETS`), the H36M average.
REFERENCE_HEIGHT = 1.72

#: Height of the ankle ("Foot" joint) above the ground when standing, at reference height.
ANKLE_HEIGHT = 0.08
#: Top of the skull above the "Head" joint, at reference height.
SKULL_TOP = 0.1

# Bones whose length varies together on both sides, so subjects stay left/right symmetric.
_WIDTH_JOINTS = ("RHip", "LHip", "RShoulder", "LShoulder")
_LEG_JOINTS = tuple(JOINT_INDEX[s + n] for s in "LR" for n in ("Knee", "Foot"))
_UPPER_JOINTS = tuple(
    JOINT_INDEX[n]
    for n in ("Spine", "Thorax", "Neck", "Head", "LElbow", "LWrist", "RElbow", "RWrist")
)
_SIDE_PAIRS = {"L" + n[1:]: n for n in JOINT_INDEX if n.startswith("R")}


@dataclass(frozen=True)
class Subject:
    """A synthetic person: a name, a standing height and the 17 rest offsets (m)."""

    name: str
    height: float
    offsets: np.ndarray  # (17, 3), row j = offset of joint j from its parent

    @property
    def ankle_height(self) -> float:
        """Ankle height above the ground when standing, scaled to this subject."""
        return ANKLE_HEIGHT * self.height / REFERENCE_HEIGHT


def sample_subject(
    name: str,
    rng: np.random.Generator,
    height_mean: float = 1.72,
    height_std: float = 0.09,
    bone_std: float = 0.05,
    width_std: float = 0.07,
    proportion_std: float = 0.0,
) -> Subject:
    """Draw a subject: height, per-bone (left/right symmetric) and width variation, proportions.

    ``proportion_std`` varies the legs against the trunk, arms and head together (long-legged
    or long-bodied people of the same height): the sitting-height ratio of adults varies by
    about 3 % (one standard deviation).
    """
    height = float(np.clip(rng.normal(height_mean, height_std), 1.45, 2.05))
    factors = np.ones(NUM_JOINTS)
    for joint, j in JOINT_INDEX.items():
        if joint.startswith("L") and joint in _SIDE_PAIRS:
            continue  # takes the factor of its right-hand twin below
        std = width_std if joint in _WIDTH_JOINTS else bone_std
        factors[j] = float(np.clip(rng.normal(1.0, std), 1 - 3 * std, 1 + 3 * std))
    for left, right in _SIDE_PAIRS.items():
        factors[JOINT_INDEX[left]] = factors[JOINT_INDEX[right]]
    if proportion_std > 0:  # drawn last: the draws above stay those of earlier versions
        legs = float(
            np.clip(rng.normal(1.0, proportion_std), 1 - 3 * proportion_std, 1 + 3 * proportion_std)
        )
        factors[list(_LEG_JOINTS)] *= legs
        factors[list(_UPPER_JOINTS)] /= legs
    offsets = reference_offsets() * factors[:, None]
    # Rescale so the standing height (ankle to skull top) matches the drawn height exactly.
    offsets *= height / standing_height(offsets)
    return Subject(name=name, height=height, offsets=offsets)


def standing_height(offsets: np.ndarray) -> float:
    """Ankle-to-skull height of the rest pose plus the ankle and skull allowances (m)."""
    rest = forward_kinematics(offsets, np.zeros((1, NUM_JOINTS, 3)), np.eye(3)[None])[0]
    scale = np.linalg.norm(offsets[JOINT_INDEX["RKnee"]]) / 0.445
    top = rest[JOINT_INDEX["Head"], 2] + SKULL_TOP * scale
    bottom = rest[[JOINT_INDEX["RFoot"], JOINT_INDEX["LFoot"]], 2].min() - ANKLE_HEIGHT * scale
    return float(top - bottom)


def local_rotations(angles_rad: np.ndarray) -> np.ndarray:
    """Joint rotations from x/y/z body-axis angles: ``(..., 3) -> (..., 3, 3)``.

    ``L = R_y(abduction) @ R_x(flexion) @ R_z(twist)``: the sign conventions that turn anatomical
    angles into these rotations live in :mod:`epoch_kedro.data.synthetic.motions`.
    """
    return rot_y(angles_rad[..., 1]) @ rot_x(angles_rad[..., 0]) @ rot_z(angles_rad[..., 2])


def forward_kinematics(
    offsets: np.ndarray, angles_rad: np.ndarray, root_rotation: np.ndarray
) -> np.ndarray:
    """Pose from rest offsets and joint angles, root at the origin: ``(T, 17, 3)`` metres.

    Shapes: ``offsets (17, 3)``, ``angles_rad (T, 17, 3)`` (x-, y-, z-axis angles of each joint's
    local rotation; the root's row is ignored), ``root_rotation (T, 3, 3)`` body-to-world.
    """
    return forward_kinematics_frames(offsets, angles_rad, root_rotation)[0]


def forward_kinematics_frames(
    offsets: np.ndarray, angles_rad: np.ndarray, root_rotation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`forward_kinematics`, also returning each joint's frame ``(T, 17, 3, 3)``."""
    local = local_rotations(angles_rad)
    frames = angles_rad.shape[0]
    global_rot = np.empty((frames, NUM_JOINTS, 3, 3))
    pos = np.zeros((frames, NUM_JOINTS, 3))
    # The root has no local rotation of its own: one would swing the hips with the spine, so
    # trunk bending lives in the Spine and Thorax joints and whole-body lean in root_rotation.
    global_rot[:, 0] = root_rotation
    for j in range(1, NUM_JOINTS):
        parent = PARENTS[j]
        pos[:, j] = pos[:, parent] + global_rot[:, parent] @ offsets[j]
        global_rot[:, j] = global_rot[:, parent] @ local[:, j]
    return pos, global_rot

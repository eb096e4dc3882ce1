"""Physical plausibility of synthetic poses: floor contact, balance, limbs clear of the trunk.

All functions take world-frame (z up) or body-frame joints ``(..., 17, 3)`` in metres and a
``scale`` = the subject's height / :data:`~epoch_kedro.data.synthetic.body.REFERENCE_HEIGHT`, so
the body dimensions below (given for a 1.72 m person) follow the subject.
"""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.synthetic.body import ANKLE_HEIGHT
from epoch_kedro.geometry import axis_angle_to_matrix
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS

J = JOINT_INDEX

# Segment masses (share of body mass) and centres of mass (share of the segment's length from
# its proximal end): Winter, "Biomechanics and Motor Control of Human Movement", 4th ed. (2009),
# Table 4.1, after Dempster (1955). Hands and feet sit at the wrist and ankle joints.
_SEGMENTS: tuple[tuple[str, str, float, float], ...] = (
    ("Neck", "Head", 0.081, 0.5),
    ("Hip", "Thorax", 0.497, 0.5),
    *((s + "Shoulder", s + "Elbow", 0.028, 0.436) for s in "LR"),
    *((s + "Elbow", s + "Wrist", 0.016, 0.430) for s in "LR"),
    *((s + "Wrist", s + "Wrist", 0.006, 0.0) for s in "LR"),
    *((s + "Hip", s + "Knee", 0.100, 0.433) for s in "LR"),
    *((s + "Knee", s + "Foot", 0.0465, 0.433) for s in "LR"),
    *((s + "Foot", s + "Foot", 0.0145, 0.0) for s in "LR"),
)


def _mass_weights() -> np.ndarray:
    weights = np.zeros(NUM_JOINTS)
    for proximal, distal, mass, com in _SEGMENTS:
        weights[J[proximal]] += mass * (1 - com)
        weights[J[distal]] += mass * com
    return weights / weights.sum()


#: The centre of mass is this weighted sum of the joints.
MASS_WEIGHTS = _mass_weights()

#: Distance (m, 1.72 m person) from each joint centre to the skin that touches the floor.
FLOOR_CLEARANCE = np.full(NUM_JOINTS, 0.10)
FLOOR_CLEARANCE[[J["LFoot"], J["RFoot"]]] = ANKLE_HEIGHT
FLOOR_CLEARANCE[[J["LKnee"], J["RKnee"]]] = 0.05
FLOOR_CLEARANCE[[J["LElbow"], J["RElbow"]]] = 0.04
FLOOR_CLEARANCE[[J["LWrist"], J["RWrist"]]] = 0.03
FLOOR_CLEARANCE[[J["LShoulder"], J["RShoulder"]]] = 0.06

#: Radius (m) of the trunk's core around the pelvis-spine-thorax line: a limb inside it
#: passes through the body (the real trunk is ~0.3 m wide and ~0.2 m deep).
TRUNK_RADIUS = 0.085
#: Centre of a foot's support in front of the ankle (m; a foot is ~0.26 m long, the ankle
#: ~0.05 m in front of the heel).
MIDFOOT = 0.07
#: Closest allowed approach (m) of the two legs' bone axes (a thigh is ~0.15 m thick).
LEG_GAP = 0.06

_TRUNK = (J["Hip"], J["Spine"], J["Thorax"])
# Points along the limbs that must stay out of the trunk: (proximal, distal, fraction).
_LIMB_PROBES = tuple(
    (J[s + a], J[s + b], f)
    for s in "LR"
    for a, b, fractions in (
        ("Shoulder", "Elbow", (0.5, 1.0)),
        ("Elbow", "Wrist", (0.33, 0.67, 1.0)),
        ("Knee", "Foot", (0.5, 1.0)),
    )
    for f in fractions
) + tuple((J[s + "Hip"], J[s + "Knee"], 1.0) for s in "LR")
_LEGS = {s: ((J[s + "Hip"], J[s + "Knee"]), (J[s + "Knee"], J[s + "Foot"])) for s in "LR"}


def centre_of_mass(pose: np.ndarray) -> np.ndarray:
    """Whole-body centre of mass ``(..., 3)`` from the joints ``(..., 17, 3)``."""
    return np.einsum("j,...jd->...d", MASS_WEIGHTS, pose)


def floor_lift(pose: np.ndarray, scale: float) -> np.ndarray:
    """Vertical shift ``(...,)`` that puts the lowest body surface on the floor (z = 0)."""
    return (FLOOR_CLEARANCE * scale - pose[..., 2]).max(-1)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    u = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + u[..., None] * ab), axis=-1)


def trunk_clearance(pose: np.ndarray, scale: float) -> np.ndarray:
    """Smallest distance ``(...,)`` of a limb probe to the trunk line, minus the trunk radius.

    Negative: an arm or a leg passes through the trunk.
    """
    probes = np.stack(
        [pose[..., a, :] + f * (pose[..., b, :] - pose[..., a, :]) for a, b, f in _LIMB_PROBES], -2
    )
    hip, spine, thorax = (pose[..., j, None, :] for j in _TRUNK)
    dist = np.minimum(
        _point_segment_distance(probes, hip, spine), _point_segment_distance(probes, spine, thorax)
    )
    return dist.min(-1) - TRUNK_RADIUS * scale


def leg_gap(pose: np.ndarray, scale: float) -> np.ndarray:
    """Smallest distance ``(...,)`` between left and right leg bone axes, minus :data:`LEG_GAP`."""
    gaps = []
    for bone_l in _LEGS["L"]:
        for bone_r in _LEGS["R"]:
            # Sampled points of one bone against the other bone's segment, both ways.
            for (a, b), (c, d) in ((bone_l, bone_r), (bone_r, bone_l)):
                for f in (0.0, 0.25, 0.5, 0.75, 1.0):
                    p = pose[..., a, :] + f * (pose[..., b, :] - pose[..., a, :])
                    gaps.append(_point_segment_distance(p, pose[..., c, :], pose[..., d, :]))
    return np.min(gaps, axis=0) - LEG_GAP * scale


def self_intersecting(pose: np.ndarray, scale: float) -> np.ndarray:
    """Frames ``(...,)`` where a limb passes through the trunk or the legs through each other."""
    return (trunk_clearance(pose, scale) < 0) | (leg_gap(pose, scale) < 0)


def support_point(pose: np.ndarray, support: str) -> np.ndarray:
    """Point of the support base ``(..., 2)`` nearest the centre of mass, on the floor plane.

    ``support``: "L" or "R" (that foot), or "both" (the line between the feet). A foot bears
    weight ahead of its ankle: the base is the midfoot, :data:`MIDFOOT` m in front of the ankle.
    """
    com = centre_of_mass(pose)[..., :2]
    right = pose[..., J["RHip"], :2] - pose[..., J["LHip"], :2]
    forward = np.stack([-right[..., 1], right[..., 0]], -1)
    forward = forward / np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
    left = pose[..., J["LFoot"], :2] + MIDFOOT * forward
    right_foot = pose[..., J["RFoot"], :2] + MIDFOOT * forward
    if support in ("L", "R"):
        return left if support == "L" else right_foot
    ab = right_foot - left
    u = np.clip(((com - left) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    return left + u[..., None] * ab


def balance_offset(pose: np.ndarray, support: str) -> np.ndarray:
    """Horizontal distance ``(...,)`` of the centre of mass from the support base."""
    return np.linalg.norm(centre_of_mass(pose)[..., :2] - support_point(pose, support), axis=-1)


def balance(pose: np.ndarray, support: str, tolerance: float = 0.06) -> np.ndarray:
    """Tip the whole body ``(T, 17, 3)`` about its support until the centre of mass is over it.

    A person whose centre of mass leaves the support base falls; a standing pose built from
    joint angles alone often does. Each frame is rotated about the support point (which stays
    put) just far enough to bring the centre of mass within ``tolerance`` m of the base.
    """
    for _ in range(3):  # the rotation also lowers the centre of mass a little: repeat
        com = centre_of_mass(pose)
        base = support_point(pose, support)
        d = com[:, :2] - base
        dist = np.linalg.norm(d, axis=-1)
        need = np.clip(dist - tolerance, 0.0, None)
        if need.max() < 1e-4:
            break
        pivot = np.concatenate([base, pose[:, [J["LFoot"], J["RFoot"]], 2].min(1)[:, None]], -1)
        height = np.maximum(com[:, 2] - pivot[:, 2], 1e-3)
        angle = np.arctan2(dist, height) - np.arctan2(dist - need, height)
        direction = d / np.maximum(dist, 1e-9)[:, None]
        # Rotating about (d x z) by a positive angle moves the centre of mass back over the base.
        axis = np.stack([direction[:, 1], -direction[:, 0], np.zeros(len(d))], -1)
        rotation = axis_angle_to_matrix(axis * angle[:, None])  # a zero axis: no rotation
        pose = pivot[:, None] + np.einsum("tij,tkj->tki", rotation, pose - pivot[:, None])
    return pose

"""Motion families built from random keyframe poses within the human ranges of motion.

Each family draws keyframe poses of its kind (crouching, kneeling, lying, throwing, ...) with
joint angles inside :data:`~epoch_kedro.data.synthetic.motions.JOINT_LIMITS`, redraws any
keyframe whose limbs pass through the trunk, and joins the keyframes with a shape-preserving
cubic (PCHIP): it never overshoots its keyframes, so the motion between them stays within the
limits too. Where a family stands, :attr:`Clip.balance` keeps the centre of mass over the feet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.interpolate import PchipInterpolator

from epoch_kedro.data.synthetic.body import forward_kinematics
from epoch_kedro.data.synthetic.motions import (
    LIMITS_HIGH,
    LIMITS_LOW,
    SIGNS,
    Clip,
    Knobs,
)
from epoch_kedro.data.synthetic.plausibility import self_intersecting
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS, reference_offsets

_REST = reference_offsets()
_REDRAWS = 12  # keyframe draws before giving up on one slot (a few percent intersect)


class Pose:
    """One keyframe: anatomical angles ``(17, 3)`` in degrees and whole-body lean, roll, hop."""

    def __init__(self) -> None:
        self.angles = np.zeros((NUM_JOINTS, 3))
        self.lean = 0.0
        self.roll = 0.0
        self.hop = 0.0

    def set(self, joint: str, flex=None, abd=None, twist=None) -> None:
        """Assign the anatomical angles of one joint (``None`` leaves an axis as it is)."""
        for axis, value in enumerate((flex, abd, twist)):
            if value is not None:
                self.angles[JOINT_INDEX[joint], axis] = value

    def point(self, limb: str, direction: np.ndarray, bend: float, twist: float = 0.0) -> None:
        """Aim an upper arm (``"LShoulder"``) or thigh (``"RHip"``) along ``direction``.

        ``direction`` is in the parent's frame (x = the subject's right, y = forward, z = up);
        ``bend`` flexes the elbow or knee below, ``twist`` rotates the limb about itself.
        """
        flex, abd = limb_angles(limb, direction)
        self.set(limb, flex=flex, abd=abd, twist=twist)
        self.set(limb[0] + ("Elbow" if limb.endswith("Shoulder") else "Knee"), flex=bend)


def limb_angles(limb: str, direction: np.ndarray) -> tuple[float, float]:
    """Anatomical (flexion, abduction) that aim a hanging limb along ``direction``.

    A limb hanging along -z, flexed by f about x and then abducted by a about y, points along
    ``(-sin a cos f, sin f, -cos a cos f)`` on the left (x mirrored on the right). Two angle
    pairs reach each direction, (f, a) and (180 - f, a -+ 180): the one nearer the limits wins,
    so an arm reaching across the body is flexed and abducted, not adducted through the chest.
    """
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    x = -d[0] if limb[0] == "R" else d[0]
    f = np.degrees(np.arcsin(np.clip(d[1], -1.0, 1.0)))
    a = np.degrees(np.arctan2(-x, -d[2]))
    j = JOINT_INDEX[limb]
    low, high = LIMITS_LOW[j, :2], LIMITS_HIGH[j, :2]
    candidates = [np.array([f, a]), np.array([180.0 - f, a - 180.0 if a > 0 else a + 180.0])]
    excess = [np.abs(c - np.clip(c, low, high)).sum() for c in candidates]
    flex, abd = np.clip(candidates[int(np.argmin(excess))], low, high)
    return float(flex), float(abd)


def direction(azimuth: float, elevation: float, side: str = "R") -> np.ndarray:
    """Unit vector at ``azimuth`` degrees from forward towards ``side`` and ``elevation`` up."""
    az, el = np.radians(azimuth), np.radians(elevation)
    outward = 1.0 if side == "R" else -1.0
    return np.array([outward * np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _twist_toward(side: str) -> float:
    """Sign of the trunk twist that turns the chest towards ``side``."""
    return 1.0 if side == "R" else -1.0


def _other(side: str) -> str:
    return "L" if side == "R" else "R"


def _normal(rng: np.random.Generator, mean: float, std: float, low: float, high: float) -> float:
    return float(np.clip(rng.normal(mean, std), low, high))


def _trunk(p: Pose, rng: np.random.Generator, share: float) -> None:
    """Spine, thorax and neck near neutral, spread over ``share`` of their ranges.

    People hold the trunk near neutral and bend it slightly forward far more often than they
    twist or bend it to a limit: a normal spread, not a uniform one, keeps the pose prior
    specific (see the families' notes in docs/DATA.md).
    """
    for joint in ("Spine", "Thorax", "Neck"):
        j = JOINT_INDEX[joint]
        low, high = LIMITS_LOW[j], LIMITS_HIGH[j]
        p.angles[j] = np.clip(rng.normal(0.15 * high, share * (high - low) / 4), low, high)


def _free_arm(p: Pose, rng: np.random.Generator, side: str, up: float = 85.0) -> None:
    """An arm where arms usually are: mostly in front and to the side, often raised.

    Directions behind the back stay possible but rare: a uniform draw over the range of motion
    would teach the pose prior that an arm is as likely behind the body as in front of it, and
    the lifter could no longer tell the two apart from 2D.
    """
    behind = rng.uniform() < 0.1
    azimuth = _u(rng, 90, 180) if behind else _normal(rng, 45, 50, -60, 150)
    elevation = _normal(rng, -20, 50, -90, up)
    bend = float(rng.triangular(0, 30, 145))
    twist = _normal(rng, 10, 30, -60, 80)
    p.point(side + "Shoulder", direction(azimuth, elevation, side), bend=bend, twist=twist)


def _arms(p: Pose, rng: np.random.Generator, up: float = 85.0, mirrored: float = 0.3) -> None:
    """Both arms free; with probability ``mirrored`` the left one mirrors the right, roughly
    (lifting, carrying, stretching and many gestures use both arms alike)."""
    _free_arm(p, rng, "R", up)
    if rng.uniform() < mirrored:
        for limb in ("Shoulder", "Elbow"):
            right, left = JOINT_INDEX["R" + limb], JOINT_INDEX["L" + limb]
            p.angles[left] = p.angles[right] + rng.normal(0, 8, 3) * (SIGNS[left] != 0)
    else:
        _free_arm(p, rng, "L", up)


def _stand(p: Pose, rng: np.random.Generator, knees: float = 30.0) -> None:
    """Both legs under the body, loosely."""
    for side in "LR":
        p.set(
            side + "Hip",
            flex=p.lean + _u(rng, -10, 20),
            abd=_u(rng, -5, 20),
            twist=_u(rng, -20, 30),
        )
        p.set(side + "Knee", flex=_u(rng, 0, knees))


#: A family's keyframe sampler: ``draw(rng, i)`` is keyframe ``i`` of a clip.
Draw = Callable[[np.random.Generator, int], Pose]


def _drawn(draw: Draw, rng: np.random.Generator, i: int) -> Pose:
    """Draw keyframe ``i``, redrawing while a limb passes through the trunk or the other leg."""
    for _ in range(_REDRAWS):
        pose = draw(rng, i)
        pose.angles = np.clip(pose.angles, LIMITS_LOW, LIMITS_HIGH)
        body = forward_kinematics(_REST, np.radians(pose.angles * SIGNS)[None], np.eye(3)[None])
        if not self_intersecting(body, 1.0)[0]:
            break
    return pose


def keyframed(
    k: Knobs,
    draw: Draw,
    spacing: tuple[float, float],
    anchor: str = "none",
    balance: bool = False,
    turn: float = 0.0,
) -> Clip:
    """A clip through keyframes ``draw(rng, i)`` spaced ``spacing`` seconds (over the tempo).

    The first keyframe lies a random time before the clip starts, so clips do not all begin on
    a keyframe; ``turn`` is the largest heading change over the clip, degrees.
    """
    lo, hi = spacing[0] / k.tempo, spacing[1] / k.tempo
    times = [-_u(k.rng, 0.0, hi)]
    while times[-1] <= k.t[-1] or len(times) < 2:
        times.append(times[-1] + _u(k.rng, lo, hi))
    poses = [_drawn(draw, k.rng, i) for i in range(len(times))]
    angles = PchipInterpolator(times, np.stack([p.angles for p in poses]), axis=0)(k.t)
    body = PchipInterpolator(times, [[p.lean, p.roll, p.hop] for p in poses], axis=0)(k.t)
    progress = (k.t - k.t[0]) / max(k.t[-1] - k.t[0], 1e-6)
    heading = k.rng.uniform(0, 2 * np.pi) + np.radians(_u(k.rng, -turn, turn)) * progress
    return Clip(
        angles=angles,
        lean=body[:, 0],
        heading=heading,
        speed=np.zeros(len(k.t)),
        hop=np.maximum(body[:, 2], 0.0),
        anchor=anchor,
        roll=body[:, 1],
        balance=balance,
    )


def freeform(k: Knobs) -> Clip:
    """Standing, everything else free: arms, trunk and neck anywhere within their ranges."""
    one_leg = k.rng.uniform() < 0.3

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -10, 25)
        _trunk(p, rng, 0.7)
        _arms(p, rng)
        _stand(p, rng, knees=40)
        if one_leg:
            p.point(
                k.side + "Hip",
                direction(_u(rng, -30, 150), _u(rng, -90, 0), k.side),
                _u(rng, 0, 120),
            )
        return p

    return keyframed(
        k, draw, (0.6, 1.4), anchor=k.other if one_leg else "both", balance=True, turn=90
    )


def balancing(k: Knobs) -> Clip:
    """One-leg stances: the free leg forward, sideways or back, arms out for balance."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -5, 35)
        _trunk(p, rng, 0.3)
        stance = k.other
        p.set(stance + "Hip", flex=p.lean + _u(rng, -5, 15), abd=_u(rng, -5, 10))
        p.set(stance + "Knee", flex=_u(rng, 0, 35))
        azimuth = _u(rng, -30, 180)
        p.point(k.side + "Hip", direction(azimuth, _u(rng, -80, 20), k.side), _u(rng, 0, 140))
        for side in "LR":
            if rng.uniform() < 0.6:
                out = direction(_u(rng, 40, 140), _u(rng, -30, 60), side)
                p.point(side + "Shoulder", out, bend=_u(rng, 0, 60))
            else:
                _free_arm(p, rng, side)
        return p

    return keyframed(k, draw, (0.8, 1.6), anchor=k.other, balance=True)


def crouching(k: Knobs) -> Clip:
    """Crouching and squatting low, knees apart or together, hands forward or down."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, 10, 50)
        _trunk(p, rng, 0.3)
        for side in "LR":
            p.set(side + "Hip", flex=_u(rng, 70, 120), abd=_u(rng, 0, 35), twist=_u(rng, -10, 40))
            p.set(side + "Knee", flex=_u(rng, 95, 143))
            if rng.uniform() < 0.5:
                _free_arm(p, rng, side)
            else:
                low = direction(_u(rng, -20, 60), _u(rng, -80, 0), side)
                p.point(side + "Shoulder", low, bend=_u(rng, 0, 60))
        return p

    return keyframed(k, draw, (0.8, 1.6), anchor="both", balance=True)


def kneeling(k: Knobs) -> Clip:
    """Kneeling upright, sitting back on the heels, or down on one knee."""
    variant = k.rng.choice(["upright", "heels", "one_knee"])

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        _trunk(p, rng, 0.4)
        if variant == "upright":
            p.lean = _u(rng, -5, 20)
            for side in "LR":
                p.set(side + "Hip", flex=p.lean + _u(rng, -10, 20), abd=_u(rng, 0, 20))
                p.set(side + "Knee", flex=_u(rng, 80, 100))
        elif variant == "heels":
            p.lean = _u(rng, -5, 45)
            for side in "LR":
                p.set(side + "Hip", flex=_u(rng, 60, 110), abd=_u(rng, 0, 25))
                p.set(side + "Knee", flex=_u(rng, 130, 143))
        else:
            p.lean = _u(rng, -5, 20)
            p.set(k.side + "Hip", flex=p.lean + _u(rng, 70, 95), abd=_u(rng, 0, 20))
            p.set(k.side + "Knee", flex=_u(rng, 70, 100))
            p.set(k.other + "Hip", flex=p.lean + _u(rng, -20, 5), abd=_u(rng, 0, 15))
            p.set(k.other + "Knee", flex=_u(rng, 80, 110))
        _arms(p, rng)
        return p

    return keyframed(k, draw, (0.9, 1.8))


def sitting_chair(k: Knobs) -> Clip:
    """Seated on a chair: leaning back or forward, legs apart or crossed, hands busy."""
    crossed = k.rng.uniform() < 0.3

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -25, 30)
        _trunk(p, rng, 0.5)
        for side in "LR":
            # The thigh rests on the seat: horizontal in the world whatever the trunk does.
            p.set(
                side + "Hip",
                flex=90 + p.lean + _u(rng, -10, 10),
                abd=_u(rng, -5, 25),
                twist=_u(rng, -15, 30),
            )
            p.set(side + "Knee", flex=_u(rng, 60, 120))
        _arms(p, rng, up=60)
        if crossed:
            p.set(k.side + "Hip", flex=100 + p.lean, abd=_u(rng, -30, -15), twist=_u(rng, 0, 30))
            p.set(k.side + "Knee", flex=_u(rng, 70, 110))
        return p

    return keyframed(k, draw, (1.0, 2.0))


def sitting_floor(k: Knobs) -> Clip:
    """Seated on the floor: cross-legged, legs out straight, or knees drawn up."""
    variant = k.rng.choice(["crossed", "long", "knees_up"])
    # Per variant: trunk lean, hip flexion relative to a horizontal thigh, abduction, twist and
    # knee ranges (the thighs rest near the floor; drawn-up knees need the trunk reclined).
    ranges = {
        "crossed": ((-10, 15), (0, 25), (30, 45), (30, 45), (125, 143)),
        "long": ((-30, 5), (-5, 10), (0, 25), (-10, 20), (0, 30)),
        "knees_up": ((-30, -5), (15, 30), (0, 25), (-10, 20), (60, 130)),
    }[variant]

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        lean, flex, abd, twist, knee = ranges
        p.lean = _u(rng, *lean)
        _trunk(p, rng, 0.4)
        for side in "LR":
            hip = {"abd": _u(rng, *abd), "twist": _u(rng, *twist)}
            p.set(side + "Hip", flex=90 + p.lean + _u(rng, *flex), **hip)
            p.set(side + "Knee", flex=_u(rng, *knee))
        _arms(p, rng, up=60)
        return p

    return keyframed(k, draw, (1.0, 2.0))


def lying(k: Knobs) -> Clip:
    """Lying on the back, the front or a side, or reclining on the elbows."""
    variant = k.rng.choice(["back", "front", "side", "reclining"])
    roll_sign = k.rng.choice([-1.0, 1.0])

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        _trunk(p, rng, 0.4)
        p.lean = {"back": -90, "front": 90, "side": 0, "reclining": -_u(rng, 30, 65)}[variant]
        p.lean += _u(rng, -8, 8)
        p.roll = roll_sign * _u(rng, 75, 95) if variant == "side" else _u(rng, -10, 10)
        for side in "LR":
            base = 90 + p.lean if variant == "reclining" else 0.0
            p.set(
                side + "Hip",
                flex=base + _u(rng, -10, 60),
                abd=_u(rng, -10, 35),
                twist=_u(rng, -30, 40),
            )
            p.set(side + "Knee", flex=_u(rng, 0, 110))
        _arms(p, rng)
        return p

    return keyframed(k, draw, (1.0, 2.2), turn=40)


def leaning(k: Knobs) -> Clip:
    """Standing and bending the trunk far: forward, back, sideways and twisted."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -15, 60)
        for joint in ("Spine", "Thorax"):
            j = JOINT_INDEX[joint]
            extreme = np.where(rng.uniform(size=3) < 0.5, LIMITS_LOW[j], LIMITS_HIGH[j])
            p.angles[j] = extreme * rng.uniform(0.4, 1.0, size=3)
        p.set(
            "Neck",
            *(0.6 * rng.uniform(LIMITS_LOW[JOINT_INDEX["Neck"]], LIMITS_HIGH[JOINT_INDEX["Neck"]])),
        )
        _stand(p, rng)
        _arms(p, rng)
        return p

    return keyframed(k, draw, (0.9, 1.8), anchor="both", balance=True)


def reaching(k: Knobs) -> Clip:
    """Reaching in every direction with one or both hands, the trunk following, maybe a step."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -5, 15)
        _trunk(p, rng, 0.2)
        _stand(p, rng, knees=20)
        for side in "LR":
            _free_arm(p, rng, side, up=40)
        if i % 2 == 0:  # reach out; odd keyframes come back
            azimuth, elevation = _u(rng, -60, 180), _u(rng, -70, 85)
            arms = "LR" if rng.uniform() < 0.3 else k.side
            for side in arms:
                p.point(side + "Shoulder", direction(azimuth, elevation, k.side), _u(rng, 0, 35))
            p.set("Thorax", twist=_twist_toward(k.side) * 0.2 * min(azimuth, 100))
            p.set("Spine", twist=_twist_toward(k.side) * 0.2 * min(azimuth, 100))
            if elevation < -20:
                p.lean += _u(rng, 10, 40)
                for side in "LR":
                    p.set(side + "Hip", flex=p.lean + _u(rng, 0, 30))
            if rng.uniform() < 0.4:
                p.set(k.side + "Hip", flex=p.lean + _u(rng, 15, 45))
                p.set(k.side + "Knee", flex=_u(rng, 15, 60))
        return p

    return keyframed(k, draw, (0.7, 1.5), anchor="both", balance=True)


def throwing(k: Knobs) -> Clip:
    """Overarm throws: wind-up, release and follow-through, stepping onto the lead leg."""
    s, lead = k.side, _other(k.side)
    toward = _twist_toward(s)
    # Per phase (wind-up, release, follow-through): the throwing arm's azimuth and elevation
    # ranges, elbow and twist ranges, which way the chest turns, and the lean range.
    phases = {
        1: ((100, 150), (10, 50), (70, 110), (60, 90), toward, (-10, 5)),
        2: ((-10, 30), (20, 60), (5, 40), (0, 40), -toward, (10, 25)),
        3: ((-35, 0), (-50, -10), (30, 80), (-30, 20), -toward, (20, 40)),
    }

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        phase = i % 4  # ready, then the three phases above
        p.set(lead + "Hip", flex=_u(rng, 0, 15) + 30 * (phase in (1, 2)), abd=_u(rng, 0, 15))
        p.set(lead + "Knee", flex=_u(rng, 5, 20) + 25 * (phase == 1))
        p.set(s + "Hip", flex=_u(rng, -15, 5), abd=_u(rng, 0, 15))
        p.set(s + "Knee", flex=_u(rng, 5, 30))
        if phase == 0:
            p.lean = _u(rng, -5, 10)
            _free_arm(p, rng, s, up=30)
            _free_arm(p, rng, lead, up=30)
            return p
        azimuth, elevation, bend, twist, chest, lean = phases[phase]
        p.lean = _u(rng, *lean)
        arm = direction(_u(rng, *azimuth), _u(rng, *elevation), s)
        p.point(s + "Shoulder", arm, bend=_u(rng, *bend), twist=_u(rng, *twist))
        guide = direction(_u(rng, -30, 60), _u(rng, -40, 30), lead)
        p.point(lead + "Shoulder", guide, _u(rng, 20, 90))
        for joint in ("Spine", "Thorax"):
            p.set(joint, twist=chest * _u(rng, 12, 20), flex=_u(rng, 0, 15))
        return p

    return keyframed(k, draw, (0.35, 0.8), anchor=lead, balance=True)


def swinging(k: Knobs) -> Clip:
    """Two-handed swings (a bat, a club, an axe): back, through and round, the trunk turning."""
    s, o = k.side, _other(k.side)

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        phase = i % 3  # back (towards side s), through, round (towards the other side)
        p.lean = _u(rng, 5, 25)
        azimuth = {0: _u(rng, 90, 140), 1: _u(rng, -20, 20), 2: -_u(rng, 90, 140)}[phase]
        elevation = {0: _u(rng, -10, 50), 1: _u(rng, -60, 0), 2: _u(rng, 0, 60)}[phase]
        # The hands stay together: the arm on the far side crosses in front of the chest.
        p.point(s + "Shoulder", direction(max(azimuth, -45), elevation, s), _u(rng, 0, 60))
        p.point(o + "Shoulder", direction(max(-azimuth, -45), elevation, o), _u(rng, 0, 60))
        for side in "LR":
            p.set(side + "Hip", flex=p.lean + _u(rng, -5, 15), abd=_u(rng, 8, 22))
            p.set(side + "Knee", flex=_u(rng, 5, 30))
        chest = {0: 1.0, 1: 0.0, 2: -1.0}[phase] * _twist_toward(s)
        for joint in ("Spine", "Thorax"):
            p.set(joint, twist=chest * _u(rng, 15, 22))
        return p

    return keyframed(k, draw, (0.4, 0.9), anchor="both", balance=True)


def climbing(k: Knobs) -> Clip:
    """Climbing-like: high steps with alternate legs, the opposite hand reaching up."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        up = "LR"[i % 2]
        down = _other(up)
        p.lean = _u(rng, 0, 20)
        _trunk(p, rng, 0.2)
        p.set(up + "Hip", flex=p.lean + _u(rng, 50, 95), abd=_u(rng, 0, 25))
        p.set(up + "Knee", flex=_u(rng, 70, 125))
        p.set(down + "Hip", flex=p.lean + _u(rng, -10, 10), abd=_u(rng, 0, 15))
        p.set(down + "Knee", flex=_u(rng, 0, 25))
        p.point(
            down + "Shoulder", direction(_u(rng, -20, 50), _u(rng, 50, 85), down), _u(rng, 0, 40)
        )
        p.point(up + "Shoulder", direction(_u(rng, -20, 70), _u(rng, 0, 50), up), _u(rng, 40, 110))
        return p

    return keyframed(k, draw, (0.6, 1.2))


def dancing(k: Knobs) -> Clip:
    """Dance-like: arms anywhere on the beat, hips swaying, steps, small hops and turns."""

    def draw(rng: np.random.Generator, i: int) -> Pose:
        p = Pose()
        p.lean = _u(rng, -10, 15)
        _trunk(p, rng, 0.5)
        _stand(p, rng, knees=40)
        step = "LR"[i % 2]
        p.point(step + "Hip", direction(_u(rng, -30, 120), _u(rng, -90, -40), step), _u(rng, 0, 80))
        _arms(p, rng)
        p.hop = _u(rng, 0.02, 0.1) if rng.uniform() < 0.25 else 0.0
        return p

    return keyframed(k, draw, (0.35, 0.7), anchor="none", balance=True, turn=180)


#: The keyframe families: name -> clip generator.
FAMILIES: dict[str, Callable[[Knobs], Clip]] = {
    fn.__name__: fn
    for fn in (
        freeform,
        balancing,
        crouching,
        kneeling,
        sitting_chair,
        sitting_floor,
        lying,
        leaning,
        reaching,
        throwing,
        swinging,
        climbing,
        dancing,
    )
}

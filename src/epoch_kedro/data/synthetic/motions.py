"""A library of actions as joint-angle trajectories with anatomical limits.

Angles are *anatomical* degrees per joint: (flexion, abduction, twist). Positive flexion bends a
joint the way it naturally bends (thigh forward, knee closing, trunk forward, arm forward/up,
elbow closing); positive abduction moves a limb away from the midline (trunk: towards the left);
positive twist is an external rotation. :data:`AXIS_SIGNS` turns them into body-axis rotations,
and :data:`JOINT_LIMITS` bounds them, so knees and elbows never hyper-extend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS

# Active ranges of motion of healthy adults, degrees. Sources: American Academy of Orthopaedic
# Surgeons, "Joint Motion: Method of Measuring and Recording" (1965), tabulated in Greene &
# Heckman, "The Clinical Measurement of Joint Motion", AAOS (1994) [AAOS]; Soucie et al., "Range
# of motion measurements: reference values and a database for comparison studies", Haemophilia
# 17(3):500-507 (2011) [Soucie] for the knee. Hip: flexion 120, extension 30, abduction 45,
# adduction 30, internal / external rotation 45 [AAOS]. Knee: flexion 141-143 (mean, men and
# women, 20-44 y) [Soucie]. Shoulder: flexion 180, extension 60, abduction 180, internal rotation
# 70, external rotation 90 [AAOS]; adduction is measured across the body (-30 here, past which
# the arm enters the trunk). Elbow: flexion 150 [AAOS]. Thoracolumbar spine: flexion 80,
# extension 25, lateral flexion 35, rotation 45 [AAOS], shared by our Spine and Thorax joints.
# Cervical spine: flexion 45, extension 45, lateral flexion 45, rotation 60 [AAOS].
_LIMB_LIMITS = {
    "Hip": ((-30, 120), (-30, 45), (-45, 45)),
    "Knee": ((0, 143), (0, 0), (0, 0)),
    "Shoulder": ((-60, 180), (-30, 180), (-70, 90)),
    "Elbow": ((0, 150), (0, 0), (0, 0)),
}
#: (min, max) in degrees of (flexion, abduction, twist) for every joint that rotates.
JOINT_LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    **{side + name: lim for name, lim in _LIMB_LIMITS.items() for side in "LR"},
    "Spine": ((-15, 50), (-20, 20), (-25, 25)),
    "Thorax": ((-10, 30), (-15, 15), (-20, 20)),
    "Neck": ((-45, 45), (-45, 45), (-60, 60)),
}
_LIMB_SIGNS = {"Hip": (1, 1, 1), "Knee": (-1, 0, 0), "Shoulder": (1, 1, 1), "Elbow": (1, 0, 0)}
# The body x axis points to the subject's right: a rotation about the forward (y) axis by a
# positive angle swings a hanging left limb outwards, a right limb inwards.
#: Sign of each anatomical angle on the body x (flexion), y (abduction) and z (twist) axes.
AXIS_SIGNS: dict[str, tuple[int, int, int]] = {
    # Mirror images: abduction and twist turn opposite ways on the left and the right.
    **{"L" + name: signs for name, signs in _LIMB_SIGNS.items()},
    **{"R" + name: (f, -a, -t) for name, (f, a, t) in _LIMB_SIGNS.items()},
    "Spine": (-1, -1, -1),
    "Thorax": (-1, -1, -1),
    "Neck": (-1, -1, -1),
}


def _limit_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low = np.zeros((NUM_JOINTS, 3))
    high = np.zeros((NUM_JOINTS, 3))
    signs = np.zeros((NUM_JOINTS, 3))
    for joint, limits in JOINT_LIMITS.items():
        j = JOINT_INDEX[joint]
        low[j], high[j] = np.array(limits).T
        signs[j] = AXIS_SIGNS[joint]
    return low, high, signs


LIMITS_LOW, LIMITS_HIGH, SIGNS = _limit_table()


@dataclass
class Clip:
    """One motion: anatomical angles and the whole-body trajectory, T frames.

    ``angles (T, 17, 3)`` degrees; ``lean (T,)`` forward pitch of the whole body, degrees;
    ``heading (T,)`` facing direction about world z, radians; ``speed (T,)`` forward speed, m/s;
    ``hop (T,)`` lift of the whole body off the ground, m; ``anchor``: which ankle stays planted
    ("both", "L", "R" or "none"); ``roll (T,)`` sideways tilt of the whole body, degrees (lying
    on one side: +-90); ``balance``: tip the body so its centre of mass stays over the planted
    foot or feet (standing motions built from free joint angles).
    """

    angles: np.ndarray
    lean: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    hop: np.ndarray
    anchor: str = "none"
    roll: np.ndarray | None = None
    balance: bool = False

    def set(self, joint: str, flex=None, abd=None, twist=None) -> None:
        """Assign anatomical angle trajectories (scalars or (T,) arrays) to one joint."""
        j = JOINT_INDEX[joint]
        for axis, value in enumerate((flex, abd, twist)):
            if value is not None:
                self.angles[:, j, axis] = value

    def limited(self) -> Clip:
        """The clip with every angle clipped to :data:`JOINT_LIMITS`."""
        self.angles = np.clip(self.angles, LIMITS_LOW, LIMITS_HIGH)
        return self

    def axis_angles_rad(self) -> np.ndarray:
        """Body-axis rotation angles (x, y, z) in radians, ``(T, 17, 3)``."""
        return np.deg2rad(self.angles * SIGNS)


@dataclass(frozen=True)
class Knobs:
    """Per-sequence randomness: time ``t`` (s), tempo, amplitude, phase, and the leading side."""

    t: np.ndarray
    tempo: float
    amp: float
    phase: float
    side: str  # "L" or "R": the arm or leg that leads one-sided actions
    rng: np.random.Generator

    @property
    def other(self) -> str:
        """The side opposite to ``side``."""
        return "L" if self.side == "R" else "R"

    def cycle(self, hz: float) -> np.ndarray:
        """Phase angle of a periodic movement of base frequency ``hz``: ``(T,)`` radians."""
        return 2 * np.pi * hz * self.tempo * self.t + self.phase

    def wave(self, hz: float) -> np.ndarray:
        """A 0..1 back-and-forth of base frequency ``hz`` (0 at rest, 1 at the extreme)."""
        return 0.5 - 0.5 * np.cos(self.cycle(hz))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _blank(k: Knobs) -> Clip:
    n = len(k.t)
    zeros = np.zeros(n)
    heading = np.full(n, k.rng.uniform(0, 2 * np.pi))
    return Clip(np.zeros((n, NUM_JOINTS, 3)), zeros.copy(), heading, zeros.copy(), zeros.copy())


def _gait(k: Knobs, hz: float, hip: float, knee: float, arm: float, elbow: float) -> Clip:
    """Alternating legs and counter-swinging arms, shared by walking, running and turning."""
    c = _blank(k)
    psi = k.cycle(hz)
    for side, shift in (("R", 0.0), ("L", np.pi)):
        leg = psi + shift
        c.set(side + "Hip", flex=0.3 * hip + hip * k.amp * np.sin(leg), abd=3)
        c.set(side + "Knee", flex=6 + knee * k.amp * _relu(np.cos(leg - 0.3)) ** 1.5)
        c.set(side + "Shoulder", flex=5 + arm * k.amp * np.sin(leg + np.pi), abd=8)
        c.set(side + "Elbow", flex=elbow + 0.3 * elbow * np.sin(leg + np.pi))
    c.set("Spine", twist=5 * k.amp * np.sin(psi))
    c.set("Thorax", twist=-4 * k.amp * np.sin(psi))
    return c


def _circle(k: Knobs, c: Clip) -> None:
    """Go round a circle of 1.5-3 m radius, as subjects do in a capture room."""
    radius = k.rng.uniform(1.5, 3.0) * k.rng.choice([-1, 1])
    c.heading += c.speed * k.t / radius


def walking(k: Knobs) -> Clip:
    """Walking along a gently curving path."""
    c = _gait(k, hz=0.9, hip=22, knee=55, arm=20, elbow=15)
    c.lean[:] = 3
    c.speed[:] = 1.3 * k.tempo
    _circle(k, c)
    return c


def running(k: Knobs) -> Clip:
    """Running, with a flight phase each stride."""
    c = _gait(k, hz=1.4, hip=38, knee=95, arm=35, elbow=80)
    c.lean[:] = 10
    c.speed[:] = 2.6 * k.tempo
    c.hop[:] = 0.05 * k.amp * _relu(np.sin(2 * k.cycle(1.4)))
    _circle(k, c)
    return c


def turning(k: Knobs) -> Clip:
    """Stepping on the spot while turning round."""
    c = _gait(k, hz=0.9, hip=12, knee=30, arm=8, elbow=12)
    total = np.deg2rad(k.rng.uniform(90, 270)) * k.rng.choice([-1, 1])
    c.heading += total * k.t / max(k.t[-1], 1e-6)
    return c


def sitting_down(k: Knobs) -> Clip:
    """Sitting down on an unseen chair (and staying seated)."""
    c = _blank(k)
    start = k.rng.uniform(0.0, 0.3) * k.t[-1]
    duration = max(k.rng.uniform(0.3, 0.6) * k.t[-1], 1e-3)
    s = np.clip((k.t - start) / duration, 0, 1)
    p = s * s * (3 - 2 * s)  # smoothstep: no jerk at either end
    c.lean[:] = 10 * p + 25 * np.sin(np.pi * p)
    for side in "LR":
        # The thigh ends horizontal in the world: hip flexion = 90 deg + the body's lean.
        c.set(side + "Hip", flex=90 * p + c.lean, abd=8 * p)
        c.set(side + "Knee", flex=92 * p)
        c.set(side + "Shoulder", flex=10 + 25 * p, abd=6)
        c.set(side + "Elbow", flex=15 + 50 * p)
    c.set("Neck", flex=10 * np.sin(k.cycle(0.2)), twist=25 * k.amp * np.sin(k.cycle(0.15)))
    c.anchor = "both"
    return c


def squatting(k: Knobs) -> Clip:
    """Deep squats with the arms held forward for balance."""
    c = _blank(k)
    p = k.amp * k.wave(0.35)
    c.lean[:] = 35 * p
    for side in "LR":
        c.set(side + "Hip", flex=100 * p + c.lean, abd=5 + 10 * p)
        c.set(side + "Knee", flex=125 * p)
        c.set(side + "Shoulder", flex=85 * p, abd=5)
        c.set(side + "Elbow", flex=10)
    c.anchor = "both"
    return c


def waving(k: Knobs) -> Clip:
    """Waving with one raised hand."""
    c = _blank(k)
    s = k.side
    c.set(s + "Shoulder", flex=25, abd=95 + 25 * k.amp, twist=85)
    c.set(s + "Elbow", flex=55 + 35 * k.amp * np.sin(k.cycle(1.6)))
    c.set(k.other + "Shoulder", abd=6)
    c.set(k.other + "Elbow", flex=10)
    c.set("Spine", abd=4 * np.sin(k.cycle(0.3)) * (1 if s == "L" else -1))
    c.set("Neck", twist=15 * (1 if s == "L" else -1))
    c.anchor = "both"
    return c


def reaching_up(k: Knobs) -> Clip:
    """Reaching overhead, hands alternating."""
    c = _blank(k)
    psi = k.cycle(0.4)
    for side, shift in (("R", 0.0), ("L", np.pi)):
        c.set(side + "Shoulder", flex=135 + 30 * k.amp * np.sin(psi + shift), abd=12)
        c.set(side + "Elbow", flex=15 + 10 * np.cos(psi + shift))
    c.set("Spine", flex=-10 * k.amp)
    c.set("Neck", flex=-25)
    c.lean[:] = -3
    c.anchor = "both"
    return c


def picking_up(k: Knobs) -> Clip:
    """Bending down to pick something up from the floor."""
    c = _blank(k)
    p = k.amp * k.wave(0.3)
    c.lean[:] = 70 * p
    for side in "LR":
        c.set(side + "Hip", flex=c.lean + 10 * p, abd=6)
        c.set(side + "Knee", flex=30 * p)
        # Arms hang towards the floor while the trunk tips forward.
        c.set(side + "Shoulder", flex=c.lean + 10 * p, abd=5)
        c.set(side + "Elbow", flex=10 + 10 * p)
    c.set("Spine", flex=15 * p)
    c.set("Neck", flex=-20 * p)
    c.anchor = "both"
    return c


def jumping_jacks(k: Knobs) -> Clip:
    """Jumping jacks: arms and legs open and close, hopping."""
    c = _blank(k)
    p = k.wave(1.0)
    for side in "LR":
        c.set(side + "Shoulder", abd=10 + 150 * k.amp * p, flex=5)
        c.set(side + "Elbow", flex=12)
        c.set(side + "Hip", abd=3 + 22 * k.amp * p)
        c.set(side + "Knee", flex=8 + 10 * np.abs(np.sin(k.cycle(1.0))))
    c.hop[:] = 0.1 * k.amp * np.abs(np.sin(k.cycle(1.0)))
    return c


def punching(k: Knobs) -> Clip:
    """Boxing: alternating straight punches from a guard, with trunk rotation."""
    c = _blank(k)
    psi = k.cycle(1.2)
    for side, shift, turn in (("R", 0.0, 1.0), ("L", np.pi, -1.0)):
        e = _relu(np.sin(psi + shift)) ** 3  # fast extension, slow return
        c.set(side + "Shoulder", flex=60 + 28 * e, abd=20 - 10 * e)
        c.set(side + "Elbow", flex=125 - 115 * e * k.amp)
        c.set("Thorax", twist=c.angles[:, JOINT_INDEX["Thorax"], 2] + turn * 20 * e)
    c.set(k.side + "Hip", flex=18, abd=6)
    c.set(k.other + "Hip", flex=-10, abd=6)
    for side in "LR":
        c.set(side + "Knee", flex=18)
    c.lean[:] = 5
    c.anchor = "both"
    return c


def kicking(k: Knobs) -> Clip:
    """Front kicks with one leg, arms out for balance."""
    c = _blank(k)
    e = _relu(np.sin(k.cycle(0.6))) ** 2
    c.set(k.side + "Hip", flex=5 + 85 * k.amp * e, abd=5)
    c.set(k.side + "Knee", flex=10 + 280 * e * (1 - e))  # chambered mid-kick, straight at full
    c.set(k.other + "Knee", flex=10 + 10 * e)
    for side in "LR":
        c.set(side + "Shoulder", abd=15 + 30 * e, flex=20)
        c.set(side + "Elbow", flex=70)
    c.lean[:] = -12 * e
    c.anchor = k.other
    return c


def lunging(k: Knobs) -> Clip:
    """Forward lunges on one leg, hands on the hips."""
    c = _blank(k)
    p = k.amp * k.wave(0.3)
    c.set(k.side + "Hip", flex=85 * p, abd=4)
    c.set(k.side + "Knee", flex=95 * p)
    c.set(k.other + "Hip", flex=-20 * p, abd=4)
    c.set(k.other + "Knee", flex=85 * p)
    for side in "LR":
        c.set(side + "Shoulder", abd=35, flex=-15, twist=-30)
        c.set(side + "Elbow", flex=95)
    c.lean[:] = 5 * p
    c.anchor = k.side
    return c


#: The scripted actions (the original library): name -> clip generator.
SCRIPTED: dict[str, Callable[[Knobs], Clip]] = {
    fn.__name__: fn
    for fn in (
        walking,
        running,
        sitting_down,
        squatting,
        waving,
        reaching_up,
        picking_up,
        jumping_jacks,
        punching,
        kicking,
        turning,
        lunging,
    )
}

"""Generate the synthetic dataset: subjects x actions x sequences x frames x cameras.

Deterministic by seed, and each (subject, action, sequence) draws from its own random stream
keyed by *names*, so adding a subject or an action leaves every other sequence unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from epoch_kedro.data.schema import FLOAT_DTYPE, INT_DTYPE
from epoch_kedro.data.synthetic.body import (
    REFERENCE_HEIGHT,
    Subject,
    forward_kinematics,
    sample_subject,
)
from epoch_kedro.data.synthetic.cameras import (
    CameraSet,
    RigConfig,
    WildConfig,
    rig_cameras,
    wild_cameras,
)
from epoch_kedro.data.synthetic.library import ACTIONS, sample_clip
from epoch_kedro.data.synthetic.motions import Clip
from epoch_kedro.data.synthetic.plausibility import balance, floor_lift, self_intersecting
from epoch_kedro.geometry import project, rot_x, rot_y, rot_z, world_to_camera
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.progress import progress

logger = logging.getLogger(__name__)

_ANKLES = {"L": [JOINT_INDEX["LFoot"]], "R": [JOINT_INDEX["RFoot"]]}
_ANKLES["both"] = _ANKLES["L"] + _ANKLES["R"]
#: Draws of a sequence before keeping one whose limbs still pass through the body somewhere.
MAX_DRAWS = 8


@dataclass(frozen=True)
class BodyConfig:
    """Population of subjects."""

    height_mean: float = 1.72
    height_std: float = 0.09
    bone_std: float = 0.05
    width_std: float = 0.07
    proportion_std: float = 0.0  # legs vs trunk and arms (see sample_subject)


@dataclass(frozen=True)
class CameraConfig:
    """Cameras per sequence and the rig/wild mix."""

    per_sequence: int = 4
    wild_fraction: float = 0.5
    rig: RigConfig = field(default_factory=RigConfig)
    wild: WildConfig = field(default_factory=WildConfig)


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic dataset (the ``synthetic`` parameter group)."""

    seed: int = 0
    subjects: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S2", "S9", "S11")
    actions: tuple[str, ...] = tuple(ACTIONS)
    sequences_per_action: int = 2
    frames_per_sequence: int = 100
    fps: float = 25.0
    body: BodyConfig = field(default_factory=BodyConfig)
    cameras: CameraConfig = field(default_factory=CameraConfig)

    @classmethod
    def from_params(cls, params: dict[str, Any], prefix: str = "synthetic") -> SyntheticConfig:
        """Build from a (nested) parameter dict, rejecting unknown or ill-typed keys clearly."""
        config = from_params(cls, params, prefix)
        unknown = sorted(set(config.actions) - set(ACTIONS))
        if unknown:
            raise ValueError(f"{prefix}.actions: unknown {unknown}; available: {sorted(ACTIONS)}")
        if not 0.0 <= config.cameras.wild_fraction <= 1.0:
            raise ValueError(f"{prefix}.cameras.wild_fraction must be in [0, 1]")
        if min(config.sequences_per_action, config.frames_per_sequence) < 1:
            raise ValueError(f"{prefix}: sequences_per_action and frames_per_sequence must be >= 1")
        return config


def _stream(seed: int, *names: str | int) -> np.random.Generator:
    """A random stream keyed by names (stable across runs and Python versions)."""
    keys = [n if isinstance(n, int) else zlib.crc32(str(n).encode()) for n in names]
    return np.random.default_rng([seed, *keys])


def animate(subject: Subject, clip: Clip, fps: float, rng: np.random.Generator) -> np.ndarray:
    """World-frame joints ``(T, 17, 3)`` m of ``subject`` performing ``clip``, resting on the floor.

    The lowest body surface touches the floor (feet when standing, knees when kneeling, the
    back when lying), plus the clip's hop; planted feet do not slide.
    """
    heading = clip.heading
    roll = np.zeros_like(heading) if clip.roll is None else np.deg2rad(clip.roll)
    root_rotation = rot_z(heading) @ rot_x(-np.deg2rad(clip.lean)) @ rot_y(roll)
    body = forward_kinematics(subject.offsets, clip.axis_angles_rad(), root_rotation)
    if clip.balance:
        body = balance(body, "both" if clip.anchor == "none" else clip.anchor)
    forward = np.stack([-np.sin(heading), np.cos(heading)], -1)
    xy = np.cumsum(clip.speed[:, None] * forward, axis=0) / fps
    if clip.anchor != "none":
        planted = body[:, _ANKLES[clip.anchor], :2].mean(1)
        xy -= planted - planted[0]  # the planted foot does not slide
    xy += rng.normal(0, 0.3, 2) - xy.mean(0)
    z = clip.hop + floor_lift(body, subject.height / REFERENCE_HEIGHT)
    return body + np.concatenate([xy, z[:, None]], -1)[:, None, :]


def perform(
    subject: Subject, action: str, frames: int, fps: float, rng: np.random.Generator
) -> np.ndarray:
    """One sequence of ``action`` by ``subject``, redrawn while a limb passes through the body.

    After :data:`MAX_DRAWS` draws the last one is kept (a logged warning): rare limb contacts
    in one frame are better than a missing sequence.
    """
    scale = subject.height / REFERENCE_HEIGHT
    for _ in range(MAX_DRAWS):
        pose_world = animate(subject, sample_clip(action, frames, fps, rng), fps, rng)
        bad = self_intersecting(pose_world, scale)
        if not bad.any():
            return pose_world
    logger.warning(
        "%s of %s: limbs pass through the body in %d of %d frames after %d draws",
        action,
        subject.name,
        bad.sum(),
        len(bad),
        MAX_DRAWS,
    )
    return pose_world


def _observe(pose_world: np.ndarray, cams: CameraSet) -> dict[str, np.ndarray]:
    """Project one sequence into each camera: rows are camera-major ``(C*T, ...)``."""
    n_frames = len(pose_world)
    X = world_to_camera(pose_world[None], cams.R[:, None], cams.t[:, None])  # (C, T, 17, 3)
    kp2d = project(X, cams.K[:, None])
    size = cams.image_size[:, None, None, :]
    visible = (X[..., 2] > 0.05) & np.all((kp2d >= 0) & (kp2d < size), axis=-1)
    n_cams = len(cams)

    def per_row(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, n_frames, axis=0)

    return {
        "pose3d_world": np.tile(pose_world, (n_cams, 1, 1)),
        "kp2d": kp2d.reshape(n_cams * n_frames, -1, 2),
        "visible": visible.reshape(n_cams * n_frames, -1),
        "K": per_row(cams.K),
        "R": per_row(cams.R),
        "t": per_row(cams.t),
        "dist": per_row(cams.dist),
        "image_size": per_row(cams.image_size),
        "frame": np.tile(np.arange(n_frames), n_cams),
        "camera": np.repeat(np.arange(n_cams), n_frames),
    }


def _sequence_cameras(
    config: SyntheticConfig,
    subject: str,
    action: str,
    seq: int,
    pose_world: np.ndarray,
    rig: CameraSet,
) -> CameraSet:
    """The subject's rig, or (with probability ``wild_fraction``) fresh wild cameras."""
    rng = _stream(config.seed, subject, action, seq, "cameras")
    if rng.uniform() >= config.cameras.wild_fraction:
        return rig
    return wild_cameras(rng, config.cameras.per_sequence, pose_world, config.cameras.wild)


def generate_synthetic(config: SyntheticConfig) -> dict[str, np.ndarray]:
    """The whole dataset: a flat dict of per-sample arrays (:mod:`epoch_kedro.data.schema`)."""
    blocks: list[dict[str, np.ndarray]] = []
    body = dataclasses.asdict(config.body)
    n_seq = len(config.actions) * config.sequences_per_action
    for name in progress(config.subjects, desc="synthetic subjects", unit="subject"):
        subject = sample_subject(name, _stream(config.seed, name, "body"), **body)
        rig = rig_cameras(
            _stream(config.seed, name, "rig"), config.cameras.per_sequence, config.cameras.rig
        )
        for action in config.actions:
            for seq in range(config.sequences_per_action):
                rng = _stream(config.seed, name, action, seq)
                pose_world = perform(subject, action, config.frames_per_sequence, config.fps, rng)
                cams = _sequence_cameras(config, name, action, seq, pose_world, rig)
                block = _observe(pose_world, cams)
                rows = len(block["kp2d"])
                block.update(
                    subject=np.full(rows, name),
                    action=np.full(rows, action),
                    sequence=np.full(rows, seq),
                )
                blocks.append(block)
        logger.debug("subject %s: %d sequences, height %.2f m", name, n_seq, subject.height)
    data = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    return _cast(data)


def _cast(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Store floats as float32 and integers as int32, the schema's dtypes."""
    out = {}
    for key, value in data.items():
        if value.dtype.kind == "f":
            value = value.astype(FLOAT_DTYPE)
        elif value.dtype.kind in "iu":
            value = value.astype(INT_DTYPE)
        out[key] = value
    return out

"""Synthetic cameras: a Human3.6M-like studio rig and an "in the wild" distribution.

The rig is fixed per subject (like H36M's four calibrated cameras); a wild camera is drawn per
sequence and framed on the person, as a photographer would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.geometry import look_at, make_K


@dataclass(frozen=True)
class RigConfig:
    """Studio rig: cameras evenly spaced around the capture area."""

    distance: float = 5.0  # horizontal distance to the capture centre, m
    height: float = 1.5  # camera height above the floor, m
    focal: float = 1145.0  # px, for ``image_size``
    image_size: tuple[int, int] = (1000, 1000)


@dataclass(frozen=True)
class WildConfig:
    """Hand-held/tripod cameras with varied lenses and viewpoints."""

    focal_range: tuple[float, float] = (0.6, 2.0)  # focal length as a multiple of image width
    distance_range: tuple[float, float] = (1.5, 9.0)  # camera to person, m
    elevation_deg: tuple[float, float] = (-15.0, 45.0)  # positive = looking down
    roll_std_deg: float = 3.0
    principal_jitter: float = 0.02  # std of the principal point offset, fraction of width
    image_size: tuple[int, int] = (1000, 1000)
    min_eye_height: float = 0.2  # never below the floor


@dataclass(frozen=True)
class CameraSet:
    """``C`` cameras: ``K``, ``R`` ``(C,3,3)``; ``t (C,3)`` m; ``dist (C,5)``; sizes ``(C,2)``."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray
    image_size: np.ndarray

    def __len__(self) -> int:
        return len(self.K)


def _camera_set(
    focal: np.ndarray,
    center: np.ndarray,
    eye: np.ndarray,
    target: np.ndarray,
    roll: np.ndarray,
    size: tuple[int, int],
) -> CameraSet:
    """Assemble cameras from focal lengths (C,2), principal points (C,2), eyes/targets (C,3)."""
    R, t = look_at(eye, target, roll=roll)
    n = len(eye)
    K = make_K(focal[:, 0], focal[:, 1], center[:, 0], center[:, 1])
    return CameraSet(K=K, R=R, t=t, dist=np.zeros((n, 5)), image_size=np.tile(size, (n, 1)))


def rig_cameras(rng: np.random.Generator, n: int, cfg: RigConfig) -> CameraSet:
    """``n`` cameras around the capture centre, slightly jittered per subject, as in H36M."""
    w, h = cfg.image_size
    azimuth = np.deg2rad(45.0 + 360.0 / n * np.arange(n) + rng.normal(0, 4, n))
    dist = rng.normal(cfg.distance, 0.25, n)
    eye = np.stack(
        [dist * np.cos(azimuth), dist * np.sin(azimuth), rng.normal(cfg.height, 0.08, n)], -1
    )
    target = np.concatenate([rng.normal(0, 0.15, (n, 2)), rng.normal(1.0, 0.05, (n, 1))], -1)
    fx = rng.normal(cfg.focal, 4.0, n)
    focal = np.stack([fx, fx * (1 + rng.normal(0, 1e-3, n))], -1)
    center = np.array([w / 2, h / 2]) + rng.normal(0, 8, (n, 2))
    return _camera_set(focal, center, eye, target, np.deg2rad(rng.normal(0, 1, n)), cfg.image_size)


def wild_cameras(
    rng: np.random.Generator, n: int, pose_world: np.ndarray, cfg: WildConfig
) -> CameraSet:
    """``n`` independent cameras framing the person of ``pose_world (T, 17, 3)``.

    The distance is drawn so that the whole motion fits in about 90 % of the image where the
    range allows (a long lens on a moving person may crop the ends), and so that every frame's
    camera-to-person distance stays within ``distance_range``.
    """
    w, h = cfg.image_size
    joints = pose_world.reshape(-1, 3)
    centre = joints.mean(0)
    radius = np.linalg.norm(joints - centre, axis=-1).max()
    path = np.linalg.norm(pose_world[:, 0, :2] - centre[:2], axis=-1).max()
    focal_px = rng.uniform(*cfg.focal_range, n) * w
    # The person wanders up to ``path`` from the centre: keep every frame within the range.
    d_lo, d_hi = cfg.distance_range
    fit = focal_px * radius / (0.45 * min(w, h))
    low = np.maximum(d_lo + path, fit)
    high = np.maximum(d_hi - path, d_lo + path)
    # Log-uniform: every octave of distance equally likely (close phone shots to far tripods).
    distance = np.exp(rng.uniform(np.log(np.minimum(low, high)), np.log(high)))
    target = centre + rng.normal(0, 0.05, (n, 3))
    elevation = np.deg2rad(rng.uniform(*cfg.elevation_deg, n))
    # Raise the elevation just enough to keep the camera above the floor.
    lowest = np.arcsin(np.clip((cfg.min_eye_height - target[:, 2]) / distance, -1, 1))
    elevation = np.maximum(elevation, lowest)
    azimuth = rng.uniform(0, 2 * np.pi, n)
    direction = np.stack(
        [
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
        ],
        -1,
    )
    eye = target + distance[:, None] * direction
    fy = focal_px * (1 + rng.normal(0, 2e-3, n))
    center = np.array([w / 2, h / 2]) + rng.normal(0, cfg.principal_jitter * w, (n, 2))
    roll = np.deg2rad(rng.normal(0, cfg.roll_std_deg, n))
    return _camera_set(np.stack([focal_px, fy], -1), center, eye, target, roll, cfg.image_size)

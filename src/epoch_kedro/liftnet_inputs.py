"""LiftNet's inputs from pixel keypoints and K: rays, the root-centred normalised 2D pose and its
scale, with the presence mask of missing joints.

LiftNet reads a 2D pose as *rays*: pixel keypoints through ``K^-1`` (undistorted pixels), so a
pose means the same thing whatever the focal length or principal point. :func:`lift_inputs` is
the one place that turns (2D, K, gravity) into those inputs; everything that lifts calls it,
from the normalization stage to ``predict``. Plain numpy (and torch for
:func:`normalize_present`), with no model code, so the data stages do not import the networks.
"""

from __future__ import annotations

import numpy as np
import torch

from epoch_kedro.geometry import normalize_2d, rays
from epoch_kedro.skeleton import NUM_JOINTS, ROOT


def lift_inputs(
    kp2d: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """LiftNet's inputs for pixel keypoints ``(N, 17, 2)`` seen by ``K (N, 3, 3)``.

    Returns ``rays (N, 17, 3)``, the root-centred, scale-normalised ``pose2d (N, 17, 2)`` and
    its ``scale2d (N,)``; with ``gravity (N, 3)`` (world "down" in camera coordinates, zero
    where unknown) also ``gravity`` and the camera ``elevation (N,)`` in radians (NaN where
    gravity is unknown). With ``present (N, 17)`` bool, also ``present``: the keypoints where
    it is False are ignored (any value, NaN included), their rays are NaN, their ``pose2d``
    zero, and the scale is taken over the present joints (:func:`normalize_present`).
    """
    kp2d = np.asarray(kp2d, np.float64)
    if present is not None:
        present = check_present(present, kp2d.shape[:2])
        kp2d = np.where(present[..., None], kp2d, 0.0)
    ray = rays(kp2d, np.asarray(K, np.float64))
    if present is None:
        pose2d, scale = normalize_2d(ray[..., :2])
        out = {"rays": ray, "pose2d": pose2d, "scale2d": scale}
    else:
        pose2d, scale = normalize_present(ray[..., :2], present)
        ray = np.where(present[..., None], ray, np.nan)
        out = {"rays": ray, "pose2d": pose2d, "scale2d": scale, "present": present}
    if gravity is not None:
        gravity = np.asarray(gravity, np.float64)
        known = np.linalg.norm(gravity, axis=-1) > 0
        out["gravity"] = gravity
        out["elevation"] = np.where(known, np.arcsin(np.clip(gravity[:, 2], -1, 1)), np.nan)
    return out


def check_present(present: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``present`` as a bool ``(N, 17)`` array with every root present, else one-line
    ``ValueError``: the root (pelvis) anchors the pose's position and its 2D frame."""
    mask = np.asarray(present)
    if mask.shape != tuple(shape) or mask.dtype != bool:
        raise ValueError(
            f"present must be a bool array of shape (N, {NUM_JOINTS}) matching the keypoints "
            f"{tuple(shape)}, got {mask.dtype} {mask.shape}"
        )
    if not mask[:, ROOT].all():
        raise ValueError(
            f"present[{int(np.flatnonzero(~mask[:, ROOT])[0])}, {ROOT}] is False: the root "
            "(pelvis, the hips' midpoint) must be present; it places the person"
        )
    return mask


def normalize_present(ray_xy, present):
    """:func:`~epoch_kedro.geometry.normalize_2d` over the present joints only: root-centred,
    divided by the RMS root distance of the present joints, zero at the missing ones. Works
    on numpy arrays and torch tensors (training renormalises dropped-out poses with it)."""
    xp = torch if isinstance(ray_xy, torch.Tensor) else np
    # where, not a product: a missing joint's NaN must not leak into the scale.
    centred = xp.where(present[..., None], ray_xy - ray_xy[:, ROOT : ROOT + 1], 0.0)
    count = present.sum(-1).clip(min=1)
    scale = ((centred**2).sum((-1, -2)) / count) ** 0.5
    return centred / scale.clip(min=1e-12)[:, None, None], scale

"""LiftNet's inputs and its batched forward pass (shared by training, evaluation and the API).

LiftNet reads a 2D pose as *rays*: pixel keypoints through ``K^-1`` (undistorted pixels), so a
pose means the same thing whatever the focal length or principal point. :func:`lift_inputs` is
the one place that turns (2D, K, gravity) into those inputs; everything that lifts calls it.
"""

from __future__ import annotations

import numpy as np
import torch

from epoch_kedro.geometry import normalize_2d, rays
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.skeleton import FLIP_PERMUTATION, NUM_JOINTS, ROOT

#: Model-input fields LiftNet consumes: no 3D, no camera extrinsics beyond gravity.
LIFT_INPUTS = ("pose2d", "scale2d", "root_ray", "gravity")


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


def lift_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The LiftNet inputs of a model-input split (or of :func:`lift_inputs`) as float32 tensors.

    Splits without ``gravity`` lift as if it were unknown; splits without ``present`` have
    every joint. Generated splits also carry per-joint ``confidence`` (RegNet's flip test),
    which weights the 2D cycle term in training.
    """
    tensors = {
        "pose2d": torch.as_tensor(arrays["pose2d"], dtype=torch.float32),
        "scale2d": torch.as_tensor(arrays["scale2d"], dtype=torch.float32),
        "root_ray": torch.as_tensor(arrays["rays"][:, 0, :2], dtype=torch.float32),
    }
    for key in ("gravity", "confidence"):
        if key in arrays:
            tensors[key] = torch.as_tensor(arrays[key], dtype=torch.float32)
    if "present" in arrays:
        tensors["present"] = torch.as_tensor(np.asarray(arrays["present"], bool))
    return tensors


#: Every field of a LiftNet input batch, as :func:`every_field` completes it.
EVERY_FIELD = ("pose2d", "scale2d", "root_ray", "gravity", "present")


def every_field(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A LiftNet input batch with exactly the fields of :data:`EVERY_FIELD`, so that batches
    of different sources concatenate: unknown gravity as zeros, every joint present where the
    source has no mask (other fields, e.g. ``confidence``, are dropped)."""
    n = len(batch["pose2d"])
    out = {key: batch[key].float() for key in ("pose2d", "scale2d", "root_ray")}
    out["gravity"] = batch.get("gravity", torch.zeros(n, 3)).float()
    out["present"] = batch.get("present", torch.ones(n, NUM_JOINTS, dtype=torch.bool)).bool()
    return out


def input_sample(split: dict[str, np.ndarray], n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``n`` random rows (all, if fewer; in split order) of a model-input split as LiftNet
    input tensors with :func:`every_field`: e.g. the poses a LiftNet artifact replays when it
    is adapted (:mod:`epoch_kedro.training.adapt`)."""
    tensors = every_field(lift_tensors(split))
    size = len(tensors["pose2d"])
    idx = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[: min(n, size)]
    idx = idx.sort().values
    return {key: value[idx] for key, value in tensors.items()}


def inputs_from_keypoints(
    kp2d: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """LiftNet input tensors from pixel keypoints ``(N, 17, 2)``, K ``(N, 3, 3)``, gravity and
    the ``present (N, 17)`` mask (:func:`lift_inputs`)."""
    return lift_tensors(lift_inputs(kp2d, K, gravity, present))


def lift(model: LiftNet, batch: dict[str, torch.Tensor]):
    """One LiftNet forward on a batch of :data:`LIFT_INPUTS` (gravity, present optional)."""
    return model(
        batch["pose2d"], batch["scale2d"], batch["root_ray"], batch.get("gravity"),
        batch.get("present"),
    )  # fmt: skip


def mirror_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LiftNet's inputs for the mirror image of the scene (a flip about the principal ray).

    In ray coordinates a horizontal mirror is exact whatever K is: every ray's x changes sign
    and the left and right joints swap; gravity's x changes sign too. Per-joint fields
    (``confidence``, ``present``) follow their joints.
    """
    perm = torch.as_tensor(FLIP_PERMUTATION, device=batch["pose2d"].device)
    out = dict(batch)
    out["pose2d"] = _negate_x(batch["pose2d"][:, perm])
    out["root_ray"] = _negate_x(batch["root_ray"])
    if "gravity" in batch:
        out["gravity"] = _negate_x(batch["gravity"])
    for key in ("confidence", "present"):
        if key in batch:
            out[key] = batch[key][:, perm]
    return out


def mirror_poses(pose: torch.Tensor) -> torch.Tensor:
    """Camera-frame poses ``(N, 17, 3)`` of the mirror image mapped back (and vice versa)."""
    return _negate_x(pose[:, torch.as_tensor(FLIP_PERMUTATION, device=pose.device)])


def _negate_x(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([-x[..., :1], x[..., 1:]], -1)


def predict_poses(
    model: LiftNet, inputs: dict[str, torch.Tensor], batch_size: int = 4096, flip: bool = True
) -> np.ndarray:
    """Metric camera-frame poses ``(N, 17, 3)`` as numpy, batched, in eval mode.

    ``flip``: the flip test. The pose is the mean of the lift and of the mirrored lift of the
    mirror image (:func:`mirror_inputs`), so a prediction and that of the mirror image are
    exact mirrors of each other; measured, it lowers PA-MPJPE by 0.7-2.5 mm on every LiftNet
    variant tried (docs/MODELS.md, "LiftNet").
    """
    device = next(model.parameters()).device
    model.eval()
    chunks = []
    n = len(inputs["pose2d"])
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size].to(device) for k, v in inputs.items()}
            pose = lift(model, batch).pose.float()
            if flip:
                mirrored = lift(model, mirror_inputs(batch)).pose.float()
                pose = 0.5 * (pose + mirror_poses(mirrored))
            chunks.append(pose.cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 17, 3), np.float32)

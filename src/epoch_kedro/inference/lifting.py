"""LiftNet's input tensors and its batched forward pass (shared by training, evaluation and the
API). The inputs themselves come from :func:`epoch_kedro.liftnet_inputs.lift_inputs`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from epoch_kedro.inference.checks import check_lift_inputs, result_warnings
from epoch_kedro.liftnet_inputs import check_present, lift_inputs
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.skeleton import FLIP_PERMUTATION, NUM_JOINTS

#: Model-input fields LiftNet consumes: no 3D, no camera extrinsics beyond gravity.
LIFT_INPUTS = ("pose2d", "scale2d", "root_ray", "gravity")


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
    the ``present (N, 17)`` mask (:func:`~epoch_kedro.liftnet_inputs.lift_inputs`)."""
    return lift_tensors(lift_inputs(kp2d, K, gravity, present))


def lift(model: LiftNet, batch: dict[str, torch.Tensor]):
    """One LiftNet forward on a batch of :data:`LIFT_INPUTS` (gravity, present optional)."""
    return model(
        batch["pose2d"], batch["scale2d"], batch["root_ray"], batch.get("gravity"),
        batch.get("present"),
    )  # fmt: skip


def head_elevation(
    model: LiftNet, inputs: dict[str, torch.Tensor], batch_size: int = 8192
) -> np.ndarray:
    """The elevation head's camera elevation (rad, ``(N,)``) for LiftNet inputs, gravity hidden:
    what the 2D pose alone says of the camera's tilt (ElePose's head)."""
    device = next(model.parameters()).device
    inputs = {k: v for k, v in inputs.items() if k != "gravity"}
    model.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(inputs["pose2d"]), batch_size):
            batch = {k: v[start : start + batch_size].to(device) for k, v in inputs.items()}
            chunks.append(lift(model, batch).elevation.float().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


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


def lift_keypoints(
    model: LiftNet,
    keypoints_px: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Lift 2D keypoints ``(N, 17, 2)`` px with intrinsics K to metric 3D ``(N, 17, 3)``.

    ``present (N, 17)`` bool: the joints seen. Where it is False the keypoint is ignored (NaN
    or any value); the 3D of all 17 joints comes back (docs/MISSING_JOINTS.md). The root
    (pelvis) must be present, and only a LiftNet trained with the presence mask lifts partial
    poses. Without ``present`` every keypoint must be finite.

    Refuses (``ValueError``, one line) inputs that are almost surely a mistake: normalised
    keypoints, a K that is not upper-triangular with last row [0, 0, 1] or implies an
    implausible field of view, a gravity that is not a unit vector (zeros mean unknown);
    warns when poses come back NaN or implausibly far away
    (:mod:`epoch_kedro.inference.checks`).
    """
    pose3d = predict_poses(model, checked_inputs(model, keypoints_px, K, gravity, present))
    pose3d = pose3d.astype(np.float64)
    for line in result_warnings(pose3d):
        warnings.warn(line, stacklevel=2)
    return pose3d


def checked_inputs(
    model: LiftNet,
    keypoints_px: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None,
    present: np.ndarray | None,
) -> dict:
    """LiftNet's input tensors for :func:`lift_keypoints`'s arguments, after its checks
    (one-line ``ValueError`` on a mistake)."""
    kp = np.asarray(keypoints_px, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"keypoints_px must have shape (N, {NUM_JOINTS}, 2), got {kp.shape}")
    seen = np.ones(kp.shape[:2], bool) if present is None else check_present(present, kp.shape[:2])
    finite = np.isfinite(kp).all(-1)
    if not finite[seen].all():
        i, j = np.argwhere(seen & ~finite)[0]
        where = "" if present is None else f" where present is True (pose {i}, joint {j})"
        raise ValueError(f"keypoints_px contains NaN or inf{where}")
    if present is not None and not model.config.presence_mask and not seen.all():
        raise ValueError(
            "present: this LiftNet was trained without a presence mask and cannot lift poses "
            "with missing joints; retrain it (make run) or pass complete poses"
        )
    n = len(kp)
    K = as_batch(K, "K", (3, 3), n)
    if gravity is not None:
        gravity = as_batch(gravity, "gravity", (3,), n)
    kp = np.where(seen[..., None], kp, np.nan)
    check_lift_inputs(kp, K, gravity)
    return inputs_from_keypoints(kp, K, gravity, present)


def as_batch(value: np.ndarray, name: str, shape: tuple[int, ...], n: int) -> np.ndarray:
    """``value`` as float64 ``(n, *shape)``, broadcasting one shared ``shape`` array."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == shape:
        arr = np.tile(arr, (n, *([1] * len(shape))))
    if arr.shape != (n, *shape):
        raise ValueError(
            f"{name} must have shape {shape} or (N, {', '.join(map(str, shape))}) "
            f"with N={n}, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr

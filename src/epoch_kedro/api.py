"""The public Python API.

>>> from epoch_kedro.api import load_liftnet, lift
>>> model = load_liftnet("data/06_models/liftnet.pt")
>>> pose3d = lift(model, keypoints_px, K)            # (N, 17, 3) metres, camera frame
>>> adapted = adapt(model, keypoints_px, K)          # learn from these 2D poses (no 3D)
>>> save_liftnet(adapted, "out/liftnet_adapted.pt")
>>> predict(["frames/"], "out")                      # the same as `epoch-kedro predict`

Keypoints follow the Human3.6M 17-joint order (:mod:`epoch_kedro.skeleton`) in *undistorted*
pixels; ``K`` is ``(3, 3)`` or one per pose ``(N, 3, 3)``; ``gravity`` (optional, ``(3,)`` or
``(N, 3)``) is the world "down" direction in camera coordinates, e.g. ``R @ [0, 0, -1]``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from epoch_kedro.errors import CheckpointError
from epoch_kedro.inference.checks import check_lift_inputs, result_warnings
from epoch_kedro.inference.lifting import check_present, inputs_from_keypoints, predict_poses
from epoch_kedro.models.artifacts import (
    liftnet_from_artifact,
    liftnet_to_artifact,
    localizer_from_artifact,
    regnet_from_artifact,
)
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet
from epoch_kedro.predict.core import predict
from epoch_kedro.skeleton import NUM_JOINTS
from epoch_kedro.training.adapt import AdaptConfig, adapt_model
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint
from epoch_kedro.utils.runtime import pick_device

__all__ = [
    "adapt",
    "lift",
    "load_liftnet",
    "load_localizer",
    "load_regnet",
    "predict",
    "save_liftnet",
]


def load_liftnet(path: str | Path, device: str = "auto") -> LiftNet:
    """A trained LiftNet artifact (``data/06_models/liftnet.pt``), in eval mode on ``device``
    (``auto``: CUDA when available, else the CPU)."""
    return _load(path, liftnet_from_artifact, device)


def load_regnet(path: str | Path, device: str = "auto") -> RegNet:
    """A trained RegNet artifact (``data/06_models/regnet.pt``), as :func:`load_liftnet`."""
    return _load(path, regnet_from_artifact, device)


def load_localizer(path: str | Path, device: str = "auto") -> Localizer:
    """A trained localiser artifact (``data/06_models/localizer.pt``), as :func:`load_liftnet`."""
    return _load(path, localizer_from_artifact, device)


def _load(path: str | Path, rebuild, device: str):
    """``rebuild(artifact)`` on ``device``; an artifact whose config or weights do not fit
    the network (another version, a damaged or hand-edited file) is one line naming it."""
    artifact = load_checkpoint(path)
    try:
        model = rebuild(artifact)
    except (TypeError, KeyError, RuntimeError) as err:
        first = " ".join(str(err).split())[:300]
        raise CheckpointError(
            f"{path}: not a model this version can load ({first}); re-run the pipeline "
            "that writes it (make run)"
        ) from None
    return model.to(pick_device(device))


def _as_batch(value: np.ndarray, name: str, shape: tuple[int, ...], n: int) -> np.ndarray:
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


def lift(
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
    pose3d = predict_poses(model, _checked_inputs(model, keypoints_px, K, gravity, present))
    pose3d = pose3d.astype(np.float64)
    for line in result_warnings(pose3d):
        warnings.warn(line, stacklevel=2)
    return pose3d


def adapt(
    model: LiftNet,
    keypoints_px: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None = None,
    present: np.ndarray | None = None,
    steps: int | None = None,
    config: AdaptConfig | None = None,
    about: dict | None = None,
) -> LiftNet:
    """A copy of ``model`` adapted to these 2D poses without 3D labels (docs/ADAPTATION.md);
    lift them with it afterwards (:func:`lift`). The inputs are those of :func:`lift` (one
    person's poses over a recording, every camera of it, as many as you have: at least
    ``config.min_poses``); ``steps`` overrides ``config.steps``; ``about`` is kept in the
    adapted model's record (say what the poses were). Save it with :func:`save_liftnet`.

    ``model`` must come from :func:`load_liftnet` of an artifact that carries adaptation data
    (``make run`` writes them); ``ValueError`` (one line) otherwise and on bad inputs.
    """
    config = config or AdaptConfig()
    if steps is not None:
        config = replace(config, steps=int(steps))
    inputs = _checked_inputs(model, keypoints_px, K, gravity, present)
    about = {"poses": len(inputs["pose2d"]), **(about or {})}
    return adapt_model(model, inputs, config, about).to(next(model.parameters()).device)


def save_liftnet(model: LiftNet, path: str | Path) -> None:
    """Write a LiftNet (e.g. adapted) as an artifact :func:`load_liftnet` and
    ``predict --liftnet`` read, atomically, with its checksum."""
    save_checkpoint(liftnet_to_artifact(model), path)


def _checked_inputs(
    model: LiftNet,
    keypoints_px: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None,
    present: np.ndarray | None,
) -> dict:
    """LiftNet's input tensors for :func:`lift`'s arguments, after its checks."""
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
    K = _as_batch(K, "K", (3, 3), n)
    if gravity is not None:
        gravity = _as_batch(gravity, "gravity", (3,), n)
    kp = np.where(seen[..., None], kp, np.nan)
    check_lift_inputs(kp, K, gravity)
    return inputs_from_keypoints(kp, K, gravity, present)

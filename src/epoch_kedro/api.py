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

from epoch_kedro.inference.lifting import lift_keypoints as lift
from epoch_kedro.models.artifacts import load_liftnet, load_localizer, load_regnet, save_liftnet
from epoch_kedro.predict.core import predict
from epoch_kedro.training.adapt import adapt_keypoints as adapt

__all__ = [
    "adapt",
    "lift",
    "load_liftnet",
    "load_localizer",
    "load_regnet",
    "predict",
    "save_liftnet",
]

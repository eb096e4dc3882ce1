"""``epoch-kedro predict``: metric 3D poses from your own images or 2D keypoint files.

- :mod:`~epoch_kedro.predict.readers`: which files the inputs name; keypoint file readers;
- :mod:`~epoch_kedro.predict.camera`: the camera from a file, ``--focal`` or ``--fov``;
- :mod:`~epoch_kedro.predict.core`: :func:`predict` (images via RegNet, keypoints, LiftNet);
- :mod:`~epoch_kedro.predict.outputs` and :mod:`~epoch_kedro.predict.plots`: what it writes;
- :mod:`~epoch_kedro.predict.cli`: the command line.
"""

from epoch_kedro.predict.camera import DEFAULT_FOV_DEG, Camera, camera_from_options
from epoch_kedro.predict.cli import main
from epoch_kedro.predict.core import DEFAULT_LIFTNET, DEFAULT_LOCALIZER, DEFAULT_REGNET, predict
from epoch_kedro.predict.readers import PredictError, ReadOptions, input_files, read_poses

__all__ = [
    "DEFAULT_FOV_DEG",
    "DEFAULT_LIFTNET",
    "DEFAULT_LOCALIZER",
    "DEFAULT_REGNET",
    "Camera",
    "PredictError",
    "ReadOptions",
    "camera_from_options",
    "input_files",
    "main",
    "predict",
    "read_poses",
]

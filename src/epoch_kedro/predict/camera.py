"""The camera of ``epoch-kedro predict``: a calibration file, a focal length, a field of view, or
(images only) RegNet's own estimate.

A :class:`Camera` is a rule that gives K for images of a given size: a calibration file has one
fixed K (and may name its image size, checked against the inputs'); ``--focal`` and ``--fov``
put the principal point at the centre of each image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from epoch_kedro.inference.checks import FOV_RANGE_DEG, check_K
from epoch_kedro.predict.readers import PredictError

#: Horizontal field of view assumed for keypoint files without a camera (a typical phone or
#: webcam lens); pass --camera, --focal or --fov when you know better.
DEFAULT_FOV_DEG = 60.0


@dataclass(frozen=True)
class Camera:
    """Intrinsics (fixed ``K``, or ``focal`` px / ``fov_deg`` for any image size), lens
    distortion (OpenCV order) and where they came from."""

    origin: str
    K: np.ndarray | None = None
    dist: np.ndarray | None = None
    image_size: tuple[int, int] | None = None  # the size K belongs to, when the file says
    focal: float | None = None
    fov_deg: float | None = None

    def intrinsics(self, sizes: np.ndarray | None, count: int) -> np.ndarray:
        """K ``(count, 3, 3)`` for inputs of image ``sizes (count, 2)`` (W, H) or unknown size."""
        if self.K is not None:
            if sizes is not None and self.image_size is not None:
                wrong = np.flatnonzero(np.any(sizes != self.image_size, axis=1))
                if len(wrong):
                    raise PredictError(
                        f"{self.origin}: calibrated for {self.image_size[0]}x"
                        f"{self.image_size[1]} images, input {wrong[0]} is "
                        f"{int(sizes[wrong[0], 0])}x{int(sizes[wrong[0], 1])}"
                    )
            return np.tile(self.K, (count, 1, 1))
        if sizes is None:
            raise PredictError("keypoint files carry no image size: give --image-size W H to "
                               "place the principal point (or --camera FILE)")  # fmt: skip
        sizes = np.asarray(sizes, np.float64).reshape(-1, 2) * np.ones((count, 1))
        focal = self.focal
        if focal is None:
            focal = sizes[:, 0] / (2 * np.tan(np.radians(self.fov_deg) / 2))
        K = np.zeros((count, 3, 3))
        K[:, 0, 0] = K[:, 1, 1] = focal
        K[:, :2, 2] = sizes / 2
        K[:, 2, 2] = 1.0
        return K

    def as_json(self) -> dict[str, Any]:
        """What the outputs record: the fixed K (null when it depends on the image), the lens,
        the image size and the origin."""
        return {
            "K": None if self.K is None else self.K.tolist(),
            "dist": None if self.dist is None else self.dist.tolist(),
            "image_size": None if self.image_size is None else list(self.image_size),
            "origin": self.origin,
        }


def _matrix(value: Any, name: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape or not np.isfinite(arr).all():
        raise PredictError(f"{source}: '{name}' must be finite with shape {shape}")
    return arr


def _camera_file(path: str) -> Camera:
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise PredictError(f"{path}: not a readable JSON/YAML camera file ({err})") from None
    if not isinstance(spec, dict) or "K" not in spec:
        raise PredictError(f"{path}: expected a mapping with 'K' (3x3)")
    K = _matrix(spec["K"], "K", (3, 3), path)
    try:
        check_K(K[None])
    except ValueError as err:
        raise PredictError(f"{path}: {str(err).replace('K[0]', 'K')}") from None
    dist = spec.get("dist")
    dist = None if dist is None else _matrix(dist, "dist", (np.size(dist),), path)
    if dist is not None and len(dist) not in (4, 5):
        raise PredictError(f"{path}: 'dist' must be [k1, k2, p1, p2(, k3)] (OpenCV order)")
    size = spec.get("image_size")
    if size is not None:
        size = _matrix(size, "image_size", (2,), path)
        if np.any(size <= 0):
            raise PredictError(f"{path}: 'image_size' must be [W, H] in pixels")
        size = (int(size[0]), int(size[1]))
    return Camera(f"camera file {path}", K=K, dist=dist, image_size=size)


def camera_from_options(
    camera: str | None = None,
    focal: float | None = None,
    fov: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> Camera | None:
    """The camera the options name: a JSON/YAML file (``K``, optional ``dist``,
    ``image_size``), ``--focal`` px or a horizontal ``--fov`` in degrees (the principal point
    at the image centre), or None when none is given. ``image_size`` (``--image-size``) fixes
    K at once for keypoint files."""
    if camera is not None:
        return _camera_file(camera)
    if focal is not None:
        if not focal > 0:
            raise PredictError(f"--focal {focal}: expected a positive focal length in pixels")
        rule = Camera(f"--focal {focal:g} px", focal=float(focal))
    elif fov is not None:
        if not FOV_RANGE_DEG[0] <= fov <= FOV_RANGE_DEG[1]:
            raise PredictError(f"--fov {fov}: expected a horizontal field of view in degrees "
                               f"({FOV_RANGE_DEG[0]:g} to {FOV_RANGE_DEG[1]:g})")  # fmt: skip
        rule = Camera(f"--fov {fov:g} deg", fov_deg=float(fov))
    else:
        return None
    if image_size is None:
        return rule
    K = rule.intrinsics(np.array([image_size]), 1)[0]
    return Camera(rule.origin, K=K, image_size=(int(image_size[0]), int(image_size[1])))


def default_camera() -> Camera:
    """Keypoint files without a camera: the default field of view (:data:`DEFAULT_FOV_DEG`)."""
    return Camera(f"default {DEFAULT_FOV_DEG:g} deg field", fov_deg=DEFAULT_FOV_DEG)

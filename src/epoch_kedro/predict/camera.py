"""The camera of ``epoch-kedro predict``: a calibration file, a focal length, a field of view, or
(images only) the image's EXIF, else RegNet's own estimate.

A :class:`Camera` is a rule that gives K for images of a given size: a calibration file has one
fixed K (and may name its image size, checked against the inputs'); ``--focal`` and ``--fov``
put the principal point at the centre of each image. :func:`exif_intrinsics` reads K from an
image file's EXIF focal length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import ExifTags, Image

from epoch_kedro.inference.checks import FOV_RANGE_DEG, check_K
from epoch_kedro.predict.readers import PredictError

#: Horizontal field of view assumed for keypoint files without a camera (a typical phone or
#: webcam lens); pass --camera, --focal or --fov when you know better.
DEFAULT_FOV_DEG = 60.0

#: Horizontal fields of view (degrees) believed from EXIF; outside, the tags are taken as wrong.
EXIF_FOV_RANGE_DEG = (10.0, 150.0)
#: The diagonal (mm) of the 36 x 24 mm frame that 35 mm equivalent focal lengths refer to.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # 43.267
#: Millimetres per EXIF FocalPlaneResolutionUnit: 2 inch (the default), 3 cm; 4 mm and 5 um are
#: written by some cameras (as exiftool reads them). 1, "no absolute unit", cannot give a focal.
_PLANE_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
#: Why an image has no EXIF K when the tags are simply not there (nothing was rejected).
NO_EXIF_FOCAL = "no FocalLengthIn35mmFilm, nor FocalLength with FocalPlaneX/YResolution in EXIF"


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
    origins: tuple[str, ...] | None = None  # one per input, where K's origin varies per image

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
        document = {
            "K": None if self.K is None else self.K.tolist(),
            "dist": None if self.dist is None else self.dist.tolist(),
            "image_size": None if self.image_size is None else list(self.image_size),
            "origin": self.origin,
        }
        if self.origins is not None:
            document["origins"] = list(self.origins)
        return document


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
        if K[0, 2] >= size[0] or K[1, 2] >= size[1]:
            raise PredictError(f"{path}: the principal point ({K[0, 2]:g}, {K[1, 2]:g}) px is "
                               f"outside the {size[0]}x{size[1]} image")  # fmt: skip
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
    if image_size is not None and not all(side >= 1 for side in image_size):
        raise PredictError(f"--image-size {image_size[0]} {image_size[1]}: expected a width and "
                           "a height in pixels, both positive")  # fmt: skip
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


class _Unusable(ValueError):
    """EXIF gives no focal length; ``absent`` when the tags are missing rather than wrong."""

    def __init__(self, reason: str, absent: bool = False) -> None:
        super().__init__(reason)
        self.absent = absent


def _exif_tags(path: str | Path) -> dict[int, Any]:
    """The top-level and Exif-IFD tags of an image file (only its header is read). The focal
    tags belong in the Exif IFD; a few writers put them at the top level."""
    with Image.open(path) as image:
        exif = image.getexif()
        return {**dict(exif), **dict(exif.get_ifd(ExifTags.IFD.Exif))}


def _number(tags: dict[int, Any], tag: int) -> float:
    """A numeric tag as a float (NaN when not a number: a rational over 0, a tuple)."""
    if tags.get(tag) is None:
        raise _Unusable(f"no {ExifTags.TAGS.get(tag, hex(tag))}", absent=True)
    try:
        return float(tags[tag])
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan


def _positive(value: float, name: str, unit: str = "") -> float:
    if not value > 0:  # also NaN
        raise _Unusable(f"{name} is {value:g}{unit}")
    return value


def _from_35mm(tags: dict[int, Any], size: tuple[int, int]) -> tuple[float, float]:
    """f px from FocalLengthIn35mmFilm (0xA405). Its 35 mm equivalent is the focal length giving
    the same *diagonal* field of view on a 36 x 24 mm frame (CIPA DCG-001; exiftool's
    ScaleFactor35efl is sqrt(36^2 + 24^2) / sensor diagonal), so the image diagonal spans
    43.267 mm: f_px = f35 * hypot(W, H) / 43.267. It does not depend on orientation or
    resizing. 0 means unknown (Exif 2.3)."""
    f35 = _positive(_number(tags, ExifTags.Base.FocalLengthIn35mmFilm), "FocalLengthIn35mmFilm")
    focal = f35 * math.hypot(*size) / FULL_FRAME_DIAGONAL_MM
    return focal, focal


def _resize_scale(tags: dict[int, Any], size: tuple[int, int]) -> float:
    """Pixels now per pixel when the EXIF was written (ExifImageWidth/Height, 0xA002/3): the file
    may have been resized since. 1 when EXIF does not say."""
    try:
        width = _number(tags, ExifTags.Base.ExifImageWidth)
    except _Unusable:
        return 1.0
    if not width > 0:
        return 1.0
    scale = size[0] / width
    try:
        height = _number(tags, ExifTags.Base.ExifImageHeight)
    except _Unusable:
        return scale
    if height > 0 and not math.isclose(size[1] / height, scale, rel_tol=0.01):
        raise _Unusable(f"the image is {size[0]}x{size[1]} but EXIF says {width:g}x{height:g} "
                        "(cropped or rotated since)")  # fmt: skip
    return scale


def _from_focal_plane(tags: dict[int, Any], size: tuple[int, int]) -> tuple[float, float]:
    """f px from FocalLength (0x920A, mm) and FocalPlaneX/YResolution (0xA20E/F: sensor pixels
    per FocalPlaneResolutionUnit, 0xA210, at the original image size): f_px = f_mm * resolution
    / mm per unit * (width now / ExifImageWidth). The X/Y resolutions are along the sensor's
    axes, those of the stored pixels, which RegNet reads (``open_rgb`` ignores Orientation)."""
    focal = _positive(_number(tags, ExifTags.Base.FocalLength), "FocalLength", " mm")
    planes = (ExifTags.Base.FocalPlaneXResolution, ExifTags.Base.FocalPlaneYResolution)
    res = [_positive(_number(tags, t), "FocalPlaneX/YResolution") for t in planes]
    unit = tags.get(ExifTags.Base.FocalPlaneResolutionUnit, 2)
    if unit not in _PLANE_UNIT_MM:
        raise _Unusable(f"FocalPlaneResolutionUnit is {unit!r}, not a length")
    scale = _resize_scale(tags, size) / _PLANE_UNIT_MM[unit]
    return focal * res[0] * scale, focal * res[1] * scale


def _check_focal(fx: float, fy: float, width: int, source: str) -> None:
    fov = math.degrees(2 * math.atan2(width / 2, fx))
    if not EXIF_FOV_RANGE_DEG[0] <= fov <= EXIF_FOV_RANGE_DEG[1]:
        raise _Unusable(f"{source} gives a {fov:.3g} deg horizontal field of view")
    if not 0.9 <= fx / fy <= 1.1:
        raise _Unusable(f"{source} gives fx/fy = {fx / fy:.3g} (non-square pixels)")


def exif_intrinsics(path: str | Path, size: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    """K from an image file's EXIF for its pixels of ``size`` (W, H) as RegNet reads them, and
    the tag it came from (``FocalLengthIn35mmFilm``, else ``FocalLength`` with the focal-plane
    resolution); the principal point at the image centre, no distortion. Missing, unreadable or
    implausible tags (a horizontal field of view outside :data:`EXIF_FOV_RANGE_DEG`) give
    ``(None, why)``: bad EXIF is never an error."""
    size = (int(size[0]), int(size[1]))
    try:
        tags = _exif_tags(path)
    except Exception as err:  # Pillow's EXIF parser raises assorted errors on malformed data
        return None, f"unreadable EXIF ({err})"
    problems = []
    for source, read in (("FocalLengthIn35mmFilm", _from_35mm),
                         ("FocalLength", _from_focal_plane)):  # fmt: skip
        try:
            fx, fy = read(tags, size)
            _check_focal(fx, fy, size[0], source)
        except _Unusable as err:
            if not err.absent:
                problems.append(str(err))
            continue
        K = np.array([[fx, 0.0, size[0] / 2], [0.0, fy, size[1] / 2], [0.0, 0.0, 1.0]])
        return K, source
    return None, "; ".join(problems) or NO_EXIF_FOCAL

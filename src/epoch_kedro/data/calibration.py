"""Readers of multi-camera calibration files into one structure, :class:`Camera`.

Every reader returns a tuple of cameras in the conventions of :mod:`epoch_kedro.geometry`:
OpenCV pinhole ``x_cam = R @ X_world + t`` with ``t`` in metres, pixels ``K @ x_cam / z``, and
``dist = (k1, k2, p1, p2, k3)`` in OpenCV's order *and model* (use
:func:`~epoch_kedro.geometry.undistort_pixels_opencv`, not the Human3.6M ``undistort_pixels``).

Formats (see docs/MULTIVIEW.md):

- Qualisys ``.qca.txt`` (XML), converted as Pose2Sim's ``calib_qca_fun`` does;
- Pose2Sim ``.toml`` (``[cam_01]`` tables, Rodrigues rotation);
- OpenCV ``cv2.FileStorage`` YAML (``%YAML:1.0``, ``!!opencv-matrix``) and JSON, either one
  mapping per camera or EasyMocap's flat ``names`` / ``K_<name>`` / ``Rot_<name>`` layout.

Bad input raises :class:`~epoch_kedro.data.formats.DatasetFormatError` with one line naming
the file and the key expected.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from epoch_kedro.data.formats import DatasetFormatError, format_error
from epoch_kedro.geometry import axis_angle_to_matrix

try:  # Python >= 3.11; on 3.10 the `tomli` package (same API) is needed for TOML files.
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - the project's interpreter is 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

#: Qualisys stores focal length and principal point in 1/64 pixel.
QCA_SUBPIXEL = 64.0
#: Qualisys' camera looks along -z with y up; OpenCV's along +z with y down: a pi turn about x.
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera: ``x_cam = R @ X + t`` (metres), pixels ``K @ x_cam / z``."""

    name: str
    K: np.ndarray  # (3, 3)
    dist: np.ndarray  # (5,) OpenCV (k1, k2, p1, p2, k3)
    R: np.ndarray  # (3, 3) world -> camera
    t: np.ndarray  # (3,) metres
    image_size: tuple[int, int] | None  # (W, H) pixels; None where the file does not say

    @property
    def center(self) -> np.ndarray:
        """World position of the optical centre, ``-R^T t`` (metres)."""
        return -self.R.T @ self.t


Rig = tuple[Camera, ...]


# --------------------------------------------------------------------------------------------
# field checks shared by all readers
# --------------------------------------------------------------------------------------------


def _array(path: Path, key: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float array of ``shape``, or an error naming the file and key."""
    expected = f"finite numbers of shape {shape}"
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise format_error(path, key, expected, repr(value)[:60]) from None
    if arr.size == math.prod(shape):
        arr = arr.reshape(shape)  # OpenCV stores vectors as (n, 1) or (1, n) matrices
    if arr.shape != shape or not np.isfinite(arr).all():
        raise format_error(path, key, expected, f"shape {arr.shape} {repr(value)[:60]}")
    return arr


def _count(value: Any) -> int:
    """Number of entries of a (nested) list, -1 where it is not a regular array."""
    try:
        return int(np.size(np.asarray(value, dtype=object)))
    except ValueError:
        return -1


def _dist(path: Path, key: str, value: Any) -> np.ndarray:
    """OpenCV distortion of 4 (k3 = 0) or 5 coefficients -> (5,)."""
    if isinstance(value, list | tuple | np.ndarray) and _count(value) == 4:
        return np.append(_array(path, key, value, (4,)), 0.0)
    return _array(path, key, value, (5,))


def _rotation(path: Path, key: str, value: Any) -> np.ndarray:
    """A 3x3 rotation matrix, or a Rodrigues vector (3,) converted to one."""
    if _count(value) == 3:
        return np.asarray(axis_angle_to_matrix(_array(path, key, value, (3,))))
    R = _array(path, key, value, (3, 3))
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise format_error(path, key, "a rotation matrix", "a non-orthonormal matrix")
    return R


def _size(path: Path, key: str, value: Any) -> tuple[int, int]:
    """Image size (W, H) in whole pixels."""
    w, h = _array(path, key, value, (2,))
    if w <= 0 or h <= 0 or w != round(w) or h != round(h):
        raise format_error(path, key, "positive whole (W, H)", repr(value))
    return round(w), round(h)


def _require(path: Path, table: Mapping[str, Any], key: str, where: str = "") -> Any:
    """``table[key]`` or a one-line error naming the file and the missing key."""
    if not isinstance(table, Mapping) or key not in table:
        raise DatasetFormatError(f"{path}: missing key {where + key!r}")
    return table[key]


# --------------------------------------------------------------------------------------------
# Qualisys .qca.txt
# --------------------------------------------------------------------------------------------


def _attr(path: Path, node: ET.Element, key: str, where: str) -> float:
    """A numeric XML attribute or an error naming it."""
    raw = node.get(key)
    if raw is None:
        raise DatasetFormatError(f"{path}: missing attribute {where}/{node.tag}@{key}")
    try:
        value = float(raw)
    except ValueError:
        raise format_error(path, f"{where}/{node.tag}@{key}", "a number", repr(raw)) from None
    if not math.isfinite(value):
        raise format_error(path, f"{where}/{node.tag}@{key}", "a finite number", repr(raw))
    return value


def _child(path: Path, camera: ET.Element, tag: str, where: str) -> ET.Element:
    node = camera.find(tag)
    if node is None:
        raise DatasetFormatError(f"{path}: missing element {where}/{tag}")
    return node


def _natural_key(name: str) -> list[int | str]:
    """cam_2 before cam_10, as Pose2Sim orders cameras."""
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", name)]


def _qca_camera(path: Path, cam: ET.Element) -> Camera:
    """One ``<camera>`` element -> :class:`Camera` (the conversion of :func:`read_qca`)."""
    name = cam.get("serial")
    if not name:
        raise DatasetFormatError(f"{path}: missing attribute cameras/camera@serial")
    where = f"camera[{name}]"
    if cam.get("viewrotation", "0") not in ("0", "0.0"):
        # Pose2Sim applies no view rotation: such files are saved already rotated.
        raise format_error(path, f"{where}@viewrotation", "0", repr(cam.get("viewrotation")))
    resolution = cam.get("video_resolution")
    if resolution not in (None, "1080p"):
        raise format_error(path, f"{where}@video_resolution", "'1080p' or absent", resolution)
    fov = _child(path, cam, "fov_video", where)
    left, top = _attr(path, fov, "left", where), _attr(path, fov, "top", where)
    right, bottom = _attr(path, fov, "right", where), _attr(path, fov, "bottom", where)
    intr = _child(path, cam, "intrinsic", where)
    f = [_attr(path, intr, f"focalLength{a}", where) / QCA_SUBPIXEL for a in "UV"]
    c = [_attr(path, intr, f"centerPoint{a}", where) / QCA_SUBPIXEL for a in "UV"]
    keys = ["radialDistortion1", "radialDistortion2", "tangentalDistortion1"]
    dist = [_attr(path, intr, k, where) / QCA_SUBPIXEL for k in [*keys, "tangentalDistortion2"]]
    tr = _child(path, cam, "transform", where)
    M = np.array([[_attr(path, tr, f"r{i}{j}", where) for j in "123"] for i in "123"])
    position = np.array([_attr(path, tr, a, where) for a in "xyz"]) / 1000.0
    R = _QUALISYS_TO_OPENCV @ M
    _rotation(path, f"{where}/transform@r11..r33", R)  # orthonormality check
    return Camera(
        name=name,
        K=np.array([[f[0], 0.0, c[0] - left], [0.0, f[1], c[1] - top], [0.0, 0.0, 1.0]]),
        dist=np.array([*dist, 0.0]),
        R=R,
        t=-R @ position,
        image_size=(round(right - left + 1), round(bottom - top + 1)),
    )


def read_qca(path: str | Path) -> Rig:
    """Read a Qualisys ``.qca.txt`` calibration as Pose2Sim 0.8 converts it.

    Steps, per video camera (``model`` containing "video" or "none"; marker cameras skipped),
    sorted by the natural order of ``serial``:

    1. Image size ``W = right - left + 1``, ``H = bottom - top + 1`` of ``fov_video`` (the
       video crop of the sensor, inclusive pixel bounds); a portrait camera simply has W < H.
    2. ``focalLengthU/V`` and ``centerPointU/V`` are in 1/64 pixel of the full sensor: divide
       by 64, then move the principal point into the crop by subtracting ``left`` / ``top``.
    3. Distortion ``(k1, k2, p1, p2)`` = ``radialDistortion1/2``, ``tangentalDistortion1/2``
       divided by 64 as Pose2Sim does; ``radialDistortion3`` is dropped by Pose2Sim (k3 = 0).
    4. ``transform`` gives the camera position (x, y, z in mm) and a matrix ``M`` (r_ij, row i
       column j). Pose2Sim transposes it twice (once "by column to by line", once to go from
       the object-centred to the camera-centred view), so the net world -> camera rotation is
       ``M`` itself, with ``t = -M @ position``; then it turns the camera by pi about its x
       axis because Qualisys cameras look along -z with y up: ``R = diag(1, -1, -1) @ M``,
       ``t = -R @ position / 1000`` (metres).

    Non-zero ``viewrotation`` or a ``video_resolution`` other than 1080p are rejected: Pose2Sim
    0.8 does not rotate or rescale, so reading them would silently give a wrong camera.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: calibration file not found") from None
    except ET.ParseError as exc:
        raise DatasetFormatError(f"{path}: truncated or invalid XML ({exc})") from None
    cams = [
        c
        for c in root.findall("cameras/camera")
        if any(m in c.get("model", "").lower() for m in ("video", "none"))
    ]
    if not cams:
        raise DatasetFormatError(f"{path}: missing element cameras/camera (a video camera)")
    rig = tuple(_qca_camera(path, c) for c in cams)
    return tuple(sorted(rig, key=lambda cam: _natural_key(cam.name)))


# --------------------------------------------------------------------------------------------
# Pose2Sim TOML
# --------------------------------------------------------------------------------------------


def _toml_camera(path: Path, key: str, table: Mapping[str, Any]) -> Camera:
    """One ``[cam_xx]`` table: matrix, distortions, Rodrigues rotation, translation, size."""
    get = lambda field: _require(path, table, field, f"{key}.")  # noqa: E731
    if get("fisheye") is not False:
        raise format_error(path, f"{key}.fisheye", "false (pinhole)", repr(table["fisheye"]))
    return Camera(
        name=str(table.get("name", key)),
        K=_array(path, f"{key}.matrix", get("matrix"), (3, 3)),
        dist=_dist(path, f"{key}.distortions", get("distortions")),
        R=_rotation(path, f"{key}.rotation", get("rotation")),
        t=_array(path, f"{key}.translation", get("translation"), (3,)),
        image_size=_size(path, f"{key}.size", get("size")),
    )


def read_pose2sim_toml(path: str | Path) -> Rig:
    """Read Pose2Sim's TOML calibration: one table per camera, ``[metadata]`` ignored.

    ``rotation`` is a Rodrigues vector of the world -> camera rotation, ``translation`` is
    ``t`` in metres, ``distortions`` OpenCV's (k1, k2, p1, p2), ``size`` (W, H). Only pinhole
    cameras (``fisheye = false``) are read. Needs ``tomllib`` (Python >= 3.11) or ``tomli``.
    """
    path = Path(path)
    if tomllib is None:  # pragma: no cover
        raise DatasetFormatError(f"{path}: reading TOML on Python 3.10 needs the tomli package")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: calibration file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{path}: truncated or invalid TOML ({exc})") from None
    tables = {k: v for k, v in data.items() if k != "metadata" and isinstance(v, dict)}
    if not tables:
        raise DatasetFormatError(f"{path}: missing key 'cam_01' (a table per camera)")
    return tuple(_toml_camera(path, k, v) for k, v in tables.items())


# --------------------------------------------------------------------------------------------
# OpenCV YAML / JSON
# --------------------------------------------------------------------------------------------


class _OpenCVLoader(yaml.SafeLoader):
    """Safe YAML loader that also understands ``!!opencv-matrix`` nodes."""


def _opencv_matrix(loader: yaml.SafeLoader, node: yaml.Node) -> np.ndarray:
    m = loader.construct_mapping(node, deep=True)
    return np.asarray(m["data"], dtype=np.float64).reshape(int(m["rows"]), int(m["cols"]))


_OpenCVLoader.add_constructor("tag:yaml.org,2002:opencv-matrix", _opencv_matrix)


def _load_yaml(path: Path, text: str) -> Any:
    # OpenCV writes "%YAML:1.0", which is not a valid YAML directive: drop that line.
    text = re.sub(r"\A%YAML[: ]1\.\d+[^\n]*\n", "", text)
    try:
        return yaml.load(text, Loader=_OpenCVLoader)  # a SafeLoader subclass: no arbitrary objects
    except (yaml.YAMLError, KeyError, ValueError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetFormatError(f"{path}: truncated or invalid YAML ({message})") from None


def _flat_layout(path: Path, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """EasyMocap's ``names`` + ``K_<n>``, ``dist_<n>``, ``Rot_<n>`` | ``R_<n>``, ``T_<n>``."""
    cams: dict[str, dict[str, Any]] = {}
    for name in _require(path, data, "names"):
        fields = {"K": f"K_{name}", "dist": f"dist_{name}", "t": f"T_{name}"}
        cam = {field: _require(path, data, key) for field, key in fields.items()}
        rot = f"Rot_{name}" if f"Rot_{name}" in data else f"R_{name}"
        cam["R"] = _require(path, data, rot)
        if f"W_{name}" in data or f"H_{name}" in data:
            cam["image_size"] = [data.get(f"W_{name}"), data.get(f"H_{name}")]
        cams[str(name)] = cam
    return cams


def _camera_tables(path: Path, data: Any) -> dict[str, Any]:
    """Camera name -> field mapping, from any of the accepted layouts."""
    if not isinstance(data, Mapping):
        raise DatasetFormatError(f"{path}: missing key 'cameras' (expected a mapping)")
    if "names" in data:
        return _flat_layout(path, data)
    cams = data.get("cameras", data)
    if isinstance(cams, list):
        return {str(_require(path, c, "name", "cameras[].")): c for c in cams}
    if not isinstance(cams, Mapping) or not cams:
        raise DatasetFormatError(f"{path}: missing key 'cameras' (a camera per entry)")
    return dict(cams)


def _opencv_camera(path: Path, name: str, table: Any) -> Camera:
    """One camera: K, dist, R (matrix) or rvec (Rodrigues), t, optional image_size."""
    get = lambda field: _require(path, table, field, f"{name}.")  # noqa: E731
    rot_key = "rvec" if isinstance(table, Mapping) and "rvec" in table else "R"
    size = table.get("image_size") if isinstance(table, Mapping) else None
    return Camera(
        name=name,
        K=_array(path, f"{name}.K", get("K"), (3, 3)),
        dist=_dist(path, f"{name}.dist", np.ravel(get("dist")).tolist()),
        R=_rotation(path, f"{name}.{rot_key}", get(rot_key)),
        t=_array(path, f"{name}.t", get("t"), (3,)),
        image_size=None if size is None else _size(path, f"{name}.image_size", size),
    )


def read_opencv(path: str | Path) -> Rig:
    """Read an OpenCV-style YAML (``cv2.FileStorage``, parsed without OpenCV) or JSON file.

    Layouts: ``{"cameras": [{"name", "K", "dist", "R" | "rvec", "t", "image_size"}]}``, the
    same as a mapping name -> fields (also at the top level), or EasyMocap's flat ``names``
    list with ``K_<name>``, ``dist_<name>``, ``Rot_<name>`` (matrix) or ``R_<name>``
    (Rodrigues) and ``T_<name>``. ``dist`` has 4 or 5 OpenCV coefficients (extra ones of
    rational models are rejected); ``t`` is in metres.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: calibration file not found") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(f"{path}: truncated or invalid JSON ({exc})") from None
    else:
        data = _load_yaml(path, text)
    return tuple(_opencv_camera(path, n, t) for n, t in _camera_tables(path, data).items())


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------


def read_calibration(path: str | Path) -> Rig:
    """Read any supported calibration file, chosen by its name (then its first bytes)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".qca.txt", ".qca")):
        return read_qca(path)
    if name.endswith(".toml"):
        return read_pose2sim_toml(path)
    if name.endswith((".yml", ".yaml", ".json")):
        return read_opencv(path)
    try:
        head = path.read_bytes()[:256].lstrip()
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: calibration file not found") from None
    if head.startswith(b"<"):
        return read_qca(path)
    if head.startswith((b"%YAML", b"{")):
        return read_opencv(path)
    raise DatasetFormatError(
        f"{path}: unknown calibration format (expected .qca.txt, .toml, .yml/.yaml or .json)"
    )

"""``epoch-kedro predict``: metric 3D poses from your own 2D keypoint files.

Readers for the common formats, the camera from a file, a focal length or a field of view,
LiftNet, and outputs written all-or-nothing. Every failure is one :class:`PredictError` line
that names the file or option and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from epoch_kedro.geometry import undistort_pixels
from epoch_kedro.keypoints import LAYOUTS, layout_of, to_h36m
from epoch_kedro.skeleton import JOINT_NAMES

#: Horizontal field of view assumed for keypoint files without a camera (a typical phone or
#: webcam lens); pass --camera, --focal or --fov when you know better.
DEFAULT_FOV_DEG = 60.0
DEFAULT_LIFTNET = Path("data/06_models/liftnet.pt")
_SUFFIXES = (".json", ".csv", ".npz")


class PredictError(ValueError):
    """A bad input or option, explained in one line."""


@dataclass
class Poses:
    """Keypoints read from files: one row per frame, in the layout's own order."""

    layout: str
    keypoints: list[np.ndarray] = field(default_factory=list)  # (K, 3): x, y, confidence
    source: list[str] = field(default_factory=list)
    frame: list[Any] = field(default_factory=list)

    def add(self, keypoints: np.ndarray, source: Path, frame: Any) -> None:
        self.keypoints.append(keypoints)
        self.source.append(str(source))
        self.frame.append(frame)


@dataclass(frozen=True)
class Camera:
    """Intrinsics, lens distortion (OpenCV order) and where they came from."""

    K: np.ndarray
    dist: np.ndarray | None
    origin: str

    def as_json(self) -> dict[str, Any]:
        dist = None if self.dist is None else self.dist.tolist()
        return {"K": self.K.tolist(), "dist": dist, "origin": self.origin}


def input_files(inputs: list[str]) -> list[Path]:
    """Files named by ``inputs``: files, folders (their keypoint files) or glob patterns."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
            if not found:
                raise PredictError(f"{path}: no keypoint files ({', '.join(_SUFFIXES)}) inside")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            matches = sorted(Path().glob(item)) if any(c in item for c in "*?[") else []
            if not matches:
                raise PredictError(f"{item}: no such file, folder or matching glob")
            files += matches
    return files


def _keypoint_rows(flat: Any, source: Path, what: str) -> np.ndarray:
    values = np.asarray(flat, dtype=np.float64)
    if values.ndim != 1 or len(values) % 3:
        raise PredictError(f"{source}: {what} must be a flat list of x, y, confidence triples")
    return values.reshape(-1, 3)


def _layout_for(count: int, layout: str, source: Path) -> str:
    """``layout``, or (``auto``) the layout with ``count`` keypoints."""
    if layout != "auto":
        return layout
    try:
        return layout_of(count)
    except ValueError as err:
        raise PredictError(f"{source}: {err}") from None


def _check_layout(poses: Poses | None, layout: str, source: Path) -> Poses:
    if poses is None:
        return Poses(layout)
    if poses.layout != layout:
        raise PredictError(f"{source}: layout {layout}, but earlier files are {poses.layout}")
    return poses


def _read_coco(data: list, source: Path, poses: Poses | None, layout: str) -> Poses:
    """COCO keypoint results: the most confident detection of each ``image_id``."""
    best: dict[Any, dict] = {}
    for det in data:
        if not isinstance(det, dict) or "keypoints" not in det or "image_id" not in det:
            raise PredictError(f"{source}: a COCO result needs 'image_id' and 'keypoints'")
        if det.get("score", 0.0) >= best.get(det["image_id"], {}).get("score", -np.inf):
            best[det["image_id"]] = det
    for image_id, det in best.items():
        kp = _keypoint_rows(det["keypoints"], source, "'keypoints'")
        poses = _check_layout(poses, _layout_for(len(kp), layout, source), source)
        poses.add(kp, source, image_id)
    return poses


def _read_openpose(data: dict, source: Path, poses: Poses | None, layout: str) -> Poses:
    """One OpenPose frame: the person with the most confident keypoints."""
    people = [_keypoint_rows(p.get("pose_keypoints_2d"), source, "pose_keypoints_2d")
              for p in data["people"]]  # fmt: skip
    digits = re.findall(r"\d+", source.stem)
    frame = int(digits[-1]) if digits else source.stem
    if not people:
        kp = np.full((len(LAYOUTS[layout if layout != "auto" else "openpose25"]), 3), np.nan)
    else:
        kp = max(people, key=lambda p: p[:, 2].mean())
    poses = _check_layout(poses, _layout_for(len(kp), layout, source), source)
    poses.add(kp, source, frame)
    return poses


def _read_mediapipe(data: list, source: Path, poses: Poses | None, size) -> Poses:
    """MediaPipe Pose landmarks: a list of frames, each 33 ``{x, y, visibility}`` in [0, 1]."""
    if size is None:
        raise PredictError(f"{source}: MediaPipe landmarks are normalised; give --image-size W H")
    poses = _check_layout(poses, "mediapipe", source)
    for index, frame in enumerate(data):
        marks = frame.get("landmarks", []) if isinstance(frame, dict) else frame
        if len(marks) != len(LAYOUTS["mediapipe"]):
            raise PredictError(f"{source}: frame {index} has {len(marks)} landmarks, expected 33")
        kp = np.array([[m["x"] * size[0], m["y"] * size[1], m.get("visibility", 1.0)]
                       for m in marks])  # fmt: skip
        poses.add(kp, source, index)
    return poses


def _read_json(source: Path, poses: Poses | None, layout: str, size) -> Poses:
    try:
        data = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PredictError(f"{source}: not readable JSON ({err})") from None
    if isinstance(data, dict) and "people" in data:
        return _read_openpose(data, source, poses, layout)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "keypoints" in data[0]:
        return _read_coco(data, source, poses, layout)
    if (
        isinstance(data, list)
        and data
        and (isinstance(data[0], list) or (isinstance(data[0], dict) and "landmarks" in data[0]))
    ):
        return _read_mediapipe(data, source, poses, size)
    raise PredictError(
        f"{source}: unknown JSON layout; expected COCO keypoint results (a list of detections), "
        "an OpenPose frame ('people') or MediaPipe landmarks (a list of frames)"
    )


def _read_table(source: Path, poses: Poses | None, layout: str) -> Poses:
    """The project's H36M-17 (or any layout's) keypoints: npz ``keypoints (N, K, 2|3)`` or a
    CSV with ``<joint>_x, <joint>_y[, <joint>_c]`` columns (joint names of the layout)."""
    if source.suffix.lower() == ".npz":
        try:
            kp = np.load(source)["keypoints"].astype(np.float64)
        except (OSError, KeyError, ValueError) as err:
            raise PredictError(f"{source}: expected an npz with 'keypoints' ({err})") from None
    else:
        with source.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise PredictError(f"{source}: empty CSV")
        name = layout if layout != "auto" else "h36m"
        joints = LAYOUTS[name]
        try:
            kp = np.array([[[float(r[f"{j}_x"]), float(r[f"{j}_y"]), float(r.get(f"{j}_c") or 1)]
                            for j in joints] for r in rows])  # fmt: skip
        except (KeyError, ValueError) as err:
            raise PredictError(f"{source}: expected columns <joint>_x, <joint>_y for the "
                               f"{name} joints ({err})") from None  # fmt: skip
    if kp.ndim != 3 or kp.shape[2] not in (2, 3):
        raise PredictError(f"{source}: keypoints must be (N, K, 2 or 3), got {kp.shape}")
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones((*kp.shape[:2], 1))], -1)
    h36m = layout == "auto" and kp.shape[1] == len(JOINT_NAMES)
    name = "h36m" if h36m else _layout_for(kp.shape[1], layout, source)
    poses = _check_layout(poses, name, source)
    for index, row in enumerate(kp):
        poses.add(row, source, index)
    return poses


def read_poses(files: list[Path], layout: str = "auto", image_size=None) -> Poses:
    """Every frame of ``files``, in file order."""
    if layout != "auto" and layout not in LAYOUTS:
        raise PredictError(f"--layout {layout}: expected auto or one of {sorted(LAYOUTS)}")
    poses: Poses | None = None
    for source in files:
        if source.suffix.lower() == ".json":
            poses = _read_json(source, poses, layout, image_size)
        elif source.suffix.lower() in (".csv", ".npz"):
            poses = _read_table(source, poses, layout)
        else:
            raise PredictError(f"{source}: not a keypoint file (expected {', '.join(_SUFFIXES)})")
        expected = len(LAYOUTS[poses.layout])
        if any(len(k) != expected for k in poses.keypoints):
            raise PredictError(f"{source}: expected {expected} keypoints per pose ({poses.layout})")
    if poses is None or not poses.keypoints:
        raise PredictError("no poses in the inputs")
    return poses


def _matrix(value: Any, name: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape or not np.isfinite(arr).all():
        raise PredictError(f"{source}: '{name}' must be finite with shape {shape}")
    return arr


def camera_from_options(
    camera: str | None = None,
    focal: float | None = None,
    fov: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> Camera:
    """The camera: a JSON/YAML file (``K``, optional ``dist``, ``image_size``), a focal length
    or horizontal field of view with the principal point at the image centre, or the default
    field of view (:data:`DEFAULT_FOV_DEG`)."""
    if camera is not None:
        try:
            spec = yaml.safe_load(Path(camera).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise PredictError(f"{camera}: not a readable JSON/YAML camera file ({err})") from None
        if not isinstance(spec, dict) or "K" not in spec:
            raise PredictError(f"{camera}: expected a mapping with 'K' (3x3)")
        K = _matrix(spec["K"], "K", (3, 3), camera)
        if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]) or K[1, 0] or K[2, 0]:
            raise PredictError(f"{camera}: 'K' must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] "
                               "with positive focal lengths (is it transposed?)")  # fmt: skip
        dist = spec.get("dist")
        dist = None if dist is None else _matrix(dist, "dist", (len(dist),), camera)
        if dist is not None and len(dist) not in (4, 5):
            raise PredictError(f"{camera}: 'dist' must be [k1, k2, p1, p2(, k3)] (OpenCV order)")
        return Camera(K, dist, f"camera file {camera}")
    if image_size is None:
        raise PredictError("--image-size W H is needed to place the principal point "
                           "(or give --camera FILE)")  # fmt: skip
    width, height = image_size
    if focal is not None:
        if not focal > 0:
            raise PredictError(f"--focal {focal}: expected a positive focal length in pixels")
        origin = f"--focal {focal:g} px"
    else:
        angle = DEFAULT_FOV_DEG if fov is None else fov
        if not 1.0 <= angle <= 170.0:
            raise PredictError(f"--fov {angle}: expected a horizontal field of view in degrees")
        focal = width / (2 * np.tan(np.radians(angle) / 2))
        origin = f"--fov {angle:g} deg" if fov is not None else f"default {angle:g} deg field"
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    return Camera(K, None, origin)


def _write_all(out: Path, contents: dict[str, bytes]) -> list[Path]:
    """Write every file under ``out`` or none: temporary files first, renamed at the end."""
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, payload in contents.items():
            handle, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                stream.write(payload)
            staged.append((tmp, out / name))
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]


def _csv(poses: Poses, pose3d: np.ndarray, reasons: list[str | None]) -> bytes:
    """One row per frame: source, frame, skip reason, then x, y, z of every joint (m)."""
    header = ["source", "frame", "skipped"] + [f"{j}_{a}" for j in JOINT_NAMES for a in "xyz"]
    numbers = io.StringIO()
    np.savetxt(numbers, pose3d.reshape(len(pose3d), -1), fmt="%.5f", delimiter=",")
    lines = [",".join(header)]
    for source, frame, reason, values in zip(
        poses.source, poses.frame, reasons, numbers.getvalue().splitlines(), strict=True
    ):
        if reason:
            values = ",".join([""] * pose3d[0].size)
        lines.append(f"{source},{frame},{(reason or '').replace(',', ';')},{values}")
    return ("\n".join(lines) + "\n").encode()


def _outputs(poses: Poses, kp17, pose3d, reasons, camera: Camera) -> dict[str, bytes]:
    # One tolist() per array, not per frame: the outputs of 20,000 frames in a second.
    pose_lists = np.round(pose3d, 5).tolist()
    kp_lists = np.round(kp17, 3).tolist()
    records = [
        {
            "source": source,
            "frame": frame,
            "pose3d": None if reason else p3,
            "keypoints2d": None if reason else p2,
            "skipped": reason,
        }
        for source, frame, p3, p2, reason in zip(
            poses.source, poses.frame, pose_lists, kp_lists, reasons, strict=True
        )
    ]
    document = {
        "joints": list(JOINT_NAMES),
        "units": "m",
        "frame": "camera, OpenCV axes (x right, y down, z forward)",
        "layout": poses.layout,
        "camera": camera.as_json(),
        "predictions": records,
    }
    buffer = io.BytesIO()
    np.savez(buffer, pose3d=pose3d, keypoints2d=kp17, usable=np.array([r is None for r in reasons]),
             K=camera.K, frame=np.array([str(f) for f in poses.frame]),
             source=np.array(poses.source))  # fmt: skip
    return {
        "predictions.json": json.dumps(document).encode(),  # no indent: the C encoder, 5x faster
        "predictions.csv": _csv(poses, pose3d, reasons),
        "predictions.npz": buffer.getvalue(),
    }


def predict(
    inputs: list[str],
    out: str | Path,
    *,
    layout: str = "auto",
    camera: Camera | None = None,
    image_size: tuple[int, int] | None = None,
    liftnet: str | Path | None = None,
    min_confidence: float = 0.3,
) -> dict[str, Any]:
    """Lift the keypoint files ``inputs`` to 3D and write ``predictions.{json,npz,csv}`` in
    ``out``; returns a summary (frames lifted, skipped with reasons, the files written).

    ``camera``: from :func:`camera_from_options`; ``None`` is the default field of view over
    ``image_size``.
    """
    from epoch_kedro.api import lift, load_liftnet  # torch only once the inputs are good

    poses = read_poses(input_files(inputs), layout, image_size)
    cam = camera if camera is not None else camera_from_options(image_size=image_size)
    converted = to_h36m(np.stack(poses.keypoints), poses.layout, min_confidence)
    kp17 = converted.keypoints
    if cam.dist is not None:
        kp17[converted.usable] = undistort_pixels(kp17[converted.usable], cam.K, cam.dist)
    model_path = Path(liftnet) if liftnet is not None else DEFAULT_LIFTNET
    if not model_path.is_file():
        raise PredictError(f"{model_path}: no trained LiftNet there; `make run` trains it "
                           "(or pass --liftnet PATH)")  # fmt: skip
    pose3d = np.full((len(kp17), len(JOINT_NAMES), 3), np.nan)
    if converted.usable.any():
        pose3d[converted.usable] = lift(load_liftnet(model_path), kp17[converted.usable], cam.K)
    reasons = list(converted.reasons)
    for i in np.flatnonzero(converted.usable & ~np.isfinite(pose3d).all(axis=(1, 2))):
        reasons[i] = "LiftNet returned NaN"
    written = _write_all(Path(out), _outputs(poses, kp17, pose3d, reasons, cam))
    skipped = [(s, f, r) for s, f, r in zip(poses.source, poses.frame, reasons, strict=True) if r]
    return {"lifted": len(reasons) - len(skipped), "skipped": skipped, "camera": cam.origin,
            "files": [str(p) for p in written]}  # fmt: skip


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="epoch-kedro predict",
        description="Metric 3D poses (camera frame, metres) from 2D keypoint files: COCO "
        "keypoint results, OpenPose JSON, MediaPipe landmarks or H36M-17 npz/CSV.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    parser.add_argument("--out", required=True, help="folder for predictions.{json,npz,csv}")
    parser.add_argument("--layout", default="auto", choices=["auto", *sorted(LAYOUTS)])
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument("--camera", help="JSON/YAML with K (3x3), optional dist, image_size")
    camera.add_argument("--focal", type=float, help="focal length in pixels")
    camera.add_argument("--fov", type=float, help="horizontal field of view in degrees")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"))
    parser.add_argument("--liftnet", help=f"LiftNet artifact (default {DEFAULT_LIFTNET})")
    parser.add_argument("--min-confidence", type=float, default=0.3)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``epoch-kedro predict`` command: 0 on success, 2 with one line on bad input."""
    import sys

    args = _parser().parse_args(argv)
    size = tuple(args.image_size) if args.image_size else None
    try:
        input_files(args.inputs)  # the inputs' errors first: they are the likelier mistake
        camera = camera_from_options(args.camera, args.focal, args.fov, size)
        summary = predict(
            args.inputs,
            args.out,
            layout=args.layout,
            camera=camera,
            image_size=size,
            liftnet=args.liftnet,
            min_confidence=args.min_confidence,
        )
    except PredictError as err:
        print(f"epoch-kedro predict: {err}", file=sys.stderr)
        return 2
    print(f"lifted {summary['lifted']} poses, skipped {len(summary['skipped'])} "
          f"(camera: {summary['camera']})")  # fmt: skip
    for source, frame, reason in summary["skipped"][:10]:
        print(f"  skipped {source} frame {frame}: {reason}")
    print("wrote " + ", ".join(summary["files"]))
    return 0

"""The outputs of ``epoch-kedro predict``, written all-or-nothing.

Everything is first written into a hidden staging folder inside ``--out``; only when all of it
is there are the files moved into place, so a failure (bad input found late, a full disk, an
interrupt) leaves ``--out`` as it was.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.skeleton import JOINT_NAMES

#: The coordinate frame of every 3D output.
FRAME = "camera, OpenCV axes (x right, y down, z forward)"


@dataclass
class Lifted:
    """What ``predict`` produced, one row per pose (NaN rows where skipped)."""

    source: list[str]
    frame: list[Any]
    person: list[int]
    pose3d: np.ndarray  # (N, 17, 3) m, camera frame
    keypoints2d: np.ndarray  # (N, 17, 2) undistorted px
    K: np.ndarray  # (N, 3, 3) the intrinsics each pose was lifted with
    reasons: list[str | None]  # why a pose was skipped, None where lifted
    layout: str  # the input layout, or "images"
    camera: dict[str, Any]  # Camera.as_json() of the camera used
    image_size: np.ndarray | None = None  # (N, 2) W, H where known
    confidence: np.ndarray | None = None  # (N, 17) per-joint 2D confidence where known

    @property
    def usable(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], bool)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder inside ``out`` whose files replace those in ``out`` on success only."""
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out, prefix=".predict-staging-"))
    try:
        yield stage
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                target = out / path.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _csv(lifted: Lifted) -> bytes:
    """One row per pose: source, frame, person, skip reason, then x, y, z of every joint (m)."""
    header = ["source", "frame", "person", "skipped"]
    header += [f"{j}_{a}" for j in JOINT_NAMES for a in "xyz"]
    numbers = io.StringIO()
    pose3d = lifted.pose3d.reshape(len(lifted.pose3d), -1)
    np.savetxt(numbers, pose3d, fmt="%.5f", delimiter=",")
    lines = [",".join(header)]
    rows = zip(lifted.source, lifted.frame, lifted.person, lifted.reasons,
               numbers.getvalue().splitlines(), strict=True)  # fmt: skip
    for source, frame, person, reason, values in rows:
        if reason:
            values = ",".join([""] * pose3d.shape[1])
        lines.append(f"{source},{frame},{person},{(reason or '').replace(',', ';')},{values}")
    return ("\n".join(lines) + "\n").encode()


def _document(lifted: Lifted) -> dict[str, Any]:
    # One tolist() per array, not per pose: the outputs of 20,000 poses in a second.
    columns = {
        "pose3d": np.round(lifted.pose3d, 5).tolist(),
        "keypoints2d": np.round(lifted.keypoints2d, 3).tolist(),
    }
    if lifted.camera.get("K") is None:  # K differs per input: record each one
        columns["K"] = np.round(lifted.K, 4).tolist()
    records = []
    for i, reason in enumerate(lifted.reasons):
        record = {"source": lifted.source[i], "frame": lifted.frame[i],
                  "person": lifted.person[i]}  # fmt: skip
        record.update({key: None if reason else value[i] for key, value in columns.items()})
        record["skipped"] = reason
        records.append(record)
    return {
        "joints": list(JOINT_NAMES),
        "units": "m",
        "frame": FRAME,
        "layout": lifted.layout,
        "camera": lifted.camera,
        "predictions": records,
    }


def _npz(lifted: Lifted) -> bytes:
    arrays = {
        "pose3d": lifted.pose3d,
        "keypoints2d": lifted.keypoints2d,
        "usable": lifted.usable,
        "K": lifted.K,
        "frame": np.array([str(f) for f in lifted.frame]),
        "person": np.array(lifted.person, np.int64),
        "source": np.array(lifted.source),
    }
    if lifted.image_size is not None:
        arrays["image_size"] = lifted.image_size
    if lifted.confidence is not None:
        arrays["confidence"] = lifted.confidence
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write_predictions(lifted: Lifted, folder: Path) -> list[Path]:
    """``predictions.{json,npz,csv}`` in ``folder`` (a staging folder, see :func:`staged`)."""
    contents = {
        "predictions.json": json.dumps(_document(lifted)).encode(),  # no indent: C encoder
        "predictions.csv": _csv(lifted),
        "predictions.npz": _npz(lifted),
    }
    for name, payload in contents.items():
        (folder / name).write_bytes(payload)
    return [folder / name for name in contents]

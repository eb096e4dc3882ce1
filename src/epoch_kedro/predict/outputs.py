"""The outputs of ``epoch-kedro predict``, written all-or-nothing.

Everything is first written into a hidden staging folder inside ``--out``; only when all of it
is there are the files moved into place, so a failure (bad input found late, a full disk, an
interrupt) leaves ``--out`` as it was.
"""

from __future__ import annotations

import csv
import errno
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

from epoch_kedro.errors import EpochError, WriteError
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
    # (N,) RegNet's domain score per image and whether it is past the threshold; None for
    # keypoint inputs (see epoch_kedro.inference.regnet.domain_score)
    domain_score: np.ndarray | None = None
    out_of_domain: np.ndarray | None = None
    domain_threshold: float | None = None  # the score past which an image is out of domain
    adaptation: dict[str, Any] | None = None  # what --adapt did (predictions.json "adaptation")

    @property
    def usable(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], bool)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder inside ``out`` whose files replace those in ``out`` on success only.

    Its name carries this process's id; the staging folders of processes that are gone (a
    run killed with -9 has no ``finally``) are removed first, those of live ones left alone.
    A folder that cannot be written (a file, read-only, a full disk) is one
    :class:`WriteError` line, and the files already in ``out`` stay as they were.
    """
    if out.exists() and not out.is_dir():
        raise WriteError(f"--out {out}: a file is there; expected a folder (or a new name)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        _remove_orphan_stages(out)
        stage = Path(tempfile.mkdtemp(dir=out, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
    except OSError as err:
        raise WriteError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    try:
        yield stage
        _move_into(stage, out)
    except OSError as err:
        if isinstance(err, EpochError) or not _is_write_error(err, out):
            raise
        raise WriteError(f"--out {out}: cannot write there ({err.strerror or err}); "
                         "its earlier files are unchanged") from None  # fmt: skip
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _move_into(stage: Path, out: Path) -> None:
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            target = out / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


#: What a write into a folder fails with: full, over quota, read-only, not allowed, too big.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.EFBIG}  # fmt: skip


def _is_write_error(err: OSError, out: Path) -> bool:
    """Whether ``err`` is a failed write into ``out`` (not, say, an unreadable input)."""
    if err.errno not in _WRITE_ERRNOS:
        return False
    return err.filename is None or Path(str(err.filename)).resolve().is_relative_to(out.resolve())


#: Prefix of predict's staging folders: ``.predict-staging-<pid>-<random>``.
STAGING_PREFIX = ".predict-staging-"


def _remove_orphan_stages(out: Path) -> None:
    """Remove the staging folders in ``out`` whose process no longer runs (or that predate the
    process id in the name)."""
    for stage in out.glob(f"{STAGING_PREFIX}*"):
        pid = stage.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if stage.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _domain_columns(lifted: Lifted) -> list[tuple[str, str]]:
    """Per row: RegNet's domain score and out-of-domain flag as CSV fields (empty for
    keypoint inputs)."""
    if lifted.domain_score is None or lifted.out_of_domain is None:
        return [("", "")] * len(lifted.reasons)
    return [(f"{s:.4f}", str(bool(o)).lower())
            for s, o in zip(lifted.domain_score, lifted.out_of_domain, strict=True)]  # fmt: skip


def _csv(lifted: Lifted) -> bytes:
    """One row per pose: source, frame, person, skip reason, x, y, z of every joint (m), then
    RegNet's domain score and out-of-domain flag (appended last: the joint columns keep their
    positions). Written by the csv module: a comma, quote or newline in a file name or a
    reason is quoted, never a shifted column."""
    header = ["source", "frame", "person", "skipped"]
    header += [f"{j}_{a}" for j in JOINT_NAMES for a in "xyz"]
    header += ["domain_score", "out_of_domain"]
    numbers = io.StringIO()
    pose3d = lifted.pose3d.reshape(len(lifted.pose3d), -1)
    np.savetxt(numbers, pose3d, fmt="%.5f", delimiter=",")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    empty = [""] * pose3d.shape[1]
    rows = zip(lifted.source, lifted.frame, lifted.person, lifted.reasons,
               numbers.getvalue().splitlines(), _domain_columns(lifted), strict=True)  # fmt: skip
    for source, frame, person, reason, values, (score, flag) in rows:
        joints = empty if reason else values.split(",")
        writer.writerow([source, frame, person, reason or "", *joints, score, flag])
    return text.getvalue().encode()


def _domain_records(lifted: Lifted) -> list[dict[str, Any]]:
    """Per row ``{"out_of_domain": bool, "domain_score": float}``; both None for keypoints."""
    if lifted.domain_score is None or lifted.out_of_domain is None:
        return [{"out_of_domain": None, "domain_score": None}] * len(lifted.reasons)
    scores = np.round(lifted.domain_score.astype(np.float64), 5).tolist()
    flags = np.asarray(lifted.out_of_domain, bool).tolist()
    return [{"out_of_domain": o, "domain_score": s} for o, s in zip(flags, scores, strict=True)]


def _present(lifted: Lifted) -> np.ndarray:
    """Which joints the 2D input had ``(N, 17)``: the others were lifted from the rest."""
    return np.isfinite(lifted.keypoints2d).all(-1)


def _keypoints_or_null(kp2d: np.ndarray, present: np.ndarray) -> list:
    rows = np.round(kp2d, 3).tolist()
    if present.all():
        return rows
    return [[xy if seen else None for xy, seen in zip(row, mask, strict=True)]
            for row, mask in zip(rows, present.tolist(), strict=True)]  # fmt: skip


def _document(lifted: Lifted) -> dict[str, Any]:
    # One tolist() per array, not per pose: the outputs of 20,000 poses in a second.
    present = _present(lifted)
    columns = {
        "pose3d": np.round(lifted.pose3d, 5).tolist(),
        # A missing joint is null (JSON has no NaN) and ``present`` says which were seen.
        "keypoints2d": _keypoints_or_null(lifted.keypoints2d, present),
        "present": present.tolist(),
    }
    if lifted.camera.get("K") is None:  # K differs per input: record each one
        columns["K"] = np.round(lifted.K, 4).tolist()
    domain = _domain_records(lifted)
    records = []
    for i, reason in enumerate(lifted.reasons):
        record = {"source": lifted.source[i], "frame": lifted.frame[i],
                  "person": lifted.person[i]}  # fmt: skip
        record.update({key: None if reason else value[i] for key, value in columns.items()})
        record["skipped"] = reason
        # Whether RegNet could read the image is known even where the pose was skipped.
        record.update(domain[i])
        records.append(record)
    return {
        "joints": list(JOINT_NAMES),
        "units": "m",
        "frame": FRAME,
        "layout": lifted.layout,
        "camera": lifted.camera,
        "domain_threshold": lifted.domain_threshold,
        **({"adaptation": lifted.adaptation} if lifted.adaptation else {}),
        "predictions": records,
    }


def _npz(lifted: Lifted) -> bytes:
    arrays = {
        "pose3d": lifted.pose3d,
        "keypoints2d": lifted.keypoints2d,
        "present": _present(lifted),
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
    if lifted.domain_score is not None and lifted.out_of_domain is not None:
        arrays["domain_score"] = lifted.domain_score
        arrays["out_of_domain"] = np.asarray(lifted.out_of_domain, bool)
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

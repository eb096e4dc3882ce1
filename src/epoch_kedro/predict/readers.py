"""Readers of the inputs of ``epoch-kedro predict``: keypoint files of the common layouts, and
which input files a command line names (files, folders, globs; keypoint files or images).

Every failure is one :class:`PredictError` line that names the file and what was expected.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.data.image_files import IMAGE_SUFFIXES
from epoch_kedro.errors import EpochError
from epoch_kedro.keypoints import LAYOUTS, SAME_COUNT, UndecidedLayout, guess_layout, layout_of
from epoch_kedro.skeleton import JOINT_NAMES
from epoch_kedro.utils.progress import progress

KEYPOINT_SUFFIXES = (".json", ".csv", ".npz")

logger = logging.getLogger(__name__)


class PredictError(EpochError, ValueError):
    """A bad input or option, explained in one line."""


@dataclass
class Poses:
    """Keypoints read from files: one row per frame, in the layout's own order."""

    layout: str
    keypoints: list[np.ndarray] = field(default_factory=list)  # (K, 3): x, y, confidence
    source: list[str] = field(default_factory=list)
    frame: list[Any] = field(default_factory=list)
    person: list[int] = field(default_factory=list)  # index of the person within the frame
    layout_note: str | None = None  # how the layout was told from its keypoints, when it was

    def add(self, keypoints: np.ndarray, source: Path, frame: Any, person: int = 0) -> None:
        self.keypoints.append(keypoints)
        self.source.append(str(source))
        self.frame.append(frame)
        self.person.append(person)


def frame_number(path: Path) -> int | str:
    """A frame's number from its file name (the last digits: ``clip_000012_keypoints`` -> 12),
    else the file's stem."""
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else path.stem


def _folder_files(path: Path) -> list[Path]:
    suffixes = (*KEYPOINT_SUFFIXES, *IMAGE_SUFFIXES)
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise PredictError(f"{path}: no keypoint files ({', '.join(KEYPOINT_SUFFIXES)}) or "
                           f"images ({', '.join(IMAGE_SUFFIXES)}) inside")  # fmt: skip
    return found


def input_files(inputs: list[str]) -> tuple[list[Path], str]:
    """Files named by ``inputs`` (files, folders or glob patterns) and their kind: ``"images"``
    or ``"keypoints"`` (one call reads one kind)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += _folder_files(path)
        elif path.is_file():
            files.append(path)
        else:
            matches = sorted(Path().glob(item)) if any(c in item for c in "*?[") else []
            if not matches:
                raise PredictError(f"{item}: no such file, folder or matching glob")
            files += matches
    images = [f.suffix.lower() in IMAGE_SUFFIXES for f in files]
    if any(images) and not all(images):
        first = files[images.index(False)]
        raise PredictError(f"{first}: images and keypoint files cannot be mixed in one call")
    for f in files:
        if f.suffix.lower() not in (*KEYPOINT_SUFFIXES, *IMAGE_SUFFIXES):
            raise PredictError(f"{f}: not a keypoint file ({', '.join(KEYPOINT_SUFFIXES)}) "
                               f"or an image ({', '.join(IMAGE_SUFFIXES)})")  # fmt: skip
    return files, "images" if all(images) else "keypoints"


def _keypoint_rows(flat: Any, source: Path, what: str) -> np.ndarray:
    try:
        values = np.asarray(flat, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.empty((0, 0))  # not numbers: the same line as a wrong shape
    if values.ndim != 1 or len(values) % 3:
        raise PredictError(f"{source}: {what} must be a flat list of x, y, confidence triples")
    return values.reshape(-1, 3)


def _open(count: int) -> str:
    """The layout name of a count two layouts share, left open until every file is read
    (:func:`_settle`): ``"openpose25|openpose25b"``."""
    return "|".join(SAME_COUNT[count])


def _candidates(layout: str) -> tuple[str, ...]:
    """The layouts ``layout`` may be: both of an open name, else the layouts sharing its count
    (so that a requested one is checked against the keypoints too)."""
    if "|" in layout:
        return tuple(layout.split("|"))
    same = SAME_COUNT.get(len(LAYOUTS[layout]), ())
    return same if layout in same else (layout,)


def _size(layout: str) -> int:
    return len(LAYOUTS[_candidates(layout)[0]])


def _layout_for(count: int, layout: str, source: Path) -> str:
    """``layout``, or (``auto``) the layout with ``count`` keypoints; ``openpose`` is BODY_25,
    BODY_25B or COCO-18 by count. A count two layouts share (25) is left open (:func:`_open`)."""
    if layout == "openpose":
        if count not in (25, len(LAYOUTS["openpose18"])):
            raise PredictError(f"{source}: {count} keypoints; OpenPose has 25 (BODY_25 or "
                               "BODY_25B) or 18 (COCO-18)")  # fmt: skip
        return _open(count) if count in SAME_COUNT else "openpose18"
    if layout != "auto":
        return layout
    if count in SAME_COUNT:
        return _open(count)
    try:
        return layout_of(count)
    except ValueError as err:
        raise PredictError(f"{source}: {err}") from None


def _check_layout(poses: Poses | None, layout: str, source: Path) -> Poses:
    if poses is None:
        return Poses(layout)
    if poses.layout != layout:
        theirs, ours = (name.replace("|", " or ") for name in (poses.layout, layout))
        raise PredictError(f"{source}: layout {ours}, but earlier files are {theirs}")
    return poses


def _where(sources: list[str]) -> str:
    """The files a decision over many poses is about, for its one line."""
    files = list(dict.fromkeys(sources))
    return files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more files"


def _settle(poses: Poses, asked: str) -> Poses:
    """Tell an open layout (BODY_25 or BODY_25B) from all the poses together, or check the one
    ``asked`` for (``--layout``) against them: a skeleton read in the wrong order is refused,
    never lifted. Every pose of every file counts: one frame can be too occluded to tell.
    """
    candidates = _candidates(poses.layout)
    requested = asked in LAYOUTS
    if len(candidates) < 2 or (poses.layout in LAYOUTS and not requested):
        return poses  # one layout has this count, or a CSV header named the keypoints
    where = _where(poses.source)
    try:
        guess = guess_layout(np.stack(poses.keypoints), candidates)
    except UndecidedLayout as err:
        if requested:  # nothing contradicts the layout asked for
            return poses
        choices = " or ".join(f"--layout {c}" for c in candidates)
        message = (f"{where}: {_size(poses.layout)} keypoints per pose, and their positions "
                   f"do not tell which layout ({err}); give {choices}")  # fmt: skip
        raise PredictError(message) from None
    if requested and guess.layout != poses.layout:
        raise PredictError(f"{where}: --layout {poses.layout}, but the keypoints are "
                           f"{guess}; give --layout {guess.layout}")  # fmt: skip
    poses.layout = guess.layout
    poses.layout_note = f"{where}: keypoints read as {guess}"
    logger.info(poses.layout_note)
    return poses


@dataclass(frozen=True)
class ReadOptions:
    """How keypoint files are read."""

    layout: str = "auto"
    image_size: tuple[int, int] | None = None  # for normalised coordinates (MediaPipe)
    all_people: bool = False  # every detection of a frame, not only the most confident


def _read_coco(data: list, source: Path, poses: Poses | None, options: ReadOptions) -> Poses:
    """COCO keypoint results: the most confident detection of each ``image_id`` (or all)."""
    people: dict[Any, list[dict]] = {}
    for det in data:
        if not isinstance(det, dict) or "keypoints" not in det or "image_id" not in det:
            raise PredictError(f"{source}: a COCO result needs 'image_id' and 'keypoints'")
        people.setdefault(det["image_id"], []).append(det)
    for image_id, dets in people.items():
        dets = sorted(dets, key=lambda d: -float(d.get("score", 0.0)))
        for person, det in enumerate(dets if options.all_people else dets[:1]):
            kp = _keypoint_rows(det["keypoints"], source, "'keypoints'")
            poses = _check_layout(poses, _layout_for(len(kp), options.layout, source), source)
            poses.add(kp, source, image_id, person)
    return poses


def _read_openpose(data: dict, source: Path, poses: Poses | None, options: ReadOptions) -> Poses:
    """One OpenPose frame: the person with the most confident keypoints (or all)."""
    people = [_keypoint_rows(p.get("pose_keypoints_2d"), source, "pose_keypoints_2d")
              for p in data["people"]]  # fmt: skip
    # OpenPose can write a person with an empty keypoint list (seen in real multi-person
    # recordings): nobody was detected there, it is no layout of 0 keypoints.
    people = [kp for kp in people if len(kp)]
    if not people:  # a frame without anyone: as many NaN keypoints as the other frames
        layout = poses.layout if poses is not None else options.layout
        count = 25 if layout in ("auto", "openpose") else _size(layout)  # BODY_25(B) by default
        people = [np.full((count, 3), np.nan)]
    people.sort(key=lambda p: -np.nan_to_num(p[:, 2]).mean())
    for person, kp in enumerate(people if options.all_people else people[:1]):
        poses = _check_layout(poses, _layout_for(len(kp), options.layout, source), source)
        poses.add(kp, source, frame_number(source), person)
    return poses


def _read_mediapipe(data: list, source: Path, poses: Poses | None, options: ReadOptions) -> Poses:
    """MediaPipe Pose landmarks: a list of frames, each 33 ``{x, y, visibility}`` in [0, 1]."""
    size = options.image_size
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


def _read_json(source: Path, poses: Poses | None, options: ReadOptions) -> Poses:
    try:
        data = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PredictError(f"{source}: not readable JSON ({err})") from None
    reader, what = _json_kind(data, source)
    try:
        return reader(data, source, poses, options)
    except EpochError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as err:
        # A file of the right kind whose entries are not what the format says
        # ({"people": "none"}, a landmark without "y"): one line, never a traceback.
        raise PredictError(f"{source}: not a valid {what} file ({type(err).__name__}: "
                           f"{err}); see docs/KEYPOINTS.md") from None  # fmt: skip


def _json_kind(data: Any, source: Path) -> tuple[Callable[..., Poses], str]:
    """The reader of a parsed JSON keypoint file and its format's name."""
    if isinstance(data, dict) and "people" in data:
        return _read_openpose, "OpenPose"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "keypoints" in data[0]:
        return _read_coco, "COCO keypoint results"
    if (
        isinstance(data, list)
        and data
        and (isinstance(data[0], list) or (isinstance(data[0], dict) and "landmarks" in data[0]))
    ):
        return _read_mediapipe, "MediaPipe landmarks"
    raise PredictError(
        f"{source}: unknown JSON layout; expected COCO keypoint results (a list of detections), "
        "an OpenPose frame ('people') or MediaPipe landmarks (a list of frames)"
    )


#: Column suffixes read as a keypoint's confidence in CSV files.
_CONFIDENCE_COLUMNS = ("c", "visibility", "score")


def _csv_layout(header: list[str], layout: str, source: Path) -> str:
    """``layout``, or (``auto``) the largest layout whose every joint has ``<joint>_x`` and
    ``_y`` columns (MediaPipe's columns include all of COCO's names)."""
    if layout not in ("auto", "openpose"):
        return layout
    names = [n for n in LAYOUTS if layout == "auto" or n.startswith("openpose")]
    columns = set(header)
    for name in sorted(names, key=lambda n: (-len(LAYOUTS[n]), n != "h36m", n)):
        if all(f"{j}_x" in columns and f"{j}_y" in columns for j in LAYOUTS[name]):
            return name
    layouts = ", ".join(sorted(LAYOUTS))
    raise PredictError(f"{source}: expected columns <joint>_x, <joint>_y for every joint of one "
                       f"layout ({layouts}); see epoch_kedro.keypoints")  # fmt: skip


def _confidence(row: dict, joint: str) -> float:
    for suffix in _CONFIDENCE_COLUMNS:
        if row.get(f"{joint}_{suffix}") not in (None, ""):
            return float(row[f"{joint}_{suffix}"])
    return 1.0


def _read_csv(source: Path, options: ReadOptions) -> tuple[np.ndarray, str]:
    """CSV keypoints, one row per frame: ``<joint>_x, <joint>_y[, <joint>_c]`` columns named
    as in the layout; MediaPipe's normalised coordinates are scaled by ``--image-size``."""
    try:
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            fields = list(reader.fieldnames or [])
    except UnicodeDecodeError as err:
        raise PredictError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start}); "
                           "save the CSV as UTF-8") from None  # fmt: skip
    except (OSError, csv.Error) as err:
        raise PredictError(f"{source}: not a readable CSV ({err})") from None
    name = _csv_layout(fields, options.layout, source)
    if not rows:
        raise PredictError(f"{source}: empty CSV")
    try:
        kp = np.array([[[float(r[f"{j}_x"]), float(r[f"{j}_y"]), _confidence(r, j)]
                        for j in LAYOUTS[name]] for r in rows])  # fmt: skip
    except (KeyError, TypeError, ValueError) as err:
        raise PredictError(f"{source}: expected numbers in columns <joint>_x, <joint>_y for "
                           f"the {name} joints ({err})") from None  # fmt: skip
    if name == "mediapipe":
        if options.image_size is None:
            raise PredictError(f"{source}: MediaPipe landmarks are normalised; give "
                               "--image-size W H")  # fmt: skip
        kp[..., :2] *= np.asarray(options.image_size, np.float64)
    return kp, name


def _read_table(source: Path, poses: Poses | None, options: ReadOptions) -> Poses:
    """The project's H36M-17 (or any layout's) keypoints: npz ``keypoints (N, K, 2|3)`` or a
    CSV (:func:`_read_csv`)."""
    layout = options.layout
    if source.suffix.lower() == ".npz":
        try:
            with np.load(source) as npz:  # numpy refuses pickles by default
                kp = npz["keypoints"].astype(np.float64)
        except (EOFError, zipfile.BadZipFile) as err:
            raise PredictError(
                f"{source}: not a readable npz, empty or truncated ({err})"
            ) from None
        except (OSError, KeyError, ValueError) as err:
            raise PredictError(f"{source}: expected an npz with 'keypoints' ({err})") from None
    else:
        kp, layout = _read_csv(source, options)
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


def read_poses(files: list[Path], options: ReadOptions = ReadOptions()) -> Poses:
    """Every pose of ``files``, in file order."""
    if options.layout not in ("auto", "openpose", *LAYOUTS):
        raise PredictError(f"--layout {options.layout}: expected auto, openpose or one of "
                           f"{sorted(LAYOUTS)}")  # fmt: skip
    poses: Poses | None = None
    for source in progress(files, "Reading keypoint files", unit="file"):
        if source.suffix.lower() == ".json":
            poses = _read_json(source, poses, options)
        elif source.suffix.lower() in (".csv", ".npz"):
            poses = _read_table(source, poses, options)
        else:
            raise PredictError(f"{source}: not a keypoint file ({', '.join(KEYPOINT_SUFFIXES)})")
        expected = _size(poses.layout)
        if any(len(k) != expected for k in poses.keypoints):
            raise PredictError(f"{source}: expected {expected} keypoints per pose "
                               f"({poses.layout.replace('|', ' or ')})")  # fmt: skip
    if poses is None or not poses.keypoints:
        raise PredictError("no poses in the inputs")
    return _settle(poses, options.layout)

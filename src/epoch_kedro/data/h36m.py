"""Human3.6M in the VideoPose3D layout -> an ingested dataset (see ``schema.py``).

Files under ``root`` (names configurable): ``data_3d_h36m.npz`` (``positions_3d``: subject ->
action -> (T, 32, 3) metres, world frame), a 2D file of the same layout (``positions_2d``:
subject -> action -> list over cameras of (T', 17, 2) pixels with lens distortion; ground truth
or detections, trimmed to the 3D length), and camera parameters: the four public intrinsics and
the S1/S9/S11 extrinsics are built in; a JSON/YAML camera file adds or replaces subjects.

One row per (subject, action, camera, frame): 32 -> 17 joints, the camera's K/R/t/distortion,
the observed (distorted) 2D; normalization undistorts it to the pinhole model LiftNet uses.
No images: RegNet stages skip themselves on this dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from epoch_kedro.data.export import CAMERA_FORMAT, camera_from_h36m
from epoch_kedro.data.formats import DatasetFormatError, format_error, load_npz_objects
from epoch_kedro.data.schema import FLOAT_DTYPE, INT_DTYPE, concat_rows
from epoch_kedro.geometry import world_to_camera
from epoch_kedro.skeleton import H36M32_TO_17, NUM_H36M32_JOINTS, NUM_JOINTS

logger = logging.getLogger(__name__)

#: The Human3.6M protocol: train S1 S5 S6 S7 S8, test S9 S11. Model selection uses the
#: unsupervised validation loss on S8, which is also a training subject (no labels involved).
PROTOCOL_SPLITS: dict[str, list[str]] = {
    "train": ["S1", "S5", "S6", "S7", "S8"],
    "val": ["S8"],
    "test": ["S9", "S11"],
}
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
#: A joint closer than this to the camera plane (metres) counts as not visible (as synthetic).
MIN_DEPTH_M = 0.05
#: VideoPose3D spells two actions differently for S1; merge them for per-action tables.
ACTION_ALIASES: dict[str, str] = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}

_INTRINSIC_FIELDS = (
    "id",
    "res_w",
    "res_h",
    "focal_length",
    "center",
    "radial_distortion",
    "tangential_distortion",
)

#: Public intrinsics of the four cameras, shared by all subjects (published with the dataset).
BUILTIN_INTRINSICS: tuple[dict[str, Any], ...] = (
    {
        "id": "54138969",
        "res_w": 1000,
        "res_h": 1002,
        "focal_length": [1145.0494384765625, 1143.7811279296875],
        "center": [512.54150390625, 515.4514770507812],
        "radial_distortion": [-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043],
        "tangential_distortion": [-0.0009756988729350269, -0.00142447161488235],
    },
    {
        "id": "55011271",
        "res_w": 1000,
        "res_h": 1000,
        "focal_length": [1149.6756591796875, 1147.5916748046875],
        "center": [508.8486328125, 508.0649108886719],
        "radial_distortion": [-0.1942136287689209, 0.2404085397720337, 0.006819975562393665],
        "tangential_distortion": [-0.0016190266469493508, -0.0027408944442868233],
    },
    {
        "id": "58860488",
        "res_w": 1000,
        "res_h": 1000,
        "focal_length": [1149.1407470703125, 1148.7989501953125],
        "center": [519.8158569335938, 501.40264892578125],
        "radial_distortion": [-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427],
        "tangential_distortion": [0.0014843869721516967, -0.0007599993259645998],
    },
    {
        "id": "60457274",
        "res_w": 1000,
        "res_h": 1002,
        "focal_length": [1145.5113525390625, 1144.77392578125],
        "center": [514.9682006835938, 501.88201904296875],
        "radial_distortion": [-0.198384091258049, 0.21832367777824402, -0.008947807364165783],
        "tangential_distortion": [-0.0005872055771760643, -0.0018133620033040643],
    },
)

#: Public extrinsics: orientation (w, x, y, z) and camera centre (mm), X_c = q^-1 (X_w - t).
BUILTIN_EXTRINSICS: dict[str, tuple[dict[str, list[float]], ...]] = {
    "S1": (
        {
            "orientation": [
                0.1407056450843811,
                -0.1500701755285263,
                -0.755240797996521,
                0.6223280429840088,
            ],
            "translation": [1841.1070556640625, 4955.28466796875, 1563.4454345703125],
        },
        {
            "orientation": [
                0.6157187819480896,
                -0.764836311340332,
                -0.14833825826644897,
                0.11794740706682205,
            ],
            "translation": [1761.278564453125, -5078.0068359375, 1606.2650146484375],
        },
        {
            "orientation": [
                0.14651472866535187,
                -0.14647851884365082,
                0.7653023600578308,
                -0.6094175577163696,
            ],
            "translation": [-1846.7777099609375, 5215.04638671875, 1491.972412109375],
        },
        {
            "orientation": [
                0.5834008455276489,
                -0.7853162288665771,
                0.14548823237419128,
                -0.14749594032764435,
            ],
            "translation": [-1794.7896728515625, -3722.698974609375, 1574.8927001953125],
        },
    ),
    "S9": (
        {
            "orientation": [
                0.15540587902069092,
                -0.15548215806484222,
                -0.7532095313072205,
                0.6199594736099243,
            ],
            "translation": [2044.45849609375, 4935.1171875, 1481.2275390625],
        },
        {
            "orientation": [
                0.618784487247467,
                -0.7634735107421875,
                -0.14132238924503326,
                0.11933968216180801,
            ],
            "translation": [1990.959716796875, -5123.810546875, 1568.8048095703125],
        },
        {
            "orientation": [
                0.13357827067375183,
                -0.1367100477218628,
                0.7689454555511475,
                -0.6100738644599915,
            ],
            "translation": [-1670.9921875, 5211.98583984375, 1528.387939453125],
        },
        {
            "orientation": [
                0.5879399180412292,
                -0.7823407053947449,
                0.1427614390850067,
                -0.14794869720935822,
            ],
            "translation": [-1696.04345703125, -3827.099853515625, 1591.4127197265625],
        },
    ),
    "S11": (
        {
            "orientation": [
                0.15232472121715546,
                -0.15442320704460144,
                -0.7547563314437866,
                0.6191070079803467,
            ],
            "translation": [2098.440185546875, 4926.5546875, 1500.278564453125],
        },
        {
            "orientation": [
                0.6189449429512024,
                -0.7600917220115662,
                -0.15300633013248444,
                0.1255258321762085,
            ],
            "translation": [2083.182373046875, -4912.1728515625, 1561.07861328125],
        },
        {
            "orientation": [
                0.14943228662014008,
                -0.15650227665901184,
                0.7681233882904053,
                -0.6026304364204407,
            ],
            "translation": [-1609.8153076171875, 5177.3359375, 1537.896728515625],
        },
        {
            "orientation": [
                0.5894251465797424,
                -0.7818877100944519,
                0.13991211354732513,
                -0.14715361595153809,
            ],
            "translation": [-1590.738037109375, -3854.1689453125, 1578.017578125],
        },
    ),
}


@dataclass(frozen=True)
class H36MConfig:
    """Where the files are; names are relative to ``root`` (absolute paths also work)."""

    root: Path
    positions_3d: str = "data_3d_h36m.npz"
    positions_2d: str = "data_2d_h36m_gt.npz"
    camera_file: str | None = None

    def path(self, name: str) -> Path:
        return Path(self.root) / name


@dataclass(frozen=True)
class CameraTable:
    """Camera dicts (VideoPose3D fields) per subject, and per (subject, action key) overrides."""

    subjects: dict[str, list[dict[str, Any]]]
    sequences: dict[str, dict[str, list[dict[str, Any]]]]

    def cameras(self, subject: str, action_key: str, source: str) -> list[dict[str, Any]]:
        """The cameras filming ``action_key`` of ``subject``; fails clearly if there are none."""
        per_sequence = self.sequences.get(subject, {}).get(action_key)
        if per_sequence is not None:
            return per_sequence
        if subject not in self.subjects:
            raise DatasetFormatError(
                f"{source}: no camera parameters for subject {subject!r} (built in: "
                f"{sorted(BUILTIN_EXTRINSICS)}); add it to a camera file (dataset.camera_file) "
                f"with 'orientation' (w, x, y, z) and 'translation' (mm) per camera"
            )
        return self.subjects[subject]


def builtin_cameras() -> CameraTable:
    """The public figures: the four intrinsics combined with each built-in subject's extrinsics."""
    subjects = {
        subject: [{**intr, **extr} for intr, extr in zip(BUILTIN_INTRINSICS, extrs, strict=True)]
        for subject, extrs in BUILTIN_EXTRINSICS.items()
    }
    return CameraTable(subjects, {})


def _complete_camera(camera: Any, index: int, where: str) -> dict[str, Any]:
    """A camera dict with intrinsics filled in from the built-in camera ``index`` if absent."""
    if not isinstance(camera, Mapping):
        raise DatasetFormatError(f"{where}: expected a camera mapping, got {type(camera).__name__}")
    missing_extrinsics = [k for k in ("orientation", "translation") if k not in camera]
    if missing_extrinsics:
        raise DatasetFormatError(
            f"{where}: missing {missing_extrinsics}; expected 'orientation' (4,) w, x, y, z and "
            f"'translation' (3,) mm"
        )
    base = BUILTIN_INTRINSICS[index] if index < len(BUILTIN_INTRINSICS) else {}
    out = {**{k: base[k] for k in _INTRINSIC_FIELDS if k in base}, **camera}
    absent = [k for k in _INTRINSIC_FIELDS if k not in out and k != "id"]
    if absent:
        raise DatasetFormatError(f"{where}: camera {index} lacks intrinsic fields {absent}")
    for key, size in (("orientation", 4), ("translation", 3), ("focal_length", 2), ("center", 2)):
        if np.shape(out[key]) != (size,):
            raise format_error(where, key, f"shape ({size},)", f"shape {np.shape(out[key])}")
    return out


def _camera_list(cams: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(cams, list):
        raise DatasetFormatError(f"{where}: expected a list of cameras, got {type(cams).__name__}")
    return [_complete_camera(cam, i, f"{where}[{i}]") for i, cam in enumerate(cams)]


def read_camera_file(path: Path) -> CameraTable:
    """A camera file: the exporter's ``cameras_*.json`` or a plain ``{subject: [cameras]}``.

    JSON or YAML (safe loader only). Cameras may give just ``orientation`` and ``translation``
    (as VideoPose3D's extrinsic table does); intrinsics then come from the built-in camera at
    the same position.
    """
    if not path.is_file():
        raise DatasetFormatError(f"{path}: camera file not found (dataset.camera_file)")
    text = path.read_text()
    try:
        table = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DatasetFormatError(f"{path}: cannot parse camera file: {exc}") from exc
    if not isinstance(table, Mapping):
        raise DatasetFormatError(f"{path}: expected a mapping subject -> cameras")
    if table.get("format") == CAMERA_FORMAT:
        subjects = {
            s: _camera_list(c, f"{path}: subjects[{s!r}]") for s, c in table["subjects"].items()
        }
        sequences = {
            s: {k: _camera_list(c, f"{path}: sequences[{s!r}][{k!r}]") for k, c in by_key.items()}
            for s, by_key in table.get("sequences", {}).items()
        }
        return CameraTable(subjects, sequences)
    return CameraTable({str(s): _camera_list(c, f"{path}: [{s!r}]") for s, c in table.items()}, {})


def load_cameras(config: H36MConfig) -> CameraTable:
    """Built-in cameras, with the user's camera file (if any) adding or replacing subjects."""
    table = builtin_cameras()
    if config.camera_file is None:
        return table
    user = read_camera_file(config.path(config.camera_file))
    return CameraTable({**table.subjects, **user.subjects}, user.sequences)


def split_action_keys(keys: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``action key -> (action, sequence)``: trailing numbers stripped, aliases merged.

    Real files hold e.g. "Directions" and "Directions 1", the exporter "walking 1" and
    "walking 2": the sequence is the key's rank among keys of the same action, ordered by that
    trailing number (none first).
    """
    parsed: dict[str, tuple[str, int]] = {}
    for key in keys:
        head, _, tail = key.rpartition(" ")
        action, number = (head, int(tail)) if head and tail.isdigit() else (key, -1)
        parsed[key] = (ACTION_ALIASES.get(action, action), number)
    out = {}
    for key, (action, number) in parsed.items():
        same = sorted(n for a, n in parsed.values() if a == action)
        out[key] = (action, same.index(number))
    return out


def check_pose_array(
    value: Any, path: Path, key: str, joints: int, dims: int, min_frames: int = 1
) -> np.ndarray:
    """``value`` as float (T, joints, dims) with T >= min_frames, or an error naming file/key."""
    expected = f"a float array of shape (T, {joints}, {dims}) [frames, joints, coordinates]"
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        got = type(value).__name__ if not isinstance(value, np.ndarray) else f"dtype {value.dtype}"
        raise format_error(path, key, expected, got)
    if value.ndim != 3 or value.shape[1:] != (joints, dims):
        # The right sizes on the wrong axes: most likely a transposed export.
        transposed = value.ndim == 3 and joints in value.shape and dims in value.shape
        hint = " (axes in another order? the layout is frames, joints, coordinates)"
        hint = hint if transposed else ""
        raise format_error(path, key, expected, f"shape {value.shape}{hint}")
    if len(value) < min_frames:
        raise format_error(path, key, f"{expected} with T >= {min_frames}", f"shape {value.shape}")
    return value


def _dict_entry(mapping: Any, key: str, path: Path, where: str, what: str) -> Any:
    """``mapping[key]`` or an error naming the file and the missing entry."""
    if not isinstance(mapping, Mapping):
        raise format_error(path, where, f"a dict {what}", type(mapping).__name__)
    if key not in mapping:
        raise DatasetFormatError(
            f"{path}: key {where!r} has no entry {key!r} ({what}); present: {sorted(mapping)}"
        )
    return mapping[key]


def _visible(kp2d: np.ndarray, depth: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Joints in front of the camera and inside the image: ``(T, 17)``."""
    inside = np.all((kp2d >= 0) & (kp2d < size), axis=-1)
    return inside & (depth > MIN_DEPTH_M) & np.isfinite(kp2d).all(-1)


def _camera_rows(
    pose17: np.ndarray,
    kp2d: np.ndarray,
    camera: dict[str, Any],
    frames: np.ndarray,
    labels: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Rows of one camera view of one sequence (``frames`` selects the kept frames)."""
    params = camera_from_h36m(camera)
    n = len(frames)
    pose, obs = pose17[frames], kp2d[frames]
    depth = world_to_camera(pose.astype(np.float64), params["R"], params["t"])[..., 2]
    return {
        "pose3d_world": pose.astype(FLOAT_DTYPE),
        "kp2d": obs.astype(FLOAT_DTYPE),
        "visible": _visible(obs, depth, params["image_size"]),
        **{k: np.broadcast_to(v, (n, *np.shape(v))) for k, v in params.items()},
        "subject": np.full(n, labels["subject"]),
        "action": np.full(n, labels["action"]),
        "sequence": np.full(n, labels["sequence"], INT_DTYPE),
        "camera": np.full(n, labels["camera"], INT_DTYPE),
        "frame": frames.astype(INT_DTYPE),
    }


def load_h36m(
    config: H36MConfig,
    subjects: Sequence[str] | None = None,
    frame_stride: Mapping[str, int] | int = 1,
) -> dict[str, np.ndarray]:
    """The ingested dataset of ``subjects`` (default: every subject of the 3D file).

    ``frame_stride`` keeps every n-th frame, one value or one per subject (default 1).
    Subjects, actions and cameras keep the file order; subjects of the 2D file without 3D
    (S2-S4 in detection files) are ignored.
    """
    path3d, path2d = config.path(config.positions_3d), config.path(config.positions_2d)
    positions_3d = load_npz_objects(path3d, ("positions_3d",))["positions_3d"]
    positions_2d = load_npz_objects(path2d, ("positions_2d",))["positions_2d"]
    for path, key, obj in (
        (path3d, "positions_3d", positions_3d),
        (path2d, "positions_2d", positions_2d),
    ):
        if not isinstance(obj, Mapping):
            raise format_error(path, key, "a dict subject -> action -> poses", type(obj).__name__)
    cameras = load_cameras(config)
    for subject in subjects or ():
        _dict_entry(positions_3d, subject, path3d, "positions_3d", "subject")
    # File order, not request order: rows then follow the file (and the exporter's source).
    wanted = [s for s in positions_3d if subjects is None or s in subjects]
    chunks = []
    for subject in wanted:
        by_action = positions_3d[subject]
        views_by_action = _dict_entry(positions_2d, subject, path2d, "positions_2d", "subject")
        stride = frame_stride if isinstance(frame_stride, int) else frame_stride.get(subject, 1)
        for action_key, (action, sequence) in split_action_keys(list(by_action)).items():
            key3d = f"positions_3d[{subject!r}][{action_key!r}]"
            key2d = f"positions_2d[{subject!r}][{action_key!r}]"
            pose32 = check_pose_array(by_action[action_key], path3d, key3d, NUM_H36M32_JOINTS, 3)
            views = _dict_entry(
                views_by_action, action_key, path2d, f"positions_2d[{subject!r}]", "action"
            )
            cams = cameras.cameras(subject, action_key, f"{path2d}: key {key2d!r}")
            if not isinstance(views, (list, tuple)) or len(views) != len(cams):
                got = (
                    f"{len(views)} views"
                    if isinstance(views, (list, tuple))
                    else type(views).__name__
                )
                raise format_error(path2d, key2d, f"a list of {len(cams)} camera views", got)
            frames = np.arange(0, len(pose32), int(stride))
            pose17 = pose32[:, list(H36M32_TO_17)]
            for c, (kp2d, cam) in enumerate(zip(views, cams, strict=True)):
                kp2d = check_pose_array(
                    kp2d, path2d, f"{key2d}[{c}]", NUM_JOINTS, 2, min_frames=len(pose32)
                )
                labels = {"subject": subject, "action": action, "sequence": sequence, "camera": c}
                # Detections may run past the mocap: [frames] trims them to the 3D length.
                chunks.append(_camera_rows(pose17, kp2d, cam, frames, labels))
    if not chunks:
        raise DatasetFormatError(f"{path3d}: no sequences for subjects {wanted}")
    data = concat_rows(chunks)
    logger.info(
        "Human3.6M: %d samples of %s from %s and %s", len(data["kp2d"]), wanted, path3d, path2d
    )
    return data

"""``predict``: metric 3D poses from your own images or 2D keypoint files.

Keypoint files are converted to the Human3.6M 17 joints (:mod:`epoch_kedro.keypoints`) and
lifted with the camera the options give. Images go through the localiser and RegNet
(:mod:`epoch_kedro.inference.images`), which give the 2D pose, the camera K and gravity; a
camera from the options replaces RegNet's K, and without one an image's EXIF focal length does.
Then LiftNet, and the outputs written all-or-nothing (:mod:`epoch_kedro.predict.outputs`).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.geometry import undistort_pixels
from epoch_kedro.keypoints import to_h36m
from epoch_kedro.predict.camera import NO_EXIF_FOCAL, Camera, default_camera, exif_intrinsics
from epoch_kedro.predict.outputs import Lifted, staged, write_predictions
from epoch_kedro.predict.readers import (
    PredictError,
    ReadOptions,
    frame_number,
    input_files,
    read_poses,
)
from epoch_kedro.skeleton import JOINT_NAMES
from epoch_kedro.training.adapt import AdaptConfig

MODELS = Path("data/06_models")
#: The project this package was installed from (an editable install: ``make setup``), where
#: ``make run`` writes the models; predict looks there when the working folder has none.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_LIFTNET = MODELS / "liftnet.pt"
DEFAULT_REGNET = MODELS / "regnet.pt"
DEFAULT_LOCALIZER = MODELS / "localizer.pt"
REGNET_ORIGIN = "RegNet's estimate per image"
#: Skip reason of a partial pose given to a LiftNet that cannot lift one.
MASKLESS = ("this LiftNet was trained without the presence mask (retrain it: make run) and "
            "cannot lift poses with joints missing")  # fmt: skip
POOLED = ", pooled per folder"
#: Where ``--adapt`` writes the adapted LiftNet, in ``--out`` (reuse it with ``--liftnet``).
ADAPTED_FILE = "liftnet_adapted.pt"
#: What predictions.json says of an adaptation (the model file has the whole record).
ADAPTATION_SUMMARY = ("poses", "held_back", "steps", "kept_step")

logger = logging.getLogger(__name__)


def _model(given: str | Path | None, default: Path, what: str, option: str) -> Path:
    """The model file to use: ``given``, else ``default`` below the working folder, else below
    the project the package was installed from (so predict runs from any folder)."""
    if given is not None:
        if not Path(given).is_file():
            raise PredictError(f"{given}: no trained {what} there; `make run` trains it "
                               f"(or pass {option} PATH)")  # fmt: skip
        return Path(given)
    places = [default, PROJECT_ROOT / default]
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        raise PredictError(
            f"no trained {what} at {default} (below {Path.cwd()}) nor at {places[1]}; `make run` "
            f"in the project trains it (or pass {option} PATH)"
        )
    return found


def _from_keypoints(
    files: list[Path], camera: Camera | None, options: ReadOptions, min_confidence: float
) -> Lifted:
    poses = read_poses(files, options)
    converted = to_h36m(np.stack(poses.keypoints), poses.layout, min_confidence)
    camera = camera if camera is not None else default_camera()
    sizes = None if options.image_size is None else np.array([options.image_size])
    K = camera.intrinsics(sizes, len(poses.keypoints))
    kp17, usable = converted.keypoints, converted.usable
    if camera.dist is not None and usable.any():  # NaN (missing) joints stay NaN
        kp17[usable] = undistort_pixels(kp17[usable], K[usable], camera.dist)
    n = len(kp17)
    return Lifted(poses.source, poses.frame, poses.person, np.full((n, 17, 3), np.nan), kp17, K,
                  list(converted.reasons), poses.layout, camera.as_json())  # fmt: skip


def _from_images(
    files: list[Path],
    camera: Camera | None,
    regnet: str | Path | None,
    localizer: str | Path | None,
    same_camera: bool,
) -> tuple[Lifted, np.ndarray]:
    """RegNet's 2D and camera for each image; returns them and RegNet's gravity."""
    from epoch_kedro.geometry import pool_camera
    from epoch_kedro.inference.images import ImageSettings, estimate_from_images, pixel_batches
    from epoch_kedro.inference.regnet import domain_threshold, flip_confidence, out_of_domain
    from epoch_kedro.models.artifacts import load_localizer, load_regnet

    # From the headers, before the models load: an image too large or not an image is said first.
    batches = pixel_batches(files, ImageSettings())
    regnet_path = _model(regnet, DEFAULT_REGNET, "RegNet", "--regnet")
    localizer_path = _model(localizer, DEFAULT_LOCALIZER, "localiser", "--localizer")
    model = load_regnet(regnet_path)
    est = estimate_from_images(files, load_localizer(localizer_path), model, batches=batches)
    score = est["domain_score"].astype(np.float64)
    threshold = domain_threshold(model)  # calibrated for these weights when trained
    flagged = out_of_domain(score, threshold)
    _warn_out_of_domain(flagged, threshold)
    kp2d = est["kp2d_heat"].astype(np.float64)
    gravity = est["gravity"].astype(np.float64)
    gravity /= np.linalg.norm(gravity, axis=-1, keepdims=True)
    folders = np.unique([str(f.parent) for f in files], return_inverse=True)[1].ravel()
    if camera is None:
        K, camera = _exif_or_regnet(files, est, folders if same_camera else None)
    else:
        K = camera.intrinsics(est["image_size"], len(files))
        if camera.dist is not None:
            kp2d = undistort_pixels(kp2d, K, camera.dist)
    if same_camera:  # pooling a pooled K again leaves it as it is: this pools gravity
        K, gravity = pool_camera(K, gravity, folders)
    n = len(files)
    lifted = Lifted(
        source=[str(f) for f in files],
        frame=[frame_number(f) for f in files],
        person=[0] * n,
        pose3d=np.full((n, 17, 3), np.nan),
        keypoints2d=kp2d,
        K=K,
        reasons=[None] * n,
        layout="images",
        camera=camera.as_json(),
        image_size=est["image_size"],
        confidence=flip_confidence(est, est["box"]),
        domain_score=score,
        out_of_domain=flagged,
        domain_threshold=threshold,
    )
    return lifted, gravity


def _warn_out_of_domain(flagged: np.ndarray, threshold: float) -> None:
    """One warning line when RegNet cannot read some images: how many, and what to do."""
    if flagged.any():
        logger.warning("%d of %d images look unlike anything RegNet was trained on (domain "
                       "score > %.2f, \"out_of_domain\" in predictions.json): their 2D, camera "
                       "and 3D are unreliable. RegNet knows only the project's rendered frames; "
                       "train it on labelled frames of your domain, or run a 2D keypoint "
                       "detector and pass its keypoint files instead of the images",
                       int(flagged.sum()), len(flagged), threshold)  # fmt: skip


def _read_exif(
    files: list[Path], sizes: np.ndarray, pooled: bool
) -> tuple[np.ndarray, list[str | None]]:
    """Each image's EXIF K (NaN where none) and the tag it came from (None where none)."""
    K = np.full((len(files), 3, 3), np.nan)
    tags: list[str | None] = [None] * len(files)
    missed: dict[Path, list[tuple[str, str]]] = {}
    for i, (path, size) in enumerate(zip(files, sizes, strict=True)):
        exif_K, note = exif_intrinsics(path, size)
        if exif_K is None:
            missed.setdefault(path.parent, []).append((path.name, note))
        else:
            K[i], tags[i] = exif_K, note
    _log_misses(files, missed, pooled)
    return K, tags


def _log_misses(files: list[Path], missed: dict[Path, list[tuple[str, str]]], pooled: bool) -> None:
    """Why images have no EXIF K: one line per folder (not one per image), a warning where
    tags were there but rejected."""
    totals = Counter(f.parent for f in files)
    for folder, notes in missed.items():
        rejected = [(name, why) for name, why in notes if why != NO_EXIF_FOCAL]
        name, why = (rejected or notes)[0]
        instead = "RegNet's camera estimate"
        if pooled and len(notes) < totals[folder]:
            instead = "the pooled EXIF K of the folder's other images"
        log = logger.warning if rejected else logger.info
        log("%s: %d of %d images have no usable EXIF focal length (%s: %s); %s is used for "
            "them", folder, len(notes), totals[folder], name, why, instead)  # fmt: skip


def _exif_or_regnet(
    files: list[Path], est: dict[str, np.ndarray], folders: np.ndarray | None
) -> tuple[np.ndarray, Camera]:
    """K per image from its EXIF focal length, else RegNet's estimate, and the camera that
    records each one's origin. With ``folders`` (``--same-camera``), one K per folder: where
    some of its images have an EXIF K, those are pooled (:func:`pool_intrinsics`: the median focal)
    and serve all its images, since the EXIF of some frames of a fixed camera describes all;
    where none has, RegNet's estimates are pooled."""
    exif_K, tags = _read_exif(files, est["image_size"], pooled=folders is not None)
    has = np.array([t is not None for t in tags])
    K = np.where(has[:, None, None], exif_K, est["K"].astype(np.float64))
    origins = [REGNET_ORIGIN if t is None else f"EXIF ({t})" for t in tags]
    if folders is not None:
        K, origins = _pool_per_folder(K, tags, folders)
    counts = Counter(origins)  # in order of first appearance
    summary = "; ".join(f"{o} for {n} image{'s' * (n > 1)}" for o, n in counts.items())
    return K, Camera(origins[0] if len(counts) == 1 else summary, origins=tuple(origins))


def _pool_per_folder(
    K: np.ndarray, tags: list[str | None], folders: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """One K per folder, pooled over its EXIF K where it has any, else over RegNet's."""
    from epoch_kedro.geometry import pool_intrinsics

    used: dict[int, set[str]] = {}
    for folder, tag in zip(folders, tags, strict=True):
        if tag is not None:
            used.setdefault(folder, set()).add(tag)
    has = np.array([t is not None for t in tags])
    counted = has | ~np.isin(folders, list(used))  # a folder's EXIF K, or all where it has none
    pooled = pool_intrinsics(K[counted], folders[counted])
    per_folder = dict(zip(folders[counted], pooled, strict=True))  # equal within a folder
    origins = [f"EXIF ({', '.join(sorted(used[f]))})" if f in used else REGNET_ORIGIN
               for f in folders]  # fmt: skip
    return np.stack([per_folder[f] for f in folders]), [o + POOLED for o in origins]


def _lift(
    lifted: Lifted, gravity: np.ndarray | None, liftnet: Path, adapt: AdaptConfig | None
) -> tuple[list[str], Any]:
    """Fill ``lifted.pose3d`` for usable rows; returns LiftNet's warnings and, with ``adapt``,
    the LiftNet adapted to these poses (else None).

    Joints whose 2D is NaN (missing or unsure, :func:`to_h36m`) are lifted as missing
    (``present`` False). A LiftNet trained without the presence mask cannot: those frames are
    skipped with a reason that says so, and the complete ones are lifted.
    """
    from epoch_kedro.inference.lifting import lift_keypoints as lift
    from epoch_kedro.models.artifacts import load_liftnet

    model = load_liftnet(liftnet)
    logger.info("Lifting with %s", liftnet)
    present = np.isfinite(lifted.keypoints2d).all(-1)
    if not model.config.presence_mask:
        for i in np.flatnonzero(lifted.usable & ~present.all(-1)):
            lifted.reasons[i] = f"{MASKLESS}: " + ", ".join(
                JOINT_NAMES[j] for j in np.flatnonzero(~present[i])
            )
    usable = lifted.usable
    if not usable.any():
        return [], None
    args = (lifted.keypoints2d[usable], lifted.K[usable],
            None if gravity is None else gravity[usable], present[usable])  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if adapt is not None:
                model = _adapted(model, args, adapt, lifted, liftnet)
            pose = lift(model, *args)
        except ValueError as err:
            raise PredictError(f"{lifted.source[0]}: {err}") from None
    lifted.pose3d[usable] = pose
    for i in np.flatnonzero(usable & ~np.isfinite(lifted.pose3d).all(axis=(1, 2))):
        lifted.reasons[i] = "LiftNet returned NaN"
    return [str(w.message) for w in caught], model if adapt is not None else None


def _adapted(model, args: tuple, adapt: AdaptConfig, lifted: Lifted, liftnet: Path):
    """``model`` adapted to the poses of this call (:func:`epoch_kedro.api.adapt`)."""
    from epoch_kedro.training.adapt import adapt_keypoints

    n, least = len(args[0]), adapt.min_poses
    if n < least:
        raise PredictError(
            f"--adapt needs at least {least} poses to lift, got {n}: with fewer, adapting "
            "cannot be checked on held-back poses; run without --adapt"
        )
    about = {
        "inputs": sorted(set(lifted.source)),
        "camera": lifted.camera.get("origin"),
        "liftnet": str(liftnet),
    }
    logger.info("Adapting LiftNet to %d poses (%d steps at most)", n, adapt.steps)
    return adapt_keypoints(model, *args, config=adapt, about=about)


def predict(  # noqa: PLR0913 - the command's options, all keyword-only
    inputs: list[str],
    out: str | Path,
    *,
    layout: str = "auto",
    camera: Camera | None = None,
    image_size: tuple[int, int] | None = None,
    liftnet: str | Path | None = None,
    regnet: str | Path | None = None,
    localizer: str | Path | None = None,
    min_confidence: float = 0.3,
    same_camera: bool = False,
    all_people: bool = False,
    plot: bool = False,
    adapt: AdaptConfig | None = None,
) -> dict[str, Any]:
    """Lift ``inputs`` (images, or keypoint files of one layout) to metric 3D and write
    ``predictions.{json,npz,csv}`` (and with ``plot``, ``plots/``) in ``out``.

    ``camera``: from :func:`~epoch_kedro.predict.camera.camera_from_options`; None is RegNet's
    estimate for images (each image's EXIF focal length where it has one) and the default
    field of view for keypoint files. ``same_camera``: images in one folder come from one fixed
    camera (their EXIF or RegNet's estimates are pooled). ``adapt``: first adapt LiftNet to
    the poses of this call with these settings (docs/ADAPTATION.md) and write it to
    ``out/liftnet_adapted.pt``.
    Returns a summary: poses lifted, skipped (source, frame, reason), the camera's origin,
    LiftNet's warnings, the files written and ``poses``: per input pose its source, frame,
    person, ``pose3d (N, 17, 3)`` metres (NaN where skipped), ``keypoints2d``, ``K`` and
    ``lifted`` (bool). Raises :class:`PredictError` (one line) on bad
    input, leaving ``out`` untouched.
    """
    files, kind = input_files(inputs)
    if not 0.0 <= min_confidence <= 1.0:  # NaN fails too
        raise PredictError(f"--min-confidence {min_confidence}: expected a confidence in [0, 1]")
    liftnet_path = _model(liftnet, DEFAULT_LIFTNET, "LiftNet", "--liftnet")
    if kind == "images":
        lifted, gravity = _from_images(files, camera, regnet, localizer, same_camera)
    else:
        options = ReadOptions(layout, image_size, all_people)
        lifted, gravity = _from_keypoints(files, camera, options, min_confidence), None
    caught, adapted = _lift(lifted, gravity, liftnet_path, adapt)
    if adapted is not None:
        record = adapted.adapted
        lifted.adaptation = {"model": ADAPTED_FILE, **{k: record[k] for k in ADAPTATION_SUMMARY}}
    if not lifted.usable.any():
        count, first = len(lifted.reasons), lifted.reasons[0]
        raise PredictError(f"{lifted.source[0]}: no pose could be lifted; all {count} "
                           f"skipped (first: {first})")  # fmt: skip
    out = Path(out)
    with staged(out) as stage:
        written = write_predictions(lifted, stage)
        if adapted is not None:
            from epoch_kedro.models.artifacts import save_liftnet

            save_liftnet(adapted, stage / ADAPTED_FILE)
            written.append(stage / ADAPTED_FILE)
        if plot:
            from epoch_kedro.predict.plots import write_plots

            written += write_plots(lifted, stage, kind == "images")
    skipped = [(s, f, r) for s, f, r in zip(lifted.source, lifted.frame, lifted.reasons,
                                             strict=True) if r]  # fmt: skip
    return {
        "lifted": int(lifted.usable.sum()),
        "skipped": skipped,
        "camera": lifted.camera["origin"],
        "warnings": caught,
        "files": [str(out / p.relative_to(stage)) for p in written],
        "poses": _poses(lifted),
    }


def _poses(lifted: Lifted) -> dict[str, Any]:
    """The lifted poses for Python callers: one row per input pose, NaN where skipped."""
    return {
        "source": list(lifted.source),
        "frame": list(lifted.frame),
        "person": list(lifted.person),
        "pose3d": lifted.pose3d.copy(),  # (N, 17, 3) metres, camera frame
        "keypoints2d": lifted.keypoints2d.copy(),  # (N, 17, 2) px, undistorted, Human3.6M order
        "K": lifted.K.copy(),
        "lifted": lifted.usable.copy(),
    }

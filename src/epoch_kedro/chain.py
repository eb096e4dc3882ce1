"""The EPOCH chain: RegNet's 2D pose and camera become LiftNet's inputs ("camera in the loop").

:func:`generate_inputs` finds each frame's person box, runs RegNet on its crop and returns a
model-input split (the fields :mod:`epoch_kedro.data.normalize` writes) whose 2D pose, K, rays
and gravity are RegNet's; the ground truth stays beside them as ``*_gt`` fields (for evaluation and
monitoring only) so LiftNet trains and evaluates on these splits unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epoch_kedro.data.boxes import DEFAULT_BOX, BoxConfig, CropFn, boxes_from_keypoints
from epoch_kedro.data.images import ImageSet, image_rows
from epoch_kedro.data.schema import join_keys
from epoch_kedro.geometry import make_K, pool_camera
from epoch_kedro.inference.regnet import BATCH_SIZE, find_boxes, flip_confidence, regnet_on_boxes
from epoch_kedro.liftnet_inputs import lift_inputs
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet

#: Fields that name one video: within it the camera does not move and keeps its intrinsics.
VIDEO_KEYS = ("subject", "action", "sequence", "camera")
CAMERA_POOLING = ("frame", "video")
#: Where RegNet's boxes come from: the image alone (the localiser), or the 2D labels.
BOX_SOURCES = ("found", "label")


#: The LiftNet input fields that follow from a 2D pose and a camera (see :func:`camera_inputs`).
CAMERA_INPUTS = ("K", "gravity", "elevation", "rays", "pose2d", "scale2d")


def camera_inputs(kp2d: np.ndarray, K: np.ndarray, gravity: np.ndarray) -> dict[str, np.ndarray]:
    """K and LiftNet's inputs (:func:`~epoch_kedro.liftnet_inputs.lift_inputs`) for pixel
    keypoints ``(N, 17, 2)`` seen by ``K`` with ``gravity``."""
    return {"K": K, **lift_inputs(kp2d, K, gravity)}


def _float32(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}


def video_keys(split: dict[str, np.ndarray]) -> np.ndarray:
    """A string per sample naming its video (the ``VIDEO_KEYS`` present in the split): ``(N,)``."""
    return join_keys(split, VIDEO_KEYS)


def video_ids(split: dict[str, np.ndarray]) -> np.ndarray:
    """An integer per sample naming its video: ``(N,)``."""
    return np.unique(video_keys(split), return_inverse=True)[1].ravel()


@dataclass(frozen=True)
class ChainSettings:
    """How RegNet is run on a split's frames (the ``generate_inputs`` parameters)."""

    boxes: str = "found"  # found: from the image alone (the localiser); label: from the 2D labels
    refine: int = 1  # passes that redraw the box around RegNet's own 2D
    batch_size: int = BATCH_SIZE
    camera_pooling: str = "video"


def _boxes(split, rows, frames, img_rows, localizer, settings, box_config) -> np.ndarray:
    if settings.boxes == "label":
        return boxes_from_keypoints(
            split["kp2d_observed"][rows], split["visible"][rows], box_config
        )
    image_size = split["image_size"][rows]
    return find_boxes(
        localizer, frames.images[img_rows], image_size, box_config, settings.batch_size
    )


def generate_inputs(
    split: dict[str, np.ndarray],
    frames: ImageSet,
    crop_fn: CropFn,
    localizer: Localizer | None,
    model: RegNet,
    settings: ChainSettings = ChainSettings(),
    box_config: BoxConfig = DEFAULT_BOX,
) -> dict[str, np.ndarray]:
    """The split's frames with images, with RegNet's 2D pose, K and gravity as LiftNet inputs.

    Boxes come from the localiser on the full frame (``settings.boxes="found"``) or from the
    2D labels (``"label"``, the usual Human3.6M protocol); RegNet reads the crops that
    ``crop_fn`` cuts at them. ``camera_pooling="video"`` gives every frame of a video the
    pooled camera (:func:`pool_camera`); ``"frame"`` keeps each frame's own estimate. Both
    are stored: ``K_frame``/``gravity_frame`` always hold the per-frame estimates; ``box`` is
    the box RegNet read last.
    """
    if settings.camera_pooling not in CAMERA_POOLING:
        raise ValueError(
            f"generate_inputs.camera_pooling={settings.camera_pooling!r}; "
            f"choose one of {CAMERA_POOLING}"
        )
    if settings.boxes not in BOX_SOURCES:
        raise ValueError(f"generate_inputs.boxes={settings.boxes!r}; choose one of {BOX_SOURCES}")
    rows, img_rows = image_rows(split, frames.index)
    image_size = split["image_size"][rows]
    boxes = _boxes(split, rows, frames, img_rows, localizer, settings, box_config)
    pred, boxes = regnet_on_boxes(
        model,
        crop_fn,
        split["sample_id"][rows],
        boxes,
        image_size,
        refine=settings.refine,
        config=box_config,
        batch_size=settings.batch_size,
        frames=frames.images[img_rows] if model.context is not None else None,
    )
    # The integral-regression 2D (flip-test average) is RegNet's sharpest 2D estimate; the
    # camera comes from its projection branch.
    kp2d = pred["kp2d_heat"].astype(np.float64)
    K = pred["K"].astype(np.float64)
    gravity = pred["gravity"] / np.linalg.norm(pred["gravity"], axis=-1, keepdims=True)
    out = {key: value[rows] for key, value in split.items()}
    frame_camera = {"K_frame": K, "gravity_frame": gravity}
    if settings.camera_pooling == "video":
        K, gravity = pool_camera(K, gravity, video_ids(out))
    for key in ("kp2d", *CAMERA_INPUTS):
        out[f"{key}_gt"] = out[key]
    confidence = flip_confidence(pred, boxes)
    out.update(
        kp2d=kp2d,
        **camera_inputs(kp2d, K, gravity),
        pose3d_regnet=pred["pose_cam"],
        **frame_camera,
        box=boxes,
        confidence=confidence,
    )
    return _float32(out)


def prior_camera(image_size: np.ndarray, focal_ratio: float) -> np.ndarray:
    """RegNet's prior camera for frames of ``image_size (N, 2)`` (W, H): focal length
    ``focal_ratio`` x W, principal point at the frame's centre; ``K (N, 3, 3)``."""
    size = np.asarray(image_size, np.float64)
    f = focal_ratio * size[:, 0]
    return np.asarray(make_K(f, f, size[:, 0] / 2, size[:, 1] / 2))


def with_prior_camera(split: dict[str, np.ndarray], focal_ratio: float) -> dict:
    """Every frame of ``split`` with its 2D labels seen by RegNet's prior camera
    (:func:`prior_camera`), gravity unknown: inputs that read no camera label. The true camera
    stays as ``K_gt``/``gravity_gt``."""
    K = prior_camera(split["image_size"], focal_ratio)
    out = dict(split, K_gt=split["K"], gravity_gt=split["gravity"])
    out.update(camera_inputs(split["kp2d"].astype(np.float64), K, np.zeros((len(K), 3))))
    return _float32(out)


def with_video_camera(split: dict[str, np.ndarray], generated: dict[str, np.ndarray]) -> dict:
    """Every frame of ``split`` whose video RegNet saw, with the 2D labels and RegNet's camera.

    RegNet runs on the rendered frames only, but a static camera is the same for the whole
    video: each frame gets its video's pooled K and gravity (:func:`pool_camera`). Frames of
    videos without a rendered frame are dropped. The true camera stays as ``K_gt``/``gravity_gt``.
    """
    seen = video_keys(generated)
    K_video, g_video = pool_camera(
        generated.get("K_frame", generated["K"]).astype(np.float64),
        generated.get("gravity_frame", generated["gravity"]).astype(np.float64),
        np.unique(seen, return_inverse=True)[1].ravel(),
    )
    names, first = np.unique(seen, return_index=True)
    keys = video_keys(split)
    at = np.searchsorted(names, keys).clip(0, max(len(names) - 1, 0))
    keep = np.flatnonzero(names[at] == keys) if len(names) else np.zeros(0, dtype=np.int64)
    out = {key: value[keep] for key, value in split.items()}
    K = K_video[first][at[keep]]
    gravity = g_video[first][at[keep]]
    out.update(
        K_gt=out["K"],
        gravity_gt=out["gravity"],
        **camera_inputs(out["kp2d"].astype(np.float64), K, gravity),
    )
    return _float32(out)

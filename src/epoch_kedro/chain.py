"""The EPOCH chain: RegNet's 2D pose and camera become LiftNet's inputs ("camera in the loop").

:func:`generate_inputs` runs RegNet on the rendered frames of a split and returns a model-input
split (same fields as :mod:`epoch_kedro.data.normalize` produces) whose 2D pose, K, rays and
gravity are RegNet's; the ground truth stays beside them as ``*_gt`` fields (for evaluation and
monitoring only) so LiftNet trains and evaluates on these splits unchanged.
"""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.normalize import normalize_2d
from epoch_kedro.geometry import rays, resize_intrinsics
from epoch_kedro.models.regnet import RegNet
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training.regnet import ImageSet, from_image_pixels, image_rows, predict

#: Confidence of a joint falls to 1/e when the flip test disagrees by this share of the image.
CONFIDENCE_SCALE = 0.05

#: Fields that name one video: within it the camera does not move and keeps its intrinsics.
VIDEO_KEYS = ("subject", "action", "sequence", "camera")
CAMERA_POOLING = ("frame", "video")


#: The LiftNet input fields that follow from a 2D pose and a camera (see :func:`camera_inputs`).
CAMERA_INPUTS = ("K", "gravity", "elevation", "rays", "pose2d", "scale2d")


def camera_inputs(kp2d: np.ndarray, K: np.ndarray, gravity: np.ndarray) -> dict[str, np.ndarray]:
    """LiftNet's camera-dependent inputs for pixel keypoints ``(N, 17, 2)`` seen by ``K``."""
    ray = rays(kp2d, K)
    pose2d, scale = normalize_2d(ray[..., :2])
    return {
        "K": K,
        "gravity": gravity,
        "elevation": np.arcsin(np.clip(gravity[:, 2], -1, 1)),
        "rays": ray,
        "pose2d": pose2d,
        "scale2d": scale,
    }


def _float32(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}


def video_keys(split: dict[str, np.ndarray]) -> np.ndarray:
    """A string per sample naming its video (the ``VIDEO_KEYS`` present in the split): ``(N,)``."""
    keys = [np.asarray(split[k]).astype(str) for k in VIDEO_KEYS if k in split]
    if not keys:
        return np.full(len(next(iter(split.values()))), "video")
    joined = np.char.add(keys[0], "")
    for key in keys[1:]:
        joined = np.char.add(np.char.add(joined, "|"), key)
    return joined


def video_ids(split: dict[str, np.ndarray]) -> np.ndarray:
    """An integer per sample naming its video: ``(N,)``."""
    return np.unique(video_keys(split), return_inverse=True)[1].ravel()


def pool_camera(
    K: np.ndarray, gravity: np.ndarray, videos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One camera per video: the median focal (log scale) and principal point, mean gravity.

    A static camera has one K and one gravity direction for all its frames, so per-frame
    estimates are pooled; this removes frame-to-frame noise, not a shared bias.
    """
    K, gravity = K.copy(), gravity.copy()
    for video in np.unique(videos):
        rows = videos == video
        focal = np.exp(np.median(np.log(0.5 * (K[rows, 0, 0] + K[rows, 1, 1]))))
        K[rows, 0, 0] = K[rows, 1, 1] = focal
        K[rows, :2, 2] = np.median(K[rows, :2, 2], axis=0)
        mean = gravity[rows].mean(0)
        gravity[rows] = mean / max(np.linalg.norm(mean), 1e-9)
    return K, gravity


def flip_confidence(
    model: RegNet, images: np.ndarray, kp2d: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Per-joint confidence ``(M, 17)`` in (0, 1] from agreement with the mirrored image."""
    size = images.shape[1]
    mirrored = predict(model, np.ascontiguousarray(images[:, :, ::-1]), batch_size)["kp2d_heat"]
    back = mirrored[:, list(FLIP_PERMUTATION)].copy()
    back[..., 0] = size - 1 - back[..., 0]
    gap = np.linalg.norm(back - kp2d, axis=-1) / (CONFIDENCE_SCALE * size)
    return np.exp(-(gap**2)).astype(np.float32)


def generate_inputs(
    split: dict[str, np.ndarray],
    image_set: ImageSet,
    model: RegNet,
    batch_size: int = 256,
    camera_pooling: str = "video",
) -> dict[str, np.ndarray]:
    """The split's rendered frames with RegNet's 2D pose, K and gravity as LiftNet inputs.

    ``camera_pooling="video"`` gives every frame of a video the pooled camera
    (:func:`pool_camera`); ``"frame"`` keeps each frame's own estimate. Both are stored:
    ``K_frame``/``gravity_frame`` always hold the per-frame estimates.
    """
    if camera_pooling not in CAMERA_POOLING:
        raise ValueError(
            f"generate_inputs.camera_pooling={camera_pooling!r}; choose one of {CAMERA_POOLING}"
        )
    rows, img_rows = image_rows(split, image_set.index)
    images = image_set.images[img_rows]
    size = images.shape[1]
    pred = predict(model, images, batch_size)
    image_size = split["image_size"][rows]
    # The integral-regression 2D is RegNet's sharpest 2D estimate; the camera comes from its
    # projection branch.
    kp2d = from_image_pixels(pred["kp2d_heat"], image_size, size)
    K = resize_intrinsics(pred["K"].astype(np.float64), image_size.astype(np.float64) / size)
    gravity = pred["gravity"] / np.linalg.norm(pred["gravity"], axis=-1, keepdims=True)
    out = {key: value[rows] for key, value in split.items()}
    frame_camera = {"K_frame": K, "gravity_frame": gravity}
    if camera_pooling == "video":
        K, gravity = pool_camera(K, gravity, video_ids(out))
    for key in ("kp2d", *CAMERA_INPUTS):
        out[f"{key}_gt"] = out[key]
    out.update(
        kp2d=kp2d,
        **camera_inputs(kp2d, K, gravity),
        pose3d_regnet=pred["pose_cam"],
        **frame_camera,
        confidence=flip_confidence(model, images, pred["kp2d_heat"], batch_size),
    )
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

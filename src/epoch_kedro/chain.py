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
    split: dict[str, np.ndarray], image_set: ImageSet, model: RegNet, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """The split's rendered frames with RegNet's 2D pose, K and gravity as LiftNet inputs."""
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
    for key in ("kp2d", "K", "gravity", "elevation", "rays", "pose2d", "scale2d"):
        out[f"{key}_gt"] = out[key]
    ray = rays(kp2d, K)
    pose2d, scale = normalize_2d(ray[..., :2])
    out.update(
        kp2d=kp2d,
        K=K,
        gravity=gravity,
        elevation=np.arcsin(np.clip(gravity[:, 2], -1, 1)),
        rays=ray,
        pose2d=pose2d,
        scale2d=scale,
        pose3d_regnet=pred["pose_cam"],
        confidence=flip_confidence(model, images, pred["kp2d_heat"], batch_size),
    )
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in out.items()}

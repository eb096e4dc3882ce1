"""What the report draws beside the per-sample test predictions
(:mod:`epoch_kedro.evaluation.settings`): the overlay frames, and per-sample errors.

The overlay arrays (``overlay_*``) are empty when the dataset has no images.
"""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.boxes import CropFn
from epoch_kedro.data.images import image_rows
from epoch_kedro.evaluation.metrics import joint_errors, mean_error
from epoch_kedro.geometry import crop_pixels
from epoch_kedro.inference.regnet import to_resized_pixels

Arrays = dict[str, np.ndarray]


def overlay_samples(
    generated: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    count: int,
    crop_fn: CropFn | None = None,
    crop_size: int = 128,
) -> Arrays:
    """``count`` test frames, evenly spread: the low-resolution frame with RegNet's box, and
    the crop of that box (cut again at ``crop_size`` px, large enough to judge by eye) with
    RegNet's and the true 2D in its pixels."""
    rows, img_rows = image_rows(generated, image_index)
    size = images.shape[1]
    pick = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
    rows, img_rows = rows[pick], img_rows[pick]
    frame = generated["image_size"][rows].astype(np.float64)
    kp, kp_gt = generated["kp2d"][rows], generated["kp2d_gt"][rows]
    boxes = generated["box"][rows].astype(np.float64)
    # The box in the resized frame's pixels: its corners map like any point.
    corners = np.stack([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1)
    corners = to_resized_pixels(corners, frame, size)
    has_crops = crop_fn is not None and len(rows) > 0
    crops = (
        crop_fn(generated["sample_id"][rows], boxes)
        if has_crops
        else np.zeros((len(rows), crop_size, crop_size, 3), np.uint8)
    )
    size_crop = crops.shape[1]
    return {
        "overlay_image": np.asarray(images[img_rows]),
        "overlay_box": corners.reshape(-1, 4).astype(np.float32),
        "overlay_crop": crops,
        "overlay_kp2d": crop_pixels(kp, boxes, size_crop).astype(np.float32),
        "overlay_kp2d_gt": crop_pixels(kp_gt, boxes, size_crop).astype(np.float32),
        "overlay_px_error": np.linalg.norm(kp - kp_gt, axis=-1).mean(-1),
        "overlay_sample_id": generated["sample_id"][rows],
    }


def per_sample_errors(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample MPJPE and PA-MPJPE (mm): the same alignments as ``metrics.json``."""
    return {
        "mpjpe": mean_error(joint_errors(pred, gt, "root"), -1),
        "pa_mpjpe": mean_error(joint_errors(pred, gt, "procrustes"), -1),
    }

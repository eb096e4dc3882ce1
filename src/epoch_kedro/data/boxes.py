"""Person boxes: square crops around a 2D pose, in full-frame pixels.

A box is ``(cx, cy, b)``: the centre and the side of a square, in the pixels of the full frame
(:func:`epoch_kedro.geometry.crop_intrinsics` turns it into the crop's exact K). Training boxes
come from the 2D labels with random jitter, so that RegNet learns to read a person who is not
centred perfectly; at inference they come from a localisation pass over the image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BoxConfig:
    """How a box is drawn around a 2D pose."""

    margin: float = 1.35  # side = margin x the longer side of the joints' bounding box
    min_size: float = 24.0  # px of the full frame: a floor for a person seen end-on
    jitter_scale: float = 0.15  # training boxes: side x exp(U(-s, s))
    jitter_shift: float = 0.1  # training boxes: centre + U(-s, s) x side, per axis


#: The default box (a module-level instance, usable as an argument default).
DEFAULT_BOX = BoxConfig()
#: ``crop_fn(rows, boxes) -> (M, S, S, 3) uint8``: the crops of dataset rows at full-frame boxes.
CropFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def boxes_from_keypoints(
    kp2d: np.ndarray, visible: np.ndarray | None = None, config: BoxConfig = DEFAULT_BOX
) -> np.ndarray:
    """Square boxes ``(N, 3)`` around 2D poses ``(N, J, 2)`` (full-frame px).

    Only visible joints count when ``visible (N, J)`` is given; a pose with none visible uses
    all of its joints. The joints are the body's centre lines (the head joint is the head's
    centre, the feet are ankles), hence the margin.
    """
    kp = np.asarray(kp2d, np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"kp2d must have shape (N, J, 2), got {kp.shape}")
    mask = np.ones(kp.shape[:2], bool) if visible is None else np.asarray(visible, bool)
    mask = np.where(mask.any(1, keepdims=True), mask, True)
    lo = np.where(mask[..., None], kp, np.inf).min(1)
    hi = np.where(mask[..., None], kp, -np.inf).max(1)
    side = np.maximum((hi - lo).max(-1) * config.margin, config.min_size)
    return np.column_stack([(lo + hi) / 2, side])


def jitter_boxes(
    boxes: np.ndarray, sample_ids: np.ndarray, seed: int, config: BoxConfig
) -> np.ndarray:
    """Boxes moved and resized at random, the same for a sample whatever batch it is in."""
    draws = np.array(
        [np.random.default_rng([seed, int(i)]).uniform(-1, 1, 3) for i in sample_ids]
    ).reshape(-1, 3)
    out = np.array(boxes, np.float64, copy=True)
    side = out[:, 2]
    out[:, :2] += config.jitter_shift * draws[:, :2] * side[:, None]
    out[:, 2] = side * np.exp(config.jitter_scale * draws[:, 2])
    return out


def relative_boxes(boxes: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Box centre and side relative to the frame, as RegNet reads them: ``(N, 3)``.

    Centre in [-1, 1] of the frame's width/height (0 = the frame's centre) and the side as a
    fraction of the frame's width: where the crop sits, which under perspective matters.
    """
    size = np.asarray(image_size, np.float64)
    centre = 2 * (boxes[:, :2] + 0.5) / size - 1
    return np.column_stack([centre, boxes[:, 2] / size[:, 0]]).astype(np.float32)

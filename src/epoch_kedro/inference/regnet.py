"""Inference: run the trained networks on images (no training code, no losses).

The image -> 2D + camera path of the EPOCH chain, top-down:

1. the localiser reads the low-resolution full frame and places a box around the person
   (:func:`find_boxes`);
2. RegNet reads the crop of that box (cut from the frame, or rendered, by a ``crop_fn``) and
   returns its 2D pose, camera and 3D in the full frame (:func:`predict_regnet`);
3. optionally the box is redrawn around RegNet's 2D and RegNet reads the new crop
   (``refine`` passes): a centred, well-scaled crop is what it was trained on;
4. the last crop is also read mirrored and the two 2D estimates averaged (:func:`flip_test`);
5. how well RegNet could read each image is scored from that last pass (:func:`domain_score`):
   images unlike its training frames are flagged (docs/OUT_OF_DOMAIN.md).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from epoch_kedro.data.boxes import DEFAULT_BOX, BoxConfig, CropFn, boxes_from_keypoints
from epoch_kedro.geometry import resize_pixels
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet, RegNetOutput
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.utils.precision import autocast, decide

#: Confidence of a joint falls to 1/e when the flip test disagrees by this share of the box.
CONFIDENCE_SCALE = 0.05
#: Images per forward pass at inference (``generate_inputs.batch_size`` overrides it).
BATCH_SIZE = 256
#: RegNet outputs returned by :func:`predict_regnet` (full-frame pixels, metres), and
#: ``heat_spread (M, 17)``: each joint's heatmap spread (:func:`heatmap_spread`).
REGNET_OUTPUTS = ("kp2d", "kp2d_heat", "K", "R", "t", "pose_cam", "gravity", "heat_spread")
#: :func:`domain_score` above which an image is out of RegNet's domain, for artifacts trained
#: before the threshold was calibrated and stored with the weights (:func:`calibrate_domain`).
#: Measured on the default RegNet of that time: the largest score of the 266 of 300 rendered
#: validation frames it reads correctly (0.096), rounded up (docs/OUT_OF_DOMAIN.md).
DOMAIN_THRESHOLD = 0.1
#: A correct read: median 2D error over the visible joints below this fraction of the box side.
READ_TOLERANCE = 0.1
#: The percentile of the correctly read frames' scores that :func:`calibrate_domain` takes. Not
#: their maximum: that is set by a single near-miss frame and grows with the number of frames
#: (0.143 on the default RegNet's 949 of 1024; it would pass half the real frames), where the
#: 99th percentile (0.091) flags 1 % of correct reads by construction (docs/OUT_OF_DOMAIN.md).
DOMAIN_PERCENTILE = 99.0
#: How :func:`calibrate_domain` sets the threshold (stored beside it in the artifact).
DOMAIN_RULE = (f"p{DOMAIN_PERCENTILE:g} of the domain scores of the validation frames read "
               f"correctly (median 2D error < {READ_TOLERANCE:g} box side)")  # fmt: skip

logger = logging.getLogger(__name__)


def prepare_images(image_u8: torch.Tensor) -> torch.Tensor:
    """``(B, S, S, 3)`` uint8 -> ``(B, 3, S, S)`` float in [0, 1], channels-last memory."""
    x = image_u8.permute(0, 3, 1, 2).float() / 255.0
    return x.contiguous(memory_format=torch.channels_last)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextmanager
def _evaluating(
    model: torch.nn.Module, precision: str, first_batch: Callable[[], object]
) -> Iterator[torch.device]:
    """Eval mode without autograd, channels-last weights (how the CNNs train), and bf16
    autocast where it pays for this model on this device (:func:`utils.precision.decide`:
    native bf16 only, and a timed probe of ``first_batch``, the model on its first input
    batch). Yields the model's device."""
    device = _device(model)
    model.eval().to(memory_format=torch.channels_last)
    size = sum(p.numel() for p in model.parameters())
    # Per model, not per batch size: every call on one model must run in one precision, or
    # two paths over the same images (a chunked and a whole pass) could disagree.
    key = f"inference {type(model).__name__} ({size:,} weights)"
    with torch.inference_mode():
        bf16 = decide(device, precision, key, lambda _bf16: first_batch()).bf16
        with autocast(device, bf16):
            yield device


def _chunks(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, start + batch_size)


def _images(array: np.ndarray | None, part: slice, device: torch.device) -> torch.Tensor | None:
    """A slice of uint8 images as the network's input on ``device`` (None stays None)."""
    if array is None:
        return None
    return prepare_images(torch.as_tensor(np.ascontiguousarray(array[part])).to(device))


def localize(
    model: Localizer, frames: np.ndarray, batch_size: int = BATCH_SIZE, precision: str = "auto"
) -> np.ndarray:
    """The localiser's 2D pose ``(M, 17, 2)`` in the pixels of the resized frames
    (``precision``: see :func:`_evaluating`)."""
    out = []
    device = _device(model)

    def run(part: slice) -> torch.Tensor:
        return model(_images(frames, part, device))[0]

    with _evaluating(model, precision, lambda: run(slice(0, batch_size))):
        for part in _chunks(len(frames), batch_size):
            out.append(run(part).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 17, 2), np.float32)


def to_frame_pixels(kp2d: np.ndarray, image_size: np.ndarray, size: int) -> np.ndarray:
    """Pixels of a ``size`` x ``size`` resized frame -> full-frame pixels."""
    return resize_pixels(kp2d, np.asarray(image_size, np.float64) / size)


def to_resized_pixels(kp2d: np.ndarray, image_size: np.ndarray, size: int) -> np.ndarray:
    """Full-frame pixels -> pixels of the frame resized to ``size`` x ``size``."""
    return resize_pixels(kp2d, size / np.asarray(image_size, np.float64))


def find_boxes(
    model: Localizer,
    frames: np.ndarray,
    image_size: np.ndarray,
    config: BoxConfig = DEFAULT_BOX,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """Person boxes ``(M, 3)`` in full-frame pixels from the resized full frames alone."""
    kp = to_frame_pixels(localize(model, frames, batch_size), image_size, frames.shape[1])
    return boxes_from_keypoints(kp, None, config)


def predict_regnet(
    model: RegNet,
    crops: np.ndarray,
    boxes: np.ndarray,
    image_size: np.ndarray,
    batch_size: int = BATCH_SIZE,
    frames: np.ndarray | None = None,
    precision: str = "auto",
) -> dict[str, np.ndarray]:
    """RegNet on crops ``(M, S, S, 3)`` uint8 at ``boxes (M, 3)`` of frames ``(M, 2)`` (W, H).

    ``frames (M, s, s, 3)`` uint8: the low-resolution full frames, for a RegNet with a context;
    ``precision``: see :func:`_evaluating`.
    """
    chunks: dict[str, list] = {k: [] for k in REGNET_OUTPUTS}
    device = _device(model)

    def run(part: slice):
        return model(
            _images(crops, part, device),
            torch.as_tensor(boxes[part], dtype=torch.float32, device=device),
            torch.as_tensor(image_size[part], dtype=torch.float32, device=device),
            _images(frames, part, device),
        )

    with _evaluating(model, precision, lambda: run(slice(0, batch_size))):
        for part in _chunks(len(crops), batch_size):
            out = run(part)
            for key in REGNET_OUTPUTS:
                chunks[key].append(_output(out, key).float().cpu().numpy())
    empty = {"K": (0, 3, 3), "R": (0, 3, 3), "t": (0, 3), "gravity": (0, 3), "pose_cam": (0, 17, 3),
             "heat_spread": (0, 17)}  # fmt: skip
    return {
        k: np.concatenate(v) if v else np.zeros(empty.get(k, (0, 17, 2)), np.float32)
        for k, v in chunks.items()
    }


def _output(out: RegNetOutput, key: str) -> torch.Tensor:
    return heatmap_spread(out.heatmap) if key == "heat_spread" else getattr(out, key)


def heatmap_spread(prob: torch.Tensor) -> torch.Tensor:
    """Heatmaps ``(B, J, h, w)`` -> each one's spatial standard deviation ``(B, J)``, as a
    fraction of the crop's side: how unsure RegNet is of where the joint is."""
    prob = prob.float()
    h, w = prob.shape[-2:]
    xs = torch.arange(w, device=prob.device, dtype=prob.dtype) / w
    ys = torch.arange(h, device=prob.device, dtype=prob.dtype) / h
    var = torch.zeros(prob.shape[:2], device=prob.device)
    for marginal, grid in ((prob.sum(2), xs), (prob.sum(3), ys)):
        var = var + (marginal * grid**2).sum(-1) - (marginal * grid).sum(-1) ** 2
    return var.clamp_min(0).sqrt()


def domain_score(pred: dict[str, np.ndarray], boxes: np.ndarray) -> np.ndarray:
    """How badly RegNet reads each image ``(M,)``, from a :func:`flip_test` at ``boxes``.

    The geometric mean of two medians over joints, both fractions of the box side: the flip
    test's disagreement (the crop against its mirror image) and the heatmaps' spread. On images
    like its training frames RegNet is sure and mirror-consistent; on others it is neither
    (measured: docs/OUT_OF_DOMAIN.md). Above the model's :func:`domain_threshold`: out of
    domain.
    """
    gap = np.linalg.norm(pred["kp2d_heat_single"] - pred["kp2d_heat_mirrored"], axis=-1)
    flip = np.median(gap, -1) / boxes[:, 2]
    spread = np.median(pred["heat_spread"], -1)
    return np.sqrt(flip * spread).astype(np.float32)


def out_of_domain(score: np.ndarray, threshold: float = DOMAIN_THRESHOLD) -> np.ndarray:
    """Which :func:`domain_score` values are past ``threshold`` (bool)."""
    return np.asarray(score) > threshold


def read_errors(
    kp2d: np.ndarray, labels: np.ndarray, visible: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """Per image ``(M,)``: the median 2D error over its visible joints / box side (NaN when
    none is visible: such a frame cannot count as read correctly)."""
    error = np.linalg.norm(kp2d - labels, axis=-1) / boxes[:, 2:3]
    error = np.where(np.asarray(visible, bool), error, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row of NaN: no joint visible
        return np.nanmedian(error, -1)


def threshold_of(score: np.ndarray, error: np.ndarray, tolerance: float = READ_TOLERANCE) -> dict:
    """:data:`DOMAIN_RULE` on per-frame scores and 2D errors: ``{"threshold", "rule",
    "frames", "misread"}``. Frames without a visible joint (NaN error) are left out. With no
    frame read correctly the threshold is 0: a RegNet that misreads all of its own validation
    frames is trusted on none."""
    score, error = np.asarray(score), np.asarray(error)
    labelled = np.isfinite(error)
    read = labelled & (error < tolerance)
    threshold = float(np.percentile(score[read], DOMAIN_PERCENTILE)) if read.any() else 0.0
    return {"threshold": threshold, "rule": DOMAIN_RULE, "frames": int(labelled.sum()),
            "misread": int((labelled & ~read).sum())}  # fmt: skip


def calibrate_domain(
    model: RegNet,
    crops: np.ndarray,
    boxes: np.ndarray,
    image_size: np.ndarray,
    labels: np.ndarray,
    visible: np.ndarray,
    frames: np.ndarray | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict:
    """The out-of-domain threshold of a trained RegNet, from labelled frames of its domain
    (its validation crops at their boxes): :func:`threshold_of` of predict's last pass, a
    :func:`flip_test` and its :func:`domain_score`, so that the threshold fits these weights."""
    pred = flip_test(model, crops, boxes, image_size, batch_size, frames)
    errors = read_errors(pred["kp2d_heat"], labels, visible, boxes)
    return threshold_of(domain_score(pred, boxes), errors)


def domain_threshold(model: RegNet) -> float:
    """The threshold stored with ``model`` (``model.domain``, from its artifact), else
    :data:`DOMAIN_THRESHOLD`, said once: artifacts trained before the calibration have none."""
    domain: dict[str, Any] | None = getattr(model, "domain", None)
    if domain and domain.get("threshold") is not None:
        return float(domain["threshold"])
    _log_fallback()
    return DOMAIN_THRESHOLD


@functools.cache
def _log_fallback() -> None:
    # A warning, not info: predict's command line shows warnings only.
    logger.warning("This RegNet artifact has no calibrated domain threshold (trained before it "
                   "was stored); using the default %.2f (docs/OUT_OF_DOMAIN.md: retrain RegNet, "
                   "or run experiments/calibrate_domain.py --write)", DOMAIN_THRESHOLD)  # fmt: skip


def mirror(
    crops: np.ndarray, boxes: np.ndarray, image_size: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The crops and boxes of the horizontally mirrored frames."""
    mirrored = boxes.copy()
    mirrored[:, 0] = image_size[:, 0] - 1 - boxes[:, 0]
    return mirror_images(crops), mirrored


def mirror_images(images: np.ndarray | None) -> np.ndarray | None:
    """Images ``(M, H, W, 3)`` mirrored left to right (None stays None)."""
    return None if images is None else np.ascontiguousarray(images[:, :, ::-1])


def unmirror_keypoints(kp2d: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Keypoints predicted on a mirrored frame, in the original frame (left/right swapped)."""
    back = kp2d[:, list(FLIP_PERMUTATION)].copy()
    back[..., 0] = image_size[:, None, 0] - 1 - back[..., 0]
    return back


def flip_test(
    model: RegNet,
    crops: np.ndarray,
    boxes: np.ndarray,
    image_size: np.ndarray,
    batch_size: int = BATCH_SIZE,
    frames: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """RegNet on the crops and on their mirror images; the two 2D estimates are averaged.

    ``kp2d_heat`` becomes the average, ``kp2d_heat_single`` and ``kp2d_heat_mirrored`` keep
    both (their disagreement is a per-joint confidence, and part of :func:`domain_score`); the
    rest is the unmirrored pass.
    """
    pred = predict_regnet(model, crops, boxes, image_size, batch_size, frames)
    mirrored, mirrored_boxes = mirror(crops, boxes, image_size)
    back = predict_regnet(
        model, mirrored, mirrored_boxes, image_size, batch_size, mirror_images(frames)
    )["kp2d_heat"]
    back = unmirror_keypoints(back, image_size)
    single = pred["kp2d_heat"]
    return {
        **pred,
        "kp2d_heat": 0.5 * (single + back),
        "kp2d_heat_single": single,
        "kp2d_heat_mirrored": back,
    }


def regnet_on_boxes(  # noqa: PLR0913 - the chain's knobs, all keyword-only past image_size
    model: RegNet,
    crop_fn: CropFn,
    rows: np.ndarray,
    boxes: np.ndarray,
    image_size: np.ndarray,
    *,
    refine: int = 0,
    config: BoxConfig = DEFAULT_BOX,
    batch_size: int = BATCH_SIZE,
    frames: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """RegNet on the crops of ``rows`` at ``boxes``, re-boxed ``refine`` times around its 2D;
    the last pass is a :func:`flip_test`.

    Returns RegNet's outputs and the last boxes.
    """
    for _ in range(refine):
        crops = crop_fn(rows, boxes)
        pred = predict_regnet(model, crops, boxes, image_size, batch_size, frames)
        boxes = boxes_from_keypoints(pred["kp2d_heat"], None, config)
    pred = flip_test(model, crop_fn(rows, boxes), boxes, image_size, batch_size, frames)
    return pred, boxes


def flip_confidence(pred: dict[str, np.ndarray], boxes: np.ndarray) -> np.ndarray:
    """Per-joint confidence ``(M, 17)`` in (0, 1] from the flip test's two 2D estimates."""
    gap = np.linalg.norm(pred["kp2d_heat_single"] - pred["kp2d_heat_mirrored"], axis=-1)
    gap = gap / (CONFIDENCE_SCALE * boxes[:, 2:3])
    return np.exp(-(gap**2)).astype(np.float32)

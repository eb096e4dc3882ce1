"""Image files -> RegNet's 2D pose and camera (the image half of ``epoch-kedro predict``).

Images of any size and aspect are read with Pillow. The localiser reads the whole frame
resized to its input size (per axis, as in training), which places the person box; RegNet then
reads the crop of that box cut from the full-resolution image
(:func:`~epoch_kedro.data.image_files.cut_crop`). Images are
processed a batch at a time, a batch bounded in decoded pixels as well as in count, so neither a
folder of thousands of frames nor a few 12000 x 12000 photos sit in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from epoch_kedro.data.boxes import DEFAULT_BOX, BoxConfig
from epoch_kedro.data.image_files import cut_crop, image_pixels, open_rgb, resize_frame
from epoch_kedro.inference.regnet import domain_score, find_boxes, regnet_on_boxes
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet
from epoch_kedro.utils.progress import progress


@dataclass(frozen=True)
class ImageSettings:
    """How RegNet reads images (the ``generate_inputs`` defaults)."""

    refine: int = 1  # passes that redraw the box around RegNet's own 2D
    batch_size: int = 64  # images decoded and held at once, at most ...
    batch_pixels: int = 100_000_000  # ... and pixels (300 MB of RGB; one larger image alone)
    box: BoxConfig = DEFAULT_BOX


def _batch_estimates(
    images: list[Image.Image], localizer: Localizer, regnet: RegNet, settings: ImageSettings
) -> dict[str, np.ndarray]:
    image_size = np.array([im.size for im in images], np.float64)
    frames = np.stack([resize_frame(im, localizer.config.image_size) for im in images])
    boxes = find_boxes(localizer, frames, image_size, settings.box, settings.batch_size)
    context = None
    if regnet.context is not None:
        context = np.stack([resize_frame(im, regnet.config.context_size) for im in images])

    def crop_fn(rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        size = regnet.config.image_size
        return np.stack([cut_crop(images[r], b, size) for r, b in zip(rows, boxes, strict=True)])

    pred, boxes = regnet_on_boxes(
        regnet,
        crop_fn,
        np.arange(len(images)),
        boxes,
        image_size,
        refine=settings.refine,
        config=settings.box,
        batch_size=settings.batch_size,
        frames=context,
    )
    return {**pred, "box": boxes, "image_size": image_size,
            "domain_score": domain_score(pred, boxes)}  # fmt: skip


def estimate_from_images(
    paths: list[Path],
    localizer: Localizer,
    regnet: RegNet,
    settings: ImageSettings = ImageSettings(),
    batches: list[list[Path]] | None = None,
) -> dict[str, np.ndarray]:
    """RegNet's outputs (:data:`~epoch_kedro.inference.regnet.REGNET_OUTPUTS`, flip-test 2D,
    the last ``box`` and ``image_size``) for each image file, in full-frame pixels, and its
    ``domain_score`` (:func:`~epoch_kedro.inference.regnet.domain_score`). ``batches``:
    :func:`pixel_batches` of ``paths`` when the caller has them already."""
    parts: list[dict[str, np.ndarray]] = []
    batches = pixel_batches(paths, settings) if batches is None else batches
    for batch in progress(batches, "RegNet on images", unit="batch"):
        images = [open_rgb(p) for p in batch]
        parts.append(_batch_estimates(images, localizer, regnet, settings))
        for image in images:
            image.close()
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}


def pixel_batches(paths: list[Path], settings: ImageSettings) -> list[list[Path]]:
    """``paths`` in order, cut into batches of at most ``batch_size`` images and
    ``batch_pixels`` pixels (an image larger than that is a batch of its own). Sizes come from
    the files' headers, so an image too large to read is refused before any is decoded."""
    batches: list[list[Path]] = []
    pixels = 0
    for path in paths:
        size = image_pixels(path)
        full = batches and (len(batches[-1]) >= settings.batch_size
                            or pixels + size > settings.batch_pixels)  # fmt: skip
        if not batches or full:
            batches.append([])
            pixels = 0
        batches[-1].append(path)
        pixels += size
    return batches

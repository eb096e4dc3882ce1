"""Image files -> RegNet's 2D pose and camera (the image half of ``epoch-kedro predict``).

Images of any size and aspect are read with Pillow. The localiser reads the whole frame
resized to its input size (per axis, as in training), which places the person box; RegNet then
reads the crop of that box cut from the full-resolution image (:func:`cut_crop`). Images are
processed a batch at a time, so a folder of thousands of frames never sits in memory at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from epoch_kedro.data.boxes import DEFAULT_BOX, BoxConfig
from epoch_kedro.inference.regnet import domain_score, find_boxes, regnet_on_boxes
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet
from epoch_kedro.utils.progress import progress

#: File suffixes read as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as a loaded RGB Pillow image; one clear line when it is not readable."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ValueError(f"{path}: not a readable PNG/JPEG image ({err})") from None


def resize_frame(image: Image.Image, size: int) -> np.ndarray:
    """The whole frame resized to ``size`` x ``size`` (per-axis scale, antialiased): uint8."""
    return np.asarray(image.resize((size, size), Image.BILINEAR))


def cut_crop(image: Image.Image, box: np.ndarray, size: int) -> np.ndarray:
    """The square crop ``(size, size, 3)`` uint8 of a full-frame box ``(cx, cy, b)``.

    Pixel centres sit at integer coordinates (the convention of
    :func:`epoch_kedro.geometry.crop_pixels`); Pillow counts from pixel edges, hence the
    half-pixel shift. The box is resampled with an antialiasing filter (a person 600 px tall
    read at 128 px must not alias), and what lies outside the frame is black.
    """
    cx, cy, side = (float(v) for v in box)
    x0, y0 = cx - side / 2 + 0.5, cy - side / 2 + 0.5
    left, top = math.floor(x0), math.floor(y0)
    right, bottom = math.ceil(x0 + side), math.ceil(y0 + side)
    # crop() pads outside the frame with black; resize(box=...) then takes the exact sub-pixel box
    region = image.crop((left, top, right, bottom))
    window = (x0 - left, y0 - top, x0 - left + side, y0 - top + side)
    return np.asarray(region.resize((size, size), Image.BILINEAR, box=window))


@dataclass(frozen=True)
class ImageSettings:
    """How RegNet reads images (the ``generate_inputs`` defaults)."""

    refine: int = 1  # passes that redraw the box around RegNet's own 2D
    batch_size: int = 64  # images decoded and held at once
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
) -> dict[str, np.ndarray]:
    """RegNet's outputs (:data:`~epoch_kedro.inference.regnet.REGNET_OUTPUTS`, flip-test 2D,
    the last ``box`` and ``image_size``) for each image file, in full-frame pixels, and its
    ``domain_score`` (:func:`~epoch_kedro.inference.regnet.domain_score`)."""
    parts: list[dict[str, np.ndarray]] = []
    batches = range(0, len(paths), settings.batch_size)
    for start in progress(batches, "RegNet on images", unit="batch"):
        images = [open_rgb(p) for p in paths[start : start + settings.batch_size]]
        parts.append(_batch_estimates(images, localizer, regnet, settings))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}

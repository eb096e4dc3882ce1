"""Image files: reading them safely (size checked from the header before decoding), resizing a
whole frame and cutting a box out of it. Used by the datasets with frames (MPI-INF-3DHP) and by
the image half of ``epoch-kedro predict`` (:mod:`epoch_kedro.inference.images`).
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from epoch_kedro.errors import ImageError

#: File suffixes read as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

#: The largest image read, in pixels: Pillow's decompression-bomb limit (about 179 Mpx, e.g.
#: 13000 x 13000). A file claiming more is refused before it is decoded.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS


def _checked_open(path: str | Path) -> Image.Image:
    """The image's header opened (nothing decoded yet), its size within :data:`MAX_PIXELS`."""
    try:
        with warnings.catch_warnings():  # sizes up to MAX_PIXELS are read on purpose
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as err:  # Pillow's message: "Image size (N pixels) ..."
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise ImageError(_too_large(path, int(found[1]) if found else None)) from None
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ImageError(f"{path}: not a readable PNG/JPEG image ({err})") from None
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise ImageError(_too_large(path, image.width * image.height))
    return image


def _too_large(path: str | Path, pixels: int | None) -> str:
    size = f"of {pixels:,} pixels " if pixels else ""
    return (f"{path}: an image {size}is more than the {MAX_PIXELS:,} pixels this reads "
            "(Pillow's decompression-bomb limit); scale it down first")  # fmt: skip


def image_pixels(path: str | Path) -> int:
    """Width x height of an image file, read from its header."""
    with _checked_open(path) as image:
        return image.width * image.height


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as a loaded RGB Pillow image; one clear line when it is not readable."""
    image = _checked_open(path)
    try:
        image.load()  # decodes, and closes the file of a single-frame image
        if image.mode == "RGB":
            return image  # no converted copy: a 12000 x 12000 frame is 432 MB
        with image:
            return image.convert("RGB")
    except (OSError, ValueError) as err:
        image.close()
        raise ImageError(f"{path}: not a readable PNG/JPEG image ({err})") from None


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

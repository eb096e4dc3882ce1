"""Image arrays with their index: rendered full frames and person crops, matched to split rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def image_rows(split: dict[str, np.ndarray], image_index: dict[str, np.ndarray]) -> tuple:
    """Split rows that have an image, and the matching image rows: ``(rows, image_rows)``."""
    ids = image_index["sample_id"]  # ascending, as rendered
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.clip(np.searchsorted(ids, split["sample_id"]), 0, len(ids) - 1)
    found = ids[pos] == split["sample_id"]
    return np.flatnonzero(found), pos[found]


@dataclass(frozen=True)
class ImageSet:
    """Images ``(M, S, S, 3)`` uint8 and their index (``sample_id``, and ``box`` for crops).

    Crops may carry the low-resolution ``frames`` of the same samples: RegNet's context.
    """

    images: np.ndarray
    index: dict[str, np.ndarray]
    frames: ImageSet | None = None


def frames_of(split: dict[str, np.ndarray], rows: np.ndarray, frames: ImageSet) -> np.ndarray:
    """The full frames of split ``rows`` (every row must have one)."""
    have, img_rows = image_rows({"sample_id": split["sample_id"][rows]}, frames.index)
    if len(have) != len(rows):
        raise ValueError(f"{len(rows) - len(have)} crops have no full frame in the image index")
    return frames.images[img_rows]

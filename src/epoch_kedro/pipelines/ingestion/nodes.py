"""Ingestion nodes: thin wrappers over :mod:`epoch_kedro.data`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.schema import num_samples
from epoch_kedro.data.sources import load_source
from epoch_kedro.data.synthetic.render import RenderConfig, render_dataset, select_frames
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.utils.config import from_params

logger = logging.getLogger(__name__)


def ingest_dataset(dataset: dict[str, Any], synthetic: dict[str, Any]) -> dict[str, np.ndarray]:
    """Load or generate the dataset selected by ``dataset.kind`` and validate it."""
    data = load_source(dataset, synthetic)
    validate_dataset(data, name=dataset.get("name", dataset["kind"]))
    logger.info(
        "Ingested %d samples of %d subjects, %d actions",
        num_samples(data),
        len(np.unique(data["subject"])),
        len(np.unique(data["action"])),
    )
    return data


def render_images(
    raw_dataset: dict[str, np.ndarray], dataset: dict[str, Any], render: dict[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Camera images of every ``render.frame_stride``-th frame, and their sample ids and K.

    Returns ``images (M, S, S, 3)`` uint8 and ``{"sample_id": (M,), "K": (M, 3, 3)}`` (the
    intrinsics of the resized full frame).
    """
    params = dict(render)
    enabled, stride = params.pop("enabled", True), int(params.pop("frame_stride", 1))
    config = from_params(RenderConfig, params, "render")
    if not enabled or dataset.get("kind") != "synthetic":
        logger.info(
            "No images rendered (render.enabled=%s, dataset.kind=%s)", enabled, dataset.get("kind")
        )
        empty = np.zeros((0, config.size, config.size, 3), np.uint8)
        return empty, {"sample_id": np.zeros(0, np.int64), "K": np.zeros((0, 3, 3), np.float32)}
    rows = select_frames(raw_dataset, stride)
    logger.info("Rendering %d images at %d px (every %d-th frame)", len(rows), config.size, stride)
    images, K = render_dataset(raw_dataset, rows, config)
    return images, {"sample_id": rows.astype(np.int64), "K": K}

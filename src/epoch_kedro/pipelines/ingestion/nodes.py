"""Ingestion nodes: thin wrappers over :mod:`epoch_kedro.data`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data import mpi_inf_3dhp
from epoch_kedro.data.config import dataset_config, render_config
from epoch_kedro.data.crops import training_crops
from epoch_kedro.data.schema import num_samples
from epoch_kedro.data.sources import dataset_name, load_source, resolve_splits
from epoch_kedro.data.synthetic.render import render_dataset, select_frames
from epoch_kedro.data.validate import validate_dataset

logger = logging.getLogger(__name__)


def ingest_dataset(
    dataset: dict[str, Any], synthetic: dict[str, Any], splits: dict[str, list[str]]
) -> dict[str, np.ndarray]:
    """Load or generate the dataset selected by ``dataset.kind`` and validate it.

    ``splits`` (resolved per kind) choose the subjects a real dataset loads and the frame
    stride of each split.
    """
    data = load_source(dataset, synthetic, resolve_splits(splits, dataset))
    validate_dataset(data, name=dataset_name(dataset))
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
    settings, d = render_config(render), dataset_config(dataset)
    enabled, stride, kind = settings.enabled, settings.frame_stride, d.kind
    config = settings.renderer()
    if enabled and kind == "mpi_inf_3dhp" and mpi_inf_3dhp.has_images(d.root, raw_dataset):
        rows = select_frames(raw_dataset, stride)
        logger.info("Reading %d MPI-INF-3DHP frames, resized to %d px", len(rows), config.size)
        images, K = mpi_inf_3dhp.read_images(d.root, raw_dataset, rows, config.size)
        return images, {"sample_id": rows.astype(np.int64), "K": K}
    if not enabled or kind != "synthetic":
        reason = "render.enabled=false" if not enabled else f"dataset.kind={kind} has no images"
        logger.info("No images (%s): the regnet and generate_inputs stages will skip", reason)
        empty = np.zeros((0, config.size, config.size, 3), np.uint8)
        return empty, {"sample_id": np.zeros(0, np.int64), "K": np.zeros((0, 3, 3), np.float32)}
    rows = select_frames(raw_dataset, stride)
    logger.info("Rendering %d images at %d px (every %d-th frame)", len(rows), config.size, stride)
    images, K = render_dataset(raw_dataset, rows, config)
    return images, {"sample_id": rows.astype(np.int64), "K": K}


def cut_training_crops(
    raw_dataset: dict[str, np.ndarray],
    image_index: dict[str, np.ndarray],
    dataset: dict[str, Any],
    render: dict[str, Any],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Person crops of every frame with an image, at jittered boxes around its 2D labels.

    RegNet trains on these (``render.crop_size`` pixels; ``render.box`` sets margin and
    jitter). Returns ``crops (M, C, C, 3)`` uint8 and ``{"sample_id", "box"}`` (full-frame px).
    """
    return training_crops(raw_dataset, image_index["sample_id"], dataset, render)

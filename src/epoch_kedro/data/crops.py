"""Person crops for RegNet: rendered (synthetic) or cut from the frames on disk (real data).

A *crop source* is a function ``crop_fn(rows, boxes) -> (M, S, S, 3) uint8`` giving the crops
of raw-dataset rows at full-frame boxes. Training reads crops at jittered label boxes
(:func:`training_crops`, written once by ingestion); inference asks the source again for the
boxes it found.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from epoch_kedro.data import mpi_inf_3dhp
from epoch_kedro.data.boxes import CropFn, boxes_from_keypoints, jitter_boxes
from epoch_kedro.data.config import DatasetConfig, RenderConfig, dataset_config, render_config
from epoch_kedro.data.synthetic.render import render_crops

logger = logging.getLogger(__name__)

Render = RenderConfig | Mapping[str, Any]


def crop_source(
    raw_dataset: dict[str, np.ndarray],
    dataset: DatasetConfig | Mapping[str, Any],
    render: Render,
) -> CropFn | None:
    """How to get crops of this dataset (at ``render.crop_size`` px), or None when it has no
    images."""
    render, dataset = render_config(render), dataset_config(dataset)
    if not render.enabled:
        return None
    config = render.crops()
    if dataset.kind == "synthetic":
        return partial(render_crops, raw_dataset, config=config)
    if dataset.kind == "mpi_inf_3dhp" and mpi_inf_3dhp.has_images(dataset.root, raw_dataset):
        return partial(mpi_inf_3dhp.read_crops, dataset.root, raw_dataset, size=config.size)
    return None


def training_crops(
    raw_dataset: dict[str, np.ndarray],
    sample_ids: np.ndarray,
    dataset: DatasetConfig | Mapping[str, Any],
    render: Render,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Crops of ``sample_ids`` at jittered label boxes, and their index (sample id, box).

    The jitter (``render.box``) is drawn per sample id: a rerun gives the same crops.
    """
    render = render_config(render)
    config, size = render.box, render.crop_size
    crop_fn = crop_source(raw_dataset, dataset, render)
    if crop_fn is None or len(sample_ids) == 0:
        index = {"sample_id": np.zeros(0, np.int64), "box": np.zeros((0, 3), np.float32)}
        return np.zeros((0, size, size, 3), np.uint8), index
    ids = np.asarray(sample_ids, np.int64)
    labels = boxes_from_keypoints(raw_dataset["kp2d"][ids], raw_dataset["visible"][ids], config)
    boxes = jitter_boxes(labels, ids, render.seed, config)
    logger.info("Cutting %d person crops at %d px (jittered label boxes)", len(ids), size)
    return crop_fn(ids, boxes), {"sample_id": ids, "box": boxes.astype(np.float32)}

"""Generate-inputs node: box, crop and RegNet on each split's frames (:mod:`epoch_kedro.chain`)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np

from epoch_kedro.chain import ChainSettings, generate_inputs
from epoch_kedro.data.config import render_config
from epoch_kedro.data.crops import crop_source
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.schema import take
from epoch_kedro.models.artifacts import localizer_from_artifact, regnet_from_artifact
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.progress import progress

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
#: Fields whose ground truth a generated split keeps beside RegNet's value (as ``<key>_gt``).
GT_FIELDS = ("kp2d", "K", "gravity", "elevation", "rays", "pose2d", "scale2d")


def _empty_generated(split: Arrays) -> Arrays:
    """A generated split with zero rows: every field :func:`generate_inputs` writes, no data."""
    out = take(split, np.zeros(0, np.int64))
    for key in GT_FIELDS:
        out[f"{key}_gt"] = out[key]
    n = split["kp2d"].shape[1]
    out["pose3d_regnet"] = np.zeros((0, n, 3), np.float32)
    out["confidence"] = np.zeros((0, n), np.float32)
    out["box"] = np.zeros((0, 3), np.float32)
    out["K_frame"], out["gravity_frame"] = out["K"], out["gravity"]
    return out


def generate_regnet_inputs(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_train: Arrays,
    model_input_val: Arrays,
    model_input_test: Arrays,
    raw_dataset: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    localizer_model: dict[str, Any],
    regnet_model: dict[str, Any],
    params: dict[str, Any],
    dataset: dict[str, Any],
    render: dict[str, Any],
) -> tuple[Arrays, Arrays, Arrays, Arrays]:
    """RegNet's 2D pose (px), K, gravity and confidences for the train, val and test frames.

    Boxes are found from the image alone (the localiser); the test split is also run with
    boxes from its 2D labels (the fourth output). Without images (RegNet skipped) every
    split is returned with zero rows, which LiftNet and evaluation read as "no RegNet outputs".
    """
    splits = {"train": model_input_train, "val": model_input_val, "test": model_input_test}
    crop_fn = crop_source(raw_dataset, dataset, render)
    if len(images) == 0 or crop_fn is None:
        logger.info("generate_inputs skipped: no images, so no RegNet outputs")
        return (*(_empty_generated(s) for s in splits.values()), _empty_generated(model_input_test))
    settings = from_params(ChainSettings, params, "generate_inputs")
    frames = ImageSet(images, image_index)
    models = (localizer_from_artifact(localizer_model), regnet_from_artifact(regnet_model))
    boxes = render_config(render).box
    jobs = [(name, split, settings) for name, split in splits.items()]
    jobs.append(("test, label boxes", model_input_test, replace(settings, boxes="label")))
    outputs = []
    for name, split, chosen in progress(
        jobs, desc="generate inputs", total=len(jobs), unit="split"
    ):
        generated = generate_inputs(split, frames, crop_fn, *models, chosen, boxes)
        logger.info("%s: RegNet inputs for %d frames", name, len(generated["kp2d"]))
        outputs.append(generated)
    return tuple(outputs)

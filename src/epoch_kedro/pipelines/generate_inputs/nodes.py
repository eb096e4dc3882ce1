"""Generate-inputs node: RegNet on each split's rendered frames (:mod:`epoch_kedro.chain`)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.chain import generate_inputs
from epoch_kedro.data.schema import take
from epoch_kedro.models.artifacts import regnet_from_artifact
from epoch_kedro.training.regnet import ImageSet
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
    out["K_frame"], out["gravity_frame"] = out["K"], out["gravity"]
    return out


def generate_regnet_inputs(
    model_input_train: Arrays,
    model_input_val: Arrays,
    model_input_test: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    regnet_model: dict[str, Any],
    params: dict[str, Any],
) -> tuple[Arrays, Arrays, Arrays]:
    """RegNet's 2D pose (px), K, gravity and confidences for the train, val and test frames.

    Without images (RegNet skipped) every split is returned with zero rows, which LiftNet
    and evaluation read as "no RegNet outputs".
    """
    splits = {"train": model_input_train, "val": model_input_val, "test": model_input_test}
    if len(images) == 0:
        logger.info("generate_inputs skipped: no images, so no RegNet outputs")
        return tuple(_empty_generated(split) for split in splits.values())
    model = regnet_from_artifact(regnet_model)
    image_set = ImageSet(images, image_index)
    batch_size = int(params.get("batch_size", 256))
    outputs = []
    for name in progress(splits, desc="generate inputs", total=3, unit="split"):
        generated = generate_inputs(
            splits[name],
            image_set,
            model,
            batch_size=batch_size,
            camera_pooling=params.get("camera_pooling", "video"),
        )
        logger.info("%s: RegNet inputs for %d rendered frames", name, len(generated["kp2d"]))
        outputs.append(generated)
    return tuple(outputs)

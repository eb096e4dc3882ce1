"""Generate-inputs node: RegNet on each split's rendered frames (:mod:`epoch_kedro.chain`)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.chain import generate_inputs
from epoch_kedro.models.artifacts import regnet_from_artifact
from epoch_kedro.training.regnet import ImageSet
from epoch_kedro.utils.progress import progress

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def generate_regnet_inputs(
    model_input_train: Arrays,
    model_input_val: Arrays,
    model_input_test: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    regnet_model: dict[str, Any],
    params: dict[str, Any],
) -> tuple[Arrays, Arrays, Arrays]:
    """RegNet's 2D pose (px), K, gravity and confidences for the train, val and test frames."""
    model = regnet_from_artifact(regnet_model)
    image_set = ImageSet(images, image_index)
    batch_size = int(params.get("batch_size", 256))
    splits = {"train": model_input_train, "val": model_input_val, "test": model_input_test}
    outputs = []
    for name in progress(splits, desc="generate inputs", total=3, unit="split"):
        generated = generate_inputs(splits[name], image_set, model, batch_size=batch_size)
        logger.info("%s: RegNet inputs for %d rendered frames", name, len(generated["kp2d"]))
        outputs.append(generated)
    return tuple(outputs)

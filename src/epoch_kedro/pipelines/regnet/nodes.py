"""RegNet nodes: unpack parameters, call :mod:`epoch_kedro.training.regnet`, return artifacts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.models.artifacts import FORMAT, flow_from_artifact, to_artifact
from epoch_kedro.training import regnet as training
from epoch_kedro.utils.runtime import set_threads

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
#: Artifact kind saved in place of a model when there were no images to train on.
SKIPPED_KIND = "regnet_skipped"


def train_regnet_model(
    model_input_train: Arrays,
    model_input_val: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    regnet: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """Train RegNet on the training subjects' rendered images (2D labels only).

    Without images (a dataset that has none, or ``render.enabled=false``) the stage is
    skipped: it returns a ``regnet_skipped`` marker instead of a model, and an empty history.
    """
    if len(images) == 0:
        reason = "no images (the dataset has none, or render.enabled=false)"
        logger.info("RegNet skipped: %s; LiftNet will use ground-truth 2D", reason)
        return {"format": FORMAT, "kind": SKIPPED_KIND, "reason": reason}, []
    params = dict(regnet)
    set_threads(params)
    run = {k: params.pop(k) for k in ("resume", "checkpoint_dir", "torch_threads") if k in params}
    config = training.training_config(params)
    checkpoint = Path(run.get("checkpoint_dir", "data/06_models/checkpoints")) / "regnet_last.pt"
    model, result = training.train_regnet(
        model_input_train,
        model_input_val,
        training.ImageSet(images, image_index),
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
        checkpoint=checkpoint,
        resume=bool(run.get("resume", False)),
    )
    return to_artifact(model, "regnet", result.history), result.history

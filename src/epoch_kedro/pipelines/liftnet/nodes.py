"""LiftNet nodes: unpack parameters, call :mod:`epoch_kedro.training.liftnet`, return artifacts."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.chain import with_video_camera
from epoch_kedro.data.normalize import seen_motions
from epoch_kedro.models.artifacts import flow_from_artifact, to_artifact
from epoch_kedro.training import liftnet as training
from epoch_kedro.training.distributed import launch
from epoch_kedro.training.run import run_settings
from epoch_kedro.utils.config import deep_merge

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


#: ``liftnet.train_inputs``: where LiftNet's 2D pose and camera come from in training.
TRAIN_INPUTS = ("ground_truth", "regnet", "regnet_camera")


def _training_inputs(source: str, truth: tuple, generated: tuple) -> tuple[Arrays, Arrays]:
    """Train and val splits: true 2D + K; RegNet's 2D + K̂ (rendered frames); or the 2D labels
    with RegNet's camera, pooled per video and spread to all of the video's frames."""
    if source == "ground_truth":
        return truth
    if source == "regnet":
        return generated
    return tuple(with_video_camera(split, gen) for split, gen in zip(truth, generated, strict=True))


def train_lifter(
    model_input_train: Arrays,
    model_input_val: Arrays,
    regnet_inputs_train: Arrays,
    regnet_inputs_val: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    liftnet: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict]]:
    """Train LiftNet on ground-truth or RegNet-generated 2D + camera (``liftnet.train_inputs``).

    ``overrides`` turn it into an ablation, e.g. the weak-perspective camera.
    """
    params, run = run_settings(deep_merge(liftnet, overrides))
    source = run.train_inputs
    if source not in TRAIN_INPUTS:
        raise ValueError(f"liftnet.train_inputs={source!r}; choose one of {list(TRAIN_INPUTS)}")
    if source != "ground_truth" and len(regnet_inputs_train["pose2d"]) == 0:
        # Datasets without images (Human3.6M here) have no RegNet outputs to train on.
        logger.info(
            "liftnet.train_inputs=%s but there are no RegNet outputs (no images): LiftNet "
            "trains on ground-truth 2D + K instead",
            source,
        )
        source = "ground_truth"
    train, val = _training_inputs(
        source, (model_input_train, model_input_val), (regnet_inputs_train, regnet_inputs_val)
    )
    # The held-out-motion benchmark: LiftNet never sees those motions, not even to validate.
    train, val = seen_motions(train), seen_motions(val)
    config = training.training_config(params)
    # One checkpoint per (camera model, inputs): the variants of this node never resume each other.
    checkpoint = run.checkpoint(f"liftnet_{config.model.camera_model}_{source}")
    logger.info(
        "LiftNet (%s) trains on %s inputs: %d samples",
        config.model.camera_model,
        source,
        len(train["pose2d"]),
    )
    model, result = launch(
        training.train_liftnet,
        train,
        val,
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
        checkpoint=checkpoint,
        resume=run.resume,
        devices=config.loop.devices,
    )
    return to_artifact(model, "liftnet", result.history), result.history

"""RegNet nodes: unpack parameters, call :mod:`epoch_kedro.training`, return artifacts."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from epoch_kedro.chain import prior_camera
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.validate import validate_training_splits
from epoch_kedro.inference.lifting import head_elevation, inputs_from_keypoints
from epoch_kedro.models.artifacts import (
    FORMAT,
    flow_from_artifact,
    liftnet_from_artifact,
    regnet_from_artifact,
    to_artifact,
)
from epoch_kedro.training import localizer as localizer_training
from epoch_kedro.training import regnet as training
from epoch_kedro.training.distributed import launch
from epoch_kedro.training.run import run_settings

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
#: Artifact kind saved in place of a model when there were no images to train on.
SKIPPED_KIND = "regnet_skipped"


def _skipped(images: np.ndarray, name: str) -> dict[str, Any] | None:
    """The ``regnet_skipped`` marker when there are no images, else None."""
    if len(images):
        return None
    reason = "no images (the dataset has none, or render.enabled=false)"
    logger.info("%s skipped: %s; LiftNet will use ground-truth 2D", name, reason)
    return {"format": FORMAT, "kind": SKIPPED_KIND, "reason": reason}


def train_localizer_model(
    model_input_train: Arrays,
    model_input_val: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    localizer: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """Train the localiser (low-resolution full frame -> 2D -> person box) on 2D labels."""
    skipped = _skipped(images, "Localiser")
    if skipped:
        return skipped, []
    validate_training_splits(model_input_train, model_input_val)
    params, run = run_settings(localizer)
    config = localizer_training.training_config(params)
    model, result = launch(
        localizer_training.train_localizer,
        model_input_train,
        model_input_val,
        ImageSet(images, image_index),
        config,
        checkpoint=run.checkpoint("localizer"),
        resume=run.resume,
        devices=config.loop.devices,
    )
    return to_artifact(model, "localizer", result.history, result.training), result.history


def train_regnet_model(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_train: Arrays,
    model_input_val: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    crops: np.ndarray,
    crop_index: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    elevation_teacher_model: dict[str, Any],
    regnet: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """Train RegNet on the training subjects' person crops (2D labels only); the full frames
    are its context (``regnet.model.context_widths``), the elevation teacher's head on each
    frame's 2D labels the target of its camera elevation (``regnet.losses.teacher``).

    Without images (a dataset that has none, or ``render.enabled=false``) the stage is
    skipped: it returns a ``regnet_skipped`` marker instead of a model, and an empty history.
    """
    skipped = _skipped(crops, "RegNet")
    if skipped:
        return skipped, []
    validate_training_splits(model_input_train, model_input_val)
    params, run = run_settings(regnet)
    config = training.training_config(params)
    image_set = ImageSet(crops, crop_index, ImageSet(images, image_index))
    teacher = teacher_elevation(elevation_teacher_model, model_input_train, config)
    if teacher is not None:
        model_input_train = {**model_input_train, training.TEACHER_FIELD: teacher}
    model, result = launch(
        training.train_regnet,
        model_input_train,
        model_input_val,
        image_set,
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
        checkpoint=run.checkpoint("regnet"),
        resume=run.resume,
        devices=config.loop.devices,
    )
    artifact = to_artifact(model, "regnet", result.history, result.training)
    # Here, not in train_regnet: rank 0's model after launch, once, whatever the devices.
    artifact["domain"] = _calibrated(model, model_input_val, image_set, config)
    return artifact, result.history


def teacher_elevation(artifact: dict[str, Any], train: Arrays, config) -> np.ndarray | None:
    """The elevation teacher's head (rad) on each training frame's 2D labels seen by the prior
    camera, or None when RegNet trains without it (``regnet.losses.teacher: 0``)."""
    if not config.losses.teacher:
        return None
    if artifact.get("kind") != "liftnet":
        raise ValueError(
            f"regnet.losses.teacher={config.losses.teacher} but elevation_teacher_model is "
            f"{artifact.get('kind')!r} ({artifact.get('reason', 'not a LiftNet')})"
        )
    K = prior_camera(train["image_size"], config.model.focal_prior)
    inputs = inputs_from_keypoints(train["kp2d_observed"], K)
    return head_elevation(liftnet_from_artifact(artifact), inputs)


def _calibrated(model, val: Arrays, crops: ImageSet, config) -> dict[str, Any]:
    """The out-of-domain threshold of the trained weights (docs/OUT_OF_DOMAIN.md), logged."""
    start = time.perf_counter()
    domain = training.domain_calibration(model, val, crops, config)
    logger.info("RegNet's out-of-domain threshold: %.4f (%s; %d frames, %d misread; %.1f s)",
                domain["threshold"], domain["rule"], domain["frames"], domain["misread"],
                time.perf_counter() - start)  # fmt: skip
    return domain


def calibrate_regnet_artifact(
    artifact: dict[str, Any],
    model_input_val: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    crops: np.ndarray,
    crop_index: Arrays,
    regnet: dict[str, Any],
) -> dict[str, Any]:
    """A trained RegNet artifact with its out-of-domain threshold (re)calibrated on the
    validation frames, without retraining: for artifacts trained before it was stored
    (``experiments/calibrate_domain.py``). ``regnet``: the parameter group it was trained with
    (its validation rows depend on ``validation_samples`` and ``loop.seed``)."""
    config = training.training_config(run_settings(regnet)[0])
    image_set = ImageSet(crops, crop_index, ImageSet(images, image_index))
    model = regnet_from_artifact(artifact)
    return {**artifact, "domain": _calibrated(model, model_input_val, image_set, config)}

"""LiftNet nodes: unpack parameters, call :mod:`epoch_kedro.training.liftnet`, return artifacts."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from epoch_kedro.chain import with_prior_camera, with_video_camera
from epoch_kedro.data.normalize import seen_motions
from epoch_kedro.data.validate import validate_model_input, validate_training_splits
from epoch_kedro.inference.lifting import input_sample
from epoch_kedro.models.artifacts import (
    FORMAT,
    adaptation_data,
    flow_from_artifact,
    to_artifact,
)
from epoch_kedro.models.regnet import RegNetConfig
from epoch_kedro.training import liftnet as training
from epoch_kedro.training.distributed import Job, launch, run_concurrently
from epoch_kedro.training.liftnet import TRAIN_INPUTS
from epoch_kedro.training.run import run_settings
from epoch_kedro.utils.config import deep_merge

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


#: Artifact kind saved in place of the elevation teacher when RegNet does not use one.
TEACHER_SKIPPED = "teacher_skipped"

#: Training inputs a LiftNet artifact keeps for adaptation's replay (about 1.5 MB of its artifact).
REPLAY_SAMPLES = 8192

#: ``liftnet.train_inputs``: where LiftNet's 2D pose and camera come from in training.


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
    inputs = _checked(model_input_train, model_input_val, regnet_inputs_train, regnet_inputs_val)
    fn, args, kwargs = _lifter_job(inputs, dataset_statistics, flow_model, liftnet, overrides)
    return _artifact(fn(*args, **kwargs), _adaptation(flow_model, model_input_train))


def train_lifter_variants(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_train: Arrays,
    model_input_val: Arrays,
    regnet_inputs_train: Arrays,
    regnet_inputs_val: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    liftnet: dict[str, Any],
    liftnet_weak: dict[str, Any],
    liftnet_reference: dict[str, Any],
) -> tuple[dict[str, Any], list[dict], dict[str, Any], list[dict]]:
    """Train the weak-perspective ablation and the reference LiftNet: (weak model, its history,
    reference model, its history).

    Both are ``liftnet`` with their overrides. With ``liftnet.concurrent`` they train side by
    side, one process each on half the CPU cores (:func:`run_concurrently`): 1.3x the samples/s
    of one after the other on two cores (docs/SCALING.md "Scaling out").
    """
    inputs = _checked(model_input_train, model_input_val, regnet_inputs_train, regnet_inputs_val)
    jobs = [
        _lifter_job(inputs, dataset_statistics, flow_model, liftnet, overrides)
        for overrides in (liftnet_weak, liftnet_reference)
    ]
    _, run = run_settings(liftnet)
    single = all(kwargs.get("devices", 1) <= 1 for _, _, kwargs in jobs)
    enough_cores = (os.cpu_count() or 1) >= len(jobs) or torch.cuda.is_available()
    results = run_concurrently(jobs, concurrent=run.concurrent and single and enough_cores)
    adaptation = _adaptation(flow_model, model_input_train)
    (weak, weak_history), (reference, reference_history) = (
        _artifact(result, adaptation) for result in results
    )
    return weak, weak_history, reference, reference_history


def train_elevation_teacher(
    model_input_train: Arrays,
    model_input_val: Arrays,
    crop_index: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    liftnet: dict[str, Any],
    liftnet_teacher: dict[str, Any],
    regnet: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """The elevation teacher: ``liftnet`` with the ``liftnet_teacher`` overrides, trained on the
    2D labels seen by RegNet's prior camera (:func:`~epoch_kedro.chain.with_prior_camera`; no
    camera label, gravity hidden), before RegNet, whose camera elevation learns from its head.

    Skipped (a ``teacher_skipped`` marker, empty history) when RegNet does not use it
    (``regnet.losses.teacher: 0``) or there are no crops for RegNet to train on.
    """
    weight = float(regnet.get("losses", {}).get("teacher", 0.0))
    reason = "regnet.losses.teacher is 0" if not weight else None
    if reason is None and len(crop_index.get("box", ())) == 0:
        reason = "no crops for RegNet to train on"
    if reason:
        logger.info("The elevation teacher is skipped: %s", reason)
        return {"format": FORMAT, "kind": TEACHER_SKIPPED, "reason": reason}, []
    validate_training_splits(model_input_train, model_input_val)
    focal = float(regnet.get("model", {}).get("focal_prior", RegNetConfig.focal_prior))
    train, val = (with_prior_camera(s, focal) for s in (model_input_train, model_input_val))
    params, run = run_settings(deep_merge(liftnet, liftnet_teacher))
    fn, args, kwargs = _job(train, val, dataset_statistics, flow_model, params, run, "prior_camera")
    model, result = fn(*args, **kwargs)
    return to_artifact(model, "liftnet", result.history, result.training), result.history


def _checked(*splits: Arrays) -> tuple[Arrays, Arrays, Arrays, Arrays]:
    """The stage's four input splits, each checked before anything trains (RegNet's outputs
    are empty for datasets without images)."""
    validate_training_splits(splits[0], splits[1])
    for name, split in zip(("regnet_inputs_train", "regnet_inputs_val"), splits[2:], strict=True):
        if len(split.get("pose2d", ())):
            validate_model_input(split, name)
    return splits


def _artifact(trained: tuple, adaptation: dict) -> tuple[dict[str, Any], list[dict]]:
    model, result = trained
    artifact = to_artifact(model, "liftnet", result.history, result.training)
    artifact["adaptation"] = adaptation
    return artifact, result.history


def _adaptation(flow_model: dict[str, Any], model_input_train: Arrays) -> dict:
    """The artifact's adaptation data: the prior it trained with and a replay sample of the
    synthetic training poses with their true cameras (held-out motions left out), whatever
    the LiftNet's own training inputs were. Measured on the development set, the chain's
    LiftNet adapted with this replay scored 68.0 / 67.1 / 69.5 mm (three adaptation seeds),
    with a replay of its own inputs (RegNet's camera) 72.5 / 70.2 / 69.6 (docs/ADAPTATION.md)."""
    replay = input_sample(seen_motions(model_input_train), REPLAY_SAMPLES)
    return adaptation_data(flow_model, replay)


def _lifter_job(
    inputs: tuple[Arrays, Arrays, Arrays, Arrays],
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    liftnet: dict[str, Any],
    overrides: dict[str, Any] | None,
) -> Job:
    """The call that trains one LiftNet: ``launch(train_liftnet, ...)`` and its arguments."""
    model_input_train, model_input_val, regnet_inputs_train, regnet_inputs_val = inputs
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
    return _job(train, val, dataset_statistics, flow_model, params, run, source)


def _job(
    train: Arrays,
    val: Arrays,
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    params: dict[str, Any],
    run,
    source: str,
) -> Job:
    """``launch(train_liftnet, ...)`` on ``train``/``val`` (LiftNet inputs from ``source``)."""
    # The held-out-motion benchmark: LiftNet never sees those motions, not even to validate.
    train, val = seen_motions(train), seen_motions(val)
    config = training.training_config(params)
    # One checkpoint per (camera model, inputs): the variants of this node never resume each other.
    checkpoint = run.checkpoint(f"liftnet_{config.model.camera_model}_{source}")
    logger.info(
        "LiftNet (%s) trains on %s inputs: %d samples, %d epochs",
        config.model.camera_model,
        source,
        len(train["pose2d"]),
        config.loop.epochs,
    )
    args = (
        training.train_liftnet,
        train,
        val,
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
    )
    kwargs = {"checkpoint": checkpoint, "resume": run.resume, "devices": config.loop.devices}
    return launch, args, kwargs

"""LiftNet nodes: unpack parameters, call :mod:`epoch_kedro.training.liftnet`, return artifacts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.models.artifacts import flow_from_artifact, to_artifact
from epoch_kedro.training import liftnet as training
from epoch_kedro.utils.runtime import set_threads

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def _merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Deep merge of parameter dicts (``override`` wins)."""
    out = dict(base)
    for key, value in (override or {}).items():
        both_dicts = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both_dicts else value
    return out


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
    params = _merge(liftnet, overrides)
    set_threads(params)
    source = params.get("train_inputs", "ground_truth")
    inputs = {
        "ground_truth": (model_input_train, model_input_val),
        "regnet": (regnet_inputs_train, regnet_inputs_val),
    }
    if source not in inputs:
        raise ValueError(f"liftnet.train_inputs={source!r}; choose one of {sorted(inputs)}")
    train, val = inputs[source]
    run = {
        k: params.pop(k)
        for k in ("train_inputs", "resume", "checkpoint_dir", "torch_threads")
        if k in params
    }
    config = training.training_config(params)
    checkpoint = Path(run.get("checkpoint_dir", "data/06_models/checkpoints"))
    checkpoint = checkpoint / f"liftnet_{config.model.camera_model}_last.pt"
    logger.info(
        "LiftNet (%s) trains on %s inputs: %d samples",
        config.model.camera_model,
        source,
        len(train["pose2d"]),
    )
    model, result = training.train_liftnet(
        train,
        val,
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
        checkpoint=checkpoint,
        resume=bool(run.get("resume", False)),
    )
    return to_artifact(model, "liftnet", result.history), result.history

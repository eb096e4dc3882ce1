"""LiftNet nodes: unpack parameters, call :mod:`epoch_kedro.training.liftnet`, return artifacts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from epoch_kedro.models.artifacts import flow_from_artifact, to_artifact
from epoch_kedro.models.flow import FlowConfig
from epoch_kedro.training import liftnet as training
from epoch_kedro.training.loop import LoopConfig
from epoch_kedro.utils.config import from_params

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
TRAIN_INPUTS = ("ground_truth",)


def _threads(params: dict[str, Any]) -> None:
    threads = int(params.get("torch_threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)


def train_flow_prior(
    model_input_train: Arrays,
    model_input_val: Arrays,
    dataset_statistics: Arrays,
    flow: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """Fit the normalizing-flow prior on the training split's normalised 2D poses."""
    _threads(flow)
    config = from_params(FlowConfig, flow.get("model"), "flow.model")
    loop = from_params(LoopConfig, flow.get("loop"), "flow.loop")
    model, result = training.train_flow(
        model_input_train,
        model_input_val,
        dataset_statistics,
        config,
        loop,
        noise=float(flow.get("noise", 0.01)),
    )
    return to_artifact(model, "pose_flow", result.history), result.history


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
    dataset_statistics: Arrays,
    flow_model: dict[str, Any],
    liftnet: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict]]:
    """Train LiftNet (``overrides`` turn it into an ablation, e.g. the weak-perspective camera)."""
    params = _merge(liftnet, overrides)
    _threads(params)
    if params.get("train_inputs", "ground_truth") not in TRAIN_INPUTS:
        raise ValueError(
            f"liftnet.train_inputs={params['train_inputs']!r} is not available yet; "
            f"choose one of {list(TRAIN_INPUTS)} (RegNet-generated inputs come with the regnet "
            "pipeline)"
        )
    run = {
        k: params.pop(k)
        for k in ("train_inputs", "resume", "checkpoint_dir", "torch_threads")
        if k in params
    }
    config = training.training_config(params)
    checkpoint = Path(run.get("checkpoint_dir", "data/06_models/checkpoints"))
    checkpoint = checkpoint / f"liftnet_{config.model.camera_model}_last.pt"
    model, result = training.train_liftnet(
        model_input_train,
        model_input_val,
        dataset_statistics["bone_length_mean"],
        flow_from_artifact(flow_model),
        config,
        checkpoint=checkpoint,
        resume=bool(run.get("resume", False)),
    )
    return to_artifact(model, "liftnet", result.history), result.history

"""Evaluation nodes: predict with each trained model and compute the field's metrics."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.evaluation.evaluate import evaluate_setting, mean_pose, regnet_section
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.training.liftnet import inputs_from_keypoints, lift_tensors, predict_poses

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
_HEADLINE = "%-32s MPJPE %6.1f  N-MPJPE %6.1f  PA-MPJPE %6.1f mm  PCK %5.1f  AUC %5.1f"


def _chain_settings(generated: Arrays) -> dict[str, dict]:
    """LiftNet inputs of the chain and of the two mixed settings that locate its error."""
    return {
        "liftnet_regnet": lift_tensors(generated),
        "liftnet_regnet_2d_true_camera": inputs_from_keypoints(
            generated["kp2d"], generated["K_gt"], generated["gravity_gt"]
        ),
        "liftnet_true_2d_regnet_camera": inputs_from_keypoints(
            generated["kp2d_gt"], generated["K"], generated["gravity"]
        ),
        "liftnet_gt_rendered_frames": inputs_from_keypoints(
            generated["kp2d_gt"], generated["K_gt"], generated["gravity_gt"]
        ),
    }


def evaluate_models(
    model_input_test: Arrays,
    model_input_train: Arrays,
    regnet_inputs_test: Arrays,
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
) -> dict[str, Any]:
    """Every setting on the test subjects: LiftNet on true inputs, the chain, RegNet, baselines."""
    edges = tuple(evaluation.get("distance_edges_m", (3.0, 6.0)))
    liftnet = liftnet_from_artifact(liftnet_model)
    metrics: dict[str, Any] = {
        "dataset": dataset.get("name", dataset.get("kind")),
        "split": "test",
        "units": {"errors": "mm", "px_error": "px (full frame)", "pck150": "%", "auc": "%"},
    }
    inputs = lift_tensors(model_input_test)
    for section, model in (
        ("liftnet_gt", liftnet),
        ("liftnet_weak_gt", liftnet_from_artifact(liftnet_weak_model)),
    ):
        metrics[section] = evaluate_setting(predict_poses(model, inputs), model_input_test, edges)
    baseline = np.broadcast_to(mean_pose(model_input_train), model_input_test["pose3d_cam"].shape)
    metrics["baseline_mean_pose"] = evaluate_setting(baseline, model_input_test, edges)
    if len(regnet_inputs_test["kp2d"]):
        metrics["regnet"] = regnet_section(regnet_inputs_test, model_input_train)
        for section, chain_inputs in _chain_settings(regnet_inputs_test).items():
            pred = predict_poses(liftnet, chain_inputs)
            metrics[section] = evaluate_setting(pred, regnet_inputs_test, edges)
    for section, m in metrics.items():
        if isinstance(m, dict) and "pa_mpjpe" in m:
            logger.info(
                _HEADLINE, section, m["mpjpe"], m["n_mpjpe"], m["pa_mpjpe"], m["pck150"], m["auc"]
            )
    return metrics

"""Evaluation nodes: predict with each trained model and compute the field's metrics."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.evaluation.evaluate import evaluate_setting, mean_pose
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.training.liftnet import lift_tensors, predict_poses

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def evaluate_lifting(
    model_input_test: Arrays,
    model_input_train: Arrays,
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
) -> dict[str, Any]:
    """LiftNet (perspective), the weak-perspective ablation and the mean-pose baseline."""
    edges = tuple(evaluation.get("distance_edges_m", (3.0, 6.0)))
    inputs = lift_tensors(model_input_test)
    metrics: dict[str, Any] = {
        "dataset": dataset.get("name", dataset.get("kind")),
        "split": "test",
        "units": {"errors": "mm", "pck150": "%", "auc": "%"},
    }
    for section, artifact in (
        ("liftnet_gt", liftnet_model),
        ("liftnet_weak_gt", liftnet_weak_model),
    ):
        pred = predict_poses(liftnet_from_artifact(artifact), inputs)
        metrics[section] = evaluate_setting(pred, model_input_test, edges)
    baseline = np.broadcast_to(mean_pose(model_input_train), model_input_test["pose3d_cam"].shape)
    metrics["baseline_mean_pose"] = evaluate_setting(baseline, model_input_test, edges)
    for section in ("liftnet_gt", "liftnet_weak_gt", "baseline_mean_pose"):
        m = metrics[section]
        logger.info(
            "%-18s MPJPE %6.1f  N-MPJPE %6.1f  PA-MPJPE %6.1f mm  PCK %5.1f  AUC %5.1f",
            section,
            m["mpjpe"],
            m["n_mpjpe"],
            m["pa_mpjpe"],
            m["pck150"],
            m["auc"],
        )
    return metrics

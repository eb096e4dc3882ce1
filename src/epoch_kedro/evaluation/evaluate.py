"""Evaluation of lifted poses: one metrics section per setting, split by distance and action."""

from __future__ import annotations

import numpy as np

from epoch_kedro.evaluation.metrics import distance_buckets, grouped, pose_metrics, root_align
from epoch_kedro.skeleton import ROOT


def _rounded(metrics: dict, digits: int = 2) -> dict:
    return {
        k: (
            _rounded(v, digits)
            if isinstance(v, dict)
            else round(v, digits)
            if isinstance(v, float)
            else v
        )
        for k, v in metrics.items()
    }


def evaluate_setting(
    pred: np.ndarray, split: dict[str, np.ndarray], edges: tuple[float, ...] = (3.0, 6.0)
) -> dict:
    """Metrics of predicted camera-frame poses ``(N, 17, 3)`` m against a model-input split.

    Overall numbers plus ``by_distance`` (ground-truth camera-to-root distance buckets) and
    ``by_action``. Millimetres and percentages, rounded to 0.01.
    """
    gt = split["pose3d_cam"].astype(np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"predictions {pred.shape} do not match the split's poses {gt.shape}")
    distance = np.linalg.norm(gt[:, ROOT], axis=-1)
    section = pose_metrics(pred, gt)
    section["by_distance"] = grouped(pred, gt, distance_buckets(distance, edges))
    section["by_action"] = grouped(pred, gt, split["action"])
    return _rounded(section)


def mean_pose(train: dict[str, np.ndarray]) -> np.ndarray:
    """The training split's mean root-relative camera-frame pose ``(17, 3)``: the trivial floor."""
    return root_align(train["pose3d_cam"].astype(np.float64)).mean(0)

"""Evaluation of lifted poses: one metrics section per setting, split by distance and action."""

from __future__ import annotations

import numpy as np

from epoch_kedro.evaluation.metrics import (
    distance_buckets,
    grouped,
    keypoint_errors_2d,
    pose_metrics,
    root_align,
)
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

    Overall numbers plus ``by_distance`` (ground-truth camera-to-root distance buckets),
    ``by_action`` (MPI-INF-3DHP: its activities) and ``by_subject`` (3DHP: TS1..TS6). The
    reference is ``metric_pose(split)``. Millimetres and percentages, rounded to 0.01.
    """
    gt = metric_pose(split)
    if pred.shape != gt.shape:
        raise ValueError(f"predictions {pred.shape} do not match the split's poses {gt.shape}")
    distance = np.linalg.norm(split["pose3d_cam"][:, ROOT].astype(np.float64), axis=-1)
    section = pose_metrics(pred, gt)
    section["by_distance"] = grouped(pred, gt, distance_buckets(distance, edges))
    section["by_action"] = grouped(pred, gt, split["action"])
    section["by_subject"] = grouped(pred, gt, split["subject"])
    return _rounded(section)


def metric_pose(split: dict[str, np.ndarray]) -> np.ndarray:
    """The camera-frame 3D that metrics compare against ``(N, 17, 3)`` m.

    ``pose3d_metric_cam`` where the dataset defines one (MPI-INF-3DHP: ``univ_annot3``, the
    skeleton rescaled to the Human3.6M height, as the field evaluates), else ``pose3d_cam``.
    """
    key = "pose3d_metric_cam" if "pose3d_metric_cam" in split else "pose3d_cam"
    return split[key].astype(np.float64)


def _finite_median(x: np.ndarray) -> float | None:
    """Median of the finite entries; None when there are none (e.g. elevation not measured)."""
    finite = x[np.isfinite(x)]
    return float(np.median(finite)) if finite.size else None


def mean_pose(train: dict[str, np.ndarray]) -> np.ndarray:
    """The training split's mean root-relative camera-frame pose ``(17, 3)``: the trivial floor."""
    return root_align(train["pose3d_cam"].astype(np.float64)).mean(0)


def regnet_section(test: dict[str, np.ndarray], train: dict[str, np.ndarray]) -> dict:
    """RegNet's 2D, camera and own 3D errors on generated test inputs, with trivial baselines.

    ``test`` is a generated split (RegNet's ``kp2d``/``K``/``gravity`` beside the ``*_gt``
    fields); ``train`` any training split (for the mean focal length and mean 2D pose).
    2D errors are in full-frame pixels; PCK2D at 5 % of the image diagonal.
    """
    size = test["image_size"].astype(np.float64)
    diag = np.linalg.norm(size, axis=-1)
    vis = test["visible"]
    px, pck = keypoint_errors_2d(test["kp2d"], test["kp2d_gt"], vis, diag)
    # Baseline: the training set's mean 2D pose, in image-size units, for every test image.
    mean_2d = (train["kp2d"] / train["image_size"][:, None, :]).mean(0)
    px_base, pck_base = keypoint_errors_2d(mean_2d * size[:, None, :], test["kp2d_gt"], vis, diag)
    focal_gt = test["K_gt"][:, 0, 0]
    focal_err = np.abs(test["K"][:, 0, 0] - focal_gt) / focal_gt
    mean_ratio = (train["K"][:, 0, 0] / train["image_size"][:, 0]).mean()
    focal_base = np.abs(mean_ratio * size[:, 0] - focal_gt) / focal_gt
    elevation = np.rad2deg(np.abs(test["elevation"] - test["elevation_gt"]))
    # Per-frame estimates, when the camera was pooled per video (generate_inputs.camera_pooling).
    frame_K = test.get("K_frame", test["K"])
    frame_focal_err = np.abs(frame_K[:, 0, 0] - focal_gt) / focal_gt
    frame_gravity = test.get("gravity_frame", test["gravity"])
    frame_elevation = np.arcsin(np.clip(frame_gravity[:, 2], -1, 1))
    frame_elevation_err = np.rad2deg(np.abs(frame_elevation - test["elevation_gt"]))
    section = {
        "frames": len(vis),
        "px_error": px,
        "pck2d_005": pck,
        "focal_rel_err": float(np.median(focal_err)),
        "elevation_err_deg": _finite_median(elevation),
        "focal_rel_err_per_frame": float(np.median(frame_focal_err)),
        "elevation_err_deg_per_frame": _finite_median(frame_elevation_err),
        "baseline_mean_pose_px_error": px_base,
        "baseline_mean_pose_pck2d_005": pck_base,
        "baseline_mean_focal_rel_err": float(np.median(focal_base)),
        "pose3d": pose_metrics(test["pose3d_regnet"].astype(np.float64), metric_pose(test)),
    }
    return _rounded(section)

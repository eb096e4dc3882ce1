"""3D pose metrics as the field reports them (inputs in metres, reported in millimetres).

- MPJPE: mean joint error after root alignment.
- N-MPJPE: the prediction first scaled by the least-squares optimal ``s = Σ gt·pred / Σ pred·pred``.
- PA-MPJPE: after similarity Procrustes (rotation, scale, translation), reflections not allowed.
- PCK3D@150 mm and AUC over thresholds 0..150 mm in 5 mm steps (31 values), as percentages.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from epoch_kedro.geometry import procrustes
from epoch_kedro.skeleton import JOINT_NAMES, ROOT

MM = 1000.0
PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 150.0 + 1e-9, 5.0)
ALIGNMENTS = ("root", "scale", "procrustes")


def root_align(pose: np.ndarray) -> np.ndarray:
    """Translate each pose so its root joint is at the origin: ``(N, J, 3)``."""
    return pose - pose[:, ROOT : ROOT + 1]


def optimal_scale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Least-squares scale per sample mapping root-aligned ``pred`` onto ``gt``: ``(N,)``."""
    num = (gt * pred).sum((-1, -2))
    den = (pred * pred).sum((-1, -2))
    return num / np.maximum(den, 1e-12)


def align(pred: np.ndarray, gt: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Root-aligned ``gt`` and ``pred`` aligned to it by ``how`` (root | scale | procrustes)."""
    pred, gt = root_align(np.asarray(pred, np.float64)), root_align(np.asarray(gt, np.float64))
    if how == "root":
        return pred, gt
    if how == "scale":
        return pred * optimal_scale(pred, gt)[:, None, None], gt
    if how == "procrustes":
        return procrustes(pred, gt, scale=True, allow_reflection=False)[0], gt
    raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {how!r}")


def joint_errors(pred: np.ndarray, gt: np.ndarray, how: str = "root") -> np.ndarray:
    """Per-joint Euclidean errors in millimetres after alignment: ``(N, J)``."""
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be (N, J, 3), got {pred.shape} and {gt.shape}")
    aligned, ref = align(pred, gt, how)
    return np.linalg.norm(aligned - ref, axis=-1) * MM


def pck(errors_mm: np.ndarray, threshold_mm: float = PCK_THRESHOLD_MM) -> float:
    """Percentage of joints with error at most ``threshold_mm``."""
    return float((errors_mm <= threshold_mm).mean() * 100.0)


def auc(errors_mm: np.ndarray) -> float:
    """Mean PCK over thresholds 0, 5, ..., 150 mm (a percentage)."""
    return float(np.mean([pck(errors_mm, t) for t in AUC_THRESHOLDS_MM]))


def pose_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """MPJPE, N-MPJPE, PA-MPJPE (mm), PCK@150 mm and AUC (%, on root-aligned errors)."""
    root = joint_errors(pred, gt, "root")
    return {
        "mpjpe": float(root.mean()),
        "n_mpjpe": float(joint_errors(pred, gt, "scale").mean()),
        "pa_mpjpe": float(joint_errors(pred, gt, "procrustes").mean()),
        "pck150": pck(root),
        "auc": auc(root),
        "count": len(pred),
    }


def grouped(
    pred: np.ndarray,
    gt: np.ndarray,
    labels: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], dict] = pose_metrics,
) -> dict[str, dict]:
    """``metric`` per distinct label (e.g. action or distance bucket), labels sorted."""
    return {str(lab): metric(pred[labels == lab], gt[labels == lab]) for lab in np.unique(labels)}


def per_joint(pred: np.ndarray, gt: np.ndarray) -> dict[str, dict[str, float]]:
    """MPJPE and PA-MPJPE for each joint name (mm)."""
    root, pa = joint_errors(pred, gt, "root"), joint_errors(pred, gt, "procrustes")
    return {
        name: {"mpjpe": float(root[:, j].mean()), "pa_mpjpe": float(pa[:, j].mean())}
        for j, name in enumerate(JOINT_NAMES)
    }


def keypoint_errors_2d(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, diagonal: np.ndarray
) -> tuple[float, float]:
    """Mean 2D error (px) and PCK2D at 5 % of each image's ``diagonal (N,)``, visible joints."""
    dist = np.linalg.norm(pred - gt, axis=-1)
    within = dist <= 0.05 * np.asarray(diagonal)[:, None]
    return float(dist[visible].mean()), float(within[visible].mean() * 100)


def distance_buckets(distance_m: np.ndarray, edges: tuple[float, ...] = (3.0, 6.0)) -> np.ndarray:
    """Label each camera-to-root distance: '<3m', '3-6m', '>6m' for the default edges."""
    names = [f"<{edges[0]:g}m"]
    names += [f"{a:g}-{b:g}m" for a, b in itertools.pairwise(edges)]
    names += [f">{edges[-1]:g}m"]
    return np.array(names)[np.searchsorted(np.asarray(edges), distance_m, side="right")]

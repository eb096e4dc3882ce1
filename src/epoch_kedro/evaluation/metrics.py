"""3D pose metrics as the field reports them (inputs in metres, reported in millimetres).

- MPJPE: mean joint error after root alignment.
- N-MPJPE: the prediction first scaled by the least-squares optimal ``s = Σ gt·pred / Σ pred·pred``.
- PA-MPJPE: after similarity Procrustes (rotation, scale, translation), reflections not allowed.
- PCK3D@150 mm and AUC over thresholds 0..150 mm in 5 mm steps (31 values), as percentages.
- Depth-order flips: limb segments whose far end is lifted on the wrong side of its near end
  along the camera's depth axis (the ambiguity a single 2D view leaves; :func:`depth_flips`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from epoch_kedro.geometry import procrustes
from epoch_kedro.skeleton import ELBOWS, JOINT_NAMES, KNEES, ROOT

MM = 1000.0
PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 150.0 + 1e-9, 5.0)
ALIGNMENTS = ("root", "scale", "procrustes")
#: Limb segments (near joint, far joint) checked for depth-order flips: upper arms, forearms,
#: thighs and shins.
LIMB_SEGMENTS: tuple[tuple[int, int], ...] = tuple(
    pair for chain in (*ELBOWS, *KNEES) for pair in ((chain[0], chain[1]), (chain[1], chain[2]))
)
#: A segment's depth order counts only where the truth's far end is this much nearer or
#: farther than its near end (metres): a segment across the line of sight has no order to get
#: wrong.
DEPTH_ORDER_MIN_M = 0.08


def root_align(pose: np.ndarray) -> np.ndarray:
    """Translate each pose so its root joint is at the origin: ``(N, J, 3)``."""
    return pose - pose[:, ROOT : ROOT + 1]


def scored(gt: np.ndarray) -> np.ndarray:
    """The joints a metric scores ``(N, J)``: those whose truth is known (finite).

    A truth joint is NaN where the dataset could not measure it (a multi-view recording whose
    triangulation is unreliable there); it is left out of every metric, not guessed.
    """
    return np.isfinite(gt).all(-1)


def optimal_scale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Least-squares scale per sample mapping root-aligned ``pred`` onto ``gt`` (over the scored
    joints): ``(N,)``."""
    w = scored(gt)[..., None]
    num = np.where(w, gt * pred, 0.0).sum((-1, -2))
    den = np.where(w, pred * pred, 0.0).sum((-1, -2))
    return num / np.maximum(den, 1e-12)


def align(pred: np.ndarray, gt: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` aligned to ``gt`` by ``how`` (root | scale | procrustes), and ``gt``: both
    root-aligned for root and scale; as they are for Procrustes, which removes translation.

    Procrustes fits the scored joints only (an unknown truth joint has no say in the fit), so
    it needs no root; root and scale alignment need the root's truth (NaN rows otherwise).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if how == "procrustes":
        aligned = procrustes(pred, gt, scale=True, allow_reflection=False, weights=scored(gt))[0]
        return aligned, gt  # translation-free: errors need no root
    pred, gt = root_align(pred), root_align(gt)
    if how == "root":
        return pred, gt
    if how == "scale":
        return pred * optimal_scale(pred, gt)[:, None, None], gt
    raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {how!r}")


def joint_errors(pred: np.ndarray, gt: np.ndarray, how: str = "root") -> np.ndarray:
    """Per-joint Euclidean errors in millimetres after alignment: ``(N, J)``; NaN at joints
    whose truth is unknown (:func:`scored`)."""
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be (N, J, 3), got {pred.shape} and {gt.shape}")
    aligned, ref = align(pred, gt, how)
    return np.linalg.norm(aligned - ref, axis=-1) * MM


def mean_error(errors_mm: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean of the scored (finite) errors; NaN where none is scored."""
    finite = np.isfinite(errors_mm)
    total = np.where(finite, errors_mm, 0.0).sum(axis)
    count = finite.sum(axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pck(errors_mm: np.ndarray, threshold_mm: float = PCK_THRESHOLD_MM) -> float:
    """Percentage of (scored) joints with error at most ``threshold_mm``."""
    errors_mm = errors_mm[np.isfinite(errors_mm)]
    return float((errors_mm <= threshold_mm).mean() * 100.0) if errors_mm.size else float("nan")


def auc(errors_mm: np.ndarray) -> float:
    """Mean PCK over thresholds 0, 5, ..., 150 mm (a percentage)."""
    return float(np.mean([pck(errors_mm, t) for t in AUC_THRESHOLDS_MM]))


def pose_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """MPJPE, N-MPJPE, PA-MPJPE (mm), PCK@150 mm and AUC (%, on root-aligned errors), over the
    scored joints (:func:`scored`); ``count`` poses."""
    root = joint_errors(pred, gt, "root")
    return {
        "mpjpe": float(mean_error(root)),
        "n_mpjpe": float(mean_error(joint_errors(pred, gt, "scale"))),
        "pa_mpjpe": float(mean_error(joint_errors(pred, gt, "procrustes"))),
        "pck150": pck(root),
        "auc": auc(root),
        "count": len(pred),
    }


def placement(pred: np.ndarray, gt: np.ndarray) -> dict[str, float | None]:
    """Where the person is put: the root position error (MRPE) in the camera frame.

    ``mrpe``: median distance between the predicted and the true root, mm; ``mrpe_rel``: the
    median of that distance as a share of the true camera-to-root distance, %; ``mrpe_mean``
    its mean, mm. Poses whose true or predicted root is not known are left out."""
    root_pred, root_gt = pred[:, ROOT].astype(np.float64), gt[:, ROOT].astype(np.float64)
    known = np.isfinite(root_pred).all(-1) & np.isfinite(root_gt).all(-1)
    error = np.linalg.norm(root_pred[known] - root_gt[known], axis=-1)
    share = error / np.linalg.norm(root_gt[known], axis=-1)
    if not len(error):
        return {"mrpe": None, "mrpe_rel": None, "mrpe_mean": None}
    return {"mrpe": float(np.median(error) * 1000), "mrpe_rel": float(np.median(share) * 100),
            "mrpe_mean": float(error.mean() * 1000)}  # fmt: skip


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
        name: {"mpjpe": float(mean_error(root[:, j])), "pa_mpjpe": float(mean_error(pa[:, j]))}
        for j, name in enumerate(JOINT_NAMES)
    }


def keypoint_errors_2d(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, diagonal: np.ndarray
) -> tuple[float, float]:
    """Mean 2D error (px) and PCK2D at 5 % of each image's ``diagonal (N,)``, visible joints."""
    dist = np.linalg.norm(pred - gt, axis=-1)
    within = dist <= 0.05 * np.asarray(diagonal)[:, None]
    return float(dist[visible].mean()), float(within[visible].mean() * 100)


#: Camera-distance bucket edges of the evaluation (m): < 3, 3-6, > 6
#: (``evaluation.distance_edges_m`` overrides them).
DISTANCE_EDGES_M: tuple[float, ...] = (3.0, 6.0)


def distance_buckets(
    distance_m: np.ndarray, edges: tuple[float, ...] = DISTANCE_EDGES_M
) -> np.ndarray:
    """Label each camera-to-root distance: '<3m', '3-6m', '>6m' for the default edges."""
    names = [f"<{edges[0]:g}m"]
    names += [f"{a:g}-{b:g}m" for a, b in itertools.pairwise(edges)]
    names += [f">{edges[-1]:g}m"]
    return np.array(names)[np.searchsorted(np.asarray(edges), distance_m, side="right")]


def depth_flips(pred: np.ndarray, gt: np.ndarray, min_depth_m: float = DEPTH_ORDER_MIN_M) -> dict:
    """How often limb segments are lifted in the wrong depth order, and what those poses cost.

    ``pred``, ``gt`` ``(N, 17, 3)`` m in the camera frame. A 2D view fixes each joint's ray, not
    whether a forearm points towards the camera or away from it: both fit the 2D exactly. A
    segment of :data:`LIMB_SEGMENTS` is *flipped* when the sign of its far-minus-near depth
    differs from the truth's, counted where the truth's difference exceeds ``min_depth_m``.
    Returns the share of poses with at least one flip (%), PA-MPJPE of those poses and of the
    others (mm), and each segment's flip rate (% of the poses where it counts).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    flipped = np.zeros(len(gt), bool)
    segments = {}
    for near, far in LIMB_SEGMENTS:
        true_dz = gt[:, far, 2] - gt[:, near, 2]
        counts = np.abs(true_dz) > min_depth_m
        wrong = counts & (np.sign(pred[:, far, 2] - pred[:, near, 2]) != np.sign(true_dz))
        flipped |= wrong
        name = f"{JOINT_NAMES[near]}-{JOINT_NAMES[far]}"
        segments[name] = 100.0 * float(wrong.sum()) / max(int(counts.sum()), 1)
    pa = mean_error(joint_errors(pred, gt, "procrustes"), -1)

    def mean_or_none(x: np.ndarray) -> float | None:
        return float(mean_error(x)) if len(x) else None

    return {
        "share": 100.0 * float(flipped.mean()) if len(gt) else 0.0,
        "pa_mpjpe_flipped": mean_or_none(pa[flipped]),
        "pa_mpjpe_rest": mean_or_none(pa[~flipped]),
        "segments": segments,
    }

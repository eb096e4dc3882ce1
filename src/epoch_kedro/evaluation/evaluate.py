"""Evaluation of lifted poses: one metrics section per setting, split by distance and action."""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.schema import join_keys
from epoch_kedro.evaluation.metrics import (
    DISTANCE_EDGES_M,
    depth_flips,
    distance_buckets,
    grouped,
    keypoint_errors_2d,
    placement,
    pose_metrics,
    root_align,
)
from epoch_kedro.geometry import project, rays
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
    pred: np.ndarray, split: dict[str, np.ndarray], edges: tuple[float, ...] = DISTANCE_EDGES_M
) -> dict:
    """Metrics of predicted camera-frame poses ``(N, 17, 3)`` m against a model-input split.

    Overall numbers plus ``by_distance`` (ground-truth camera-to-root distance buckets),
    ``by_action`` (MPI-INF-3DHP: its activities), ``by_subject`` (3DHP: TS1..TS6),
    ``by_camera`` (a multi-view recording's cameras) and ``depth_flips`` (limbs lifted in the
    wrong depth order, :func:`depth_flips`). The
    reference is ``metric_pose(split)``. Millimetres and percentages, rounded to 0.01.
    """
    gt = metric_pose(split)
    if pred.shape != gt.shape:
        raise ValueError(f"predictions {pred.shape} do not match the split's poses {gt.shape}")
    distance = np.linalg.norm(split["pose3d_cam"][:, ROOT].astype(np.float64), axis=-1)
    section = pose_metrics(pred, gt)
    section["placement"] = placement(pred, gt)
    section["by_distance"] = grouped(pred, gt, distance_buckets(distance, edges))
    section["by_action"] = grouped(pred, gt, split["action"])
    section["by_subject"] = grouped(pred, gt, split["subject"])
    section["depth_flips"] = depth_flips(pred, gt)
    if "camera_name" in split:
        section["by_camera"] = grouped(pred, gt, split["camera_name"])
    return _rounded(section)


def metric_pose(split: dict[str, np.ndarray]) -> np.ndarray:
    """The camera-frame 3D that metrics compare against ``(N, 17, 3)`` m.

    ``pose3d_metric_cam`` where the dataset defines one (MPI-INF-3DHP: ``univ_annot3``, the
    skeleton rescaled to the Human3.6M height, as the field evaluates), else ``pose3d_cam``;
    NaN at joints whose truth is not known (``truth_known``, a multi-view recording).
    """
    key = "pose3d_metric_cam" if "pose3d_metric_cam" in split else "pose3d_cam"
    pose = split[key].astype(np.float64)
    if "truth_known" in split:  # not measured: left out of every metric (metrics.scored)
        pose = np.where(split["truth_known"][..., None], pose, np.nan)
    return pose


def motion_groups(pred: np.ndarray, split: dict[str, np.ndarray]) -> dict:
    """Metrics on the split's ``seen`` and ``heldout`` motions (its ``heldout_motion`` field)."""
    labels = np.where(split["heldout_motion"], "heldout", "seen")
    return _rounded(grouped(pred, metric_pose(split), labels))


def ray_floor(split: dict[str, np.ndarray]) -> np.ndarray:
    """The true camera-frame pose with each joint moved onto the ray of the split's 2D, at its
    true depth ``(N, 17, 3)`` m.

    LiftNet predicts depths along its input rays, so this is what a lift of this 2D scores with
    perfect depths: the part of a chain's error that the 2D alone causes (an oracle, for
    diagnosis). A generated split's 2D is seen through the true intrinsics ``K_gt``, so that a
    wrong focal length (whose effect LiftNet's scale-aware depths partly absorb) is not counted.
    """
    ray = split["rays"].astype(np.float64)
    if "K_gt" in split:
        pixels = project(ray, split["K"].astype(np.float64))
        ray = rays(pixels, split["K_gt"].astype(np.float64))
    return ray * split["pose3d_cam"][..., 2:].astype(np.float64)


def flat_depth(split: dict[str, np.ndarray]) -> np.ndarray:
    """Every joint on its 2D ray at the true root's depth ``(N, 17, 3)`` m: a person as flat as
    a cut-out, at the right distance.

    The floor a lift must beat: it has the 2D and the distance right and no depth at all. A
    joint without 2D (a missing detection) is put at the centroid of the seen ones.
    """
    ray = split["rays"].astype(np.float64)
    pose = ray * split["pose3d_cam"][:, ROOT, 2, None, None].astype(np.float64)
    seen = np.isfinite(pose).all(-1)
    centre = np.where(seen[..., None], pose, 0.0).sum(1) / np.maximum(seen.sum(1), 1)[:, None]
    return np.where(seen[..., None], pose, centre[:, None])


def _finite_median(x: np.ndarray) -> float | None:
    """Median of the finite entries; None when there are none (e.g. elevation not measured)."""
    finite = x[np.isfinite(x)]
    return float(np.median(finite)) if finite.size else None


def mean_distance(train: dict[str, np.ndarray]) -> float:
    """The training split's mean camera-to-root distance, m: the placement prior."""
    return float(np.linalg.norm(train["pose3d_cam"][:, ROOT].astype(np.float64), axis=-1).mean())


def prior_distance(split: dict[str, np.ndarray], distance: float) -> np.ndarray:
    """Each joint on its 2D ray, the person flat at ``distance`` from the camera (the mean
    training distance, :func:`mean_distance`) ``(N, 17, 3)`` m: the placement floor, what the
    2D and K give with no idea of how far the person is."""
    pose = flat_depth(split)
    root = np.linalg.norm(pose[:, ROOT], axis=-1)
    return pose * (distance / root)[:, None, None]  # along the rays: the 2D is unchanged


def mean_pose(train: dict[str, np.ndarray]) -> np.ndarray:
    """The training split's mean root-relative camera-frame pose ``(17, 3)``: the trivial floor."""
    return root_align(train["pose3d_cam"].astype(np.float64)).mean(0)


def camera_types(split: dict[str, np.ndarray]) -> np.ndarray:
    """``"rig"`` for frames of a static camera that filmed several videos, else ``"wild"``.

    A studio rig (Human3.6M's four cameras, the synthetic set's rig) keeps its calibration
    across a subject's videos; a "wild" camera is set up once per video. Cameras are told
    apart by their intrinsics and position (rounded to 1 px and 1 mm).
    """
    K = split.get("K_gt", split["K"])  # a generated split's K is RegNet's estimate
    centre = -np.einsum("nji,nj->ni", split["R"].astype(np.float64), split["t"].astype(np.float64))
    key = np.column_stack([np.round(K[:, [0, 1, 0, 1], [0, 1, 2, 2]]), np.round(centre * 1000)])
    cameras, camera_id = np.unique(key, axis=0, return_inverse=True)
    videos = join_keys(split, ("subject", "action", "sequence"))
    count = np.zeros(len(cameras), int)
    for cam in range(len(cameras)):
        count[cam] = len(np.unique(videos[camera_id.ravel() == cam]))
    return np.where(count[camera_id.ravel()] > 1, "rig", "wild")


def _camera_errors(test: dict, train: dict, rows: np.ndarray) -> dict:
    """Median focal and elevation errors of RegNet's camera on ``rows``, with the baseline."""
    size = test["image_size"][rows].astype(np.float64)
    focal_gt = test["K_gt"][rows, 0, 0]
    mean_ratio = (train["K"][:, 0, 0] / train["image_size"][:, 0]).mean()
    frame_K = test.get("K_frame", test["K"])[rows]
    frame_gravity = test.get("gravity_frame", test["gravity"])[rows]
    frame_elevation = np.arcsin(np.clip(frame_gravity[:, 2], -1, 1))
    elevation = np.rad2deg(np.abs(test["elevation"][rows] - test["elevation_gt"][rows]))
    mean_elevation = np.nanmean(train["elevation"].astype(np.float64))

    def median_rel(focal):
        return float(np.median(np.abs(focal - focal_gt) / focal_gt)) if len(rows) else None

    def spread(values):  # s.d. over the frames: does the estimate follow the camera at all?
        return float(np.nanstd(values)) if len(rows) else None

    return {
        "frames": len(rows),
        "focal_rel_err": median_rel(test["K"][rows, 0, 0]),
        "elevation_err_deg": _finite_median(elevation),
        "focal_rel_err_per_frame": median_rel(frame_K[:, 0, 0]),
        "elevation_err_deg_per_frame": _finite_median(
            np.rad2deg(np.abs(frame_elevation - test["elevation_gt"][rows]))
        ),
        "baseline_mean_focal_rel_err": median_rel(mean_ratio * size[:, 0]),
        "baseline_mean_elevation_err_deg": _finite_median(
            np.rad2deg(np.abs(mean_elevation - test["elevation_gt"][rows]))
        ),
        "focal_ratio_sd": spread(test["K"][rows, 0, 0] / size[:, 0]),
        "focal_ratio_sd_gt": spread(focal_gt / size[:, 0]),
        "elevation_sd_deg": spread(np.rad2deg(test["elevation"][rows])),
        "elevation_sd_gt_deg": spread(np.rad2deg(test["elevation_gt"][rows])),
    }


def regnet_section(test: dict[str, np.ndarray], train: dict[str, np.ndarray]) -> dict:
    """RegNet's 2D, camera and own 3D errors on generated test inputs, with trivial baselines.

    ``test`` is a generated split (RegNet's ``kp2d``/``K``/``gravity`` beside the ``*_gt``
    fields); ``train`` any training split (for the mean focal length and mean 2D pose).
    2D errors are in full-frame pixels; PCK2D at 5 % of the image diagonal. Camera errors are
    also given per camera type (:func:`camera_types`).
    """
    size = test["image_size"].astype(np.float64)
    diag = np.linalg.norm(size, axis=-1)
    vis = test["visible"]
    px, pck = keypoint_errors_2d(test["kp2d"], test["kp2d_gt"], vis, diag)
    # Baseline: the training set's mean 2D pose, in image-size units, for every test image.
    mean_2d = (train["kp2d"] / train["image_size"][:, None, :]).mean(0)
    px_base, pck_base = keypoint_errors_2d(mean_2d * size[:, None, :], test["kp2d_gt"], vis, diag)
    types = camera_types(test)
    section = {
        "px_error": px,
        "pck2d_005": pck,
        **_camera_errors(test, train, np.arange(len(vis))),
        "baseline_mean_pose_px_error": px_base,
        "baseline_mean_pose_pck2d_005": pck_base,
        "by_camera_type": {
            kind: _camera_errors(test, train, np.flatnonzero(types == kind))
            for kind in ("rig", "wild")
        },
        "pose3d": pose_metrics(test["pose3d_regnet"].astype(np.float64), metric_pose(test)),
        "ray_floor": pose_metrics(ray_floor(test), test["pose3d_cam"].astype(np.float64)),
    }
    return _rounded(section)

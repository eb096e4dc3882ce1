"""Report tables as DataFrames: the headline, RegNet's 2D/camera, per action, per joint, curves.

Every table is built from what the pipeline persisted (``metrics.json``, the per-sample test
predictions, the training histories), so it shows whichever settings a run produced: a dataset
without images simply has no RegNet rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from epoch_kedro.evaluation.metrics import per_joint
from epoch_kedro.reporting.reference import PUBLISHED

#: Readable names of the settings ``metrics.json`` may hold; unknown keys are shown as they are.
SETTING_LABELS: dict[str, str] = {
    "liftnet_gt": "The chain's LiftNet (trained with RegNet's camera), true 2D + K",
    "liftnet_reference_gt": "LiftNet reference (trained on true 2D + K), true 2D + K",
    "liftnet_weak_gt": "LiftNet weak perspective (trained on true 2D), true 2D",
    "liftnet_adapted_gt": "The chain's LiftNet adapted to this test set's 2D, true 2D + K",
    "liftnet_reference_adapted_gt": "LiftNet reference adapted to this test set's 2D, true 2D + K",
    "liftnet_weak_adapted_gt": "LiftNet weak perspective adapted to this test set's 2D, true 2D",
    "baseline_mean_pose": "Baseline: mean training pose",
    "baseline_flat_depth": "Baseline: flat depth (each joint on its 2D ray at the root's depth)",
    "baseline_prior_distance": "Baseline: flat, at the mean training distance along the 2D rays",
    "baseline_prior_distance_regnet": "Baseline: flat, at the mean training distance along "
    "RegNet's rays",
    "regnet.pose3d": "RegNet's own 3D (rendered frames)",
    "regnet.ray_floor": "Oracle: true depths on RegNet's 2D rays (what any depth-only lift keeps)",
    "liftnet_regnet": "EPOCH chain: LiftNet on RegNet's 2D + K̂ (boxes found from the image)",
    "liftnet_regnet_label_boxes": "EPOCH chain, boxes from the 2D labels",
    "liftnet_regnet_2d_true_camera": "LiftNet on RegNet's 2D + true camera",
    "liftnet_true_2d_regnet_camera": "LiftNet on true 2D + RegNet's camera",
    "liftnet_gt_rendered_frames": "LiftNet, true 2D + K, rendered frames only",
    "liftnet_reference_regnet": "LiftNet reference on RegNet's 2D + K̂",
}
#: ``metrics.json`` keys -> column names, in the field's usual order.
POSE_COLUMNS: dict[str, str] = {
    "mpjpe": "MPJPE",
    "n_mpjpe": "N-MPJPE",
    "pa_mpjpe": "PA-MPJPE",
    "pck150": "PCK@150",
    "auc": "AUC",
}
#: ``placement`` keys -> column names: where the person is put (the root's error, MRPE).
PLACEMENT_COLUMNS: dict[str, str] = {
    "mrpe": "MRPE, mm",
    "mrpe_rel": "MRPE, % of distance",
    "mrpe_mean": "mean root error, mm",
}
THIS_RUN = "this run"
PUBLISHED_SOURCE = "PUBLISHED, different dataset ({dataset}, ground-truth 2D)"


def pose_sections(metrics: Mapping[str, Any]) -> dict[str, dict]:
    """Every 3D-pose setting of ``metrics.json`` in file order (RegNet's own 3D and the ray
    floor after RegNet)."""
    sections = {}
    for key, value in metrics.items():
        if isinstance(value, dict) and "pa_mpjpe" in value:
            sections[key] = value
        elif key == "regnet" and isinstance(value, dict):
            sections.update(
                {f"regnet.{k}": value[k] for k in ("pose3d", "ray_floor") if k in value}
            )
    return sections


def _bucket_order(name: str) -> float:
    """Sort key of distance buckets such as '<3m', '3-6m', '>6m' (by their lower bound)."""
    body = name.rstrip("m")
    if body.startswith("<"):
        return -math.inf
    return float(body.lstrip(">").split("-")[0])


def _row(key: str, section: dict, source: str) -> dict[str, Any]:
    row = {"setting": key, "description": SETTING_LABELS.get(key, key), "source": source}
    row["frames"] = section.get("count")
    row |= {col: section.get(k) for k, col in POSE_COLUMNS.items()}
    buckets = section.get("by_distance", {})
    for bucket in sorted(buckets, key=_bucket_order):
        row[f"PA-MPJPE {bucket}"] = buckets[bucket].get("pa_mpjpe")
    return row


def headline_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """All settings side by side (mm, %), then the published reference points, labelled."""
    source = f"{THIS_RUN}: {metrics.get('dataset', '?')}, {metrics.get('split', 'test')} split"
    rows = [_row(key, sec, source) for key, sec in pose_sections(metrics).items()]
    for ref in PUBLISHED:
        section = {"mpjpe": ref.mpjpe, "pa_mpjpe": ref.pa_mpjpe, "pck150": ref.pck150}
        rows.append(_row(ref.method, section, PUBLISHED_SOURCE.format(dataset=ref.dataset)))
    return pd.DataFrame(rows).astype({"frames": "Int64"})


#: The figures a person compares between runs (``dvc metrics show/diff``): name -> path in
#: ``metrics.json``. A setting a run did not evaluate is left out.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "chain_pa_mpjpe": ("liftnet_regnet", "pa_mpjpe"),
    "chain_mpjpe": ("liftnet_regnet", "mpjpe"),
    "chain_mrpe_pct": ("liftnet_regnet", "placement", "mrpe_rel"),
    "liftnet_pa_mpjpe": ("liftnet_gt", "pa_mpjpe"),
    "reference_pa_mpjpe": ("liftnet_reference_gt", "pa_mpjpe"),
    "reference_mpjpe": ("liftnet_reference_gt", "mpjpe"),
    "reference_mrpe_pct": ("liftnet_reference_gt", "placement", "mrpe_rel"),
    "weak_pa_mpjpe": ("liftnet_weak_gt", "pa_mpjpe"),
    "regnet_px_error": ("regnet", "px_error"),
    "regnet_focal_rel_err": ("regnet", "focal_rel_err"),
    "regnet_elevation_err_deg": ("regnet", "elevation_err_deg"),
    "flat_depth_pa_mpjpe": ("baseline_flat_depth", "pa_mpjpe"),
    "mean_pose_pa_mpjpe": ("baseline_mean_pose", "pa_mpjpe"),
}


def headline_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """A dozen figures of ``metrics.json``, flat (:data:`HEADLINE_METRICS`): what ``dvc metrics
    show`` prints, where the whole nested file would be one unreadable line."""
    out = {}
    for name, path in HEADLINE_METRICS.items():
        value: Any = metrics
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = value
    return out


def placement_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Where each setting puts the person: the root position error in the camera frame
    (median, as a share of the true distance, mean), the prior baselines included."""
    rows = [
        {"setting": SETTING_LABELS.get(key, key)}
        | {col: section["placement"].get(k) for k, col in PLACEMENT_COLUMNS.items()}
        for key, section in pose_sections(metrics).items()
        if isinstance(section.get("placement"), dict)
    ]
    return pd.DataFrame(rows, columns=["setting", *PLACEMENT_COLUMNS.values()])


def regnet_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """RegNet's 2D and camera errors beside their trivial baselines (empty without RegNet).

    Columns: boxes found from the image (the chain), boxes from the 2D labels, the baseline.
    Camera rows are also given per camera type (rig / wild).
    """
    columns = ["quantity", "boxes from image", "boxes from labels", "baseline", "baseline is"]
    reg = metrics.get("regnet")
    if not isinstance(reg, dict):
        return pd.DataFrame(columns=columns)
    labelled = metrics.get("regnet_label_boxes") or {}
    focal = ("focal_rel_err", "baseline_mean_focal_rel_err", "mean training focal")
    elevation = ("elevation_err_deg", "baseline_mean_elevation_err_deg", "mean training elevation")
    rows = [
        (
            "2D error, px (full frame)",
            reg,
            labelled,
            "px_error",
            "baseline_mean_pose_px_error",
            "mean 2D pose",
        ),
        (
            "PCK2D @ 5% diagonal, %",
            reg,
            labelled,
            "pck2d_005",
            "baseline_mean_pose_pck2d_005",
            "mean 2D pose",
        ),
        ("median focal relative error", reg, labelled, *focal),
        ("median elevation error, deg", reg, labelled, *elevation),
    ]
    for kind in ("rig", "wild"):
        by_type = reg.get("by_camera_type", {}).get(kind, {})
        by_type_labelled = labelled.get("by_camera_type", {}).get(kind, {})
        rows += [
            (f"median focal relative error, {kind} cameras", by_type, by_type_labelled, *focal),
            (f"median elevation error, {kind} cameras, deg", by_type, by_type_labelled,
             *elevation),
        ]  # fmt: skip
    return pd.DataFrame(
        [
            {
                "quantity": name,
                "boxes from image": found.get(key),
                "boxes from labels": boxed.get(key),
                "baseline": found.get(base) if base else None,
                "baseline is": what,
            }
            for name, found, boxed, key, base, what in rows
        ],
        columns=columns,
    )


def per_action_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """MPJPE, PA-MPJPE (mm), PCK@150 and AUC (%) per action (rows; MPI-INF-3DHP's activities)
    and setting (``<setting>.<metric>`` columns), as the field reports them per activity."""
    columns = {
        f"{key}.{metric}": {action: m[metric] for action, m in sec["by_action"].items()}
        for key, sec in pose_sections(metrics).items()
        if "by_action" in sec
        for metric in ("mpjpe", "pa_mpjpe", "pck150", "auc")
    }
    table = pd.DataFrame(columns)
    table.index.name = "action"
    return table.sort_index()


def per_camera_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Each setting per camera of a multi-view recording (``by_camera``), then overall; empty
    for datasets without camera names."""
    rows = []
    for key, sec in pose_sections(metrics).items():
        for camera, m in {**sec.get("by_camera", {}), "overall": sec}.items():
            if "by_camera" in sec:
                row = {"setting": SETTING_LABELS.get(key, key), "camera": camera}
                row["frames"] = m.get("count")
                rows.append(row | {col: m.get(k) for k, col in POSE_COLUMNS.items()})
    return pd.DataFrame(rows)


def per_joint_table(predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """MPJPE and PA-MPJPE (mm) per joint for each setting with per-sample predictions."""
    gt = predictions["pose3d_gt"].astype(np.float64)
    rendered = predictions["rendered_row"]
    settings = {
        key: (predictions[key], gt)
        for key in (
            "liftnet_gt", "liftnet_weak_gt", "liftnet_reference_gt", "liftnet_adapted_gt",
            "liftnet_weak_adapted_gt", "liftnet_reference_adapted_gt",
        )
        if key in predictions  # the adapted ones after the adapt pipeline only
    }  # fmt: skip
    if len(rendered):
        settings["liftnet_regnet"] = (predictions["rendered_liftnet_regnet"], gt[rendered])
        settings["regnet.pose3d"] = (predictions["rendered_regnet_pose3d"], gt[rendered])
    columns = {}
    for key, (pred, truth) in settings.items():
        joints = per_joint(pred.astype(np.float64), truth)
        for metric in ("mpjpe", "pa_mpjpe"):
            columns[f"{key}.{metric}"] = {name: m[metric] for name, m in joints.items()}
    table = pd.DataFrame(columns)
    table.loc["mean"] = table.mean()
    table.index.name = "joint"
    return table.round(2)


def training_curves_table(histories: Mapping[str, list[dict]]) -> pd.DataFrame:
    """Training histories as one long table: ``model, epoch, metric, value`` (numbers only)."""
    rows = [
        {"model": model, "epoch": entry["epoch"], "metric": key, "value": float(value)}
        for model, history in histories.items()
        for entry in history or []
        for key, value in entry.items()
        if key != "epoch" and isinstance(value, int | float)
    ]
    return pd.DataFrame(rows, columns=["model", "epoch", "metric", "value"])


#: Rows of the held-out-motion table: ``metrics["heldout_motion"]`` key -> label.
HELDOUT_ROWS: dict[str, str] = {
    "liftnet_reference_gt": "LiftNet reference, true 2D + K",
    "liftnet_reference_noisy_2d": "LiftNet reference, 2D with detector-like errors",
    "liftnet_gt": "The chain's LiftNet, true 2D + K",
    "liftnet_noisy_2d": "The chain's LiftNet, 2D with detector-like errors",
    "liftnet_regnet": "EPOCH chain (rendered frames)",
}


def heldout_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """PA-MPJPE and MPJPE on seen vs held-out motions, with their ratio (empty without it)."""
    columns = [
        "setting",
        "PA-MPJPE seen",
        "PA-MPJPE held out",
        "held out / seen",
        "MPJPE seen",
        "MPJPE held out",
    ]
    section = metrics.get("heldout_motion")
    if not isinstance(section, Mapping):
        return pd.DataFrame(columns=columns)
    rows = []
    for key, label in HELDOUT_ROWS.items():
        groups = section.get(key)
        if not groups or "seen" not in groups or "heldout" not in groups:
            continue
        seen, held = groups["seen"], groups["heldout"]
        ratio = held["pa_mpjpe"] / seen["pa_mpjpe"] if seen["pa_mpjpe"] else float("nan")
        rows.append(
            [label, seen["pa_mpjpe"], held["pa_mpjpe"], ratio, seen["mpjpe"], held["mpjpe"]]
        )
    return pd.DataFrame(rows, columns=columns)

"""The report's content: which figures, which samples, which sections, in which order."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from epoch_kedro.reporting import figures as F
from epoch_kedro.reporting.findings import findings, regnet_worse_than_baseline
from epoch_kedro.reporting.html import (
    NOT_AVAILABLE,
    ReportFigure,
    figure_html,
    render_page,
    table_html,
)
from epoch_kedro.reporting.predictions import per_sample_errors
from epoch_kedro.reporting.tables import (
    PUBLISHED_SOURCE,
    heldout_table,
    per_camera_table,
    placement_table,
    regnet_table,
)

Arrays = Mapping[str, np.ndarray]
NO_IMAGES = "the dataset has no rendered images, so RegNet was not evaluated"


def omitted(metrics: Mapping[str, Any], section: str = "regnet") -> str:
    """Why ``metrics.json`` lacks a section (its ``sections_omitted`` entry, else no images)."""
    return str(metrics.get("sections_omitted", {}).get(section, NO_IMAGES))


#: LiftNet settings compared in the camera figures (perspective vs weak perspective): the two
#: models trained on the same (ground-truth) inputs, so only the camera model differs.
CAMERA_SETTINGS = {"perspective": "liftnet_reference_gt", "weak perspective": "liftnet_weak_gt"}


@dataclass(frozen=True)
class ReportConfig:
    """The ``report`` parameter group."""

    skeleton_samples: int = 3
    overlay_samples: int = 8
    overlay_crop_size: int = 128  # px: crops re-cut for the figure, large enough for the eye
    error_bins: int = 8
    # How much a training seed moves the reference LiftNet's PA-MPJPE (s.d., mm), as the
    # seed-spread command measured it, and where (docs/RESULTS.md); None: not measured.
    seed_spread_mm: float | None = None
    seed_spread_source: str = ""


def _skeleton_rows(predictions: Arrays, count: int) -> np.ndarray:
    """Samples at spread quantiles of LiftNet's error (good, typical, poor), preferring rendered
    frames so that the chain can be drawn too."""
    rendered = predictions["rendered_row"]
    candidates = rendered if len(rendered) else np.arange(len(predictions["pose3d_gt"]))
    err = per_sample_errors(
        predictions["liftnet_gt"][candidates], predictions["pose3d_gt"][candidates]
    )["mpjpe"]
    order = np.argsort(err, kind="stable")
    quantiles = np.linspace(0.1, 0.9, count) if count > 1 else np.array([0.5])
    picks = order[(quantiles * (len(order) - 1)).round().astype(int)]
    # Rows in quantile order (the caption's order), each sample once.
    return candidates[list(dict.fromkeys(picks.tolist()))]


def skeleton_figure(predictions: Arrays, count: int) -> ReportFigure:
    """3D skeletons of a few test samples from three views."""
    title = "Predicted vs ground-truth 3D skeletons"
    if len(predictions["pose3d_gt"]) == 0:
        return ReportFigure(title, "", None, "the test split is empty")
    rows = _skeleton_rows(predictions, count)
    # Two predictions beside the truth: more skeletons in one panel hide each other (the
    # reference and weak-perspective LiftNets are compared in the error figures).
    preds = {"LiftNet, true 2D + K": predictions["liftnet_gt"][rows]}
    rendered = {int(r): i for i, r in enumerate(predictions["rendered_row"])}
    if all(int(r) in rendered for r in rows):
        at = [rendered[int(r)] for r in rows]
        preds["EPOCH chain"] = predictions["rendered_liftnet_regnet"][at]
    errors = per_sample_errors(predictions["liftnet_gt"][rows], predictions["pose3d_gt"][rows])
    titles = [
        f"{predictions['action'][r]}, {predictions['distance_m'][r]:.1f} m, "
        f"f/W {predictions['focal_ratio'][r]:.2f}, MPJPE {e:.0f} mm"
        for r, e in zip(rows, errors["mpjpe"], strict=True)
    ]
    caption = (
        "Root-centred camera-frame poses, axes in metres; dashed black is the ground truth, "
        "thick lines are left limbs. Rows, top to bottom: samples at the 10th, 50th and 90th "
        "percentile of the chain's LiftNet's MPJPE on true 2D + K; columns: the views named "
        "above them. The EPOCH chain is the same LiftNet on RegNet's 2D and camera."
    )
    return ReportFigure(
        title, caption, F.skeletons_3d(predictions["pose3d_gt"][rows], preds, titles)
    )


def overlay_figure(overlays: Arrays, reason: str = NO_IMAGES) -> ReportFigure:
    """RegNet's 2D on the rendered frames
    (:func:`~epoch_kedro.reporting.predictions.overlay_samples`)."""
    title = "Person box and RegNet 2D keypoints on the test frames"
    if len(overlays["overlay_image"]) == 0:
        return ReportFigure(title, "", None, reason)
    titles = [f"crop: {e:.0f} px mean error (full frame)" for e in overlays["overlay_px_error"]]
    fig = F.box_and_crop_overlays(
        overlays["overlay_image"],
        overlays["overlay_box"],
        overlays["overlay_crop"],
        overlays["overlay_kp2d"],
        overlays["overlay_kp2d_gt"],
        titles,
    )
    caption = (
        "Test frames evenly spread over the test set. Left: the low-resolution full frame the "
        "localiser reads, with the box it found (after RegNet's refinement pass). Right: that "
        "box's crop, cut again at a larger size for the eye; RegNet itself reads it at "
        "render.crop_size pixels."
    )
    return ReportFigure(title, caption, fig)


def camera_error_figures(predictions: Arrays, bins: int) -> tuple[ReportFigure, ReportFigure]:
    """MPJPE and PA-MPJPE vs camera distance and vs focal length, perspective vs weak."""
    gt = predictions["pose3d_gt"]
    if len(gt) == 0:
        missing = ReportFigure("Error vs camera", "", None, "the test split is empty")
        return missing, missing
    per_setting = {
        label: per_sample_errors(predictions[key], gt) for label, key in CAMERA_SETTINGS.items()
    }
    errors = {
        "MPJPE": {label: e["mpjpe"] for label, e in per_setting.items()},
        "PA-MPJPE": {label: e["pa_mpjpe"] for label, e in per_setting.items()},
    }
    caption = (
        "LiftNet on true 2D + K, perspective vs weak-perspective camera; equal-count bins of the "
        "test samples (grey bars: samples per bin)."
    )
    distance = F.error_vs_camera(predictions["distance_m"], errors, "camera distance (m)", bins)
    focal = F.error_vs_camera(predictions["focal_ratio"], errors, "focal length / width", bins)
    return (
        ReportFigure("Error vs camera distance", caption, distance),
        ReportFigure("Error vs focal length", caption, focal),
    )


def camera_histogram_figure(predictions: Arrays, metrics: Mapping[str, Any]) -> ReportFigure:
    """RegNet's focal-length and elevation errors on the rendered test frames."""
    title = "RegNet camera: focal-length and elevation errors"
    if len(predictions["rendered_row"]) == 0:
        return ReportFigure(title, "", None, omitted(metrics))
    focal_gt = predictions["rendered_focal_gt"]
    focal = (predictions["rendered_focal_pred"] - focal_gt) / focal_gt
    elevation = (
        predictions["rendered_elevation_pred_deg"] - predictions["rendered_elevation_gt_deg"]
    )
    baseline = metrics.get("regnet", {}).get("baseline_mean_focal_rel_err")
    caption = (
        "Signed errors on the rendered test frames; red: median absolute error; green: median "
        "absolute error of always predicting the training mean focal length."
    )
    return ReportFigure(title, caption, F.camera_error_histograms(focal, elevation, baseline))


def build_figures(
    predictions: Arrays,
    overlays: Arrays,
    metrics: Mapping[str, Any],
    curves: pd.DataFrame,
    config: ReportConfig,
) -> dict[str, ReportFigure]:
    """Every report figure by catalog name, in the order the page shows them, from the
    per-sample ``predictions`` and the rendered frames' ``overlays``."""
    distance, focal = camera_error_figures(predictions, config.error_bins)
    cameras = F.camera_distribution(
        predictions["distance_m"], predictions["focal_ratio"], predictions["elevation_deg"]
    )
    curves_caption = (
        "Per-epoch losses and validation monitors (3D errors are monitoring only: no 3D labels are "
        "used in training). The offline counterpart of `dvc plots show`."
    )
    return {
        "figure_skeletons_3d": skeleton_figure(predictions, config.skeleton_samples),
        "figure_regnet_overlays": overlay_figure(overlays, omitted(metrics)),
        "figure_error_vs_distance": distance,
        "figure_error_vs_focal": focal,
        "figure_camera_errors": camera_histogram_figure(predictions, metrics),
        "figure_test_cameras": ReportFigure(
            "Test cameras", "Distance, focal length and elevation of the test samples.", cameras
        ),
        "figure_training_curves": ReportFigure(
            "Training curves", curves_caption, F.training_curves(curves)
        ),
    }


def _is_published(row: pd.Series) -> str:
    return "published" if str(row.get("source", "")).startswith(PUBLISHED_SOURCE[:9]) else ""


def _heldout_html(metrics: Mapping[str, Any]) -> str:
    """The held-out-motion benchmark: which motions, how many samples, seen vs held out."""
    table = heldout_table(metrics)
    if not len(table):
        return '<p class="na">Not run: no held-out actions (normalization.heldout_actions).</p>'
    section = metrics["heldout_motion"]
    noise = section.get("detector_noise", {})
    intro = (
        f"<p>Actions in no training or validation sample: "
        f"<b>{html.escape(', '.join(section['actions']))}</b> "
        f"({section['samples']['heldout']} test samples; {section['samples']['seen']} of the "
        f"other actions). Errors in mm on the test subjects. Detector-like errors: "
        f"jitter {noise.get('sigma')}, gross errors {noise.get('outlier_rate')} per joint, "
        f"limb swaps {noise.get('swap_rate')} per sample (units of the pose's 2D radius).</p>"
    )
    return intro + table_html(table, digits=2)


def _table_section(table: pd.DataFrame, missing: str, intro: str) -> str:
    """A report section: ``intro`` and ``table``, or the ``missing`` note when it is empty."""
    if not len(table):
        return f'<p class="na">{missing}</p>'
    return f"<p>{intro}</p>" + table_html(table, digits=1)


def _placement_html(metrics: Mapping[str, Any]) -> str:
    """Where each setting puts the person in the camera frame (the root's error)."""
    return _table_section(
        placement_table(metrics),
        "No setting recorded its placement (metrics of an older run).",
        "The root joint's position error in the camera frame (MRPE, ↓): the median distance "
        "from the true root in mm and as a share of the true camera distance, and the mean. "
        "The metric scale comes from the bone lengths LiftNet learnt and the camera's K; the "
        "prior baselines put a flat person at the mean training distance along the root's "
        "2D ray.",
    )


def _per_camera_html(metrics: Mapping[str, Any]) -> str:
    """A multi-view recording's figures per camera: each camera lifted on its own."""
    return _table_section(
        _with_direction(per_camera_table(metrics)),
        "Not a multi-view recording: no per-camera figures.",
        "Each camera's own 2D lifted, scored against the 3D triangulated from the other "
        "cameras; joints whose triangulation the other views do not agree on are not scored. "
        "Errors in mm, PCK@150 and AUC in %.",
    )


#: Column headers of the report's tables with the direction of "better" (the CSVs keep the
#: plain names).
BETTER = {"MPJPE": "↓", "N-MPJPE": "↓", "PA-MPJPE": "↓", "PCK@150": "↑", "AUC": "↑"}


def _with_direction(df: pd.DataFrame) -> pd.DataFrame:
    names = {}
    for col in df.columns:
        base = str(col).split(" ")[0]
        if base in BETTER:
            names[col] = f"{col} {BETTER[base]}"
    return df.rename(columns=names)


def _named(df: pd.DataFrame) -> pd.DataFrame:
    """The headline with readable names first and the identifier in small print."""
    named = df.copy()
    cells = [
        f"{html.escape(str(d))}<br><small>{html.escape(str(s))}</small>"
        for d, s in zip(named.pop("description"), named.pop("setting"), strict=True)
    ]
    named.insert(0, "setting", cells)
    return named


def _findings_html(metrics: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in findings(metrics))
    return f'<div class="findings"><ul>{items}</ul></div>'


def _provenance_html(run_info: Mapping[str, Any] | None) -> str:
    if not run_info:
        return '<p class="na">No provenance recorded (the report was built outside a run).</p>'
    changed = run_info.get("changed_parameters") or {}
    rows = {
        "date": run_info.get("date"),
        "commit": f"{run_info.get('commit')}"
        + (" (with uncommitted changes)" if run_info.get("uncommitted_changes") else ""),
        "profile": run_info.get("profile"),
        "device": f"{run_info.get('device')}, torch {run_info.get('torch')}",
        "seeds": ", ".join(f"{k}={v}" for k, v in (run_info.get("seeds") or {}).items()),
        "parameters changed from the default profile": (
            ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "none"
        ),
    }
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='text'>{html.escape(str(v))}</td>"
                   "</tr>" for k, v in rows.items())  # fmt: skip
    return f'<table class="provenance">{body}</table>'


def _regnet_html(metrics: Mapping[str, Any]) -> str:
    regnet = regnet_table(metrics)
    if not len(regnet):
        return f'<p class="na">{NOT_AVAILABLE}: {html.escape(omitted(metrics))}</p>'
    worse = regnet_worse_than_baseline(metrics)
    note = (
        '<p class="worse">Worse than its baseline: ' + html.escape("; ".join(worse)) + ".</p>"
        if worse
        else ""
    )
    flag = lambda row: "worse" if _worse_row(row) else ""  # noqa: E731
    return note + table_html(regnet, digits=2, row_class=flag)


def _worse_row(row: pd.Series) -> bool:
    value, base = row.get("boxes from image"), row.get("baseline")
    if value is None or base is None or pd.isna(value) or pd.isna(base):
        return False
    higher_better = str(row.get("quantity", "")).startswith("PCK")
    return value < base if higher_better else value > base


def per_action_sections(per_action: pd.DataFrame) -> list[tuple[str, str]]:
    """The per-action table split by metric (one table each, settings as columns): a page wide
    table of 40 columns becomes four that fit."""
    sections = []
    for metric, title in (("pa_mpjpe", "PA-MPJPE, mm ↓"), ("mpjpe", "MPJPE, mm ↓"),
                          ("pck150", "PCK@150, % ↑"), ("auc", "AUC, % ↑")):  # fmt: skip
        cols = [c for c in per_action.columns if str(c).endswith(f".{metric}")]
        if not cols:
            continue
        table = per_action[cols].rename(columns=lambda c: str(c).rsplit(".", 1)[0])
        sections.append((f"Per action: {title}", table_html(table, index=True)))
    return sections


def spread_html(config: ReportConfig) -> str:
    """What a difference between two runs means: the measured training-seed spread."""
    if config.seed_spread_mm is None:
        return (
            "<p>Seed noise: not measured for these settings, so a difference between two runs "
            "cannot be told from noise (docs/RESULTS.md has the seed-spread command).</p>"
        )
    source = html.escape(config.seed_spread_source)
    return (
        f"<p>Seed noise: a training seed moves the reference LiftNet's PA-MPJPE by "
        f"<b>± {config.seed_spread_mm:.2f} mm</b> (s.d.; {source}); differences under about "
        f"{3 * config.seed_spread_mm:.1f} mm between two runs are noise.</p>"
    )


def report_page(
    metrics: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, ReportFigure],
    run_info: Mapping[str, Any] | None = None,
    config: ReportConfig | None = None,
) -> str:
    """The whole page: findings, provenance, headline (with the seed noise of ``config``),
    RegNet, figures, then the per-action and per-joint tables."""
    trained = metrics.get("trained_on", metrics.get("dataset", "?"))
    cross = (
        " (cross-dataset: every table and figure is on this test split; the RegNet sections "
        "are omitted, RegNet ran on the training dataset's images only)"
        if metrics.get("cross_dataset")
        else ""
    )
    intro = (
        f"<p>Test split of <b>{html.escape(str(metrics.get('dataset', '?')))}</b>{cross}; "
        f"models trained on {html.escape(str(trained))}. "
        "Errors in mm (MPJPE root-aligned, N-MPJPE scale-aligned, PA-MPJPE Procrustes-aligned; "
        "↓ lower is better), PCK@150 mm and AUC (0–150 mm) in % (↑ higher is better). "
        "<b>Rows marked PUBLISHED (shaded) are numbers reported in the literature on a "
        "different dataset</b> (docs/METHOD.md): they orient the reader and are not comparable "
        "with this run.</p>"
    )
    # Read back from CSV, frame counts are floats (published rows have none): show integers.
    headline = _with_direction(_named(tables["headline"].astype({"frames": "Int64"})))
    sections = [
        ("What this run found", _findings_html(metrics)),
        ("Provenance", _provenance_html(run_info)),
        (
            "Headline",
            intro
            + spread_html(config or ReportConfig())
            + table_html(headline, row_class=_is_published, raw={"setting"}),
        ),
        ("Placement", _placement_html(metrics)),
        ("Held-out motions", _heldout_html(metrics)),
        ("Per camera", _per_camera_html(metrics)),
        ("RegNet: 2D and camera", _regnet_html(metrics)),
        ("Figures", "".join(figure_html(f) for f in figures.values())),
        *per_action_sections(tables["per_action"]),
        ("Per joint (mm ↓)", table_html(tables["per_joint"], index=True)),
    ]
    return render_page("EPOCH evaluation report", sections)

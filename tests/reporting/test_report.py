"""The report's tables, figures and page, from small hand-made inputs (no Kedro run)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from epoch_kedro.geometry import crop_pixels
from epoch_kedro.reporting import figures as F
from epoch_kedro.reporting import predictions as P
from epoch_kedro.reporting.html import png_base64
from epoch_kedro.reporting.report import ReportConfig, build_figures, report_page
from epoch_kedro.reporting.tables import (
    headline_table,
    heldout_table,
    per_action_table,
    per_joint_table,
    training_curves_table,
)

N, M = 40, 12  # test samples; rendered ones


def _section(pa: float) -> dict:
    by = {"mpjpe": pa + 10, "n_mpjpe": pa + 5, "pa_mpjpe": pa, "pck150": 90.0, "auc": 60.0}
    return {
        **by,
        "count": N,
        "by_distance": {">6m": by, "<3m": by, "3-6m": by},
        "by_action": {"walking": by, "running": by},
    }


def _metrics(regnet: bool) -> dict:
    metrics = {"dataset": "synthetic", "split": "test", "liftnet_gt": _section(30.0)}
    metrics["liftnet_weak_gt"] = _section(35.0)
    metrics["baseline_mean_pose"] = _section(180.0)
    if regnet:
        metrics["regnet"] = {"px_error": 40.0, "pck2d_005": 80.0, "pose3d": _section(120.0)}
        metrics["liftnet_regnet"] = _section(150.0)
    else:
        metrics["sections_omitted"] = {"regnet": "dataset.kind=h36m provided no images"}
    return metrics


def _predictions(rendered: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(N, 17, 3)) * 0.3 + [0.0, 0.0, 5.0]
    m = M if rendered else 0
    rows = np.arange(m)
    return {
        "pose3d_gt": gt,
        "liftnet_gt": gt + rng.normal(size=gt.shape) * 0.03,
        "liftnet_weak_gt": gt + rng.normal(size=gt.shape) * 0.04,
        "liftnet_reference_gt": gt + rng.normal(size=gt.shape) * 0.02,
        "action": np.array(["walking", "running"] * (N // 2)),
        "distance_m": rng.uniform(2, 8, N),
        "focal_ratio": np.r_[np.full(N // 2, 1.145), rng.uniform(0.6, 2, N // 2)],
        "elevation_deg": rng.uniform(-15, 45, N),
        "rendered_row": rows,
        "rendered_liftnet_regnet": gt[rows] + 0.1,
        "rendered_regnet_pose3d": gt[rows] + 0.2,
        "rendered_focal_pred": np.full(m, 1100.0),
        "rendered_focal_gt": np.full(m, 1145.0),
        "rendered_elevation_pred_deg": np.full(m, 10.0),
        "rendered_elevation_gt_deg": np.full(m, 12.0),
    }


def _overlays(rendered: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    k = 3 if rendered else 0
    return {
        "overlay_image": np.zeros((k, 16, 16, 3), np.uint8),
        "overlay_box": np.tile([2.0, 1.0, 12.0, 11.0], (k, 1)),  # x0, y0, x1, y1
        "overlay_crop": np.zeros((k, 24, 24, 3), np.uint8),
        "overlay_kp2d": rng.uniform(0, 23, (k, 17, 2)),
        "overlay_kp2d_gt": rng.uniform(0, 23, (k, 17, 2)),
        "overlay_px_error": np.full(k, 40.0),
    }


def _curves() -> pd.DataFrame:
    history = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    return training_curves_table({"liftnet": history, "liftnet_weak": history, "regnet": []})


def test_headline_has_every_setting_and_labels_published_numbers():
    table = headline_table(_metrics(regnet=True))
    ours = table[table["source"].str.startswith("this run")]
    assert list(ours["setting"]) == [
        "liftnet_gt",
        "liftnet_weak_gt",
        "baseline_mean_pose",
        "regnet.pose3d",
        "liftnet_regnet",
    ]
    published = table[~table["source"].str.startswith("this run")]
    assert set(published["setting"]) == {"ElePose", "CanonPose"}
    assert published["source"].str.contains("PUBLISHED, different dataset").all()
    elepose = published[published["setting"] == "ElePose"].iloc[0]
    assert (elepose["MPJPE"], elepose["PA-MPJPE"]) == (64.0, 36.7)
    # distance buckets in reading order, not string order
    assert [c for c in table.columns if c.startswith("PA-MPJPE ")] == [
        "PA-MPJPE <3m",
        "PA-MPJPE 3-6m",
        "PA-MPJPE >6m",
    ]


def test_per_joint_and_per_action_tables():
    joints = per_joint_table(_predictions(rendered=True))
    assert len(joints) == 17 + 1 and joints.index[-1] == "mean"
    assert {"liftnet_gt.mpjpe", "liftnet_regnet.pa_mpjpe", "regnet.pose3d.mpjpe"} <= set(joints)
    assert joints.loc["Hip", "liftnet_gt.mpjpe"] == 0  # root-aligned
    assert "liftnet_regnet.mpjpe" not in per_joint_table(_predictions(rendered=False))
    actions = per_action_table(_metrics(regnet=False))
    assert list(actions.index) == ["running", "walking"]
    assert actions.loc["walking", "liftnet_weak_gt.pa_mpjpe"] == 35.0
    assert actions.loc["running", "liftnet_gt.pck150"] == 90.0  # PCK and AUC per activity
    assert actions.loc["running", "liftnet_gt.auc"] == 60.0


@pytest.mark.parametrize("rendered", [True, False])
def test_report_page_is_self_contained_and_says_what_is_missing(rendered):
    predictions, metrics = _predictions(rendered), _metrics(regnet=rendered)
    config = ReportConfig(skeleton_samples=2)
    figures = build_figures(predictions, _overlays(rendered), metrics, _curves(), config)
    tables = {
        "headline": headline_table(metrics),
        "per_action": per_action_table(metrics),
        "per_joint": per_joint_table(predictions),
    }
    page = report_page(metrics, tables, figures)
    images = len(re.findall(r'src="data:image/png;base64,', page))
    missing = {"figure_regnet_overlays", "figure_camera_errors"}
    assert {k for k, f in figures.items() if f.figure is None} == (set() if rendered else missing)
    assert images == len(figures) - (0 if rendered else len(missing))
    assert images >= 5
    assert ("not available: dataset.kind=h36m provided no images" in page) is not rendered
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    assert "PUBLISHED" in page


def test_heldout_table_compares_seen_and_held_out_motions_and_the_page_shows_it():
    assert heldout_table(_metrics(regnet=True)).empty
    metrics = _metrics(regnet=True)
    metrics["heldout_motion"] = {
        "actions": ["kicking"],
        "samples": {"seen": 30, "heldout": 10},
        "detector_noise": {"sigma": 0.03, "outlier_rate": 0.02, "swap_rate": 0.01},
        "liftnet_reference_gt": {"seen": _section(30.0), "heldout": _section(45.0)},
        "liftnet_gt": {"seen": _section(40.0), "heldout": _section(80.0)},
    }
    table = heldout_table(metrics)
    assert list(table["setting"]) == [
        "LiftNet reference, true 2D + K",
        "The chain's LiftNet, true 2D + K",
    ]
    assert list(table["held out / seen"]) == [1.5, 2.0]
    assert list(table["MPJPE held out"]) == [55.0, 90.0]
    tables = {"headline": headline_table(metrics), "per_action": per_action_table(metrics)}
    tables["per_joint"] = per_joint_table(_predictions(True))
    page = report_page(metrics, tables, {})
    assert "Held-out motions" in page and "<b>kicking</b>" in page
    assert "Not run: no held-out actions" in report_page(_metrics(True), tables, {})


def test_headline_says_the_measured_seed_noise_or_that_it_is_unmeasured():
    metrics = _metrics(regnet=False)
    tables = {"headline": headline_table(metrics), "per_action": per_action_table(metrics),
              "per_joint": per_joint_table(_predictions(False))}  # fmt: skip
    config = ReportConfig(seed_spread_mm=0.32, seed_spread_source="3 seeds, abc123, CPU X")
    page = report_page(metrics, tables, {}, None, config)
    assert "± 0.32 mm</b> (s.d.; 3 seeds, abc123, CPU X)" in page and "under about 1.0 mm" in page
    assert "Seed noise: not measured" in report_page(metrics, tables, {})


def test_placeholder_and_figures_render_to_png():
    assert png_base64(F.not_available("RegNet overlays", "no images")).startswith("iVBOR")
    assert png_base64(F.training_curves(_curves())).startswith("iVBOR")


def test_box_and_crop_overlays_pair_each_frame_with_its_crop():
    p = _overlays(rendered=True)
    fig = F.box_and_crop_overlays(
        p["overlay_image"],
        p["overlay_box"],
        p["overlay_crop"],
        p["overlay_kp2d"],
        p["overlay_kp2d_gt"],
        ["a", "b", "c"],
    )
    axes = fig.get_axes()
    assert len(axes) == 2 * 3  # frame and crop per sample
    frame, crop = axes[0], axes[1]
    box = frame.get_lines()[0]
    np.testing.assert_allclose(box.get_xdata(), [2, 12, 12, 2, 2])
    np.testing.assert_allclose(box.get_ydata(), [1, 1, 11, 11, 1])
    assert frame.get_xlim() == (-0.5, 15.5) and crop.get_xlim() == (-0.5, 23.5)
    assert crop.get_title() == "a"
    assert png_base64(fig).startswith("iVBOR")


def test_overlay_samples_show_the_found_box_and_its_crop():
    n = 10
    rng = np.random.default_rng(0)
    generated = {
        "sample_id": np.arange(n) * 3,
        "image_size": np.tile([1000, 500], (n, 1)),
        "box": np.tile([500.0, 250.0, 200.0], (n, 1)),
        "kp2d": rng.uniform(420, 580, (n, 17, 2)),
        "kp2d_gt": rng.uniform(420, 580, (n, 17, 2)),
    }
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    index = {"sample_id": generated["sample_id"]}
    calls = []

    def crop_fn(rows, boxes):
        calls.append((rows, boxes))
        return np.zeros((len(rows), 48, 48, 3), np.uint8)

    out = P.overlay_samples(generated, images, index, 4, crop_fn, 48)
    picked = out["overlay_sample_id"]
    assert len(picked) == 4 and picked[0] == 0 and picked[-1] == 27  # evenly spread
    np.testing.assert_array_equal(calls[0][0], picked)
    np.testing.assert_array_equal(out["overlay_image"], images[picked // 3])
    # Box corners (400, 150) and (600, 350) in the 32 px frame (x 0.032, y 0.064).
    np.testing.assert_allclose(out["overlay_box"][0], [12.316, 9.132, 18.716, 21.932], atol=1e-4)
    rows = picked // 3
    np.testing.assert_allclose(
        out["overlay_kp2d"], crop_pixels(generated["kp2d"][rows], generated["box"][rows], 48)
    )
    assert out["overlay_crop"].shape == (4, 48, 48, 3)
    blank = P.overlay_samples(generated, images, index, 4, None, 40)
    assert blank["overlay_crop"].shape == (4, 40, 40, 3) and not blank["overlay_crop"].any()

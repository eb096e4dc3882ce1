"""The report states what the run found, where it came from, and flags RegNet's weak spots."""

from __future__ import annotations

import re

import pandas as pd

from epoch_kedro.reporting.findings import changed_parameters, findings, provenance
from epoch_kedro.reporting.report import report_page
from epoch_kedro.reporting.tables import headline_table, per_action_table
from tests.reporting.test_report import _metrics, _section


def _chain_metrics() -> dict:
    metrics = _metrics(True)
    metrics["liftnet_reference_gt"] = _section(40.0)
    metrics["liftnet_regnet_2d_true_camera"] = _section(140.0)
    metrics["liftnet_true_2d_regnet_camera"] = _section(50.0)
    metrics["liftnet_gt_rendered_frames"] = _section(45.0)
    metrics["regnet"].update(
        ray_floor=_section(80.0),
        focal_rel_err=0.32,
        baseline_mean_focal_rel_err=0.06,
        baseline_mean_pose_px_error=95.0,
        baseline_mean_pose_pck2d_005=45.0,
    )
    return metrics


def test_findings_compare_the_chain_with_reference_baseline_and_floor():
    first, source, regnet = findings(_chain_metrics())
    assert first.startswith("The EPOCH chain") and "150.0 mm PA-MPJPE" in first
    assert "3.8× the 40.0 mm of the reference LiftNet" in first
    assert "83 % of the mean-pose baseline's 180.0 mm" in first and "80.0 mm" in first
    assert source.startswith("The error comes mostly from RegNet's 2D pose")
    assert "focal-length error of 0.32 is worse than the baseline's 0.06" in regnet
    assert "2D error" not in regnet  # 40 px beats the 95 px baseline


def test_findings_end_with_the_depth_order_of_the_reference_lifts():
    metrics = _chain_metrics()
    metrics["liftnet_reference_gt"]["depth_flips"] = {
        "share": 21.0,
        "pa_mpjpe_flipped": 59.8,
        "pa_mpjpe_rest": 26.3,
        "segments": {},
    }
    *_, last = findings(metrics)
    assert last.startswith("Depth order: with true 2D and camera, 21 % of the test poses")
    assert "59.8 mm PA-MPJPE, the other poses 26.3 mm." in last
    metrics["liftnet_reference_gt"]["depth_flips"]["pa_mpjpe_flipped"] = None  # none flipped
    assert not findings(metrics)[-1].startswith("Depth order")


def test_findings_without_regnet_say_so():
    (only,) = findings(_metrics(False))
    assert only.startswith("RegNet was not evaluated") and "30.0 mm" in only


def test_provenance_records_commit_profile_seeds_and_changed_parameters(tmp_path):
    params = {"synthetic": {"seed": 7, "fps": 12.5}, "liftnet": {"loop": {"epochs": 2}}}
    defaults = {"synthetic": {"seed": 2024, "fps": 12.5}, "liftnet": {"loop": {"epochs": 10}}}
    assert changed_parameters(params, defaults) == {"liftnet.loop.epochs": 2, "synthetic.seed": 7}
    info = provenance(tmp_path, "smoke", params, defaults)  # tmp_path: not a git checkout
    assert info["profile"] == "smoke" and info["commit"].startswith("unknown")
    assert info["seeds"] == {"synthetic.seed": 7}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", info["date"])


def test_the_page_leads_with_findings_and_provenance_and_fits_its_width():
    metrics = _chain_metrics()
    tables = {"headline": headline_table(metrics), "per_action": per_action_table(metrics),
              "per_joint": pd.DataFrame({"x.mpjpe": [1.0]}, index=["Hip"])}  # fmt: skip
    info = {"date": "2026-11-29 18:00 UTC", "commit": "abc123", "uncommitted_changes": True,
            "profile": "smoke", "seeds": {"synthetic.seed": 7},
            "changed_parameters": {"liftnet.loop.epochs": 2}}  # fmt: skip
    page = report_page(metrics, tables, {}, info)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[:3] == ["What this run found", "Provenance", "Headline"]
    assert "abc123 (with uncommitted changes)" in page and "liftnet.loop.epochs=2" in page
    assert "EPOCH chain: LiftNet on RegNet" in page and "<small>liftnet_regnet</small>" in page
    assert "PA-MPJPE ↓" in page and "PCK@150 ↑" in page
    assert '<tr class="worse">' in page  # the focal-length row, worse than its baseline
    for table in re.findall(r"<table.*?</table>", page, flags=re.S):
        header = re.search(r"<thead><tr>(.*?)</tr></thead>", table, flags=re.S)
        columns = len(re.findall(r"<th>", header.group(1))) if header else 2
        assert columns <= 12, columns  # no table wider than the page


def test_findings_compare_the_camera_and_the_placement_with_their_priors():
    metrics = _chain_metrics()
    metrics["regnet"]["by_camera_type"] = {
        kind: {"focal_rel_err": f, "baseline_mean_focal_rel_err": b,
               "elevation_err_deg": e, "baseline_mean_elevation_err_deg": 9.0}
        for kind, f, b, e in (("rig", 0.05, 0.06, 3.5), ("wild", 0.2, 0.28, 7.0))
    }  # fmt: skip
    for key, mrpe, share in (("liftnet_gt", 265.0, 5.6), ("liftnet_reference_gt", 253.0, 5.3),
                             ("baseline_prior_distance", 562.0, 11.4),
                             ("liftnet_regnet", 700.0, 14.0),
                             ("baseline_prior_distance_regnet", 600.0, 12.0)):  # fmt: skip
        metrics.setdefault(key, _section(100.0))["placement"] = {
            "mrpe": mrpe, "mrpe_rel": share, "mrpe_mean": mrpe}  # fmt: skip
    found = findings(metrics)
    camera = next(s for s in found if s.startswith("RegNet's camera against its priors"))
    assert "rig cameras: focal-length error 0.05 against 0.06" in camera
    assert "wild cameras: focal-length error 0.20 against 0.28" in camera and "7.0°" in camera
    assert "hardly vary" not in camera  # no spreads recorded: nothing said
    wild = metrics["regnet"]["by_camera_type"]["wild"]
    wild |= {"focal_ratio_sd": 0.01, "focal_ratio_sd_gt": 0.41,
             "elevation_sd_deg": 0.5, "elevation_sd_gt_deg": 16.9}  # fmt: skip
    camera = next(s for s in findings(metrics) if s.startswith("RegNet's camera"))
    assert "hardly vary" in camera and "width 0.01 against 0.41" in camera
    assert "elevation 0.5° against 16.9°" in camera
    wild["elevation_sd_deg"] = 6.0  # it follows the elevation: not a constant camera
    camera = next(s for s in findings(metrics) if s.startswith("RegNet's camera"))
    assert "hardly vary" not in camera
    placement = next(s for s in found if s.startswith("Placement"))
    assert "the reference LiftNet 253 mm (5.3 % of the distance)" in placement
    assert "along the root's ray 562 mm (11.4 %)" in placement
    assert "the chain 700 mm (14.0 %), its prior 12.0 %" in placement
    page = report_page(metrics, {"headline": headline_table(metrics),
                                 "per_action": per_action_table(metrics),
                                 "per_joint": pd.DataFrame()}, {})  # fmt: skip
    assert "<h2>Placement</h2>" in page and "MRPE, % of distance" in page

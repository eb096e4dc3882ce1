"""End to end on real-dataset layouts (smoke profile, scratch copy of the project).

Acceptance 1: the smoke synthetic people, exported to the Human3.6M layout, run through
``dataset.kind=h36m`` and give the metrics of the same data run as ``dataset.kind=synthetic``.
Acceptance 2: the LiftNet trained there is evaluated on an MPI-INF-3DHP fixture (cross-dataset)
and reports PCK/AUC per activity.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from epoch_kedro.data import mpi_inf_3dhp
from epoch_kedro.data.export import export_h36m_layout
from epoch_kedro.datasets import NpzDataset
from tests.data.real_fixtures import write_3dhp

from .test_run_smoke import SMOKE_DATA, kedro_run, make_project

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

#: The Human3.6M protocol subjects, so h36m's built-in protocol split applies unchanged.
SUBJECTS = (
    "subjects: [S1, S5, S6, S7, S8, S9, S11]\n  actions: [walking, sitting_down, waving, kicking]"
)
# No held-out motions: the h36m run has none, and the two runs must see the same data.
SPLITS = (
    "splits:\n  train: [S1, S5, S6, S7, S8]\n  val: [S8]\n  test: [S9, S11]\n"
    "normalization:\n  heldout_actions: {synthetic: []}\n"
)
SETTINGS = ("liftnet_gt", "liftnet_weak_gt", "liftnet_reference_gt", "baseline_mean_pose")
METRICS = ("mpjpe", "n_mpjpe", "pa_mpjpe", "pck150", "auc")


def protocol_project(tmp_path: Path) -> Path:
    """The smoke profile with the Human3.6M subjects and split (7 subjects x 192 samples)."""
    project = make_project(tmp_path)
    ingestion = project / "conf/smoke/parameters_ingestion.yml"
    text = ingestion.read_text()
    assert "subjects: [S1, S2, S9]" in text
    ingestion.write_text(text.replace("subjects: [S1, S2, S9]", SUBJECTS))
    normalization = project / "conf/smoke/parameters_normalization.yml"
    text = normalization.read_text()
    start, end = text.index("splits:"), text.index("flow:")
    normalization.write_text(text[:start] + SPLITS + text[end:])
    return project


def run_ok(project: Path, *args: str) -> str:
    """Run kedro; return this run's lines of ``info.log`` (plain text, unlike the console)."""
    log = project / "info.log"
    start = log.stat().st_size if log.exists() else 0
    result = kedro_run(project, *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(log, encoding="utf8") as handle:
        handle.seek(start)
        return handle.read()


def metrics_of(project: Path) -> dict:
    return json.loads((project / SMOKE_DATA / "08_reporting/metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("real")
    project = protocol_project(tmp)
    # render.enabled=false: the synthetic run, like the image-less h36m one, skips RegNet.
    log_synthetic = run_ok(project, "--pipeline=full", "--params", "render.enabled=false")
    synthetic = metrics_of(project)
    raw = NpzDataset(filepath=str(project / SMOKE_DATA / "01_raw/dataset.npz")).load()
    export_h36m_layout(raw, tmp / "h36m", "h36m")
    shutil.rmtree(project / SMOKE_DATA)
    # train_inputs=regnet: the chain's setting, which must fall back to ground truth here.
    params = (
        f"dataset.kind=h36m,dataset.root={tmp / 'h36m'},"
        "dataset.h36m.camera_file=cameras_h36m.json,liftnet.train_inputs=regnet"
    )
    log_h36m = run_ok(project, "--pipeline=full", "--params", params)
    h36m = metrics_of(project)
    write_3dhp(tmp / "3dhp", raw, mpi_inf_3dhp.SEQUENCES, n=16)
    # dataset.kind names what the models were trained on; cross_dataset.dataset what they see.
    cross = (
        "dataset.kind=h36m,cross_dataset.dataset.kind=mpi_inf_3dhp,"
        f"cross_dataset.dataset.root={tmp / '3dhp'}"
    )
    # The other dataset's ingestion and normalization, then the whole evaluation: metrics and
    # a report of their own, beside the training run's.
    log_cross = run_ok(project, "--pipeline=cross_dataset", "--params", cross)
    reports = project / SMOKE_DATA / "08_reporting/cross_dataset"
    return {
        "synthetic": synthetic,
        "h36m": h36m,
        "cross": json.loads((reports / "metrics.json").read_text()),
        "cross_report": (reports / "report.html").read_text(),
        "logs": {"synthetic": log_synthetic, "h36m": log_h36m, "cross": log_cross},
    }


def test_h36m_layout_matches_the_synthetic_run(runs) -> None:
    synthetic, h36m = runs["synthetic"], runs["h36m"]
    assert synthetic["dataset"] == "synthetic" and h36m["dataset"] == "h36m"
    assert h36m["test_subjects"] == synthetic["test_subjects"] == ["S11", "S9"]
    for section in SETTINGS:
        a, b = synthetic[section], h36m[section]
        assert a["count"] == b["count"] == 2 * 4 * 8 * 2  # S9 S11 x actions x frames x cams
        for metric in METRICS:
            assert b[metric] == pytest.approx(a[metric], abs=0.02), (section, metric)
        assert a["by_action"].keys() == b["by_action"].keys()
        for action, m in a["by_action"].items():
            assert b["by_action"][action]["pck150"] == pytest.approx(m["pck150"], abs=0.02)


def test_no_images_skips_regnet_and_says_so(runs) -> None:
    h36m, log = runs["h36m"], runs["logs"]["h36m"]
    assert "RegNet skipped" in log and "generate_inputs skipped" in log
    assert "Localiser skipped" in log
    assert "LiftNet trains on ground-truth 2D + K instead" in log
    sections = ("regnet", "regnet_label_boxes", "liftnet_regnet", "liftnet_gt_rendered_frames")
    for section in sections:
        assert section not in h36m
        assert "dataset.kind=h36m provided no images" in h36m["sections_omitted"][section]


def test_cross_dataset_3dhp_reports_pck_and_auc_per_activity(runs) -> None:
    cross = runs["cross"]
    assert cross["dataset"] == "mpi_inf_3dhp" and cross["trained_on"] == "h36m"
    assert cross["cross_dataset"] is True
    assert cross["trained_on_subjects"] == ["S1", "S5", "S6", "S7", "S8"]
    assert cross["test_subjects"] == sorted(mpi_inf_3dhp.SEQUENCES)
    live = cross["liftnet_gt"]
    assert live["count"] == 6 * 12  # 16 frames per sequence, every 4th invalid
    assert 0 <= live["pck150"] <= 100 and 0 <= live["auc"] <= live["pck150"]
    assert set(live["by_action"]) == set(mpi_inf_3dhp.ACTIVITIES.values())
    for activity in live["by_action"].values():
        assert {"pck150", "auc", "mpjpe"} <= activity.keys()
    assert set(live["by_subject"]) == set(mpi_inf_3dhp.SEQUENCES)
    assert "cross-dataset" in cross["sections_omitted"]["regnet"]
    # A trained LiftNet beats the mean pose on unseen data of another kind.
    assert live["pa_mpjpe"] < cross["baseline_mean_pose"]["pa_mpjpe"]


def test_cross_dataset_report_has_the_per_activity_table(runs) -> None:
    report = runs["cross_report"]
    assert "<b>mpi_inf_3dhp</b>" in report and "cross-dataset" in report
    for activity in mpi_inf_3dhp.ACTIVITIES.values():
        assert f">{activity}<" in report  # a row of the per-action table
    # One table per metric (settings as columns), so the page never overflows.
    for title in ("PCK@150, % ↑", "AUC, % ↑"):
        assert f"<h2>Per action: {title}</h2>" in report
    assert "<th>liftnet_gt</th>" in report

"""The ``cross_dataset`` pipeline: the ingestion and normalization nodes under a namespace give
another dataset's test split; the evaluation nodes score this run's models on it and write a
report of their own, beside the training run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from epoch_kedro.api import load_liftnet
from tests.data.test_multiview import scene  # noqa: F401 - the multi-view rig's fixtures
from tests.data.test_multiview_dataset import recording  # noqa: F401
from tests.pipelines.test_run_smoke import SMOKE_DATA, kedro_run
from tests.reliability.test_reliability import snapshot

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

#: Sections that depend on the test split alone (RegNet's need the training dataset's frames).
LIFTNET_SECTIONS = ("liftnet_gt", "liftnet_weak_gt", "liftnet_reference_gt", "baseline_mean_pose")


@pytest.fixture(scope="module")
def project(smoke_run, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("cross") / "project"
    shutil.copytree(smoke_run, copy, ignore=shutil.ignore_patterns("info.log*", ".viz"))
    return copy


def cross_run(project: Path, *params: str) -> tuple[dict, str]:
    """Run the cross_dataset pipeline; its metrics and its log (whitespace removed)."""
    args = ["--params", ",".join(params)] if params else []
    result = kedro_run(project, "--pipeline=cross_dataset", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = project / SMOKE_DATA / "08_reporting/cross_dataset"
    # Kedro's rich log wraps lines anywhere: compare the log without whitespace.
    log = "".join((result.stdout + result.stderr).split())
    return json.loads((reports / "metrics.json").read_text()), log


def own_metrics(project: Path) -> dict:
    return json.loads((project / SMOKE_DATA / "08_reporting/metrics.json").read_text())


def test_the_training_dataset_through_the_cross_path_scores_as_the_evaluation(project):
    conf = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="smoke",
                             merge_strategy={"parameters": "soft"})  # fmt: skip
    seed = conf["parameters"]["synthetic"]["seed"]
    cross, _ = cross_run(project, f"cross_dataset.dataset.synthetic.seed={seed}")
    own = own_metrics(project)
    assert cross["cross_dataset"] is True and cross["dataset"] == f"synthetic (seed {seed})"
    for section in LIFTNET_SECTIONS:
        assert cross[section] == own[section], section
    assert cross["heldout_motion"]["liftnet_gt"] == own["heldout_motion"]["liftnet_gt"]
    assert "cross-dataset" in cross["sections_omitted"]["liftnet_regnet"]


def test_the_default_cross_run_tests_new_people_and_leaves_the_run_alone(project):
    reports = project / SMOKE_DATA / "08_reporting"
    before = {k: v for k, v in snapshot(project).items() if "cross_dataset" not in k}
    cross, log = cross_run(project)
    after = snapshot(project)
    assert {k: v for k, v in after.items() if "cross_dataset" not in k} == before
    assert cross["dataset"] == "synthetic (seed 7)" and cross["trained_on"] == "synthetic"
    own = own_metrics(project)
    assert cross["liftnet_gt"]["count"] == own["liftnet_gt"]["count"]  # same design ...
    assert cross["liftnet_gt"]["pa_mpjpe"] != own["liftnet_gt"]["pa_mpjpe"]  # ... new people
    page = (reports / "cross_dataset/report.html").read_text()
    assert "<b>synthetic (seed 7)</b>" in page and "cross-dataset" in page
    assert "RegNet was not evaluated (cross-dataset)" in page
    assert "Thereportisat" in log and "08_reporting/cross_dataset/report.html" in log


def test_a_multiview_recording_is_scored_per_camera_with_both_floors(project, recording):  # noqa: F811
    cross, log = cross_run(
        project,
        "cross_dataset.dataset.kind=multiview",
        f"cross_dataset.dataset.root={recording}",
        "cross_dataset.dataset.name=rig",
    )
    assert cross["dataset"] == "rig" and cross["dataset_kind"] == "multiview"
    for section in (*LIFTNET_SECTIONS, "baseline_flat_depth"):
        per_camera = cross[section]["by_camera"]
        assert sorted(per_camera) == ["cam_01", "cam_02", "cam_03", "cam_04"], section
        assert sum(m["count"] for m in per_camera.values()) == cross[section]["count"] == 19
    page = (project / SMOKE_DATA / "08_reporting/cross_dataset/report.html").read_text()
    assert "Per camera" in page and "flat-depth floor" in page
    assert "Multi-viewrig:" in log  # the ingestion's one-line summary


def test_the_adapt_pipeline_reports_adapted_beside_unadapted_models(project):
    """``--pipeline=adapt`` fine-tunes the three LiftNets on the tested set's 2D, saves them
    as reusable artifacts and scores them beside the un-adapted ones in the cross report."""
    result = kedro_run(project, "--pipeline=adapt")
    assert result.returncode == 0, result.stderr[-3000:]
    reports = project / SMOKE_DATA / "08_reporting/cross_dataset"
    cross = json.loads((reports / "metrics.json").read_text())
    for name in ("liftnet", "liftnet_weak", "liftnet_reference"):
        assert cross[f"{name}_adapted_gt"]["count"] == cross[f"{name}_gt"]["count"], name
        assert cross[f"{name}_adapted_gt"]["pa_mpjpe"] != cross[f"{name}_gt"]["pa_mpjpe"], name
        model = load_liftnet(project / SMOKE_DATA / f"06_models/adapted/{name}.pt", "cpu")
        assert model.adapted["dataset"] == "synthetic (seed 7)"
        assert model.adapted["steps"] == 10 and model.adaptation is not None
    page = (reports / "report.html").read_text()
    assert "adapted to this test set" in page and "Adapted to the 2D of" in page

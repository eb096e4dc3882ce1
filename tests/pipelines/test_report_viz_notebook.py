"""The evaluation report, `kedro viz build` and the notebook, on the shared smoke run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from epoch_kedro.data.synthetic.library import ACTIONS
from epoch_kedro.pipeline_registry import register_pipelines
from epoch_kedro.pipelines.evaluation.pipeline import REPORT_FIGURES
from epoch_kedro.pipelines.full import STAGES
from tests.pipelines.test_run_smoke import SMOKE_DATA

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

TAGS = {"data", "training", "inference", "reporting"}


def test_report_is_self_contained_with_tables_and_figures(smoke_run):
    project = smoke_run
    reporting = project / SMOKE_DATA / "08_reporting"
    page = (reporting / "report.html").read_text()
    metrics = json.loads((reporting / "metrics.json").read_text())
    settings = [k for k, v in metrics.items() if isinstance(v, dict) and "pa_mpjpe" in v]
    for setting in settings:
        assert f">{setting}<" in page, setting
    assert "PUBLISHED, different dataset" in page
    # It leads with what the run found and where it came from; the run's log says where it is.
    assert re.search(
        r"<h2>What this run found</h2>\s*<div class=\"findings\"><ul><li>The EPOCH", page
    )
    assert "<th>profile</th><td class='text'>smoke</td>" in page
    log = (project / "info.log").read_text()
    assert "The EPOCH chain" in log and f"The report is at {reporting / 'report.html'}" in log
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) >= 6
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    for name in REPORT_FIGURES:
        png = reporting / "figures" / f"{name.removeprefix('figure_')}.png"
        assert png.read_bytes()[:4] == b"\x89PNG", png
    joints = pd.read_csv(reporting / "per_joint.csv", index_col="joint")
    assert len(joints) == 18 and "liftnet_gt.pa_mpjpe" in joints
    actions = pd.read_csv(reporting / "per_action.csv", index_col="action")
    assert len(actions) == len(ACTIONS) and "baseline_mean_pose.mpjpe" in actions
    curves = pd.read_csv(reporting / "training/curves.csv")
    assert {"flow", "liftnet", "liftnet_weak", "regnet"} <= set(curves["model"])


def test_kedro_viz_build_shows_stages_nodes_tags_and_layers(smoke_run):
    project = smoke_run
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main = json.loads((project / "build/api/main").read_text())
    assert {p["id"] for p in main["pipelines"]} == {*STAGES, "full", "__default__",
                                                   "cross_dataset", "adapt"}  # fmt: skip
    assert set(main["modular_pipelines"]) == {"__root__", *STAGES}  # of the default pipeline
    tasks = {n["name"]: n for n in main["nodes"] if n["type"] == "task"}
    expected = {n.name.split(".")[-1] for n in register_pipelines()["full"].nodes}
    assert set(tasks) == expected
    for name, task in tasks.items():
        assert set(task["tags"]) & TAGS, name
        assert len(task["modular_pipelines"]) == 1, name  # each node sits in its stage
    # kedro-viz drops every layer when they form a cycle; the order must read left to right.
    layers = main["layers"]
    assert layers[0] == "raw" and layers[-1] == "reporting", layers
    data = {n["name"] for n in main["nodes"] if n["type"] == "data"}
    assert {"report_html", "metrics", "test_predictions", *REPORT_FIGURES} <= data


def test_notebook_runs_headless_on_the_smoke_output(smoke_run):
    project = smoke_run
    notebook = nbformat.read(project / "notebooks/evaluation.ipynb", as_version=4)
    os.environ["KEDRO_ENV"] = "smoke"  # the kernel inherits it; %load_ext picks the profile
    try:
        NotebookClient(
            notebook,
            timeout=180,
            kernel_name="python3",
            resources={"metadata": {"path": str(project / "notebooks")}},
        ).execute()
    finally:
        del os.environ["KEDRO_ENV"]
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o for o in outputs if o.output_type == "stream"])
    assert "\\u001b[" not in text and "\x1b[" not in text  # clean outputs, no ANSI colours
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "liftnet_gt" in html and "PUBLISHED" in html  # the headline table
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # skeletons + cameras

"""The worked DVC sweep (docs/SCALING.md "Scaling out") on the smoke profile: the perspective vs the
weak-perspective camera and two loss terms switched off, queued as DVC experiments, run by a
queue worker, and compared with ``dvc exp show``."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

PARAMS = "conf/smoke/parameters_liftnet.yml"
#: The ablation: name -> the parameter DVC sets (the same keys as on the default profile).
SWEEP = {
    "weak_camera": "liftnet.model.camera_model=weak_perspective",
    "no_flow_prior": "liftnet.losses.flow=0",
    "no_cycle_3d": "liftnet.losses.cycle_3d=0",
}
TRAINED = "data/smoke/08_reporting/trained_with.json"
#: The smoke variant of dvc.yaml's liftnet and evaluation stages (the data is committed here,
#: so each experiment's fresh workspace has the earlier stages' outputs), plus what the trained
#: LiftNet artifact says of its own training, as a second metrics file.
STAGE = f"""stages:
  liftnet_evaluation:
    cmd: kedro run --env smoke --pipelines liftnet,evaluation && python trained_with.py
    deps: [src/epoch_kedro, data/smoke/05_model_input, data/smoke/07_model_output]
    params:
      - {PARAMS}: [liftnet]
    metrics:
      - data/smoke/08_reporting/metrics.json: {{cache: false}}
      - {TRAINED}: {{cache: false}}
"""
TRAINED_WITH = f"""import json
from epoch_kedro.utils.checkpoint import load_checkpoint

artifact = load_checkpoint("data/smoke/06_models/liftnet.pt")
with open("{TRAINED}", "w") as f:
    json.dump({{"config": artifact["config"], **artifact["training"]}}, f)
"""


def run(project: Path, *args: str) -> str:
    bin_dir = str(Path(sys.executable).parent)  # dvc and kedro of this environment
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "EPOCH_PROGRESS": "0",
           "KEDRO_DISABLE_TELEMETRY": "1", "GIT_AUTHOR_NAME": "test", "GIT_COMMITTER_NAME": "test",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    result = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


@pytest.fixture(scope="module")
def sweep(smoke_run, tmp_path_factory) -> list[dict]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path_factory.mktemp("sweep") / "project"
    shutil.copytree(smoke_run, project, ignore=shutil.ignore_patterns("info.log*", ".viz",
                                                                        "notebooks"))  # fmt: skip
    (project / "dvc.yaml").write_text(STAGE)
    (project / "trained_with.py").write_text(TRAINED_WITH)
    run(project, "git", "init", "-q")
    run(project, sys.executable, "-m", "dvc", "init", "-q")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "smoke project")
    for name, setting in SWEEP.items():
        run(project, sys.executable, "-m", "dvc", "exp", "run", "--queue", "-n", name,
            "-S", f"{PARAMS}:{setting}")  # fmt: skip
    run(project, sys.executable, "-m", "dvc", "queue", "start", "-j", "1")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run(project, sys.executable, "-m", "dvc", "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            break
        time.sleep(3)
    assert "Failed" not in status, status
    shown = json.loads(run(project, sys.executable, "-m", "dvc", "exp", "show", "--json"))
    return [rev for entry in shown for exp in entry.get("experiments") or [] for rev in exp["revs"]]


def _setting(tree: dict, key: str):
    """The value at ``key`` (``liftnet.losses.flow``) below the ``liftnet`` group."""
    for part in key.split(".")[1:]:
        tree = tree[part]
    return tree


def _same(recorded, value: str) -> bool:
    try:
        return float(recorded) == float(value)
    except (TypeError, ValueError):
        return str(recorded) == value


def test_the_queued_sweep_lists_each_run_with_its_parameters_and_metrics(sweep):
    """Each run: its parameter recorded, its metrics present, and its model trained with its
    own setting and not the others' (as the LiftNet artifact records its training). Scores are
    not compared: two settings may give the same figure at smoke scale, and figures differ by
    CPU."""
    runs = {rev["name"]: rev["data"] for rev in sweep}
    assert set(runs) == set(SWEEP)
    for name, data in runs.items():
        key, value = SWEEP[name].split("=")
        liftnet = data["params"][PARAMS]["data"]["liftnet"]
        assert _same(_setting(liftnet, key), value), (name, liftnet)
        metrics = data["metrics"]["data/smoke/08_reporting/metrics.json"]["data"]
        for measure in ("mpjpe", "n_mpjpe", "pa_mpjpe", "pck150", "auc"):
            assert math.isfinite(metrics["liftnet_gt"][measure]), (name, measure)
        trained = data["metrics"][TRAINED]["data"]
        assert trained["precision"] in ("fp32", "bf16"), name
        for other, setting in SWEEP.items():
            other_key, other_value = setting.split("=")
            assert _same(_setting(trained, other_key), other_value) == (other == name), (
                name, other, trained)  # fmt: skip

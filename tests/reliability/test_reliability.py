"""Runs a person can trust: each failure a user met is reproduced on the smoke profile, and the
earlier artifacts must come out byte-identical, with one line naming what was wrong.

Every test works on a copy of the shared smoke run (``smoke_run``), so they can break it freely.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from kedro.config import OmegaConfigLoader

from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint
from tests.pipelines.test_run_smoke import ROOT, SMOKE_DATA, kedro_run, make_project
from tests.reliability.cases import case

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

PROFILES = {"local": "data", "smoke": "data/smoke", "paper": "data/paper"}


def snapshot(project: Path) -> dict[str, str]:
    """SHA-256 of every file under ``data/`` (temporary and log files included)."""
    data = project / "data"
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(smoke_run, tmp_path) -> Path:
    """A private copy of the smoke run's project and artifacts."""
    copy = tmp_path / "project"
    shutil.copytree(smoke_run, copy, ignore=shutil.ignore_patterns("info.log*", ".viz"))
    return copy


def refused(project: Path, *args: str) -> str:
    """Run kedro on the smoke profile, expect a refusal; returns its one error line."""
    result = kedro_run(project, *args)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "╭" not in output, output[-3000:]  # no (rich) trace
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


# ---- profiles keep their own data ---------------------------------------------------------


@pytest.mark.parametrize(("env", "root"), PROFILES.items())
def test_every_profile_writes_under_its_own_root(env, root):
    merge = {"parameters": "soft", "catalog": "soft"}
    loader = OmegaConfigLoader(
        str(ROOT / "conf"), base_env="base", default_run_env=env, merge_strategy=merge
    )
    paths = [entry["filepath"] for entry in loader["catalog"].values() if "filepath" in entry]
    assert paths and all(p.startswith(root + "/") for p in paths)
    others = {r for e, r in PROFILES.items() if e != env and r != "data"}
    assert not [p for p in paths if any(p.startswith(o + "/") for o in others)]
    params = loader["parameters"]
    for group in ("liftnet", "regnet", "localizer"):
        assert params[group]["checkpoint_dir"] == f"{root}/06_models/checkpoints"


def test_a_smoke_run_leaves_the_default_artifacts_byte_identical(tmp_path):
    project = make_project(tmp_path)
    loader = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    rng = np.random.default_rng(0)
    files = [e["filepath"] for e in loader["catalog"].values() if "filepath" in e]
    for name in files:  # the default run's artifacts, as sentinels
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.bytes(64))
    before = snapshot(project)
    result = kedro_run(project, "--pipelines", "ingestion")
    assert result.returncode == 0, result.stderr[-3000:]
    after = snapshot(project)
    assert {k: v for k, v in after.items() if not k.startswith("smoke/")} == before
    assert "smoke/01_raw/dataset.npz" in after


# ---- parameters are checked before anything is written ------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("liftnet.loop.epochs=0", "liftnet.loop.epochs=0: expected an integer >= 1"),
        ("liftnet.loop.epochs=-1", "liftnet.loop.epochs=-1: expected an integer >= 1"),
        ("render.size=0", "render.size=0: expected an integer >= 16"),
        ("regnet.loop.batch_size=0", "regnet.loop.batch_size=0: expected an integer >= 1"),
        ("liftnet.loop.devices=0", "liftnet.loop.devices=0: expected an integer >= 1"),
        ("liftnet.concurrent=2", "liftnet.concurrent=2: expected true or false"),
        ("cross_dataset.dataset.kind=coco", "cross_dataset.dataset.kind='coco': choose one of"),
        ("evaluation.dataset.kind=h36m", "evaluation.dataset is no longer read: cross-dataset"),
    ],
)
def test_bad_parameters_are_refused_before_any_artifact_changes(project, params, message):
    before = snapshot(project)
    line = refused(project, "--pipeline=full", "--params", params)
    assert line.startswith(f"Error: {message}")
    assert snapshot(project) == before


def test_an_unknown_pipeline_is_one_line_naming_the_known_ones(project):
    line = refused(project, "--pipelines=ful")
    case("param-unknown-pipeline").check(line)
    assert "full" in line and "__default__" not in line


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("param-negative-loss-weight", "liftnet.losses.flow=-1.0"),
        ("param-unknown-group", "liftnett.loop.epochs=3"),
        ("param-weak-depth-zero", "liftnet_weak.model.weak_depth=0"),
        ("param-lr-inf", "liftnet.loop.lr=.inf"),
        ("param-device-cuda", "liftnet.loop.device=cuda"),
    ],
)
def test_the_audits_bad_parameters_are_one_line_exit_1_and_change_nothing(project, name, params):
    if name == "param-device-cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: device=cuda is a valid choice here")
    before = snapshot(project)
    case(name).check(refused(project, "--pipeline=full", "--params", params))
    assert snapshot(project) == before


# ---- damaged or tampered data is refused, naming the file or key ---------------------------


def _tamper_raw(project: Path, how: str) -> None:
    path = project / SMOKE_DATA / "01_raw/dataset.npz"
    data = dict(np.load(path))
    if how == "nan":
        data["visible"][5, 3] = True
        data["kp2d"][5, 3, 0] = np.nan
    elif how == "16 joints":
        data["kp2d"] = data["kp2d"][:, :16]
    elif how == "no K":
        del data["K"]
    np.savez(path, **data)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("nan", r"field 'kp2d' has inf values or NaN at visible joints in 1 of \d+ samples"),
        ("16 joints", r"field 'kp2d' must have shape \(N, 17, 2\), got \(\d+, 16, 2\)"),
        ("no K", r"missing required field\(s\) \['K'\]"),
    ],
)
def test_a_tampered_raw_dataset_stops_normalization_before_it_writes(project, how, message):
    _tamper_raw(project, how)
    before = snapshot(project)
    line = refused(project, "--pipelines", "normalization")
    assert line.startswith("Error: dataset 'synthetic'")
    assert re.search(message, line), line
    assert snapshot(project) == before  # train/val/test, statistics and the summary untouched


def _tamper_model_input(project: Path, how: str) -> None:
    path = project / SMOKE_DATA / "05_model_input/train.npz"
    data = dict(np.load(path))
    if how == "stage-16-joints":
        data = {k: v[:, :16] if v.ndim > 1 and v.shape[1] == 17 else v for k, v in data.items()}
    else:
        data["visible"][5, 3] = True
        data["pose2d"][5, 3, 0] = np.nan
    np.savez(path, **data)


@pytest.mark.parametrize("name", ["stage-16-joints", "stage-nan-visible"])
def test_the_liftnet_stage_checks_its_input_before_it_trains(project, name):
    _tamper_model_input(project, name)
    before = snapshot(project)
    case(name).check(refused(project, "--pipelines", "liftnet"))
    assert snapshot(project) == before  # every LiftNet as it was


def test_resume_is_refused_when_the_prior_changed(project):
    """Interrupt the liftnet stage, retrain the flow, resume: a model of two priors."""
    path = project / SMOKE_DATA / "06_models/flow.pt"
    flow = load_checkpoint(path)
    name = next(k for k, v in flow["state_dict"].items() if v.is_floating_point())
    flow["state_dict"][name] = flow["state_dict"][name] + 0.01
    save_checkpoint(flow, path)
    before = snapshot(project)
    line = refused(project, "--pipelines", "liftnet", "--params", "liftnet.resume=true")
    case("resume-other-prior").check(line)
    assert snapshot(project) == before


def test_a_truncated_array_is_named_as_damaged(project):
    path = project / SMOKE_DATA / "05_model_input/train.npz"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:  # pose2d ends half-way; the zip still reads
        for name, payload in members.items():
            archive.writestr(
                name, payload[: len(payload) // 2] if name == "pose2d.npy" else payload
            )
    before = snapshot(project)
    line = refused(project, "--pipelines", "liftnet")
    assert "train.npz: array 'pose2d' cannot be read (truncated or corrupted" in line
    assert snapshot(project) == before


def test_a_missing_model_is_named_with_how_to_make_it(project):
    (project / SMOKE_DATA / "06_models/liftnet.pt").unlink()
    before = snapshot(project)
    line = refused(project, "--pipelines", "evaluation")
    expected = r"no checkpoint at '\S*data/smoke/06_models/liftnet.pt'; `make run` trains"
    assert re.search(expected, line), line
    assert snapshot(project) == before


def test_a_damaged_model_is_refused_not_used(project):
    path = project / SMOKE_DATA / "06_models/liftnet.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of a weight: the zip still opens
    path.write_bytes(bytes(data))
    before = snapshot(project)
    line = refused(project, "--pipelines", "evaluation")
    assert "liftnet.pt: checksum mismatch" in line or "liftnet.pt: not a readable" in line
    assert snapshot(project) == before


def test_resume_is_refused_when_the_training_data_changed(project):
    path = project / SMOKE_DATA / "05_model_input/train.npz"
    data = dict(np.load(path))
    data["kp2d"] = data["kp2d"] + np.float32(0.5)  # every 2D label moved half a pixel ...
    data["pose2d"] = data["pose2d"] * np.float32(1.01)  # ... and the lifter's own input
    np.savez(path, **data)
    before = snapshot(project)
    line = refused(project, "--pipelines", "liftnet", "--params", "liftnet.resume=true")
    assert "refusing to resume, the training data changed since it was written" in line
    assert snapshot(project) == before


# ---- the report's files change together -----------------------------------------------------


def test_a_failed_report_write_leaves_the_previous_report_whole(project):
    reports = project / SMOKE_DATA / "08_reporting"
    # The figures' folder becomes a file: the report's first figure cannot be written (as on a
    # full disk), after metrics.json and the tables were.
    shutil.rmtree(reports / "figures")
    (reports / "figures").write_text("in the way")
    before = snapshot(project)
    line = refused(project, "--pipelines", "evaluation")
    assert re.fullmatch(r"Error: cannot write \S+/08_reporting/figures/\w+\.png: .+", line), line
    assert snapshot(project) == before  # old metrics, tables and page; no temporary file

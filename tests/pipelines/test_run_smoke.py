"""End to end: ``kedro run`` on the smoke profile, in a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from epoch_kedro.data.normalize import split_by_subject
from epoch_kedro.data.synthetic.library import ACTIONS
from epoch_kedro.data.validate import DatasetValidationError
from epoch_kedro.datasets import NpzDataset
from epoch_kedro.pipelines.normalization.nodes import _hold_out, build_model_inputs
from epoch_kedro.utils.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # Kedro/DVC in subprocesses: minutes

ROOT = Path(__file__).resolve().parents[2]
DATASET = {"kind": "synthetic", "name": "synthetic"}
#: Where the smoke profile keeps its artifacts (conf/smoke/globals.yml).
SMOKE_DATA = "data/smoke"


def make_project(tmp_path: Path) -> Path:
    """A project directory with our conf, a copy of our code and an empty data tree."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name, project / name)
    # Kedro requires the source dir inside the project (a symlink resolves outside it).
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "data").mkdir()
    return project


def kedro_run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EPOCH_PROGRESS": "0", "KEDRO_DISABLE_TELEMETRY": "1"}
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "smoke", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_full_run_writes_every_artifact(smoke_run):
    data = smoke_run / SMOKE_DATA
    for rel in (
        "01_raw/dataset.npz",
        "05_model_input/train.npz",
        "05_model_input/val.npz",
        "05_model_input/test.npz",
        "04_feature/statistics.npz",
        "08_reporting/dataset_summary.json",
    ):
        assert (data / rel).is_file(), rel
    summary = json.loads((data / "08_reporting/dataset_summary.json").read_text())
    assert summary["splits"]["train"]["subjects"] == ["S1"]
    assert summary["splits"]["test"]["subjects"] == ["S9"]
    # smoke profile: every motion x 1 sequence x 8 frames x 2 cameras per subject
    assert summary["splits"]["val"]["samples"] == len(ACTIONS) * 8 * 2
    metrics = json.loads((data / "08_reporting/metrics.json").read_text())
    chain = (
        "liftnet_regnet",
        "liftnet_regnet_label_boxes",
        "liftnet_regnet_2d_true_camera",
        "liftnet_true_2d_regnet_camera",
        "liftnet_gt_rendered_frames",
        "liftnet_reference_regnet",
    )
    true_inputs = ("liftnet_gt", "liftnet_weak_gt", "liftnet_reference_gt", "baseline_mean_pose")
    for section in (*true_inputs, *chain):
        for key in ("mpjpe", "n_mpjpe", "pa_mpjpe", "pck150", "auc", "by_distance", "by_action"):
            assert key in metrics[section], (section, key)
        assert 0 < metrics[section]["pa_mpjpe"] < 1000  # millimetres
    regnet = metrics["regnet"]
    for key in (
        "px_error",
        "pck2d_005",
        "focal_rel_err",
        "elevation_err_deg",
        "focal_rel_err_per_frame",
        "elevation_err_deg_per_frame",
        "baseline_mean_focal_rel_err",
        "baseline_mean_pose_pck2d_005",
        "pose3d",
        "ray_floor",
    ):
        assert key in regnet, key
    assert regnet["frames"] == len(ACTIONS) * 4 * 2  # smoke: every 2nd of 8 frames, 2 cameras
    by_type = regnet["by_camera_type"]
    assert set(by_type) == {"rig", "wild"}
    assert by_type["rig"]["frames"] + by_type["wild"]["frames"] == regnet["frames"]
    # The held-out-motion benchmark: LiftNet never saw them, scored apart on the test subject.
    heldout = metrics["heldout_motion"]
    assert heldout["actions"] == ["jumping_jacks", "kicking", "sitting_down"]
    assert heldout["samples"] == {"seen": (len(ACTIONS) - 3) * 8 * 2, "heldout": 3 * 8 * 2}
    for name in ("liftnet", "liftnet_reference"):
        for kind in ("gt", "noisy_2d"):
            groups = heldout[f"{name}_{kind}"]
            assert groups["heldout"]["count"] == heldout["samples"]["heldout"]
            assert 0 < groups["seen"]["pa_mpjpe"] < 1000
    assert set(heldout["liftnet_regnet"]) == {"seen", "heldout"}
    train = np.load(data / "05_model_input/train.npz")
    flagged = np.isin(train["action"], heldout["actions"])
    np.testing.assert_array_equal(train["heldout_motion"], flagged)
    checkpoint = data / "06_models/checkpoints/liftnet_perspective_regnet_camera_last.pt"
    assert load_checkpoint(checkpoint)["meta"]["samples"] == (len(ACTIONS) - 3) * 8 * 2  # seen
    # The same test frames with boxes from the 2D labels (the usual Human3.6M protocol).
    label_boxes = metrics["regnet_label_boxes"]
    assert label_boxes["frames"] == regnet["frames"]
    assert {"px_error", "pck2d_005", "focal_rel_err", "pose3d"} <= label_boxes.keys()
    for rel in (
        "06_models/flow.pt",
        "06_models/liftnet.pt",
        "06_models/liftnet_weak.pt",
        "06_models/localizer.pt",
        "06_models/regnet.pt",
        "07_model_output/regnet_inputs_test.npz",
        "07_model_output/regnet_inputs_test_label_boxes.npz",
        "02_intermediate/images.npy",
        "02_intermediate/crops.npy",
        "02_intermediate/crop_index.npz",
        "08_reporting/training/liftnet.json",
        "08_reporting/training/localizer.json",
    ):
        assert (data / rel).is_file(), rel
    # RegNet trained on person crops of every rendered frame, at render.crop_size.
    crops = np.load(data / "02_intermediate/crops.npy", mmap_mode="r")
    crop_index = NpzDataset(filepath=str(data / "02_intermediate/crop_index.npz")).load()
    images = np.load(data / "02_intermediate/images.npy", mmap_mode="r")
    assert crops.shape == (len(images), 32, 32, 3)
    assert crop_index["box"].shape == (len(images), 3)
    generated = NpzDataset(filepath=str(data / "07_model_output/regnet_inputs_test.npz")).load()
    assert generated["box"].shape == (regnet["frames"], 3)
    train = NpzDataset(filepath=str(data / "05_model_input/train.npz")).load()
    assert train["rays"].shape == (len(ACTIONS) * 8 * 2, 17, 3)
    assert np.isfinite(train["pose2d"]).all()


def test_pipelines_flag_and_a_single_stage_work(smoke_run):
    result = kedro_run(smoke_run, "--pipelines=full")
    assert result.returncode == 0, result.stderr[-3000:]
    result = kedro_run(smoke_run, "--pipelines", "evaluation")
    assert result.returncode == 0, result.stderr[-3000:]


def test_runtime_params_override_the_profile(tmp_path):
    project = make_project(tmp_path)
    result = kedro_run(project, "--pipelines=ingestion", "--params", "synthetic.seed=11")
    assert result.returncode == 0, result.stderr[-3000:]
    raw = NpzDataset(filepath=str(project / SMOKE_DATA / "01_raw/dataset.npz")).load()
    assert len(raw["kp2d"]) == 3 * len(ACTIONS) * 8 * 2


def test_unknown_dataset_kind_fails_clearly(tmp_path):
    project = make_project(tmp_path)
    result = kedro_run(project, "--pipelines=ingestion", "--params", "dataset.kind=nope")
    assert result.returncode != 0
    assert "Error: dataset.kind='nope': choose one of" in result.stderr
    assert not (project / SMOKE_DATA / "01_raw/dataset.npz").exists()


def test_overlapping_splits_are_rejected(synthetic_small):
    splits = {"train": ["S1"], "val": ["S9"], "test": ["S9"]}
    with pytest.raises(DatasetValidationError, match="S9"):
        build_model_inputs(synthetic_small, splits, DATASET, {})
    with pytest.raises(DatasetValidationError, match=r"lacks \['val'\]"):
        build_model_inputs(synthetic_small, {"train": ["S1"], "test": ["S9"]}, DATASET, {})


def test_held_out_actions_missing_from_the_dataset_are_named_and_skipped(synthetic_small, caplog):
    parts = split_by_subject(synthetic_small, {"train": ["S1"], "val": ["S1"], "test": ["S9"]})
    normalization = {"heldout_actions": {"synthetic": ["juggling", "kicking"]}}
    with caplog.at_level("WARNING"):
        held = _hold_out(parts, normalization, DATASET)
    assert "normalization.heldout_actions.synthetic: ['juggling']" in caplog.text
    for part in held.values():
        assert set(part["action"][part["heldout_motion"]].tolist()) == {"kicking"}

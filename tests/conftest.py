"""Shared fixtures: a small synthetic dataset built once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.generate import CameraConfig

os.environ.setdefault("EPOCH_PROGRESS", "0")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# The bf16 probe's answers go to a cache of this test session, not the user's (subprocesses
# inherit it, so a session decides once per model shape).
os.environ["EPOCH_PRECISION_CACHE"] = str(Path(tempfile.mkdtemp(prefix="epoch-")) / "bf16.json")

SMALL_CONFIG = SyntheticConfig(
    seed=7,
    subjects=("S1", "S9"),
    sequences_per_action=1,
    frames_per_sequence=12,
    cameras=CameraConfig(per_sequence=2),
)


@pytest.fixture(scope="session")
def small_config() -> SyntheticConfig:
    return SMALL_CONFIG


@pytest.fixture(scope="session")
def synthetic_small() -> dict[str, np.ndarray]:
    """2 subjects x 12 actions x 12 frames x 2 cameras; treat as read-only."""
    return generate_synthetic(SMALL_CONFIG)


@pytest.fixture(scope="session")
def tiny_liftnet_path(tmp_path_factory):
    """An untrained, small LiftNet artifact: for tests of the code around the network."""
    import torch

    from epoch_kedro.models.artifacts import to_artifact
    from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
    from epoch_kedro.utils.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), np.full(16, 0.25))
    path = tmp_path_factory.mktemp("liftnet") / "liftnet.pt"
    save_checkpoint(to_artifact(model, "liftnet"), path)
    return path


@pytest.fixture(scope="session")
def tiny_adaptable_liftnet_path(tmp_path_factory, synthetic_small):
    """An untrained, small LiftNet artifact with the presence mask and adaptation data (an
    untrained prior, a replay sample of the small synthetic set): for ``--adapt``'s code."""
    import torch

    from epoch_kedro.data.normalize import dataset_statistics, to_model_input
    from epoch_kedro.inference.lifting import input_sample
    from epoch_kedro.models.artifacts import adaptation_data, to_artifact
    from epoch_kedro.models.flow import FlowConfig, PoseFlow
    from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
    from epoch_kedro.utils.checkpoint import save_checkpoint

    torch.manual_seed(0)
    split = to_model_input(synthetic_small)
    stats = dataset_statistics(split)
    flow = PoseFlow(FlowConfig(n_components=8, blocks=1, hidden=16), stats["pose2d_mean"],
                    stats["pca_components"], stats["pca_variance"])  # fmt: skip
    model = LiftNet(LiftNetConfig(width=32, blocks=1, presence_mask=True), np.full(16, 0.25))
    artifact = to_artifact(model, "liftnet")
    artifact["adaptation"] = adaptation_data(to_artifact(flow, "pose_flow"),
                                             input_sample(split, 64))  # fmt: skip
    path = tmp_path_factory.mktemp("liftnet") / "liftnet_adaptable.pt"
    save_checkpoint(artifact, path)
    return path


@pytest.fixture(scope="session")
def tiny_image_models(tmp_path_factory):
    """Untrained, small RegNet and localiser artifacts: ``(regnet_path, localizer_path)``."""
    import torch

    from epoch_kedro.models.artifacts import to_artifact
    from epoch_kedro.models.localizer import Localizer, LocalizerConfig
    from epoch_kedro.models.regnet import RegNet, RegNetConfig
    from epoch_kedro.utils.checkpoint import save_checkpoint

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("image_models")
    regnet = RegNet(RegNetConfig(image_size=32, widths=(8, 16), hidden=32), np.full(16, 0.25))
    localizer = Localizer(LocalizerConfig(image_size=32, widths=(8, 16)))
    save_checkpoint(to_artifact(regnet, "regnet"), folder / "regnet.pt")
    save_checkpoint(to_artifact(localizer, "localizer"), folder / "localizer.pt")
    return folder / "regnet.pt", folder / "localizer.pt"


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A scratch project (our conf, src and notebooks) after a smoke ``--pipeline=full`` run.

    The full chain is the slowest thing the suite does; the run, report, notebook, viz and
    reliability tests all read its outputs (treat them as read-only: copy the project to
    change anything)."""
    import shutil

    from tests.pipelines.test_run_smoke import ROOT, kedro_run, make_project

    project = make_project(tmp_path_factory.mktemp("smoke"))
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    result = kedro_run(project, "--pipeline=full")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="module")
def model_path(tiny_liftnet_path):
    """The small untrained LiftNet artifact, under the name predict's tests use."""
    return tiny_liftnet_path


@pytest.fixture(scope="module")
def scene(synthetic_small):
    """Frames of one camera: true camera-frame 3D, exact 2D and the camera's K."""
    from epoch_kedro.geometry import project, world_to_camera

    K = synthetic_small["K"][0].astype(np.float64)
    rows = np.flatnonzero(np.all(np.isclose(synthetic_small["K"], K), axis=(1, 2)))[:24]
    X = world_to_camera(
        synthetic_small["pose3d_world"][rows].astype(np.float64),
        synthetic_small["R"][rows].astype(np.float64),
        synthetic_small["t"][rows].astype(np.float64),
    )
    return X, project(X, K), K

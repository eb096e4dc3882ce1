"""Shared fixtures: a small synthetic dataset built once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.generate import CameraConfig

os.environ.setdefault("EPOCH_PROGRESS", "0")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

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

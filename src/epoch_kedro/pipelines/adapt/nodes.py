"""Adaptation node: unpack parameters, call :mod:`epoch_kedro.training.adapt`, return artifacts."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.sources import dataset_name
from epoch_kedro.inference.lifting import lift_tensors
from epoch_kedro.models.artifacts import liftnet_from_artifact, liftnet_to_artifact
from epoch_kedro.training.adapt import AdaptConfig, adapt_model
from epoch_kedro.utils.config import from_params

logger = logging.getLogger(__name__)


def adapt_liftnets(
    model_input_test: dict[str, np.ndarray],
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    liftnet_reference_model: dict[str, Any],
    adapt: dict[str, Any],
    tested: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The three LiftNets adapted to the tested dataset's 2D poses and cameras (every camera,
    every frame of its test split), never to its 3D: LiftNet's inputs are all it is given."""
    config = from_params(AdaptConfig, adapt, "adapt")
    inputs = lift_tensors(model_input_test)
    about = {"dataset": dataset_name(tested), "poses": len(inputs["pose2d"])}
    adapted = []
    for name, artifact in (
        ("liftnet", liftnet_model),
        ("liftnet_weak", liftnet_weak_model),
        ("liftnet_reference", liftnet_reference_model),
    ):
        logger.info("Adapting %s to %d poses of %s", name, about["poses"], about["dataset"])
        try:
            model = adapt_model(liftnet_from_artifact(artifact), inputs, config, about)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        adapted.append(liftnet_to_artifact(model))
    return tuple(adapted)

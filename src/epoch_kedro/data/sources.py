"""Dataset sources behind ``dataset.kind``: each returns an ingested dataset (see schema)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic

logger = logging.getLogger(__name__)

#: Kinds this version can ingest. Human3.6M and MPI-INF-3DHP loaders are planned (issue 6).
SUPPORTED_KINDS = ("synthetic",)


def load_source(dataset: dict[str, Any], synthetic: dict[str, Any]) -> dict[str, np.ndarray]:
    """Produce the ingested dataset selected by ``dataset.kind``."""
    kind = dataset.get("kind")
    if kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"dataset.kind={kind!r} is not supported; choose one of {list(SUPPORTED_KINDS)}"
        )
    config = SyntheticConfig.from_params(synthetic)
    logger.info(
        "Generating synthetic dataset: %d subjects x %d actions x %d sequences x %d frames x "
        "%d cameras (seed %d)",
        len(config.subjects),
        len(config.actions),
        config.sequences_per_action,
        config.frames_per_sequence,
        config.cameras.per_sequence,
        config.seed,
    )
    return generate_synthetic(config)

"""Ingestion nodes: thin wrappers over :mod:`epoch_kedro.data`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.schema import num_samples
from epoch_kedro.data.sources import load_source
from epoch_kedro.data.validate import validate_dataset

logger = logging.getLogger(__name__)


def ingest_dataset(dataset: dict[str, Any], synthetic: dict[str, Any]) -> dict[str, np.ndarray]:
    """Load or generate the dataset selected by ``dataset.kind`` and validate it."""
    data = load_source(dataset, synthetic)
    validate_dataset(data, name=dataset.get("name", dataset["kind"]))
    logger.info(
        "Ingested %d samples of %d subjects, %d actions",
        num_samples(data),
        len(np.unique(data["subject"])),
        len(np.unique(data["action"])),
    )
    return data

"""A Kedro dataset for model artifacts: a checkpoint dict saved with torch, loaded safely."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint


class TorchCheckpointDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """``dict`` of tensors and plain values <-> ``.pt`` (atomic save, ``weights_only`` load).

    Example catalog entry::

        liftnet_model:
          type: epoch_kedro.datasets.TorchCheckpointDataset
          filepath: data/06_models/liftnet.pt
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        """Read the checkpoint on the CPU."""
        return load_checkpoint(Path(self._filepath))

    def save(self, data: dict[str, Any]) -> None:
        """Write the checkpoint atomically."""
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise DatasetError(f"checkpoint '{self._filepath}': expected a dict, got {kind}")
        save_checkpoint(data, self._filepath)

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

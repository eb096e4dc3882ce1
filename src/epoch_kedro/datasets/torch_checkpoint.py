"""A Kedro dataset for model artifacts: a checkpoint dict saved with torch, loaded safely."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.datasets import atomic
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint


class TorchCheckpointDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """``dict`` of tensors and plain values <-> ``.pt`` (atomic save, ``weights_only`` load).

    Example catalog entry::

        liftnet_model:
          type: epoch_kedro.datasets.TorchCheckpointDataset
          filepath: data/06_models/liftnet.pt
          group: liftnet_models   # replaced only once every model of the group trained

    (``group``: see :mod:`epoch_kedro.datasets.atomic`.)
    """

    def __init__(
        self, filepath: str, group: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self._filepath = PurePosixPath(filepath)
        self._group = group
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        """Read the checkpoint on the CPU (the run's own, while its group waits)."""
        return load_checkpoint(atomic.staged_file(Path(self._filepath)) or Path(self._filepath))

    def save(self, data: dict[str, Any]) -> None:
        """Write the checkpoint atomically."""
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise DatasetError(f"checkpoint '{self._filepath}': expected a dict, got {kind}")
        if self._group:
            atomic.stage(Path(self._filepath), self._group, lambda tmp: save_checkpoint(data, tmp))
        else:
            save_checkpoint(data, self._filepath)

    def _exists(self) -> bool:
        path = Path(self._filepath)
        return atomic.staged_file(path) is not None or path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "group": self._group}

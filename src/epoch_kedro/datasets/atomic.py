"""Any file dataset, written atomically: ``AtomicDataset`` wraps a kedro-datasets entry.

kedro-datasets' JSON, text, CSV and Matplotlib datasets write straight into their target, so a
full disk or an interrupt leaves a truncated ``metrics.json`` or PNG where the previous one was.
The wrapper lets the inner dataset write a temporary file beside the target and renames it into
place only when the write completed.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from epoch_kedro.utils.io import atomic_path


class AtomicDataset(AbstractDataset[Any, Any]):
    """Load and save through ``dataset`` (a catalog entry without ``filepath``), atomically.

    Example catalog entry::

        metrics:
          type: epoch_kedro.datasets.AtomicDataset
          filepath: data/08_reporting/metrics.json
          dataset: {type: json.JSONDataset, save_args: {indent: 2}}
    """

    def __init__(
        self, filepath: str, dataset: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> None:
        self._filepath = PurePosixPath(filepath)
        self._dataset = dict(dataset)
        self.metadata = metadata
        suffix = self._filepath.suffix
        self._suffix = suffix  # the inner dataset may pick its format from the file name

    def _inner(self, path: str | Path) -> AbstractDataset:
        config = {**self._dataset, "filepath": str(path)}
        return AbstractDataset.from_config(f"{self._filepath.name} (inner)", config)

    def load(self) -> Any:
        return self._inner(self._filepath).load()

    def save(self, data: Any) -> None:
        with atomic_path(self._filepath) as tmp:
            target = tmp.with_suffix(tmp.suffix + self._suffix)  # keep the extension last
            try:
                self._inner(target).save(data)
                target.replace(tmp)
            finally:
                target.unlink(missing_ok=True)

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "dataset": self._dataset.get("type")}

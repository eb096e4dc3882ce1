"""Any file dataset, written atomically: ``AtomicDataset`` wraps a kedro-datasets entry.

kedro-datasets' JSON, text, CSV and Matplotlib datasets write straight into their target, so a
full disk or an interrupt leaves a truncated ``metrics.json`` or PNG where the previous one was.
The wrapper lets the inner dataset write a temporary file beside the target and renames it into
place only when the write completed.

Files that must change together (the metrics, tables, figures and page of one report) name a
``group``. While a run is open (:func:`begin`, called by the project's hooks), a grouped file is
written to its temporary file and stays there; later nodes of the run read it from there. When
the run succeeds, :func:`commit` renames every grouped file into place, one rename after another;
when it fails, :func:`discard` deletes them, and the previous report stays whole.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.errors import WriteError
from epoch_kedro.utils.io import atomic_path, temporary_beside

logger = logging.getLogger(__name__)

#: Grouped files written during the open run: target -> its complete temporary file. None while
#: no run is open (then a grouped file is renamed into place as soon as it is written).
_staged: dict[Path, Path] | None = None


def begin() -> None:
    """Open a run: grouped files wait for :func:`commit` or :func:`discard`."""
    global _staged
    discard()
    _staged = {}


def commit() -> list[Path]:
    """Move every grouped file of the run into place; the targets, in the order written."""
    global _staged
    staged, _staged = _staged or {}, None
    for target, tmp in staged.items():
        tmp.replace(target)
    if staged:
        logger.debug("Committed %d grouped files", len(staged))
    return list(staged)


def discard() -> None:
    """Delete every grouped file of the run; the previous ones stay as they were."""
    global _staged
    staged, _staged = _staged or {}, None
    for tmp in staged.values():
        tmp.unlink(missing_ok=True)


class AtomicDataset(AbstractDataset[Any, Any]):
    """Load and save through ``dataset`` (a catalog entry without ``filepath``), atomically.

    Example catalog entry::

        metrics:
          type: epoch_kedro.datasets.AtomicDataset
          filepath: data/08_reporting/metrics.json
          dataset: {type: json.JSONDataset, save_args: {indent: 2}}
          group: report   # renamed into place with the rest of the report, at the run's end
    """

    def __init__(
        self,
        filepath: str,
        dataset: dict[str, Any],
        group: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = PurePosixPath(filepath)
        self._dataset = dict(dataset)
        self._group = group
        self.metadata = metadata

    @property
    def _target(self) -> Path:
        return Path(self._filepath).absolute()

    def _inner(self, path: str | Path) -> AbstractDataset:
        config = {**self._dataset, "filepath": str(path)}
        return AbstractDataset.from_config(f"{self._filepath.name} (inner)", config)

    def load(self) -> Any:
        staged = (_staged or {}).get(self._target)
        return self._inner(staged or self._filepath).load()

    def save(self, data: Any) -> None:
        try:
            if self._group and _staged is not None:
                self._stage(data)
                return
            with atomic_path(self._filepath) as tmp:
                self._write(data, tmp)
        except (OSError, DatasetError) as err:
            # The inner dataset wraps its own write errors (a full disk) in a DatasetError.
            cause = err if isinstance(err, OSError) else err.__cause__
            if not isinstance(cause, OSError):
                raise
            reason = cause.strerror or str(cause)
            raise WriteError(f"cannot write {self._filepath}: {reason}") from err

    def _stage(self, data: Any) -> None:
        tmp = temporary_beside(self._target)
        try:
            self._write(data, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        previous = _staged.pop(self._target, None)
        if previous is not None:
            previous.unlink(missing_ok=True)
        _staged[self._target] = tmp

    def _write(self, data: Any, tmp: Path) -> None:
        """Write ``data`` to ``tmp`` through the inner dataset, whole or not at all."""
        # The inner dataset may pick its format from the file name: keep the extension last.
        named = tmp.with_suffix(tmp.suffix + self._filepath.suffix)
        try:
            self._inner(named).save(data)
            named.replace(tmp)
        finally:
            named.unlink(missing_ok=True)

    def _exists(self) -> bool:
        return self._target in (_staged or {}) or self._target.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "dataset": self._dataset.get("type"),
            "group": self._group,
        }

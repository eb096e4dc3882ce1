"""Any file dataset, written atomically: ``AtomicDataset`` wraps a kedro-datasets entry.

kedro-datasets' JSON, text, CSV and Matplotlib datasets write straight into their target, so a
full disk or an interrupt leaves a truncated ``metrics.json`` or PNG where the previous one was.
The wrapper lets the inner dataset write a temporary file beside the target and renames it into
place only when the write completed.

Files that must change together (the metrics, tables, figures and page of one report; the
models of one stage) name a ``group``. While a run is open (:func:`begin`, called by the
project's hooks with the grouped files the run writes), a grouped file is written to its
temporary file and stays there; later nodes of the run read it from there. Once every file of
its group that the run writes is complete, the group is renamed into place, one rename after
another (so a stage's models replace the old ones only after all of them trained); what is left
moves when the run succeeds (:func:`commit`). When the run fails, :func:`discard` deletes what
still waits, and the previous files stay whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.errors import WriteError
from epoch_kedro.utils.io import atomic_path, temporary_beside

logger = logging.getLogger(__name__)

#: Grouped files written during the open run: target -> (its complete temporary file, group).
#: None while no run is open (then a grouped file is renamed into place as soon as it is written).
_staged: dict[Path, tuple[Path, str]] | None = None
#: Per group, the files this run writes: a group moves into place as soon as all of them are
#: complete (the models of a stage once every one trained), the rest when the run succeeds.
_expected: dict[str, set[Path]] = {}


def begin(expected: dict[str, set[Path]] | None = None) -> None:
    """Open a run: grouped files wait until their group is complete (``expected``), or for
    :func:`commit` or :func:`discard`."""
    global _staged, _expected
    discard()
    _staged = {}
    _expected = {g: {Path(p).absolute() for p in t} for g, t in (expected or {}).items()}


def staged_file(target: Path) -> Path | None:
    """The complete temporary file standing for ``target`` in the open run, if any."""
    entry = (_staged or {}).get(Path(target).absolute())
    return entry[0] if entry else None


def stage(target: Path, group: str, write: Callable[[Path], None]) -> None:
    """Write ``target`` of ``group`` through ``write(tmp)``: into place now when no run is open,
    else beside it until its group is complete."""
    target = Path(target).absolute()
    if _staged is None:
        with atomic_path(target) as tmp:
            write(tmp)
        return
    tmp = temporary_beside(target)
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    previous = _staged.pop(target, None)
    if previous is not None:
        previous[0].unlink(missing_ok=True)
    _staged[target] = (tmp, group)
    members = _expected.get(group)
    if members and members <= {t for t, (_, g) in _staged.items() if g == group}:
        _move_into_place(lambda g: g == group)


def _move_into_place(chosen: Callable[[str], bool]) -> list[Path]:
    targets = [t for t, (_, g) in (_staged or {}).items() if chosen(g)]
    for target in targets:
        tmp, _ = _staged.pop(target)
        tmp.replace(target)
    if targets:
        logger.debug("Moved %d grouped files into place", len(targets))
    return targets


def commit() -> list[Path]:
    """Move every grouped file still waiting into place; the targets, in the order written."""
    global _staged
    targets = _move_into_place(lambda _: True)
    _staged = None
    return targets


def discard() -> None:
    """Delete every grouped file still waiting; the previous ones stay as they were."""
    global _staged
    staged, _staged = _staged or {}, None
    for tmp, _ in staged.values():
        tmp.unlink(missing_ok=True)


def grouped(dataset: Any) -> tuple[str, Path] | None:
    """``(group, target)`` of a catalog dataset written in a group, else None."""
    group = getattr(dataset, "_group", None)
    return (group, Path(dataset._filepath).absolute()) if group else None


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
        return self._inner(staged_file(self._target) or self._filepath).load()

    def save(self, data: Any) -> None:
        try:
            if self._group:
                stage(self._target, self._group, lambda tmp: self._write(data, tmp))
                return
            with atomic_path(self._filepath) as tmp:
                self._write(data, tmp)
        except (OSError, DatasetError) as err:
            # The inner dataset wraps its own write errors (a full disk) in a DatasetError.
            cause = err if isinstance(err, OSError) else err.__cause__
            if isinstance(cause, WriteError):
                raise cause from None
            if not isinstance(cause, OSError):
                raise
            reason = cause.strerror or str(cause)
            raise WriteError(f"cannot write {self._filepath}: {reason}") from err

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
        return staged_file(self._target) is not None or self._target.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "dataset": self._dataset.get("type"),
            "group": self._group,
        }

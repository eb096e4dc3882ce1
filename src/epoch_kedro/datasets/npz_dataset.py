"""A Kedro dataset for a dict of numpy arrays stored as one ``.npz`` file."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.errors import DamagedFileError, MissingArtifactError
from epoch_kedro.utils.io import atomic_path, refused_pickle


def _damaged(path: Path, key: str | None, exc: BaseException) -> DamagedFileError:
    where = f"array {key!r}" if key is not None else "the archive"
    return DamagedFileError(
        f"{path}: {where} cannot be read (truncated or corrupted: {' '.join(str(exc).split())}); "
        "re-run the pipeline that writes it"
    )


class NpzDataset(AbstractDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """``dict[str, np.ndarray]`` <-> ``.npz``; pickled objects are refused both ways.

    Saving is atomic (temporary file + rename), so an interrupted run never leaves a truncated
    artifact for DVC or the next stage to pick up. ``compress`` trades CPU time for disk.

    Example catalog entry::

        primary_train:
          type: epoch_kedro.datasets.NpzDataset
          filepath: data/05_model_input/train.npz
    """

    def __init__(
        self,
        filepath: str,
        compress: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = PurePosixPath(filepath)
        self._compress = compress
        self.metadata = metadata

    def load(self) -> dict[str, np.ndarray]:
        """Read every array of the file into memory."""
        path = Path(self._filepath)
        if not path.exists():
            raise MissingArtifactError(
                f"{path}: no such file; run the pipeline that writes it first (make run)"
            )
        key = None
        try:
            with np.load(path) as npz:  # numpy refuses pickles by default
                out = {}
                for key in npz.files:
                    out[key] = npz[key]
                return out
        except ValueError as exc:
            if refused_pickle(exc):
                raise DamagedFileError(f"{path}: array {key!r} holds pickled objects, refused "
                                       "(nothing in it was run)") from exc  # fmt: skip
            raise _damaged(path, key, exc) from exc
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise _damaged(path, key, exc) from exc

    def save(self, data: dict[str, np.ndarray]) -> None:
        """Write the arrays atomically."""
        if not isinstance(data, dict):
            raise DatasetError(
                f"NpzDataset '{self._filepath}' expects a dict of arrays, got {type(data).__name__}"
            )
        arrays = {str(k): np.asarray(v) for k, v in data.items()}
        bad = [k for k, v in arrays.items() if v.dtype == object]
        if bad:
            raise DatasetError(f"NpzDataset '{self._filepath}': object arrays not allowed: {bad}")
        writer = np.savez_compressed if self._compress else np.savez
        with atomic_path(self._filepath) as tmp, open(tmp, "wb") as handle:
            writer(handle, **arrays)

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "compress": self._compress}

"""A Kedro dataset for one large array (e.g. all rendered images), memory-mapped on load."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from epoch_kedro.errors import DamagedFileError, MissingArtifactError
from epoch_kedro.utils.io import atomic_path, refused_pickle


class NpyDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """``np.ndarray`` <-> ``.npy``; loads memory-mapped read-only (``mmap: false`` to copy).

    One file instead of thousands of images keeps DVC fast, and memory-mapping lets training read
    batches without holding the whole array in RAM. Saving is atomic; pickles are refused.
    """

    def __init__(self, filepath: str, mmap: bool = True, metadata: dict[str, Any] | None = None):
        self._filepath = PurePosixPath(filepath)
        self._mmap = mmap
        self.metadata = metadata

    def load(self) -> np.ndarray:
        """The array, memory-mapped unless ``mmap`` is false."""
        path = Path(self._filepath)
        if not path.exists():
            raise MissingArtifactError(
                f"{path}: no such file; run the pipeline that writes it first (make run)"
            )
        try:
            return np.load(path, mmap_mode="r" if self._mmap else None)
        except ValueError as exc:
            if refused_pickle(exc):
                raise DamagedFileError(f"{path}: holds pickled objects, refused (nothing in it "
                                       "was run)") from exc  # fmt: skip
            raise _damaged(path, exc) from exc
        except (OSError, EOFError) as exc:
            raise _damaged(path, exc) from exc

    def save(self, data: np.ndarray) -> None:
        """Write the array atomically."""
        array = np.asarray(data)
        if array.dtype == object:
            raise DatasetError(f"NpyDataset '{self._filepath}': object arrays are not allowed")
        with atomic_path(self._filepath) as tmp, open(tmp, "wb") as handle:
            np.save(handle, array)  # object arrays refused above: no pickle

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "mmap": self._mmap}


def _damaged(path: Path, exc: BaseException) -> DamagedFileError:
    detail = " ".join(str(exc).split())
    return DamagedFileError(
        f"{path}: cannot be read as an array (truncated or corrupted: {detail}); re-run the "
        "pipeline that writes it"
    )

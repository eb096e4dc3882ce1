"""Reading third-party dataset files safely, with errors that name the file, key and shape.

The VideoPose3D ``.npz`` files store Python dicts as pickled 0-d object arrays, so a plain
``np.load(..., allow_pickle=True)`` would run whatever a crafted pickle asks for.
``load_npz_objects`` reads the same layout with an unpickler that only rebuilds numpy arrays,
dtypes and scalars (plus the dicts, lists, strings and numbers pickle encodes natively) and
refuses anything else, so loading never executes code from a data file.
"""

from __future__ import annotations

import codecs
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy._core import multiarray

from epoch_kedro.errors import EpochError


class DatasetFormatError(EpochError, ValueError):
    """A dataset file is missing, truncated, or does not hold the documented layout."""


def format_error(path: str | Path, key: str, expected: str, got: str) -> DatasetFormatError:
    """An error naming the file, the key (field) inside it, the expected and the actual value."""
    return DatasetFormatError(f"{path}: key {key!r}: expected {expected}, got {got}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only classes and functions the restricted unpickler resolves."""
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Protocol-2 pickles encode bytes as codecs.encode(str, "latin1"): pure data.
        ("_codecs", "encode"): codecs.encode,
    }
    # Files written by numpy 1.x name "numpy.core", by numpy 2.x "numpy._core".
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and builtin containers; refuses every other global."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays are allowed"
            ) from None


def _read_npy(handle: IO[bytes]) -> Any:
    """One ``.npy`` member: a plain array, or the object a 0-d object array holds."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    if not dtype.hasobject:
        count = int(np.prod(shape))
        array = np.frombuffer(handle.read(count * dtype.itemsize), dtype=dtype)
        if array.size != count:
            raise EOFError(f"array data ends after {array.size} of {count} values")
        return array.reshape(shape, order="F" if fortran else "C").copy()
    obj = _NumpyOnlyUnpickler(handle).load()
    return obj[()] if isinstance(obj, np.ndarray) and obj.shape == () else obj


def load_npz_objects(path: str | Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """``{key: object}`` of the members ``keys`` of an ``.npz`` file (VideoPose3D dict layout).

    Raises ``DatasetFormatError`` naming the file and key when the file is missing, is not a
    readable zip (e.g. truncated), lacks a key, or a member cannot be decoded safely.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found (expected keys {list(keys)})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            out = {}
            for key in keys:
                if key not in members:
                    raise DatasetFormatError(
                        f"{path}: missing key {key!r}; keys present: {sorted(members)}"
                    )
                with archive.open(members[key]) as handle:
                    out[key] = _read_npy(handle)
            return out
    except DatasetFormatError:
        raise
    except pickle.UnpicklingError as exc:
        raise DatasetFormatError(f"{path}: unsafe or corrupt pickled data: {exc}") from exc
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise DatasetFormatError(
            f"{path}: cannot read as .npz (truncated or not an npz file; expected keys "
            f"{list(keys)}): {exc}"
        ) from exc

"""One checkpoint format: a dict of tensors and plain Python values, saved atomically.

Loading uses ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
checkpoint must hold only tensors, numbers, strings, lists, tuples and dicts. Every checkpoint
carries a SHA-256 of its content (:data:`CHECKSUM_KEY`); loading recomputes it, so a file
damaged after it was written (a flipped byte in a weight would otherwise lift NaN poses) is
refused with one line instead of being used.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch

from epoch_kedro.errors import CheckpointError, MissingArtifactError
from epoch_kedro.utils.io import atomic_path

#: Key of the content checksum in a saved checkpoint.
CHECKSUM_KEY = "sha256"


def _digest(value: Any, hasher: Any) -> None:
    """Feed ``value`` (nested dicts, lists, tensors, plain values) to ``hasher``, in a
    deterministic order."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif hasattr(value, "tensor_chunks"):  # a tensor read in chunks: the same bytes as whole
        hasher.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        for chunk in value.tensor_chunks():
            hasher.update(chunk.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        hasher.update(b"D")
        for key in sorted(value, key=repr):
            hasher.update(repr(key).encode())
            _digest(value[key], hasher)
    elif isinstance(value, list | tuple):
        hasher.update(b"L" if isinstance(value, list) else b"U")
        for item in value:
            _digest(item, hasher)
    else:
        hasher.update(repr(value).encode())


def content_hash(state: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's content (its checksum entry left out)."""
    hasher = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != CHECKSUM_KEY}, hasher)
    return hasher.hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` rebuilt with every string interned: pickle writes a string once and refers
    back to it by identity, so a model resumed from a checkpoint (whose strings were read
    back as new objects) would otherwise differ in bytes from one trained without a break."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {_canonical(k): _canonical(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_canonical(v) for v in value)
    return value


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` with its checksum to ``path`` atomically (a crash never leaves a
    truncated checkpoint).

    The bytes depend on ``state`` only: ``torch.save`` names its zip records after the file it
    writes to, and the atomic write's temporary name is random, so serialising to memory first
    keeps identical models byte-identical (DVC hashes them), resumed or not (:func:`_canonical`).
    """
    buffer = io.BytesIO()
    torch.save(_canonical({**state, CHECKSUM_KEY: content_hash(state)}), buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and verify its checksum; one-line errors
    name the file when it is missing, unreadable or damaged."""
    path = Path(path)
    if not path.is_file():
        raise MissingArtifactError(f"no checkpoint at '{path}'; `make run` trains the models")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's advice (weights_only=False) would run it
        raise CheckpointError(f"{path}: refused, it holds pickled objects other than tensors "
                              "and plain values (not a checkpoint this project wrote, or a "
                              "crafted one); nothing in it was run") from exc  # fmt: skip
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupted: "
                              f"{detail})") from exc  # fmt: skip
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint '{path}' holds a {type(state).__name__}, expected a dict"
        )
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is None:
        raise CheckpointError(
            f"{path}: no checksum, so not a checkpoint this project wrote (or one edited by "
            "hand); re-run the pipeline that writes it"
        )
    if stored != content_hash(state):
        raise CheckpointError(f"{path}: checksum mismatch, the file was damaged after it was "
                              "written; re-run the pipeline that writes it")  # fmt: skip
    return state

"""One checkpoint format: a dict of tensors and plain Python values, saved atomically.

Loading uses ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
checkpoint must hold only tensors, numbers, strings, lists, tuples and dicts.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from epoch_kedro.utils.io import atomic_path


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (a crash never leaves a truncated checkpoint).

    The bytes depend on ``state`` only: ``torch.save`` names its zip records after the file it
    writes to, and the atomic write's temporary name is random, so serialising to memory first
    keeps identical models byte-identical (DVC hashes them).
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``), with a clear error if it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at '{path}'")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint '{path}' holds a {type(state).__name__}, expected a dict")
    return state

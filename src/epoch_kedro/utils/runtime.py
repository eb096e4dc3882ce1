"""Device choice and seeding: CUDA when present, else CPU, through the same code path."""

from __future__ import annotations

import random

import numpy as np
import torch


def pick_device(preference: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; otherwise the named device."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{preference}' requested but CUDA is not available")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a CPU generator for data shuffling."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may still draw from the global state
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def set_threads(params: dict) -> None:
    """Apply an optional ``torch_threads`` parameter (0 or absent: torch's default)."""
    threads = int(params.get("torch_threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)

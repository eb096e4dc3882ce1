"""Progress bars for long work, switchable for quiet logs (``EPOCH_PROGRESS=0``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    """Progress bars are on unless ``EPOCH_PROGRESS`` is set to 0/false/no."""
    return os.environ.get("EPOCH_PROGRESS", "1").strip().lower() not in {"0", "false", "no"}


def progress(
    iterable: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "it",
    enabled: bool = True,
) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar on stderr (silent when disabled, here by ``enabled`` or
    for the whole process by ``EPOCH_PROGRESS``; ``set_postfix`` works)."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=not (enabled and progress_enabled()),
        dynamic_ncols=True,
        mininterval=0.5,
    )

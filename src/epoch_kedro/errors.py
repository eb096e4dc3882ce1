"""The project's own errors: bad data, bad parameters, missing, damaged or unwritable artifacts.

Each is raised with one line that names the file, key or parameter and what was expected.
``kedro run`` prints that line alone and exits non-zero (:mod:`epoch_kedro.cli`); the full
traceback is shown with ``EPOCH_VERBOSE=1``. Each also subclasses the built-in error it is a
case of (``ValueError``, ``FileNotFoundError``), so code catching those keeps working.
"""

from __future__ import annotations

import os


class EpochError(Exception):
    """A problem of the inputs, parameters or artifacts, explained in one line."""


class ParameterError(EpochError, ValueError):
    """A run parameter out of range, of the wrong type or not a known choice."""


class CheckpointError(EpochError, ValueError):
    """A model or resume checkpoint that is damaged, or from other data or settings."""


class MissingArtifactError(EpochError, FileNotFoundError):
    """An input of a stage that no run has written yet."""


class DamagedFileError(EpochError, ValueError):
    """A file that exists but cannot be read: truncated, corrupted, or of another format."""


class ImageError(EpochError, ValueError):
    """An image file that cannot be read: not an image, damaged, or more pixels than read."""


class WriteError(EpochError, OSError):
    """An artifact that could not be written (a full disk, a folder where a file goes); the
    previous one is left as it was."""


def verbose() -> bool:
    """Whether full tracebacks were asked for (``EPOCH_VERBOSE=1``)."""
    return os.environ.get("EPOCH_VERBOSE", "").strip().lower() in {"1", "true", "yes"}


def explained(exc: BaseException) -> EpochError | None:
    """The project error behind ``exc`` (Kedro wraps node and dataset errors), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, EpochError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

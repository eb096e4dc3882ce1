"""Atomic file writes: an artifact is either complete on disk or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from epoch_kedro.errors import WriteError


def temporary_beside(target: Path) -> Path:
    """A new empty hidden file in ``target``'s directory (created if needed), with the
    permissions a plain ``open()`` would give, for a write that is renamed onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the artifact the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)
    return tmp


def _sync(path: Path) -> None:
    """Flush ``path`` (a file or a folder) to the disk: a rename that outlives a power cut must
    not point at data still in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The temporary file lives in the target directory so that the final ``os.replace`` is an
    atomic rename on the same filesystem; it is synced before the rename and the folder after.
    A failed write (a full disk, a read-only folder) is a :class:`WriteError` naming ``path``,
    and leaves the previous file as it was.
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        tmp = temporary_beside(target)
        yield tmp
        _sync(tmp)
        os.replace(tmp, target)
        _sync(target.parent)
    except WriteError:
        raise
    except OSError as err:
        raise WriteError(f"cannot write {target}: {err.strerror or err}") from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def refused_pickle(exc: BaseException) -> bool:
    """Whether ``np.load`` refused ``exc``'s file for holding pickled objects (which could run
    code: numpy never unpickles unless asked to, and nothing here asks)."""
    text = str(exc)
    return "Object arrays cannot be loaded" in text or "Python objects" in text

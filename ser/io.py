"""Atomic file writes: a reader never sees half a file, and a failed write loses nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "save_npy"]


def atomic_write(path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    ``os.replace`` is atomic on one file system, so ``path`` holds either its old content or
    the complete new one. On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_npy(path, array: np.ndarray) -> Path:
    """``numpy.save`` made atomic (the file never holds a partial array)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)

    return atomic_write(path, write)

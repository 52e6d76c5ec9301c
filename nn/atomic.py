"""One atomic file write for nn (model files, weight files).

``write_atomically(path, write)`` calls ``write(f)`` on an open binary file that is a
temporary in ``path``'s folder, created with the mode a plain ``open`` gives (0o666 minus
the umask), flushes it to the disk, then moves it into place in one ``os.replace``: ``path``
holds its old content or the complete new one, and on any error the temporary is removed.
(``ser`` writes through its own ``ser.io.atomic_write``, which also sweeps stale temporaries;
``nn`` never imports ``ser``.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path, write: Callable) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

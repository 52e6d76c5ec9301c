"""Atomic, complete outputs: a reader never sees half a file, and a failed write loses nothing.

Every file ``ser`` writes goes through ``atomic_write`` (docs/reliability.md, "Outputs"):

1. the content goes to a temporary file in the destination's own folder, named
   ``.ser-tmp-<host>-<pid>-<random>-<name>``;
2. the file is flushed to the disk (``os.fsync``) and given the mode a plain ``open`` would
   give it, ``0o666 & ~umask`` (``tempfile.mkstemp`` makes 0600 files);
3. ``os.replace`` moves it into place in one step, so the destination holds either its old
   content or the complete new one;
4. the folder is flushed too, where the system allows it, so the rename survives a power cut.

On any error, Ctrl-C included, the temporary file is removed and the destination is
untouched. A ``kill -9`` cannot run that cleanup, so the next write into the same folder
removes the temporary files a dead process left there (its process id is in the name;
a file from another machine, or whose process id was reused, goes when it is an hour old).

A run that writes several files (``ser demo``: the model, report.md and its figures) uses
``StagedOutputs`` so that its outputs change together: see its docstring.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import socket
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "TEMP_PREFIX",
    "atomic_write",
    "save_npy",
    "file_mode",
    "remove_stale_temporaries",
    "StagedOutputs",
    "recover_staged_outputs",
    "display_path",
    "write_text",
    "fallback_path",
    "OutputError",
    "save_model",
    "save_model_or_keep",
    "save_audio",
]

TEMP_PREFIX = ".ser-tmp-"
STALE_SECONDS = 3600.0  # a temporary file nobody can vouch for is stale after an hour
_COMMIT = "COMMIT.json"  # inside a staging folder: the run is complete, publish it
_NAME_MAX = 255  # bytes in one file name on every common file system
_HOST = f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"[:6]
# the names this module leaves (models and audio go through nn.serialization.write_model and
# features.audio.write_audio inside atomic_write, so neither makes a temporary file here)
_TEMP_NAME = re.compile(r"^\.?" + re.escape(TEMP_PREFIX) + r"([0-9a-f]{6})-(\d+)-")
_cleaned: set[str] = set()  # folders already swept by this process


class OutputError(OSError):
    """An output that could not be written, in one line that also says what was kept and
    where (for example the trained model, when the disk filled after training)."""


def display_path(path) -> str:
    """A path as text that any terminal can print: bytes of a file name that are not UTF-8
    become ``\\xNN`` escapes (as ``features.audio`` shows them) instead of an encoding
    error."""
    try:
        raw = os.fsencode(path)  # the bytes of the name, as the file system holds them
    except TypeError:
        raw = str(path).encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def file_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the process's umask."""
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux 4.7+ shows it without changing it
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back
    os.umask(mask)
    return mask


def _temporary_name(path: Path, kind: str = "") -> str:
    """``.ser-tmp-<host>-<pid>-<random>-<stem><suffix>``, at most 255 bytes; the suffix is
    kept because writers pick the format from it (savefig, soundfile, savez)."""
    head = f"{TEMP_PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(4)}-{kind}"
    suffix = path.suffix if len(os.fsencode(path.suffix)) <= 16 else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    for candidate in (stem[:48], ""):
        name = head + candidate + suffix
        if len(os.fsencode(name)) <= _NAME_MAX:
            return name
    return head.rstrip("-")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) is not a probe on Windows: trust the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def _is_stale(entry: os.DirEntry | Path, now: float) -> bool:
    match = _TEMP_NAME.match(entry.name)
    if match is None:
        return False
    host, pid = match.group(1), int(match.group(2))
    if host == _HOST and not _pid_alive(pid):
        return True
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
    except OSError:
        return False


def remove_stale_temporaries(folder, *, force: bool = False) -> list[Path]:
    """Remove the temporary files earlier runs left in ``folder`` (killed before they could
    clean up); return them. Each folder is swept once per process unless ``force``.

    Only files are removed: a staging folder of ``StagedOutputs`` may hold a complete run
    waiting to be published, and ``recover_staged_outputs`` decides its fate.
    """
    folder = Path(folder)
    key = os.fsdecode(os.path.abspath(folder))
    if key in _cleaned and not force:
        return []
    _cleaned.add(key)
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False) or not _is_stale(entry, now):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # someone else removed it, or we may not: not our problem here
    return removed


def _fsync_file(path) -> None:
    flags = os.O_RDONLY if os.name == "posix" else os.O_RDWR | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened (Windows)
    or the file system does not support it."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


def atomic_write(
    path, write: Callable[[Path], None], *, mode: int | None = None, durable: bool = True
) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    Parameters
    ----------
    path : str or os.PathLike
        The destination. Its folder is created if missing. An existing folder at ``path``
        is refused before anything is written.
    write : callable
        ``write(tmp)`` writes the whole content to the path ``tmp`` (same folder, same
        suffix). It may replace ``tmp`` with a new file (``numpy.savez`` callers do).
    mode : int, optional
        The file's permission bits; default ``0o666 & ~umask``, as a plain ``open`` gives.
    durable : bool
        Flush the file and the folder to the disk (``os.fsync``) before and after the
        rename (default). ``False`` skips both for many small files that a later durable
        write covers (``ser synth`` flushes everything once before its manifest).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        Whatever the file system says (disk full, permission denied, read-only, name too
        long), with ``path`` as its ``filename``; the temporary file is gone and ``path``
        holds what it held before.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
    remove_stale_temporaries(folder)
    tmp = folder / _temporary_name(path)
    try:
        # create it with the mode open() would give, then let the writer fill it
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        write(tmp)
        os.chmod(tmp, file_mode() if mode is None else mode)  # a writer may have replaced it
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):  # name the file the user asked for, not our temporary
            if err.filename is None or os.fspath(err.filename) == os.fspath(tmp):
                err.filename = os.fspath(path)
        raise
    if durable:
        _fsync_folder(folder)
    return path


def write_text(path, text: str, **options) -> Path:
    """``Path.write_text`` (UTF-8) made atomic."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), **options)


def save_npy(path, array: np.ndarray, **options) -> Path:
    """``numpy.save`` made atomic (the file never holds a partial array)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)

    return atomic_write(path, write, **options)


class StagedOutputs:
    """The outputs of one run, written aside and then published together.

    A run that writes several files that describe each other (``ser demo``: ``model.npz``,
    ``report.md`` and the figures of that model) must never leave the new model beside the
    old report. So:

    1. ``StagedOutputs(out, names)`` first finishes or discards whatever an interrupted
       run left in ``out`` (``recover_staged_outputs``), then makes a staging folder
       ``out/.ser-tmp-<host>-<pid>-<random>-run/``: the same file system, so a move into
       ``out`` is one rename;
    2. the run writes each output to ``staged.path(name)`` (atomically, flushed);
    3. ``publish()`` writes ``COMMIT.json`` into the staging folder, listing the files to
       move and the old outputs to remove (names in ``names`` this run did not write, such
       as an older run's ``filters.png``). That write is the commit point: before it,
       ``out`` holds the old outputs untouched; after it, the new outputs are decided.
       Then each file is renamed into ``out``, the old extras are removed, the staging
       folder goes, and ``out`` is flushed;
    4. ``discard()`` (or leaving the ``with`` block by an exception) removes the staging
       folder: the old outputs stay as they were.

    A ``kill -9`` before the commit leaves a staging folder without ``COMMIT.json``, which
    the next run into ``out`` deletes. A kill during the renames (microseconds) leaves a
    committed staging folder, which the next run finishes before it starts. While two runs
    publish into one ``out`` at once, a lock on the folder (POSIX ``flock``) orders them.
    """

    def __init__(self, out, names: Iterable[str]):
        self.out = Path(out)
        self.names = tuple(names)
        self.out.mkdir(parents=True, exist_ok=True)
        self.recovered = recover_staged_outputs(self.out)
        self.folder = self.out / _temporary_name(Path(""), kind="run")
        try:
            self.folder.mkdir()
        except OSError as err:  # read-only, full, not ours: say so of the folder asked for
            err.filename = os.fspath(self.out)
            raise
        self.published: list[Path] | None = None
        self.committed = False

    def path(self, name: str) -> Path:
        """Where to write the output ``name`` (one of ``names``) before it is published."""
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of this run's outputs {self.names}")
        return self.folder / name

    def publish(self) -> list[Path]:
        """Move every staged output into ``out`` in one committed step; return their paths."""
        written = [n for n in self.names if (self.folder / n).is_file()]
        record = {"publish": written, "remove": [n for n in self.names if n not in written]}
        with _folder_lock(self.out):
            write_text(self.folder / _COMMIT, json.dumps(record) + "\n")  # the commit point
            self.committed = True  # from here on the staging folder is never discarded
            _fsync_folder(self.folder)
            _roll_forward(self.folder)
        self.published = [self.out / n for n in written]
        return self.published

    def discard(self) -> None:
        """Remove the staging folder and everything in it; ``out`` stays as it was. A
        committed folder is kept: the next run into ``out`` finishes publishing it."""
        if not self.committed:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.discard()  # after publish() the folder is gone already


def _roll_forward(folder: Path) -> None:
    """Finish publishing a committed staging folder (idempotent: safe to run again after a
    kill at any point inside it)."""
    out = folder.parent
    record = json.loads((folder / _COMMIT).read_text(encoding="utf-8"))
    for name in record["publish"]:
        if (folder / name).is_file():
            os.replace(folder / name, out / name)
    for name in record["remove"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out / name)
    _fsync_folder(out)
    # empty the staging folder, the commit record last: while it exists, running this again
    # is safe, and once it is gone nothing is left to move
    for entry in os.scandir(folder):
        if entry.name != _COMMIT:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / _COMMIT)
    with contextlib.suppress(OSError):
        os.rmdir(folder)
    _fsync_folder(out)


def recover_staged_outputs(out) -> list[str]:
    """Finish (committed) or delete (uncommitted) the staging folders that dead runs left
    in ``out``; a live run's folder is left alone. Returns what was done, one line each."""
    out = Path(out)
    done = []
    try:
        entries = [e for e in os.scandir(out) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return done
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not entry.name.endswith("-run") or not _is_stale(entry, now):
            continue
        folder = Path(entry.path)
        with _folder_lock(out):
            if not folder.exists():  # another process recovered it meanwhile
                continue
            if (folder / _COMMIT).is_file():
                _roll_forward(folder)
                done.append(f"finished publishing the outputs of an interrupted run ({folder})")
            else:
                shutil.rmtree(folder, ignore_errors=True)
                done.append(f"removed the unfinished outputs of an interrupted run ({folder})")
    return done


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive ``flock`` on the folder itself (no lock file is left in it); no lock
    where ``fcntl`` or folder descriptors do not exist."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # file systems without flock (some network mounts): go on unlocked
        yield
    finally:
        os.close(fd)  # closing releases the lock


def fallback_path(name: str) -> Path:
    """A fresh path in the system's temporary folder for an output that could not be
    written where it was asked (``ser-<stem>-<time>-<pid><suffix>``)."""
    import tempfile

    p = Path(name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"ser-{p.stem}-{stamp}-{os.getpid()}{p.suffix}"


def save_model(model, path) -> Path:
    """``nn.serialization.write_model`` through ``atomic_write``: fsync, the umask's mode, and
    a temporary file that the next write sweeps if a kill leaves it."""
    from nn.serialization import write_model

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write_model(model, f)

    return atomic_write(path, write)


def save_audio(path, y, sr: int, *, subtype: str | None = None, durable: bool = True) -> Path:
    """``features.audio.write_audio`` through ``atomic_write``: the umask's mode, fsync unless
    ``durable`` is False (a writer of many files flushes them all at once), and a temporary
    file that the next write into the folder sweeps if a kill leaves it."""
    from features.audio import write_audio

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write_audio(f, y, sr, name=path, subtype=subtype)

    return atomic_write(path, write, durable=durable)


def save_model_or_keep(model, path, *, failed=None, kept_note: str = "") -> Path:
    """Save a trained model; when ``path`` cannot take it (a full disk, a folder that cannot
    be written), save it in the system's temporary folder instead and raise ``OutputError``
    saying where, so hours of training are never lost to a full disk.

    ``failed(err)`` words the first failure (default: "cannot write PATH: REASON");
    ``kept_note`` is said before where the model was kept.
    """
    try:
        return save_model(model, path)
    except OSError as first:
        what = failed(first) if failed else (
            f"cannot write {display_path(first.filename or path)}: {first.strerror or first}"
        )  # fmt: skip
        try:
            kept = save_model(model, fallback_path(Path(path).name))
        except OSError as second:
            raise OutputError(
                f"{what}; the trained model could not be saved elsewhere either "
                f"({second.strerror or second})"
            ) from first
        raise OutputError(f"{what}; {kept_note}the trained model is saved at "
                          f"{display_path(kept)}") from first  # fmt: skip

"""From a corpus to cached features: MFCC, log-mel and frame energies of every utterance.

- Features are cached on disk, one ``.npy`` per utterance and kind, keyed by a SHA-256 of the
  audio, of the feature config and of the kind: a file's bytes, or, for a synthetic utterance
  that has no file, its recipe (voice, sentence, style, seed) and the synthesiser's version,
  which fix its samples. A second run skips both synthesis and extraction.
- Every entry read from the cache is verified before it is used (``_read_entry``: a regular
  file, a .npy header of float64 and of the shape its kind implies read before the data, the
  size that shape needs, finite values, and the SHA-256 kept beside it in ``<entry>.sha256``);
  a bad entry is rebuilt with one warning line naming it. A cache folder that cannot be used
  (``SER_CACHE`` naming a file, a read-only folder, a full disk) costs one warning line and
  the features are computed without it (docs/reliability.md, "The feature cache").
- What a network then reads (deltas, normalisation, crops) is built from them by
  ``ser.inputs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from features import (
    MFCCConfig,
    frame_energy_db,
    log_mel_batch,
    mfcc_batch,
)
from ser.corpus.records import Utterance

__all__ = [
    "FEATURE_KINDS",
    "compute_features",
    "extract",
    "extract_features",
    "default_cache_dir",
    "SYNTH_VERSION",
]

SYNTH_VERSION = "voice-1"  # change when ser.corpus changes what a recipe sounds like
CACHE_FORMAT = 2  # 2: every entry has a checksum beside it; entries of format 1 are not read
MAX_CACHED_FRAMES = 2**24
"""Frames an entry may claim (46 hours at the 10 ms hop): more is a damaged header, refused
before the data is read. The entry's size must also be exactly what its shape needs."""


def default_cache_dir() -> Path:
    """$SER_CACHE, else $XDG_CACHE_HOME/ser-course/features, else ~/.cache/ser-course/features."""
    if os.environ.get("SER_CACHE"):
        return Path(os.environ["SER_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ser-course" / "features"


def _recipe_fingerprint(utt: Utterance) -> str:
    keywords = getattr(utt.render, "keywords", None)
    if keywords is None:
        raise ValueError(f"utterance {utt.id}: no file and no recipe to identify its audio by")
    return json.dumps({"synth": SYNTH_VERSION, **{k: repr(v) for k, v in sorted(keywords.items())}})


FEATURE_KINDS = ("mfcc", "logmel", "energy")
"""What ``extract`` computes per utterance: "mfcc" (T, n_mfcc), "logmel" (T, n_mels) (M1-M6),
"energy" (T,) frame energies in dBFS for voice activity (VAD-1), all on the same frames."""


def _audio_digest(utt: Utterance) -> bytes:
    """What identifies an utterance's samples: its file's bytes, or its synthesis recipe.

    The file is read in blocks through ``features.audio.open_audio_file``, so a FIFO, a
    folder or an unreadable file is an ``AudioError`` naming it, never a hang or an OSError.
    """
    if utt.path is not None:
        from features.audio import AudioError, open_audio_file, path_for_message

        h = hashlib.sha256()
        with open_audio_file(utt.path) as f:
            try:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            except OSError as err:  # an I/O error halfway through
                name = path_for_message(utt.path)
                raise AudioError(f"{name}: cannot be read ({err.strerror})") from None
        return h.digest()
    return hashlib.sha256(_recipe_fingerprint(utt).encode()).digest()


def _key(digest: bytes, config: MFCCConfig, sr: int, kind: str) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {"config": config.to_dict(), "sr": sr, "kind": kind, "cache": CACHE_FORMAT},
            sort_keys=True,
        ).encode()
    )
    h.update(digest)
    return h.hexdigest()


# ---- verified cache entries ----------------------------------------------------------------
class _BadEntry(Exception):
    """A cache entry that must not be used; the message says why, in words."""


def _sidecar(entry: Path) -> Path:
    return entry.with_name(entry.name + ".sha256")


def _entry_width(kind: str, config: MFCCConfig) -> int | None:
    """The second dimension an entry of ``kind`` must have; None: the entry is 1-D (T,)."""
    return {"mfcc": config.n_mfcc, "logmel": config.n_mels}.get(kind)


def _read_small(path: Path, limit: int) -> bytes | None:
    """The bytes of a small regular file, None if it does not exist; _BadEntry otherwise."""
    fd, st = _open_entry(path)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise _BadEntry(f"{path.name} is not a checksum file")
        return f.read(limit)


def _open_entry(path: Path) -> tuple[int | None, os.stat_result | None]:
    """A descriptor (opened without blocking, so a FIFO costs nothing) and its status, or
    (None, None) if there is no such file; ``_BadEntry`` for a folder or an unreadable file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None, None  # no entry: computed, not worth a warning
    except IsADirectoryError:  # Windows, and some systems, refuse to open a folder
        raise _BadEntry("is a folder, not a cache entry") from None
    except OSError as err:
        raise _BadEntry(f"cannot be read ({err.strerror})") from None
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise _BadEntry("is a folder, not a cache entry")
    return fd, st


def _read_entry(entry: Path, kind: str, config: MFCCConfig) -> np.ndarray | None:
    """A verified cache entry, or None if there is none; ``_BadEntry`` if it is damaged.

    Checked in this order, so that nothing is allocated for a hostile header: a regular
    file; the .npy magic and header (``numpy.lib.format``, header at most 10 kB); dtype
    float64; the shape its kind implies ((T, n_mfcc), (T, n_mels) or (T,), with
    1 <= T <= MAX_CACHED_FRAMES); a file size of exactly header + 8 x the shape's size;
    then the bytes, their SHA-256 against ``<entry>.sha256``, and finite values.
    """
    fd, st = _open_entry(entry)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(st.st_mode):
            raise _BadEntry("is not a regular file")
        if st.st_size == 0:
            raise _BadEntry("is empty (0 bytes)")
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version}")
        except (ValueError, OSError, SyntaxError, EOFError) as err:
            raise _BadEntry(f"is not a .npy array ({err})") from None
        if dtype != np.dtype(np.float64):
            raise _BadEntry(f"holds {dtype} values, not float64")
        if fortran:
            raise _BadEntry("is in Fortran order; the cache writes C order")
        width = _entry_width(kind, config)
        want = "(T,)" if width is None else f"(T, {width})"
        if (width is None and len(shape) != 1) or (width is not None and shape[1:] != (width,)):
            raise _BadEntry(f"has shape {shape}; a {kind!r} entry is {want}")
        if not 1 <= shape[0] <= MAX_CACHED_FRAMES:
            raise _BadEntry(
                f"claims {shape[0]} frames; a {kind!r} entry has 1..{MAX_CACHED_FRAMES}"
            )
        start = f.tell()
        needed = start + 8 * int(np.prod(shape))
        if st.st_size != needed:
            raise _BadEntry(f"holds {st.st_size} bytes, its header's shape {shape} needs {needed}")
        f.seek(0)
        data = bytearray(st.st_size)
        if f.readinto(data) != st.st_size:
            raise _BadEntry("changed while it was read")
    recorded = _read_small(_sidecar(entry), 1024)
    if recorded is None:
        raise _BadEntry(f"has no checksum ({_sidecar(entry).name} is missing)")
    if recorded.strip() != _checksum(shape, memoryview(data)[start:]).encode():
        raise _BadEntry(f"does not match its checksum in {_sidecar(entry).name}")
    array = np.frombuffer(data, dtype=np.float64, offset=start).reshape(shape)
    if not np.isfinite(array).all():
        raise _BadEntry(f"holds {int(np.sum(~np.isfinite(array)))} NaN or Inf values")
    return array


def _write_entry(entry: Path, features: np.ndarray) -> None:
    """The checksum file, then the entry, each written atomically (``ser.io``). A crash
    between the two leaves a checksum without an entry, which reads as no entry."""
    from ser.io import atomic_write, save_npy

    array = np.ascontiguousarray(features, dtype=np.float64)
    digest = _checksum(array.shape, memoryview(array).cast("B"))
    atomic_write(_sidecar(entry), lambda tmp: tmp.write_text(digest + "\n"))
    save_npy(entry, array)


def _checksum(shape: tuple[int, ...], data) -> str:
    """SHA-256 of an entry's shape and its samples' bytes (C order, native float64)."""
    h = hashlib.sha256(repr(tuple(int(n) for n in shape)).encode())
    h.update(data)
    return h.hexdigest()


def _discard(entry: Path) -> bool:
    """Remove a bad entry and its checksum so it can be rebuilt; False if it cannot be (a
    folder that is not empty is left alone: the cache never deletes what it did not write)."""
    ok = True
    for path in (entry, _sidecar(entry)):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        except OSError:
            ok = False
    return ok


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def compute_features(kind: str, signals, config: MFCCConfig) -> list[np.ndarray]:
    """Features of one kind (``FEATURE_KINDS``) of mono signals at ``config.sample_rate``."""
    if kind == "mfcc":
        return mfcc_batch(signals, sr=config.sample_rate, config=config)
    if kind == "logmel":
        return log_mel_batch(signals, sr=config.sample_rate, config=config)
    return [frame_energy_db(y, config=config) for y in signals]


def extract(
    utterances: Sequence[Utterance],
    *,
    config: MFCCConfig | None = None,
    kinds: Sequence[str] = ("mfcc",),
    cache_dir: Path | None = None,
    progress=None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[np.ndarray]]:
    """Features of every utterance, one list per kind, from the cache when possible.

    Each utterance's audio is read (or synthesised) at most once, whatever the number of
    kinds, and only when one of its kinds is not in the cache. Every entry read from the
    cache is verified (``_read_entry``); a bad one is rebuilt with one warning naming it.

    Parameters
    ----------
    utterances : sequence of Utterance
    config : MFCCConfig, optional
        Default: the course's "default" preset at 16 kHz. Every kind uses its framing.
    kinds : sequence of {"mfcc", "logmel", "energy"}
    cache_dir : Path, optional
        Default ``default_cache_dir()``; ``False`` disables the cache.
    progress : callable(done, total), optional
    log : callable(str), optional
        Receives each warning about the cache as one line (a bad entry and that it is
        rebuilt; a cache folder that cannot be used). Default: ``warning: ...`` on stderr.

    Returns
    -------
    dict kind -> list of ndarray, in the order of ``utterances``: (T_i, n_mfcc), (T_i, n_mels)
    or (T_i,), float64, with the same T_i for every kind of one utterance.

    Raises
    ------
    features.AudioError
        For an unreadable file, naming it.

    Notes
    -----
    The cache never stops a run: a ``cache_dir`` that is a file or cannot be read is not
    used, and the first entry that cannot be written (read-only folder, full disk) turns
    writing off for the rest of the run, each with one warning. Writes are atomic
    (``ser.io``), so a failed one leaves no partial entry.
    """
    unknown = [k for k in kinds if k not in FEATURE_KINDS]
    if unknown:
        raise ValueError(f"unknown feature kind(s) {unknown}; choose from {FEATURE_KINDS}")
    config = config or MFCCConfig()
    log = log or _warn
    sr = config.sample_rate
    cache = (
        None if cache_dir is False else _usable_cache(Path(cache_dir or default_cache_dir()), log)
    )
    from features.audio import path_for_message

    writable = cache is not None
    stuck: set[Path] = set()  # bad entries that could not be removed: never written to
    out = {kind: [None] * len(utterances) for kind in kinds}
    digests = [_audio_digest(u) for u in utterances] if cache else None

    def entry_of(i: int, kind: str) -> Path:
        return _entry(cache, _key(digests[i], config, sr, kind))

    todo: list[tuple[int, list[str]]] = []  # (utterance, the kinds it still needs)
    for i in range(len(utterances)):
        missing = []
        for kind in kinds:
            if cache is not None:
                entry = entry_of(i, kind)
                try:
                    out[kind][i] = _read_entry(entry, kind, config)
                except _BadEntry as why:
                    if _discard(entry):
                        log(f"feature cache: {path_for_message(entry)} {why}; rebuilding it")
                    else:
                        stuck.add(entry)
                        log(
                            f"feature cache: {path_for_message(entry)} {why}; it cannot be "
                            "removed, so the features are computed without it"
                        )
            if out[kind][i] is None:
                missing.append(kind)
        if missing:
            todo.append((i, missing))
    for start in range(0, len(todo), 64):
        chunk = todo[start : start + 64]
        signals = {i: utterances[i].audio(sr) for i, _ in chunk}
        for kind in kinds:
            wanted = [i for i, missing in chunk if kind in missing]
            if wanted:
                computed = compute_features(kind, [signals[i] for i in wanted], config)
                for i, feats in zip(wanted, computed, strict=True):
                    out[kind][i] = feats
        for i, missing in chunk:  # a cached kind must have the frames of the computed ones
            frames = out[missing[0]][i].shape[0]
            for kind in kinds:
                if kind not in missing and out[kind][i].shape[0] != frames:
                    log(
                        f"feature cache: {path_for_message(entry_of(i, kind))} has "
                        f"{out[kind][i].shape[0]} frames, {utterances[i].id} has {frames}; "
                        "rebuilding it"
                    )
                    out[kind][i] = compute_features(kind, [signals[i]], config)[0]
                    missing.append(kind)
            for kind in missing:
                if writable and entry_of(i, kind) not in stuck:
                    writable = _store(entry_of(i, kind), out[kind][i], log)
        if progress is not None:
            progress(min(start + 64, len(todo)), len(todo))
    return out  # type: ignore[return-value]


_WITHOUT = "features are computed without the cache"


def _usable_cache(cache: Path, log: Callable[[str], None]) -> Path | None:
    """``cache`` if it is (or can become) a folder to read entries from, else None and one
    warning: ``SER_CACHE`` naming a file, or a folder this user may not open."""
    from features.audio import path_for_message

    name = path_for_message(cache)
    try:
        st = os.stat(cache)
    except FileNotFoundError:
        return cache  # made on the first write
    except OSError as err:
        log(f"feature cache {name}: cannot be used ({err.strerror}); {_WITHOUT}")
        return None
    if not stat.S_ISDIR(st.st_mode):
        log(f"feature cache {name}: is not a folder; {_WITHOUT}")
        return None
    if not os.access(cache, os.R_OK | os.X_OK):
        log(f"feature cache {name}: cannot be read (permission denied); {_WITHOUT}")
        return None
    return cache


def _store(entry: Path, features: np.ndarray, log: Callable[[str], None]) -> bool:
    """Write one entry; on failure warn once and return False (write no more this run)."""
    try:
        _write_entry(entry, features)
    except OSError as err:
        try:  # a checksum written before the entry failed: harmless, but tidy it
            _sidecar(entry).unlink(missing_ok=True)
        except OSError:
            pass
        why = err.strerror or str(err)
        log(
            f"feature cache: cannot write {entry} ({why}); the features are computed "
            "without caching them for the rest of this run"
        )
        return False
    return True


def _entry(cache: Path, key: str) -> Path:
    return cache / key[:2] / f"{key}.npy"


def extract_features(
    utterances: Sequence[Utterance],
    *,
    config: MFCCConfig | None = None,
    cache_dir: Path | None = None,
    progress=None,
) -> list[np.ndarray]:
    """MFCCs (T_i, n_mfcc) of every utterance, from the cache when possible (``extract``
    with the one kind "mfcc")."""
    return extract(
        utterances, config=config, kinds=("mfcc",), cache_dir=cache_dir, progress=progress
    )["mfcc"]

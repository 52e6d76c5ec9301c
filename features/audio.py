"""Reading and writing audio files: every bad file gives one clear error naming it.

Shape letters (docs/conventions.md): S samples, K channels.

A waveform in this project is a float64 array of shape (S,) in full-scale units (integer PCM is
scaled to [-1, 1), float files are read as stored), at a sample rate in Hz.
"""

from __future__ import annotations

import os
import struct
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

__all__ = ["AudioError", "load_audio", "save_audio", "check_signal", "resample"]


class AudioError(ValueError):
    """A file or signal that cannot be used as audio; the message names it and what was wrong."""


def _wav_declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """Return (declared, available) byte counts of a RIFF/WAVE ``data`` chunk, or None.

    libsndfile silently shortens a WAV whose ``data`` chunk is cut off, so the header is read
    here to catch a truncated download. Streaming writers put 0 or 0xFFFFFFFF in the size when
    they do not know it: those files, and anything that is not plain RIFF/WAVE, return None.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):
                    return None
                return chunk_size, size - (offset + 8)
            offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even length
    return None


def check_signal(y: np.ndarray, *, name: str = "signal") -> np.ndarray:
    """Return ``y`` as a float64 array after checking it holds usable samples.

    Parameters
    ----------
    y : array_like, shape (S,) or (S, K)
        Samples in full-scale units.
    name : str
        What to call the signal in an error message (a file name, or "signal").

    Returns
    -------
    y : ndarray, float64, same shape

    Raises
    ------
    AudioError
        If ``y`` has no samples, more than two dimensions, or NaN / Inf values.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2):
        raise AudioError(f"{name}: expected samples shaped (S,) or (S, K), got shape {y.shape}")
    if y.shape[0] == 0:
        raise AudioError(f"{name}: has zero samples")
    bad = ~np.isfinite(y)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(y.shape[0], -1).any(axis=1))[0])
        raise AudioError(
            f"{name}: has {int(bad.sum())} NaN or Inf samples (the first at sample {first})"
        )
    return y


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along axis 0 by the rational factor target_sr / orig_sr.

    Uses ``scipy.signal.resample_poly`` (polyphase FIR with a Kaiser window), reducing the
    factor by the greatest common divisor first: 44100 -> 16000 is up 160, down 441.

    Parameters
    ----------
    y : ndarray, shape (S,) or (S, K)
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    ndarray, shape (ceil(S * target_sr / orig_sr),) or with K columns, float64
    """
    if orig_sr == target_sr:
        return y
    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(y, int(target_sr) // g, int(orig_sr) // g, axis=0)


def load_audio(path, *, sr: int | None = 16000, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read a WAV, FLAC or OGG file as float64 samples, down-mixed and resampled.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    sr : int or None
        Target sample rate in Hz; the file is resampled to it when it differs
        (``scipy.signal.resample_poly``). None keeps the file's own rate.
    mono : bool
        True averages the channels into one (down-mix). False keeps them.

    Returns
    -------
    y : ndarray, float64, shape (S,) if ``mono`` else (S, K)
        Integer PCM scaled to [-1, 1); float files as stored.
    sr : int
        The sample rate of ``y`` in Hz.

    Raises
    ------
    AudioError
        Naming the file, if it is missing, empty, not audio or corrupt, truncated (its header
        promises more samples than it holds), has zero samples, or has NaN / Inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: is empty (0 bytes)")
    try:
        sound = sf.SoundFile(str(path))
    except sf.LibsndfileError as err:  # no header libsndfile knows, or a broken one
        raise AudioError(f"{path}: not a readable audio file ({err.error_string})") from err
    with sound:
        declared_frames, native_sr, channels = sound.frames, sound.samplerate, sound.channels
        try:
            y = sound.read(dtype="float64", always_2d=True)
        except RuntimeError as err:  # the header was fine, the samples after it are not
            raise AudioError(f"{path}: corrupt or truncated audio data ({err})") from err

    if y.shape[0] < declared_frames:
        raise AudioError(
            f"{path}: truncated: the header promises {declared_frames} samples, "
            f"the file holds {y.shape[0]}"
        )
    wav = _wav_declared_data_bytes(path)
    if wav is not None and wav[1] < wav[0]:
        raise AudioError(
            f"{path}: truncated: the WAV header promises {wav[0]} bytes of samples, "
            f"the file holds {wav[1]}"
        )
    y = check_signal(y, name=str(path))  # zero samples, NaN, Inf
    if mono:
        y = y.mean(axis=1)  # down-mix: the average keeps full scale at full scale
    elif channels == 1:
        y = y[:, :1]
    if sr is not None and sr != native_sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr)
        native_sr = sr
    return np.ascontiguousarray(y), int(native_sr)


def save_audio(path, y: np.ndarray, sr: int, *, subtype: str | None = None) -> Path:
    """Write samples to an audio file atomically (a reader never sees half a file).

    The samples go to a temporary file in the same folder, which then replaces ``path`` in one
    ``os.replace``; on any error the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the format follows the extension (.wav, .flac, .ogg).
    y : ndarray, shape (S,) or (S, K)
        Samples in full-scale units.
    sr : int
        Sample rate in Hz.
    subtype : str, optional
        A soundfile subtype such as "PCM_16" (the WAV default) or "FLOAT".

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    AudioError
        If ``y`` is empty or not finite, or peaks above full scale while the subtype stores
        integers (those samples would be clipped: normalise first or pass subtype="FLOAT").
    """
    path = Path(path)
    y = check_signal(y, name=str(path))
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise AudioError(f"{path}: unknown audio format {path.suffix!r}; use .wav, .flac or .ogg")
    subtype = subtype or sf.default_subtype(fmt)
    peak = float(np.max(np.abs(y)))
    if subtype.startswith("PCM") and peak > 1.0:
        raise AudioError(
            f"{path}: peak {peak:.3f} exceeds full scale 1.0 and {subtype} would clip it; "
            "normalise the signal first or write subtype='FLOAT'"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, y, int(sr), subtype=subtype, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

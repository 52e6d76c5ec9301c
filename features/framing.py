"""Pre-emphasis (M1), framing and analysis windows (M2).

Shape letters (docs/conventions.md): S samples, T frames, L window (frame) length in samples.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from features.audio import AudioError

__all__ = ["preemphasis", "frame_signal", "frame_view", "n_frames", "get_window", "WINDOWS"]

WINDOWS = ("hamming", "hann", "rectangular")


def preemphasis(y: np.ndarray, *, coeff: float = 0.97) -> np.ndarray:
    """First-order high-pass filter that lifts the high frequencies speech loses.

    Math (docs/features.md, eq. M1)::

        y'[0] = y[0]
        y'[n] = y[n] - coeff * y[n-1]          n = 1 .. S-1

    Parameters
    ----------
    y : ndarray, shape (S,)
        Samples in full-scale units.
    coeff : float
        The pre-emphasis coefficient alpha; 0 returns a copy of ``y``.

    Returns
    -------
    ndarray, shape (S,), float64

    Notes
    -----
    The first sample is kept as it is (python_speech_features, HTK's ``PREEMCOEF`` treats it the
    same way up to a factor 1 - alpha); scipy's ``lfilter([1, -a], 1, y)`` gives the same result.
    """
    y = np.asarray(y, dtype=np.float64)
    # BEGIN SOLUTION ex=M1
    out = np.empty_like(y)
    out[:1] = y[:1]
    out[1:] = y[1:] - coeff * y[:-1]  # eq. M1
    return out
    # END SOLUTION


def n_frames(n_samples: int, *, win_length: int, hop_length: int, pad_end: bool = False) -> int:
    """Number of analysis frames cut from ``n_samples`` samples.

    Math (docs/features.md, eq. M2-count)::

        T = 1 + floor((S - L) / H)            pad_end=False (drop the partial last frame)
        T = 1 + ceil((S - L) / H)             pad_end=True  (zero-pad it, python_speech_features)

    Both require S >= L: a clip shorter than one frame is rejected by ``frame_signal``.
    """
    # BEGIN SOLUTION ex=M2
    if pad_end:
        return 1 + -(-(n_samples - win_length) // hop_length)
    return 1 + (n_samples - win_length) // hop_length
    # END SOLUTION


def frame_signal(
    y: np.ndarray,
    *,
    win_length: int,
    hop_length: int,
    center: bool = False,
    pad_end: bool = False,
    sr: float | None = None,
) -> np.ndarray:
    """Cut a signal into overlapping frames, one frame per row.

    Math (docs/features.md, eq. M2)::

        frames[m, n] = y[m * H + n]        m = 0 .. T-1,  n = 0 .. L-1

    Parameters
    ----------
    y : ndarray, shape (S,)
        Samples.
    win_length : int
        L, samples per frame.
    hop_length : int
        H, samples between the starts of consecutive frames.
    center : bool
        Zero-pad L // 2 samples on both sides first, so that frame m is centred on sample m * H
        (librosa's ``center=True`` with ``pad_mode="constant"``).
    pad_end : bool
        Zero-pad the end so that the last, partial frame is kept (python_speech_features).
    sr : float, optional
        Sample rate in Hz, only used to say the frame length in ms in an error message.

    Returns
    -------
    frames : ndarray, shape (T, L), float64
        A fresh array (not a view of ``y``); T follows eq. M2-count on the padded length.

    Raises
    ------
    AudioError
        If the signal is shorter than one frame (both lengths are in the message), or the
        lengths are not positive.
    """
    return frame_view(
        y, win_length=win_length, hop_length=hop_length, center=center, pad_end=pad_end, sr=sr
    ).copy()


def frame_view(y, *, win_length, hop_length, center=False, pad_end=False, sr=None):
    """``frame_signal`` without the copy: a read-only strided view, shape (T, L).

    The fast MFCC path reads frames block by block from this view, so the (T, L) frame matrix
    is never written out in full. Arguments and errors as ``frame_signal``.
    """
    y = np.asarray(y, dtype=np.float64)
    if win_length < 1 or hop_length < 1:
        raise ValueError(f"win_length and hop_length must be >= 1, got {win_length}, {hop_length}")
    if y.ndim != 1:
        raise AudioError(f"signal: expected one channel shaped (S,), got shape {y.shape}")
    if y.shape[0] < win_length:
        ms = f" ({1000.0 * win_length / sr:g} ms at {sr:g} Hz)" if sr else ""
        raise AudioError(
            f"signal: {y.shape[0]} samples is shorter than one analysis frame of "
            f"{win_length} samples{ms}"
        )
    if center:
        y = np.pad(y, (win_length // 2, win_length // 2))
    count = n_frames(y.shape[0], win_length=win_length, hop_length=hop_length, pad_end=pad_end)
    needed = (count - 1) * hop_length + win_length
    if needed > y.shape[0]:
        y = np.pad(y, (0, needed - y.shape[0]))
    # every hop-th window of the signal, without copying a sample
    # BEGIN SOLUTION ex=M2
    return sliding_window_view(y, win_length)[::hop_length][:count]  # eq. M2
    # END SOLUTION


def get_window(name: str, length: int, *, periodic: bool = False) -> np.ndarray:
    """An analysis window w[n], n = 0 .. L-1.

    Math (docs/features.md, eq. M2-window), with D = L - 1 (symmetric) or D = L (periodic)::

        hamming       w[n] = 0.54 - 0.46 cos(2 pi n / D)
        hann          w[n] = 0.5  - 0.5  cos(2 pi n / D)
        rectangular   w[n] = 1

    Parameters
    ----------
    name : {"hamming", "hann", "rectangular"}
    length : int
        L, samples.
    periodic : bool
        False gives the symmetric window used for filter design and by HTK and
        ``numpy.hamming``; True gives the periodic ("DFT-even") window that librosa and
        ``scipy.signal.get_window`` use, which is the symmetric window of length L + 1 without
        its last sample.

    Returns
    -------
    ndarray, shape (L,), float64
    """
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}; choose one of {WINDOWS}")
    if length < 1:
        raise ValueError(f"window length must be >= 1, got {length}")
    if name == "rectangular":
        return np.ones(length)
    # BEGIN SOLUTION ex=M2
    denom = length if periodic else length - 1
    if denom == 0:  # a one-sample symmetric window is the single value 1
        return np.ones(1)
    a0 = 0.54 if name == "hamming" else 0.5
    n = np.arange(length)
    return a0 - (1.0 - a0) * np.cos(2.0 * np.pi * n / denom)  # eq. M2-window
    # END SOLUTION

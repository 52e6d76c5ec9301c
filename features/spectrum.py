"""The discrete Fourier transform three ways, and the short-time power spectrum (M3).

Shape letters (docs/conventions.md): T frames, L frame length, N FFT length, B = N // 2 + 1 bins.

- ``dft``: the O(N^2) definition as a matrix product, to read.
- ``fft_radix2``: a hand-written iterative radix-2 FFT compiled with Numba, O(N log N), the
  teaching twin of ``numpy.fft.fft``.
- ``power_spectrum`` / ``magnitude_spectrum``: what the pipeline runs, through ``scipy.fft``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numba import njit

__all__ = [
    "dft_matrix",
    "dft",
    "fft_radix2",
    "stft",
    "power_spectrum",
    "magnitude_spectrum",
]


@lru_cache(maxsize=16)
def _dft_matrix_cached(n: int) -> np.ndarray:
    k = np.arange(n)
    m = np.exp(-2j * np.pi * np.outer(k, k) / n)  # eq. M3-dft
    m.setflags(write=False)
    return m


def dft_matrix(n: int) -> np.ndarray:
    """The N x N DFT matrix F[k, n] = exp(-2 pi j k n / N).

    Math (docs/features.md, eq. M3-dft)::

        X[k] = sum_{n=0}^{N-1} x[n] exp(-2 pi j k n / N),    X = F x

    Returns
    -------
    ndarray, shape (N, N), complex128 (a fresh, writeable copy)
    """
    if n < 1:
        raise ValueError(f"DFT length must be >= 1, got {n}")
    return _dft_matrix_cached(int(n)).copy()


def dft(x: np.ndarray) -> np.ndarray:
    """DFT of the last axis by its definition, O(N^2) per transform.

    Parameters
    ----------
    x : ndarray, shape (..., N), real or complex

    Returns
    -------
    ndarray, shape (..., N), complex128; equals ``numpy.fft.fft(x, axis=-1)``.
    """
    x = np.asarray(x)
    return x @ _dft_matrix_cached(x.shape[-1]).T  # eq. M3-dft, one row per transform


@njit(cache=True)
def _fft_radix2_rows(x, twiddles):
    """In-place iterative Cooley-Tukey on each row of a (R, N) complex128 array, N = 2**p.

    ``twiddles[k] = exp(-2 pi j k / N)`` for k < N/2; a stage with blocks of ``size`` uses
    every (N / size)-th one, exp(-2 pi j k / size).
    """
    rows, n = x.shape
    for r in range(rows):  # one row at a time: it stays in cache through all the stages
        # 1. bit-reversal permutation: afterwards the butterflies can work in place
        j = 0
        for i in range(1, n):
            bit = n >> 1
            while j & bit:
                j ^= bit
                bit >>= 1
            j |= bit
            if i < j:
                tmp = x[r, i]
                x[r, i] = x[r, j]
                x[r, j] = tmp
        # 2. log2(N) stages; a block of `size` combines two half-size DFTs E and O:
        #    X[k] = E[k] + w^k O[k],  X[k + size/2] = E[k] - w^k O[k]     (eq. M3-fft)
        size = 2
        while size <= n:
            half = size // 2
            step = n // size
            for start in range(0, n, size):
                for k in range(half):
                    a = start + k
                    b = a + half
                    t = twiddles[k * step] * x[r, b]
                    x[r, b] = x[r, a] - t
                    x[r, a] = x[r, a] + t
            size *= 2


def fft_radix2(x: np.ndarray) -> np.ndarray:
    """Radix-2 fast Fourier transform of the last axis (the teaching twin of ``numpy.fft.fft``).

    Math (docs/features.md, eq. M3-fft): split x into even and odd samples, E and O, each the
    DFT of half the length, then for k = 0 .. N/2 - 1::

        X[k]       = E[k] + exp(-2 pi j k / N) O[k]
        X[k + N/2] = E[k] - exp(-2 pi j k / N) O[k]

    applied bottom-up in log2(N) in-place stages after a bit-reversal permutation.

    Parameters
    ----------
    x : ndarray, shape (..., N), real or complex; N must be a power of two.

    Returns
    -------
    ndarray, shape (..., N), complex128

    See Also
    --------
    dft : the O(N^2) definition this must equal.
    """
    x = np.asarray(x)
    n = x.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"fft_radix2 needs a power-of-two length, got {n}")
    out = np.array(x, dtype=np.complex128).reshape(-1, n)  # a copy: the kernel works in place
    twiddles = np.exp(-2j * np.pi * np.arange(n // 2) / n)  # w^k, eq. M3-fft
    _fft_radix2_rows(out, twiddles)
    return out.reshape(x.shape)


def stft(frames: np.ndarray, *, n_fft: int) -> np.ndarray:
    """One-sided spectrum of each (already windowed) frame, zero-padded to ``n_fft``.

    Math (docs/features.md, eq. M3)::

        X_m[k] = sum_{n=0}^{L-1} w[n] y[m H + n] exp(-2 pi j k n / N),   k = 0 .. N/2

    Parameters
    ----------
    frames : ndarray, shape (T, L)
        Windowed frames.
    n_fft : int
        N >= L. The frame is zero-padded at the end to N samples.

    Returns
    -------
    ndarray, shape (T, N // 2 + 1), complex128

    Raises
    ------
    ValueError
        If ``n_fft`` is smaller than the frame length: a silent crop would drop samples.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if n_fft < frames.shape[-1]:
        raise ValueError(
            f"n_fft ({n_fft}) is smaller than the frame length ({frames.shape[-1]}); "
            "the FFT would silently crop every frame: raise n_fft"
        )
    return scipy.fft.rfft(frames, n=n_fft, axis=-1)  # eq. M3


def _squared_magnitude(spec: np.ndarray) -> np.ndarray:
    # re^2 + im^2 avoids the square root that np.abs(spec)**2 takes and then undoes
    return spec.real**2 + spec.imag**2


def power_spectrum(frames: np.ndarray, *, n_fft: int, scale: str = "n_fft") -> np.ndarray:
    """Power spectrum of windowed frames.

    Math (docs/features.md, eq. M3-power)::

        P_m[k] = |X_m[k]|^2 / N      scale="n_fft" (python_speech_features, HTK-like)
        P_m[k] = |X_m[k]|^2          scale="none"  (librosa)

    Parameters
    ----------
    frames : ndarray, shape (T, L)
    n_fft : int
        N >= L.
    scale : {"n_fft", "none"}

    Returns
    -------
    ndarray, shape (T, N // 2 + 1), float64, non-negative
    """
    # BEGIN SOLUTION ex=M3
    power = _squared_magnitude(stft(frames, n_fft=n_fft))  # eq. M3-power
    if scale == "n_fft":
        power /= n_fft
    elif scale != "none":
        raise ValueError(f"unknown spectrum scale {scale!r}; choose 'n_fft' or 'none'")
    return power
    # END SOLUTION


def magnitude_spectrum(frames: np.ndarray, *, n_fft: int) -> np.ndarray:
    """Magnitude spectrum |X_m[k]| of windowed frames, shape (T, N // 2 + 1), float64."""
    return np.sqrt(_squared_magnitude(stft(frames, n_fft=n_fft)))

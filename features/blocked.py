"""The fast twin of M2-M5: window, FFT, |X|^2 and mel filterbank, block by block.

The readable path (``mfcc(..., return_steps=True)``) builds every intermediate (T, L) and
(T, B) matrix in full, so a student can look at each. For a 60 s clip at n_fft 2048 each is
30 MB, and every full pass over one streams it through memory. Here the same arithmetic runs
on blocks of ``BLOCK_FRAMES`` frames:

- ``_window_into`` (Numba) cuts and windows a block straight into a zero-padded FFT buffer;
- ``scipy.fft.rfft`` transforms the block;
- ``_spectrum_to_mel`` (Numba) squares and applies the filterbank over each filter's nonzero
  bins only: a mel triangle covers a few bins, so this does about 60x fewer products than the
  dense (T, B) @ (B, J) matrix product.

Long signals are split into two contiguous shares of frames, one per thread, each with its
own buffer and its own rows of the output. All three steps release the GIL (the kernels are
``nogil``), so the threads run on both cores (measured on this 2-core machine: 1.9x for the
FFT alone). SciPy's own ``workers=`` and Numba's ``parallel=True`` were both measured and
lost: their thread pools spin-wait between calls and fight each other for the two cores.

Every frame is computed the same way whichever thread runs it, so the result does not depend
on the number of threads. tests/features/test_blocked.py proves it equals the readable path;
benchmarks/bench_features.py measures it.

One more trap, measured here: a large matrix product (the DCT of a 60 s clip, 1876 x 128 @
128 x 20) makes OpenBLAS start its own threads, which then spin-wait for a while and take the
cores from the next call's FFT threads (a 60 s MFCC went from 14.5 ms to 24.6 ms).
``dct_blocked`` therefore multiplies 64 rows at a time, below OpenBLAS's threading threshold.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import scipy.fft
from numba import njit

__all__ = ["mel_energies_blocked", "dct_blocked", "BLOCK_FRAMES"]

BLOCK_FRAMES = 128  # measured here: 32, 64, 128 frames gave 4.1x, 4.3x, 4.8x librosa (batch)
_MIN_FRAMES_PER_THREAD = 32  # below this a second thread costs more than it saves


def _n_threads() -> int:
    """Threads for long signals: the course targets 2-core machines."""
    return max(1, min(2, os.cpu_count() or 1))


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """The frame-splitting threads of one long signal (never used from inside a task)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="features")


@lru_cache(maxsize=1)
def clip_pool() -> ThreadPoolExecutor:
    """The threads of ``mfcc_batch``, one clip per task; separate from ``_pool``, so a task
    can never wait on a pool whose workers are all busy waiting for it."""
    return ThreadPoolExecutor(max_workers=_n_threads(), thread_name_prefix="features-batch")


@njit(cache=True, nogil=True)
def _window_into(frames, window, out):
    """out[m, :L] = frames[m] * window (M2); out[m, L:] stays zero (the FFT padding)."""
    n_rows, length = frames.shape
    for m in range(n_rows):
        for n in range(length):
            out[m, n] = frames[m, n] * window[n]


@njit(cache=True, nogil=True)
def _spectrum_to_mel(
    spec, fbank, band_lo, band_hi, magnitude, scale, power, mel, energy, with_energy
):
    """mel[m, j] = sum_k fbank[j, k] P[m, k] over filter j's nonzero bins only (M3, M5).

    P[m, k] = |spec[m, k]|^2, or |spec[m, k]| when ``magnitude``; mel and, when
    ``with_energy``, energy[m] = sum_k P are then multiplied by ``scale`` (the sum is skipped
    otherwise: as a reduction it would keep the |X|^2 loop from being vectorised).

    A mel triangle covers a few bins, so this does far fewer products than a dense matmul.
    ``power`` is a scratch row of n_bins owned by the caller's thread; ``nogil``, so two
    threads run this at once on their own rows.
    """
    n_rows, n_bins = spec.shape
    for m in range(n_rows):
        for k in range(n_bins):
            power[k] = spec[m, k].real ** 2 + spec[m, k].imag ** 2  # M3, |X|^2
        if with_energy:
            total = 0.0
            for k in range(n_bins):
                total += power[k]
            energy[m] = total * scale
        if magnitude:
            for k in range(n_bins):
                power[k] = np.sqrt(power[k])
        for j in range(fbank.shape[0]):
            acc = 0.0
            for k in range(band_lo[j], band_hi[j]):
                acc += fbank[j, k] * power[k]  # M5
            mel[m, j] = acc * scale


_limits_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _sparse_form(fbank: np.ndarray):
    """(contiguous bank, first nonzero bin, one past the last) of each filter, cached.

    Keyed by ``id``: the banks come from ``mel_filterbank``'s cache, read-only and kept alive
    there; the bank is stored with its limits so the id cannot be reused while cached.
    """
    cached = _limits_cache.get(id(fbank))
    if cached is not None and cached[0] is fbank:
        return cached[1:]
    bank = np.ascontiguousarray(fbank, dtype=np.float64)
    nonzero = bank > 0
    lo = np.argmax(nonzero, axis=1).astype(np.int64)
    hi = (bank.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)).astype(np.int64)
    if not fbank.flags.writeable:  # only immutable banks can be cached safely
        if len(_limits_cache) > 64:
            _limits_cache.clear()
        _limits_cache[id(fbank)] = (fbank, bank, lo, hi)
    return bank, lo, hi


def mel_energies_blocked(
    frames: np.ndarray,
    window: np.ndarray,
    fbank: np.ndarray,
    *,
    n_fft: int,
    spectrum: str = "power",
    scale: str = "n_fft",
    with_energy: bool = False,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mel energies E = |rfft(frames * window, n_fft)|^p (/ n_fft) @ fbank.T, blockwise.

    Parameters
    ----------
    frames : ndarray, shape (T, L)
        Frames, typically the strided view of ``features.framing.frame_view``.
    window : ndarray, shape (L,)
    fbank : ndarray, shape (J, n_fft // 2 + 1)
    n_fft : int
        N >= L.
    spectrum : {"power", "magnitude"}
    scale : {"n_fft", "none"}
        Power only: divide by N.
    with_energy : bool
        Also return sum_k P[m, k] per frame (for ``energy_c0``).
    threads : int, optional
        1 keeps everything in the calling thread (``mfcc_batch`` parallelises over clips
        instead); None splits long signals over the 2 cores.

    Returns
    -------
    mel : ndarray, shape (T, J), float64
    energy : ndarray, shape (T,), float64, or None
    """
    if n_fft < frames.shape[1]:
        raise ValueError(
            f"n_fft ({n_fft}) is smaller than the frame length ({frames.shape[1]}); "
            "the FFT would silently crop every frame: raise n_fft"
        )
    n = frames.shape[0]
    mel = np.empty((n, fbank.shape[0]))
    energy = np.empty(n)
    scale_factor = 1.0 / n_fft if scale == "n_fft" and spectrum == "power" else 1.0
    bank, band_lo, band_hi = _sparse_form(fbank)
    magnitude = spectrum == "magnitude"
    args = (frames, window, bank, band_lo, band_hi, n_fft, magnitude, scale_factor, with_energy)
    if threads is None:
        threads = min(_n_threads(), max(1, n // _MIN_FRAMES_PER_THREAD))
    # contiguous shares: each thread owns its rows of mel and energy; this thread runs the
    # last share itself instead of waiting idle for the pool
    bounds = np.linspace(0, n, threads + 1).astype(int)
    jobs = [
        _pool().submit(_run_share, *args, mel, energy, lo, hi)
        for lo, hi in zip(bounds[:-2], bounds[1:-1], strict=True)
    ]
    _run_share(*args, mel, energy, bounds[-2], bounds[-1])
    for job in jobs:
        job.result()
    return mel, (energy if with_energy else None)


def _run_share(
    frames,
    window,
    bank,
    band_lo,
    band_hi,
    n_fft,
    magnitude,
    scale,
    with_energy,
    mel,
    energy,
    lo,
    hi,
):
    """Frames lo .. hi-1, block by block, into rows lo .. hi-1 of mel and energy."""
    buffer = np.zeros((min(BLOCK_FRAMES, hi - lo), n_fft))  # the zero tail is the FFT's padding
    power = np.empty(n_fft // 2 + 1)  # this thread's scratch row
    for start in range(lo, hi, BLOCK_FRAMES):
        stop = min(start + BLOCK_FRAMES, hi)
        block = buffer[: stop - start]
        _window_into(frames[start:stop], window, block)  # M2
        spec = scipy.fft.rfft(block, axis=-1)  # M3
        _spectrum_to_mel(  # M3 |X|^2, M5
            spec,
            bank,
            band_lo,
            band_hi,
            magnitude,
            scale,
            power,
            mel[start:stop],
            energy[start:stop],
            with_energy,
        )


_DCT_ROWS = 64  # 64 x 128 x 20 multiply-adds stays below OpenBLAS's threading threshold


def dct_blocked(log_mel: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``log_mel @ basis.T`` in blocks of 64 rows, so that BLAS stays single-threaded.

    Parameters
    ----------
    log_mel : ndarray, shape (T, J)
    basis : ndarray, shape (C, J)
        ``features.cepstrum.dct_matrix(J, n_out=C, norm=...)``.

    Returns
    -------
    ndarray, shape (T, C), float64; equals ``features.cepstrum.dct`` (eq. M7).
    """
    basis_t = np.ascontiguousarray(basis.T)
    out = np.empty((log_mel.shape[0], basis.shape[0]))
    for start in range(0, log_mel.shape[0], _DCT_ROWS):
        np.matmul(log_mel[start : start + _DCT_ROWS], basis_t, out=out[start : start + _DCT_ROWS])
    return out

"""The mel scale (M4) and the triangular mel filterbank (M5).

Shape letters (docs/conventions.md): J mel bands, B = n_fft // 2 + 1 FFT bins, T frames.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["hz_to_mel", "mel_to_hz", "mel_filterbank", "apply_filterbank", "MEL_SCALES"]

MEL_SCALES = ("htk", "slaney")

# Slaney's Auditory Toolbox scale: linear (3 bands per 200 Hz) below 1 kHz, log above.
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL  # 15 mel
_SLANEY_LOG_STEP = np.log(6.4) / 27.0  # 27 bands per factor 6.4 in frequency


def _check_scale(scale: str) -> None:
    if scale not in MEL_SCALES:
        raise ValueError(f"unknown mel scale {scale!r}; choose one of {MEL_SCALES}")


def hz_to_mel(f_hz, *, scale: str = "htk"):
    """Frequency in Hz to mel.

    Math (docs/features.md, eq. M4)::

        htk      m = 2595 log10(1 + f / 700)
        slaney   m = f / (200/3)                              f <  1000 Hz
                 m = 15 + ln(f / 1000) / (ln(6.4) / 27)       f >= 1000 Hz

    Parameters
    ----------
    f_hz : float or ndarray
        Frequencies in Hz.
    scale : {"htk", "slaney"}

    Returns
    -------
    float64 ndarray (0-d for a scalar input) of the same shape, in mel.
    """
    _check_scale(scale)
    f = np.asarray(f_hz, dtype=np.float64)
    # BEGIN SOLUTION ex=M4
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)  # eq. M4 (HTK)
    mel = f / _SLANEY_HZ_PER_MEL  # eq. M4 (Slaney), linear part
    high = f >= _SLANEY_BREAK_HZ
    safe = np.where(high, f, _SLANEY_BREAK_HZ)  # keep log() away from 0 where it is not used
    return np.where(
        high, _SLANEY_BREAK_MEL + np.log(safe / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP, mel
    )
    # END SOLUTION


def mel_to_hz(mel, *, scale: str = "htk"):
    """Mel to frequency in Hz: the exact inverse of ``hz_to_mel`` for the same ``scale``.

    Math (docs/features.md, eq. M4-inverse)::

        htk      f = 700 (10^(m / 2595) - 1)
        slaney   f = (200/3) m                                m <  15
                 f = 1000 exp((ln(6.4) / 27) (m - 15))        m >= 15
    """
    _check_scale(scale)
    m = np.asarray(mel, dtype=np.float64)
    # BEGIN SOLUTION ex=M4
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(
        m >= _SLANEY_BREAK_MEL,
        _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (m - _SLANEY_BREAK_MEL)),
        _SLANEY_HZ_PER_MEL * m,
    )
    # END SOLUTION


def _band_edges_hz(n_mels, fmin, fmax, scale):
    """The J + 2 band edges e_0 .. e_{J+1}, equally spaced in mel, in Hz."""
    return mel_to_hz(
        np.linspace(hz_to_mel(fmin, scale=scale), hz_to_mel(fmax, scale=scale), n_mels + 2),
        scale=scale,
    )


@lru_cache(maxsize=32)
def _filterbank_cached(sr, n_fft, n_mels, fmin, fmax, scale, norm, snap_to_bins):
    edges_hz = _band_edges_hz(n_mels, fmin, fmax, scale)
    n_bins = n_fft // 2 + 1
    k = np.arange(n_bins, dtype=np.float64)
    if snap_to_bins:
        # python_speech_features: every edge moves down to an FFT bin index, and the triangles
        # are drawn on bin indices. Note the (n_fft + 1): its rounding, kept for parity.
        edges = np.floor((n_fft + 1) * edges_hz / sr)
        lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            rising = np.where((k >= lower) & (k < centre), (k - lower) / (centre - lower), 0.0)
            falling = np.where((k >= centre) & (k < upper), (upper - k) / (upper - centre), 0.0)
        fbank = rising + falling  # the two pieces never overlap
    else:
        # BEGIN SOLUTION ex=M5
        bin_hz = k * sr / n_fft  # centre frequency of FFT bin k
        lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
        rising = (bin_hz - lower) / (centre - lower)  # eq. M5, left side of triangle j
        falling = (upper - bin_hz) / (upper - centre)  # eq. M5, right side
        fbank = np.maximum(0.0, np.minimum(rising, falling))
        # END SOLUTION
    if norm == "slaney":
        fbank *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]  # eq. M5-norm: unit area in Hz

    empty = np.flatnonzero(fbank.max(axis=1) <= 0.0)
    if empty.size:
        raise ValueError(
            f"mel filters {empty.tolist()} cover no FFT bin (n_mels={n_mels}, n_fft={n_fft}, "
            f"sr={sr:g} Hz, {fmin:g}-{fmax:g} Hz); lower n_mels, raise n_fft, or widen fmin/fmax"
        )
    fbank.setflags(write=False)
    return fbank


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    scale: str = "htk",
    norm: str | None = None,
    snap_to_bins: bool = False,
) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale.

    Math (docs/features.md, eq. M5). With band edges e_0 < e_1 < ... < e_{J+1} equally spaced
    in mel between ``fmin`` and ``fmax`` (converted back to Hz), filter j = 1 .. J at the FFT
    bin frequency f_k = k sr / n_fft is::

        H_j(f) = (f - e_{j-1}) / (e_j - e_{j-1})      e_{j-1} <= f <= e_j
               = (e_{j+1} - f) / (e_{j+1} - e_j)      e_j <= f <= e_{j+1}
               = 0                                    otherwise

        norm="slaney":   H_j <- H_j * 2 / (e_{j+1} - e_{j-1})          (eq. M5-norm)

    and the mel energies of frame m are E_m[j] = sum_k H_j[k] P_m[k].

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT length; the bank has n_fft // 2 + 1 columns.
    n_mels : int
        J, the number of filters.
    fmin, fmax : float
        Lowest and highest band edge in Hz; ``fmax`` defaults to sr / 2.
    scale : {"htk", "slaney"}
        The mel scale (eq. M4). librosa's default is "slaney"; HTK and python_speech_features
        use "htk".
    norm : {None, "slaney"}
        None: every triangle peaks at 1 (HTK). "slaney": every triangle has unit area in Hz
        (librosa's default), so wide high bands do not collect more energy.
    snap_to_bins : bool
        Move the edges down to FFT bin indices first, as python_speech_features does
        (``floor((n_fft + 1) * e / sr)``), and draw the triangles on bin indices.

    Returns
    -------
    fbank : ndarray, shape (J, n_fft // 2 + 1), float64, read-only
        Row j is filter j + 1. Apply as ``power @ fbank.T``. Results are cached, hence read-only.

    Raises
    ------
    ValueError
        If any filter covers no FFT bin (too many bands for this n_fft, common with
        ``snap_to_bins``): an error, never a silent row of zeros whose log is -inf.

    References
    ----------
    S. Young et al., The HTK Book (3.4), sec. 5.4 "Filterbank analysis".
    M. Slaney, Auditory Toolbox, Tech. Rep. 1998-010, Interval Research (the Slaney scale).
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    _check_scale(scale)
    if norm not in (None, "slaney"):
        raise ValueError(f"unknown filterbank norm {norm!r}; choose None or 'slaney'")
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    if not 0.0 <= fmin < fmax <= sr / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sr/2 = {sr / 2:g} Hz, got {fmin:g}, {fmax:g}")
    return _filterbank_cached(
        float(sr), int(n_fft), int(n_mels), float(fmin), fmax, scale, norm, bool(snap_to_bins)
    )


def apply_filterbank(power: np.ndarray, fbank: np.ndarray) -> np.ndarray:
    """Mel energies E_m[j] = sum_k H_j[k] P_m[k] (eq. M5): (T, B) @ (B, J) -> (T, J)."""
    return power @ fbank.T  # eq. M5

"""Augmentation: new training examples from old ones, each with its formula (SNR, AUG-1..AUG-4).

Shape letters (docs/conventions.md): S samples, N examples, T frames, C coefficients.

On the waveform: noise at a chosen signal-to-noise ratio (``add_noise``, eq. SNR; at a random
SNR, ``add_noise_random_snr``, eq. AUG-3), a gain (``gain``, ``random_gain``, eq. AUG-2) and speed
perturbation (``speed_perturb``, eq. AUG-1). On the features: SpecAugment's time and frequency
masks (``spec_augment``, eq. AUG-4).

Every function is pure (the input is never modified) and, given a ``numpy.random.Generator``
in a known state, deterministic.

A random crop or time shift of (T, C) features is not here: ``ser.pipeline.fixed_length``
already crops (or zero-pads) to a fixed number of frames, at the centre or, given a generator,
at a random place, and this package does not depend on ``ser``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from features.audio import AudioError, check_signal

__all__ = [
    "snr_db",
    "add_noise",
    "add_noise_random_snr",
    "gain",
    "random_gain",
    "speed_perturb",
    "spec_augment",
    "SPEED_RANGE",
]

SPEED_RANGE = (0.5, 2.0)  # speed_perturb accepts factors in (0.5, 2]; Kaldi uses 0.9, 1.0, 1.1
_MAX_DENOMINATOR = 1000  # the speed factor as p / q with q <= 1000 (eq. AUG-1)


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """Signal-to-noise ratio in dB.

    Math (docs/corpus.md, eq. SNR)::

        SNR = 10 log10( sum_n s[n]^2 / sum_n v[n]^2 )

    Parameters
    ----------
    signal, noise : ndarray, shape (S,)
        The clean signal s and the noise v, same length.

    Returns
    -------
    float, dB (inf for silent noise, -inf for a silent signal).
    """
    signal, noise = np.asarray(signal, float), np.asarray(noise, float)
    if signal.shape != noise.shape:
        raise ValueError(f"signal {signal.shape} and noise {noise.shape} differ in shape")
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(np.sum(signal**2) / np.sum(noise**2)))


def add_noise(
    y: np.ndarray,
    *,
    snr: float,
    rng: np.random.Generator,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Add noise scaled so that the result has the requested SNR (eq. SNR) against ``y``.

    Math::

        v' = v * sqrt( sum y^2 / (sum v^2 * 10^(snr / 10)) ),     out = y + v'

    Parameters
    ----------
    y : ndarray, shape (S,)
        The clean signal; not modified.
    snr : float
        Target SNR in dB.
    rng : numpy.random.Generator
        Draws white Gaussian noise when ``noise`` is None, or a random start in ``noise``.
    noise : ndarray, shape (S_noise,), optional
        A noise recording; it is looped if shorter than ``y``, and a random stretch of it used.

    Returns
    -------
    ndarray, shape (S,), float64

    Raises
    ------
    AudioError
        If ``y`` or the noise is silent (no SNR can be reached) or not finite.
    """
    y = check_signal(y)
    if noise is None:
        v = rng.standard_normal(y.shape[0])
    else:
        noise = check_signal(noise, name="noise")
        start = int(rng.integers(0, noise.shape[0]))
        v = np.resize(np.roll(noise, -start), y.shape[0])  # np.resize repeats a short noise
    p_signal, p_noise = np.sum(y**2), np.sum(v**2)
    if p_signal == 0 or p_noise == 0:
        raise AudioError("signal: cannot set an SNR when the signal or the noise is silent")
    return y + v * np.sqrt(p_signal / (p_noise * 10.0 ** (snr / 10.0)))  # eq. SNR


def _check_range(low: float, high: float, what: str) -> None:
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{what}: need finite low <= high, got low={low}, high={high}")


def add_noise_random_snr(
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    low_db: float = 10.0,
    high_db: float = 40.0,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """``add_noise`` at an SNR drawn uniformly in dB.

    Math (docs/features.md, eq. AUG-3)::

        snr ~ Uniform[low_db, high_db)        then  out = add_noise(y, snr=snr)   (eq. SNR)

    Parameters
    ----------
    y : ndarray, shape (S,)
        The clean signal; not modified.
    rng : numpy.random.Generator
        Draws the SNR first, then whatever ``add_noise`` draws (the noise, or its start).
    low_db, high_db : float
        The SNR range in dB; equal values give a fixed SNR.
    noise : ndarray, shape (S_noise,), optional
        A noise recording (looped, random start), else white Gaussian noise.

    Returns
    -------
    ndarray, shape (S,), float64

    Raises
    ------
    AudioError
        As ``add_noise``: a silent or non-finite signal or noise.
    ValueError
        ``low_db > high_db`` or a non-finite bound.

    References
    ----------
    T. Ko, V. Peddinti, D. Povey, M. L. Seltzer and S. Khudanpur, "A study on data augmentation
    of reverberant speech for robust speech recognition", ICASSP 2017 (noise added at SNRs drawn
    at random from a range). Uniform in dB, not in power ratio, so that each 10 dB of the range
    is drawn equally often.
    """
    _check_range(low_db, high_db, "add_noise_random_snr")
    snr = float(rng.uniform(low_db, high_db))  # eq. AUG-3
    return add_noise(y, snr=snr, rng=rng, noise=noise)


def gain(y: np.ndarray, *, db: float) -> np.ndarray:
    """Scale a signal by a gain given in dB.

    Math (docs/features.md, eq. AUG-2)::

        out[n] = 10^(db / 20) y[n]

    Parameters
    ----------
    y : ndarray, shape (S,) or (S, K)
        Samples in full-scale units; not modified.
    db : float
        The gain in dB: +6.02 doubles the amplitude, -6.02 halves it, 0 returns a copy.

    Returns
    -------
    ndarray, same shape, float64

    Notes
    -----
    Nothing is clipped: a positive gain can take samples beyond full scale, which float
    processing handles and ``save_audio`` refuses for integer formats. MFCCs see a gain only in
    c0 (a constant added to every log-mel band, eq. M6), and CMVN (eq. M10) removes it; the
    augmentation matters for features and models that do see the level.

    References
    ----------
    The decibel as 20 log10 of an amplitude ratio (10 log10 of the power ratio, eq. SNR), as in
    any acoustics or signal-processing text.
    """
    y = check_signal(y)
    if not np.isfinite(db):
        raise ValueError(f"gain: db must be finite, got {db}")
    return y * 10.0 ** (db / 20.0)  # eq. AUG-2


def random_gain(
    y: np.ndarray, *, rng: np.random.Generator, low_db: float = -6.0, high_db: float = 6.0
) -> np.ndarray:
    """``gain`` with ``db ~ Uniform[low_db, high_db)`` (eq. AUG-2), one draw from ``rng``.

    Returns an array of the shape of ``y``, float64. Raises ValueError for ``low_db > high_db``.
    """
    _check_range(low_db, high_db, "random_gain")
    return gain(y, db=float(rng.uniform(low_db, high_db)))


def speed_perturb(y: np.ndarray, *, factor: float) -> np.ndarray:
    """Play a signal ``factor`` times faster: tempo and pitch change together.

    Math (docs/features.md, eq. AUG-1). With the factor written as a fraction f' = p / q
    (q <= 1000, the nearest one to ``factor``)::

        out[n] = y_c(n f')        y_c: the band-limited interpolation of y between samples
        S_out  = ceil(S q / p)    ~ round(S / factor)

    computed as upsample by q, low-pass, downsample by p (``scipy.signal.resample_poly``), and
    read at the original sample rate: every frequency is multiplied by f' (a 200 Hz tone at
    factor 1.1 comes out at 220 Hz) and the duration divided by f'.

    Parameters
    ----------
    y : ndarray, shape (S,) or (S, K)
        Samples; resampled along axis 0; not modified.
    factor : float
        The speed factor, in (0.5, 2]; > 1 is faster (shorter, higher), < 1 slower. Kaldi's
        recipes use 0.9, 1.0 and 1.1. Exactly 1 (or a factor whose nearest fraction is 1)
        returns a copy.

    Returns
    -------
    ndarray, shape (ceil(S q / p),) or with K columns, float64

    Raises
    ------
    ValueError
        A factor that is not finite, <= 0, or outside (0.5, 2] (a different voice, not a
        perturbation of this one).
    AudioError
        As ``check_signal``: empty or non-finite samples.

    Notes
    -----
    For factors above 1 the low-pass removes what would fold above the Nyquist frequency:
    content above sr / (2 f') is lost, as it is in sox. The factor actually applied is p / q,
    within 5e-4 of ``factor`` for any factor in range, and exactly ``factor`` for any factor with
    at most three decimals (0.9, 1.1, 1.05).

    References
    ----------
    T. Ko, V. Peddinti, D. Povey and S. Khudanpur, "Audio augmentation for speech recognition",
    Interspeech 2015 (the factors 0.9, 1.0, 1.1 and the resampling, as sox's ``speed`` effect).
    """
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"speed_perturb: factor must be a finite number > 0, got {factor}")
    low, high = SPEED_RANGE
    if not low < factor <= high:
        raise ValueError(
            f"speed_perturb: factor {factor} is outside ({low:g}, {high:g}]; speed perturbation "
            "changes the speed by a few percent (Kaldi: 0.9, 1.1)"
        )
    y = check_signal(y)
    ratio = Fraction(float(factor)).limit_denominator(_MAX_DENOMINATOR)  # f' = p / q
    if ratio == 1:
        return y.copy()
    return resample_poly(y, ratio.denominator, ratio.numerator, axis=0)  # eq. AUG-1


def _mask_along(rng, n, length, count, max_width):
    """(n, length) bool: ``count`` masks per row, width ~ U{0..max_width} clipped to length,
    start ~ U{0..length - width} (eq. AUG-4)."""
    width = np.minimum(rng.integers(0, max_width + 1, size=(n, count)), length)
    start = rng.integers(0, length - width + 1)  # one draw per mask: high is an array
    index = np.arange(length)
    inside = (index >= start[..., None]) & (index < (start + width)[..., None])  # (n, count, L)
    return inside.any(axis=1)


def spec_augment(
    features: np.ndarray,
    *,
    rng: np.random.Generator,
    time_masks: int = 2,
    max_time: int = 20,
    freq_masks: int = 2,
    max_freq: int = 8,
    value: float = 0.0,
) -> np.ndarray:
    """SpecAugment's masks: blank out random stretches of frames and of coefficients.

    Math (docs/features.md, eq. AUG-4). For each example, each of ``time_masks`` time masks
    and each of ``freq_masks`` frequency masks, independently::

        w  ~ U{0, ..., W},  then  w <- min(w, A)         W = max_time or max_freq,
        s  ~ U{0, ..., A - w}                            A = T or C, the axis length
        out[t, c] = value   if t in [s, s + w) for some time mask
                            or c in [s, s + w) for some frequency mask
        out[t, c] = x[t, c] otherwise

    Masks may overlap; a width of 0 masks nothing.

    Parameters
    ----------
    features : ndarray, shape (T, C) or (N, T, C)
        One example, or a batch; not modified.
    rng : numpy.random.Generator
        Draws, in this order: the time widths (N, time_masks), their starts, the frequency
        widths (N, freq_masks), their starts. A (T, C) input draws as a batch of one.
    time_masks, freq_masks : int
        Masks per example along T and along C (>= 0).
    max_time, max_freq : int
        W, the largest width of each mask, in frames and coefficients (>= 0). A width larger
        than the axis is clipped to the axis (the whole axis masked).
    value : float
        What masked entries become. 0 is the mean of every coefficient after CMVN (M10), which
        is what Park et al. use.

    Returns
    -------
    ndarray, the shape of ``features``
        A new array, of the input's float dtype (float64 for integer input).

    Notes
    -----
    Vectorised over the batch: every example's masks are drawn in one call per kind and
    applied with one ``np.where``; there is no Python loop per example. The frequency axis here
    is whatever C holds: mel bands (as in the paper), or cepstral coefficients, where a mask
    blanks a stretch of the spectral envelope's detail instead of a frequency band. Time warping,
    the paper's third operation, is not implemented.

    References
    ----------
    D. S. Park, W. Chan, Y. Zhang, C.-C. Chiu, B. Zoph, E. D. Cubuk and Q. V. Le, "SpecAugment:
    a simple data augmentation method for automatic speech recognition", Interspeech 2019,
    sec. 2 (frequency masking with F, time masking with T; masks filled with the mean).
    """
    x = np.asarray(features)
    if x.ndim not in (2, 3):
        raise ValueError(f"spec_augment: expected features (T, C) or (N, T, C), got {x.shape}")
    for name, count in (
        ("time_masks", time_masks),
        ("max_time", max_time),
        ("freq_masks", freq_masks),
        ("max_freq", max_freq),
    ):
        if int(count) != count or count < 0:
            raise ValueError(f"spec_augment: {name} must be an integer >= 0, got {count}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    batch = x if x.ndim == 3 else x[None]
    n, T, C = batch.shape
    time = _mask_along(rng, n, T, int(time_masks), int(max_time))  # (N, T), eq. AUG-4
    freq = _mask_along(rng, n, C, int(freq_masks), int(max_freq))  # (N, C), eq. AUG-4
    masked = time[:, :, None] | freq[:, None, :]  # (N, T, C)
    out = np.where(masked, np.asarray(value, dtype=x.dtype), batch)  # eq. AUG-4
    return out if x.ndim == 3 else out[0]

"""Augmentation: new training examples from old ones, each with its formula (SNR, AUG-1..AUG-4).

Shape letters (docs/conventions.md): S samples, N examples, T frames, C coefficients.

On the waveform: noise at a chosen signal-to-noise ratio (``add_noise``, eq. SNR; at a random
SNR, ``add_noise_random_snr``, eq. AUG-3), a gain (``gain``, ``random_gain``, eq. AUG-2) and speed
perturbation (``speed_perturb``, eq. AUG-1). On the features: SpecAugment's time and frequency
masks (``spec_augment``, eq. AUG-4).

Noise to test robustness with (docs/robustness.md): a given noise mixed at an exact SNR
(``mix_at_snr``, eq. SNR), white and pink noise (``white_noise``, ``pink_noise``, eq. NOISE-1),
babble from several talkers (``babble_noise``, eq. NOISE-2) and a recording looped or cropped
to length (``loop_to_length``, eq. NOISE-3).

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
    "mix_at_snr",
    "loop_to_length",
    "white_noise",
    "pink_noise",
    "babble_noise",
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
    return mix_at_snr(y, v, snr=snr)  # eq. SNR


def mix_at_snr(y: np.ndarray, noise: np.ndarray, *, snr: float) -> np.ndarray:
    """Add a given noise, scaled so that the mixture has exactly the SNR ``snr`` (eq. SNR).

    Math (docs/corpus.md, eq. SNR; docs/robustness.md)::

        g   = sqrt( sum_n y[n]^2 / (sum_n v[n]^2 * 10^(snr / 10)) )
        out = y + g v                  so that  10 log10( sum y^2 / sum (g v)^2 ) = snr

    The powers are sums over the whole signal (pauses included): the SNR of the whole
    utterance, as eq. SNR defines it, not of its active speech alone.

    Parameters
    ----------
    y : ndarray, shape (S,)
        The clean signal; not modified.
    noise : ndarray, shape (S,)
        The noise v, as long as ``y`` (``loop_to_length`` makes it so); its level does not
        matter, only its shape.
    snr : float
        Target SNR in dB (finite).

    Returns
    -------
    ndarray, shape (S,), float64. Nothing is clipped: samples may exceed full scale.

    Raises
    ------
    AudioError
        The signal or the noise is silent (no SNR can be reached) or not finite.
    ValueError
        The lengths differ, or ``snr`` is not finite.

    Notes
    -----
    Deterministic (no generator): the same noise at two SNRs differs only by its gain, so
    a robustness curve compares the same mixtures at different levels.
    """
    y = check_signal(y)
    v = check_signal(noise, name="noise")
    if v.shape != y.shape:
        raise ValueError(f"mix_at_snr: signal {y.shape} and noise {v.shape} differ in shape")
    if not np.isfinite(snr):
        raise ValueError(f"mix_at_snr: snr must be a finite number of dB, got {snr}")
    p_signal, p_noise = np.sum(y**2), np.sum(v**2)
    if p_signal == 0 or p_noise == 0:
        raise AudioError("signal: cannot set an SNR when the signal or the noise is silent")
    return y + v * np.sqrt(p_signal / (p_noise * 10.0 ** (snr / 10.0)))  # eq. SNR


def loop_to_length(noise: np.ndarray, n: int, *, start: int = 0) -> np.ndarray:
    """A noise recording looped (if shorter) or cropped (if longer) to ``n`` samples.

    Math (docs/robustness.md, eq. NOISE-3)::

        v[i] = r[(start + i) mod L],   i = 0 .. n - 1,   L = len(r)

    Parameters
    ----------
    noise : ndarray, shape (L,)
        The recording r.
    n : int
        Samples wanted (>= 1).
    start : int
        Where in r to begin (taken mod L): a random start gives a random stretch.

    Returns
    -------
    ndarray, shape (n,), float64

    Notes
    -----
    Looping joins the end of the recording to its start: a click where the two do not
    meet. For stationary noise (a fan, a street, a crowd) it is not heard in MFCCs; a
    recording at least as long as the utterances avoids it altogether.
    """
    r = check_signal(noise, name="noise")
    if r.ndim != 1:
        raise ValueError(f"loop_to_length: expected a mono recording (L,), got {r.shape}")
    if int(n) != n or n < 1:
        raise ValueError(f"loop_to_length: n must be a whole number >= 1, got {n}")
    index = (int(start) + np.arange(int(n))) % r.shape[0]  # eq. NOISE-3
    return r[index]


def white_noise(n: int, *, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise: ``n`` independent N(0, 1) samples (a flat power spectrum).

    Parameters
    ----------
    n : int
        Samples (>= 1).
    rng : numpy.random.Generator
        One ``standard_normal(n)`` draw.

    Returns
    -------
    ndarray, shape (n,), float64
    """
    if int(n) != n or n < 1:
        raise ValueError(f"white_noise: n must be a whole number >= 1, got {n}")
    return rng.standard_normal(int(n))


def pink_noise(n: int, *, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise, by spectral shaping of white Gaussian noise.

    Math (docs/robustness.md, eq. NOISE-1)::

        W[k] = sum_i w[i] e^(-2 pi j k i / n)      w ~ N(0, 1) white, k = 0 .. n // 2
        V[k] = W[k] / sqrt(k)   (k >= 1),   V[0] = 0
        v    = irfft(V, n) / rms(irfft(V, n))

    so E|V[k]|^2 is proportional to 1/k: the power falls by 10 dB per decade of
    frequency (3 dB per octave), whatever the sample rate.

    Parameters
    ----------
    n : int
        Samples (>= 2).
    rng : numpy.random.Generator
        One ``standard_normal(n)`` draw (the white noise that is shaped).

    Returns
    -------
    ndarray, shape (n,), float64, mean 0 and RMS 1.

    Notes
    -----
    The FFT of white Gaussian noise has independent Gaussian real and imaginary parts at
    every frequency, so shaping it is the method of Timmer and König (random amplitudes
    and phases drawn per frequency, scaled by f^(-beta/2), beta = 1). The DC bin is set to
    0: 1/f has no finite value at f = 0, and a constant offset is not noise. The noise is
    periodic in n samples (a circular FFT), so it loops without a click.

    References
    ----------
    J. Timmer and M. König, "On generating power law noise", Astronomy and Astrophysics
    300, 707-710 (1995).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"pink_noise: n must be a whole number >= 2, got {n}")
    n = int(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(spectrum.shape[0], dtype=np.float64)
    shaped = np.zeros_like(spectrum)
    shaped[1:] = spectrum[1:] / np.sqrt(k[1:])  # eq. NOISE-1: |V[k]|^2 ~ 1/k
    v = np.fft.irfft(shaped, n)
    return v / np.sqrt(np.mean(v**2))


def babble_noise(talkers, n: int, *, rng: np.random.Generator) -> np.ndarray:
    """Babble: several talkers at once, each at the same power, looped to ``n`` samples.

    Math (docs/robustness.md, eq. NOISE-2)::

        u_k  = loop_to_length(r_k, n, start=s_k)      s_k ~ U{0 .. L_k - 1}   (eq. NOISE-3)
        b    = sum_k u_k / rms(u_k)                    k = 1 .. K

    Parameters
    ----------
    talkers : sequence of ndarray, each shape (L_k,)
        The K recordings to mix (other speakers' utterances); none may be silent.
    n : int
        Samples wanted (>= 1).
    rng : numpy.random.Generator
        Draws the K starts s_k, in order.

    Returns
    -------
    ndarray, shape (n,), float64

    Raises
    ------
    AudioError
        A talker is silent, empty or not finite (over its stretch of n samples too).
    ValueError
        No talkers.

    Notes
    -----
    Each talker is scaled to unit RMS before the sum, so no one voice dominates: with K = 6
    no single voice can be followed, which is what makes babble a noise rather than a
    competing speaker. The mixture's level is set afterwards by ``mix_at_snr``.
    """
    talkers = list(talkers)
    if not talkers:
        raise ValueError("babble_noise: needs at least one talker")
    out = np.zeros(int(n))
    for i, r in enumerate(talkers):
        r = check_signal(r, name=f"babble talker {i}")
        u = loop_to_length(r, n, start=int(rng.integers(0, r.shape[0])))  # eq. NOISE-3
        rms = np.sqrt(np.mean(u**2))
        if rms == 0:
            raise AudioError(f"babble talker {i}: is silent")
        out += u / rms  # eq. NOISE-2
    return out


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

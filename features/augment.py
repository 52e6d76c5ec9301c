"""Signal-level augmentation: noise at a chosen signal-to-noise ratio.

Shape letters (docs/conventions.md): S samples.
"""

from __future__ import annotations

import numpy as np

from features.audio import AudioError, check_signal

__all__ = ["snr_db", "add_noise"]


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

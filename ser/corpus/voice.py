"""A source-filter voice: glottal pulses through time-varying formant resonators.

Shape letters (docs/conventions.md): S samples.

    source  g(t): Rosenberg glottal-flow pulses at f0(t), differentiated (lip radiation),
                  with per-cycle jitter and shimmer, aspiration noise, and a spectral tilt
    filter  H(t): four second-order resonators (F1-F4) in cascade, their centre frequencies
                  moving between vowel targets syllable by syllable
    output  y = H(t) * (voicing * g + frication noise), shaped by syllable envelopes

The physics and every parameter are in docs/corpus.md (eq. V1-V5). The emotional colouring
of these parameters lives in ``ser.corpus.synth``; this module only knows voices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.signal import lfilter

__all__ = ["VoiceParams", "SpeakerVoice", "synthesize_voice", "VOWELS"]

# Vowel formant targets F1..F4 in Hz for an adult male vocal tract (Peterson & Barney 1952,
# rounded). Shorter vocal tracts scale every formant up by ``SpeakerVoice.formant_scale``.
VOWELS = {
    "a": (730.0, 1090.0, 2440.0, 3400.0),
    "i": (270.0, 2290.0, 3010.0, 3700.0),
    "u": (300.0, 870.0, 2240.0, 3300.0),
    "e": (530.0, 1840.0, 2480.0, 3500.0),
    "o": (570.0, 840.0, 2410.0, 3300.0),
    "ae": (660.0, 1720.0, 2410.0, 3400.0),
    "er": (490.0, 1350.0, 1690.0, 3300.0),
}
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])  # Hz, typical formant bandwidths


@dataclass(frozen=True)
class SpeakerVoice:
    """What makes one speaker sound like themself.

    Attributes
    ----------
    f0_hz : float
        Mean fundamental frequency of neutral speech (about 100-130 Hz for men, 180-230 Hz
        for women).
    formant_scale : float
        Formant frequencies relative to an adult male tract (about 1.0 men, 1.15 women):
        formants scale with the inverse of the vocal-tract length.
    rate : float
        Syllables per second of neutral speech.
    breathiness : float
        Aspiration-noise level of neutral speech, 0..1.
    """

    f0_hz: float = 120.0
    formant_scale: float = 1.0
    rate: float = 4.5
    breathiness: float = 0.05


@dataclass(frozen=True)
class VoiceParams:
    """How one utterance is spoken (prosody and voice quality), relative to the speaker.

    Attributes
    ----------
    f0_ratio : float
        Mean f0 relative to the speaker's neutral f0.
    f0_range : float
        Size of pitch accents, in semitones.
    rate_ratio : float
        Speaking rate relative to the speaker's neutral rate.
    level_db : float
        Loudness relative to neutral speech, dB.
    open_quotient : float
        Fraction of each glottal cycle the glottis is open (0.3 tense, pressed .. 0.8 lax,
        breathy); lower gives more high-frequency energy.
    tilt : float
        Extra spectral tilt, a one-pole low-pass coefficient 0..0.9 (higher is duller).
    jitter : float
        Relative random change of each glottal period (0.01 = 1 %).
    shimmer : float
        Relative random change of each glottal pulse's amplitude.
    breathiness : float
        Aspiration noise added on top of the speaker's own, 0..1.
    declination : float
        Fall of f0 over the utterance, in semitones (negative is a rise).
    accent_sharpness : float
        Width of pitch accents as a fraction of a syllable (small is abrupt).
    articulation : float
        How far formants move toward each vowel target (1 precise, 0.5 slurred).
    """

    f0_ratio: float = 1.0
    f0_range: float = 3.0
    rate_ratio: float = 1.0
    level_db: float = 0.0
    open_quotient: float = 0.6
    tilt: float = 0.3
    jitter: float = 0.01
    shimmer: float = 0.04
    breathiness: float = 0.0
    declination: float = 2.0
    accent_sharpness: float = 0.35
    articulation: float = 0.9


@njit(cache=True)
def _formant_cascade(x, freqs, bandwidths, sr):
    """Filter x through len(freqs[0]) resonators in cascade, coefficients changing per sample.

    Each resonator (eq. V3) is y[n] = g x[n] + 2 r cos(theta) y[n-1] - r^2 y[n-2], with
    r = exp(-pi B / sr), theta = 2 pi F / sr and g = 1 - 2 r cos(theta) + r^2 (unit gain at 0 Hz).
    """
    n_samples, n_formants = freqs.shape
    y = x.copy()
    for k in range(n_formants):
        y1 = 0.0
        y2 = 0.0
        for n in range(n_samples):
            r = np.exp(-np.pi * bandwidths[n, k] / sr)
            c = 2.0 * r * np.cos(2.0 * np.pi * freqs[n, k] / sr)
            out = (1.0 - c + r * r) * y[n] + c * y1 - r * r * y2  # eq. V3
            y2 = y1
            y1 = out
            y[n] = out
    return y


def _rosenberg_flow(phase, open_quotient):
    """Glottal flow within one cycle, phase in [0, 1) (eq. V1, Rosenberg 1971 type C).

    Opening takes 2/3 of the open phase (a raised cosine), closing the last 1/3 (a quarter
    cosine); the glottis is closed for the rest of the cycle.
    """
    t_open = open_quotient * 2.0 / 3.0
    t_close = open_quotient / 3.0
    rising = 0.5 * (1.0 - np.cos(np.pi * phase / t_open))
    falling = np.cos(0.5 * np.pi * (phase - t_open) / t_close)
    return np.where(phase < t_open, rising, np.where(phase < open_quotient, falling, 0.0))


def _smooth_noise(rng, n_samples, sr, rate_hz):
    """Unit-variance random wobble that changes about ``rate_hz`` times a second."""
    n_knots = max(2, int(np.ceil(n_samples * rate_hz / sr)) + 1)
    knots = rng.standard_normal(n_knots)
    return np.interp(np.arange(n_samples), np.linspace(0, n_samples - 1, n_knots), knots)


def synthesize_voice(
    *,
    speaker: SpeakerVoice,
    params: VoiceParams,
    duration: float,
    sr: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise one utterance of vowel-consonant syllables.

    Parameters
    ----------
    speaker : SpeakerVoice
    params : VoiceParams
    duration : float
        Seconds of audio, including short leading and trailing silence.
    sr : int
        Sample rate in Hz.
    rng : numpy.random.Generator
        Every random choice (syllables, jitter, noise) comes from it.

    Returns
    -------
    y : ndarray, shape (S,), float64
        Peak below 1, RMS about 0.05 * 10^(level_db / 20) over the voiced part.
    f0 : ndarray, shape (S,), float64
        The f0 contour in Hz, 0 where unvoiced, for plots and tests.
    """
    n_samples = int(round(duration * sr))
    t = np.arange(n_samples) / sr

    # ---- syllable plan: onset consonant, vowel nucleus; a pause between two phrases --------
    rate = speaker.rate * params.rate_ratio
    lead, tail = 0.12, 0.15
    speech_time = max(duration - lead - tail, 0.3)
    n_syll = max(2, int(round(speech_time * rate)))
    lengths = rng.uniform(0.75, 1.25, n_syll)
    pause_after = int(rng.integers(1, n_syll)) if n_syll >= 4 else -1
    pause_len = 0.6 / rate if pause_after >= 0 else 0.0
    lengths *= (speech_time - pause_len) / lengths.sum()
    starts = lead + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    if pause_after >= 0:
        starts[pause_after + 1 :] += pause_len
    vowels = rng.choice(list(VOWELS), size=n_syll)
    stressed = rng.random(n_syll) < 0.4
    stressed[int(rng.integers(0, n_syll))] = True  # every utterance carries at least one accent

    # ---- per-sample control tracks --------------------------------------------------------
    voicing = np.zeros(n_samples)
    frication = np.zeros(n_samples)
    envelope = np.zeros(n_samples)
    accents = np.zeros(n_samples)
    targets = np.empty((n_syll, 4))
    neutral_vowel = np.array(VOWELS["er"])
    for s in range(n_syll):
        start, length = starts[s], lengths[s]
        onset = length * rng.uniform(0.15, 0.3)  # consonant part of the syllable
        in_syll = (t >= start) & (t < start + length)
        in_vowel = (t >= start + onset) & (t < start + length)
        rel = (t[in_syll] - start) / length
        envelope[in_syll] = np.sin(np.pi * rel) ** 0.5 * (1.25 if stressed[s] else 1.0)
        voicing[in_vowel] = 1.0
        if rng.random() < 0.6:  # a fricative or aspirated onset
            frication[in_syll & ~in_vowel] = rng.uniform(0.2, 0.5)
        if stressed[s]:
            centre = start + onset + 0.4 * (length - onset)
            width = max(params.accent_sharpness * length, 0.01)
            accents += np.exp(-0.5 * ((t - centre) / width) ** 2)
        vowel = np.array(VOWELS[vowels[s]])
        targets[s] = neutral_vowel + params.articulation * (vowel - neutral_vowel)  # undershoot
    centres = starts + 0.6 * lengths
    formants = (
        np.stack([np.interp(t, centres, targets[:, k]) for k in range(4)], axis=1)
        * speaker.formant_scale
    )  # eq. V4
    formants[:, 3] = np.minimum(formants[:, 3], 0.45 * sr)  # stay below Nyquist
    bandwidths = np.broadcast_to(_BANDWIDTHS * speaker.formant_scale, formants.shape).copy()
    # voicing switches on and off over a few ms, not in one sample
    ramp = np.hanning(int(0.01 * sr) | 1)
    voicing = np.convolve(voicing, ramp / ramp.sum(), mode="same")

    # ---- f0 contour (eq. V2): base x declination x accents x slow drift --------------------
    semitones = (
        params.declination * (0.5 - t / duration)
        + params.f0_range * accents
        + 0.3 * _smooth_noise(rng, n_samples, sr, 4.0)
    )
    f0 = speaker.f0_hz * params.f0_ratio * 2.0 ** (semitones / 12.0)

    # ---- glottal source with per-cycle jitter and shimmer (eq. V1) -------------------------
    cycle = np.floor(np.cumsum(f0) / sr).astype(np.int64)  # which glottal cycle each sample is in
    n_cycles = int(cycle[-1]) + 2
    f0_jittered = f0 * (1.0 + params.jitter * rng.standard_normal(n_cycles)[cycle])
    phase_total = np.cumsum(f0_jittered) / sr
    cycle = np.floor(phase_total).astype(np.int64)
    phase = phase_total - cycle
    flow = _rosenberg_flow(phase, params.open_quotient)
    flow *= 1.0 + params.shimmer * rng.standard_normal(int(cycle[-1]) + 2)[cycle]
    source = np.diff(flow, prepend=flow[0]) * sr / f0.mean()  # lip radiation ~ derivative
    breath = speaker.breathiness + params.breathiness
    aspiration = breath * rng.standard_normal(n_samples) * (0.3 + flow)  # noise while open
    source = lfilter([1.0 - params.tilt], [1.0, -params.tilt], source + aspiration)

    # ---- excitation through the vocal tract (eq. V3), then loudness (eq. V5) ----------------
    hiss = lfilter([1.0, -0.9], [1.0], rng.standard_normal(n_samples))  # high-pass noise
    excitation = voicing * source + frication * hiss
    y = _formant_cascade(excitation, formants, bandwidths, float(sr)) * envelope
    active = envelope > 0.1
    rms = np.sqrt(np.mean(y[active] ** 2)) if active.any() else 1.0
    y *= 0.05 * 10.0 ** (params.level_db / 20.0) / max(rms, 1e-12)
    y += 1e-4 * rng.standard_normal(n_samples)  # a quiet room, so no sample is exactly zero
    peak = np.max(np.abs(y))
    if peak > 0.99:  # a very loud voice is limited, never clipped
        y *= 0.99 / peak
    return y, np.where(voicing > 0.5, f0_jittered, 0.0)

"""A source-filter voice: glottal pulses through time-varying formant resonators.

Shape letters (docs/conventions.md): S samples.

    source  g(t): Rosenberg glottal-flow pulses at f0(t), differentiated (lip radiation),
                  with per-cycle jitter and shimmer, aspiration noise, and a spectral tilt
    filter  H(t): four second-order resonators (F1-F4) in cascade, their centre frequencies
                  moving between vowel targets syllable by syllable
    output  y = H(t) * (envelope * (voicing * g + frication noise))

The physics and every parameter are in docs/corpus.md (eq. V1-V5). The emotional colouring
of these parameters lives in ``ser.corpus.synth``; this module only knows voices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.signal import lfilter

__all__ = [
    "VoiceParams",
    "SpeakerVoice",
    "Sentence",
    "synthesize_voice",
    "vowel_formants",
    "VOWELS",
]

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
        breathy). It shapes the lowest harmonics: measured on this source, H1 - H2 goes from
        -2.7 dB at 0.4 to +2.3 dB at 0.6 and +9.6 dB at 0.8 (a breathy voice has a strong
        first harmonic).
    tilt : float
        Extra spectral tilt, a one-pole low-pass coefficient 0..0.9 (higher is duller). This,
        not the open quotient, sets the brightness above 2 kHz (how abruptly the glottis
        closes in a tense voice).
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


@dataclass(frozen=True)
class Sentence:
    """What is said, independent of how: syllables, their vowels, stress and relative lengths.

    Speaking the same ``Sentence`` with other ``VoiceParams`` gives the same words in another
    emotion (a lexically matched corpus, as RAVDESS and CREMA-D are).

    Attributes (one entry per syllable)
    ----------
    vowels : tuple of str          keys of ``VOWELS``
    stressed : tuple of bool       carries a pitch accent
    lengths : tuple of float       relative durations, mean 1
    onsets : tuple of float        fraction of the syllable taken by its consonant onset
    frication : tuple of float     noise level of the onset (0: a voiced onset)
    pause_after : int              index of the syllable followed by a phrase pause, or -1
    """

    vowels: tuple[str, ...]
    stressed: tuple[bool, ...]
    lengths: tuple[float, ...]
    onsets: tuple[float, ...]
    frication: tuple[float, ...]
    pause_after: int = -1

    @classmethod
    def random(cls, rng: np.random.Generator, n_syllables: int) -> Sentence:
        """A random sentence of ``n_syllables`` (>= 2) syllables."""
        n = max(2, int(n_syllables))
        stressed = rng.random(n) < 0.4
        stressed[int(rng.integers(0, n))] = True  # every sentence carries at least one accent
        frication = np.where(rng.random(n) < 0.6, rng.uniform(0.2, 0.5, n), 0.0)
        return cls(
            vowels=tuple(str(v) for v in rng.choice(list(VOWELS), size=n)),
            stressed=tuple(bool(b) for b in stressed),
            lengths=tuple(float(x) for x in rng.uniform(0.75, 1.25, n)),
            onsets=tuple(float(x) for x in rng.uniform(0.15, 0.3, n)),
            frication=tuple(float(x) for x in frication),
            pause_after=int(rng.integers(1, n)) if n >= 4 else -1,
        )

    @property
    def n_syllables(self) -> int:
        return len(self.vowels)


def vowel_formants(vowel: str, *, formant_scale: float = 1.0, articulation: float = 1.0):
    """Formant targets F1..F4 in Hz of ``vowel`` for one speaker and articulation (eq. V4)::

        F = formant_scale * (F_schwa + articulation * (F_vowel - F_schwa))

    ``articulation`` 1 reaches the vowel's target, 0 stays at the neutral vowel (schwa, "er");
    ``formant_scale`` shortens (> 1) or lengthens (< 1) the vocal tract.
    """
    neutral, target = np.array(VOWELS["er"]), np.array(VOWELS[vowel])
    return formant_scale * (neutral + articulation * (target - neutral))  # eq. V4


_LEAD_S, _TAIL_S = 0.12, 0.15  # silence before and after the speech
_PAUSE_SYLLABLES = 0.6  # a phrase pause lasts this many syllable durations


def sentence_duration(sentence: Sentence, *, syllables_per_second: float) -> float:
    """Seconds an utterance of ``sentence`` takes at this rate, silences included."""
    pause = _PAUSE_SYLLABLES if sentence.pause_after >= 0 else 0.0
    return _LEAD_S + _TAIL_S + (sum(sentence.lengths) + pause) / syllables_per_second


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
    sr: int,
    rng: np.random.Generator,
    sentence: Sentence | None = None,
    duration: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise one utterance of vowel-consonant syllables.

    Parameters
    ----------
    speaker : SpeakerVoice
    params : VoiceParams
    sr : int
        Sample rate in Hz.
    rng : numpy.random.Generator
        Every random choice of the voice (jitter, shimmer, noise, drift) comes from it.
    sentence : Sentence, optional
        What is said. Without it, a random sentence that fills ``duration`` is drawn from ``rng``.
    duration : float, optional
        Seconds of audio, silences included. Without it, the sentence's own length at the
        speaker's rate times ``params.rate_ratio``; with it, the syllables are stretched or
        squeezed to fit. One of ``sentence`` and ``duration`` is needed.

    Returns
    -------
    y : ndarray, shape (S,), float64
        Peak below 1, RMS about 0.05 * 10^(level_db / 20) over the voiced part.
    f0 : ndarray, shape (S,), float64
        The f0 contour in Hz, 0 where unvoiced, for plots and tests.
    """
    rate = speaker.rate * params.rate_ratio  # syllables per second
    if sentence is None:
        if duration is None:
            raise ValueError("synthesize_voice needs a sentence, a duration, or both")
        speech = max(duration - _LEAD_S - _TAIL_S, 0.3)
        sentence = Sentence.random(rng, round(speech * rate / (1 + _PAUSE_SYLLABLES / 8)))
    natural = sentence_duration(sentence, syllables_per_second=rate)
    duration = natural if duration is None else float(duration)
    n_samples = int(round(duration * sr))
    t = np.arange(n_samples) / sr

    # ---- syllable timing: the sentence's relative lengths, scaled to fit the duration ------
    n_syll = sentence.n_syllables
    stretch = max(duration - _LEAD_S - _TAIL_S, 0.1) / (natural - _LEAD_S - _TAIL_S)
    lengths = np.array(sentence.lengths) / rate * stretch
    pause_len = _PAUSE_SYLLABLES / rate * stretch if sentence.pause_after >= 0 else 0.0
    starts = _LEAD_S + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    if sentence.pause_after >= 0:
        starts[sentence.pause_after + 1 :] += pause_len

    # ---- per-sample control tracks --------------------------------------------------------
    voicing = np.zeros(n_samples)
    frication = np.zeros(n_samples)
    envelope = np.zeros(n_samples)
    accents = np.zeros(n_samples)
    targets = np.empty((n_syll, 4))
    for s in range(n_syll):
        start, length = starts[s], lengths[s]
        onset = length * sentence.onsets[s]  # consonant part of the syllable
        in_syll = (t >= start) & (t < start + length)
        in_vowel = (t >= start + onset) & (t < start + length)
        rel = (t[in_syll] - start) / length
        envelope[in_syll] = np.sin(np.pi * rel) ** 0.5 * (1.25 if sentence.stressed[s] else 1.0)
        voicing[in_vowel] = 1.0
        frication[in_syll & ~in_vowel] = sentence.frication[s]
        if sentence.stressed[s]:
            centre = start + onset + 0.4 * (length - onset)
            width = max(params.accent_sharpness * length, 0.01)
            accents += np.exp(-0.5 * ((t - centre) / width) ** 2)
        targets[s] = vowel_formants(  # eq. V4, with undershoot when articulation < 1
            sentence.vowels[s],
            formant_scale=speaker.formant_scale,
            articulation=params.articulation,
        )
    centres = starts + 0.6 * lengths
    formants = np.stack([np.interp(t, centres, targets[:, k]) for k in range(4)], axis=1)
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
    # loudness belongs to the source: the tract filter then smooths the syllable edges
    y = _formant_cascade(excitation * envelope, formants, bandwidths, float(sr))
    active = envelope > 0.1
    rms = np.sqrt(np.mean(y[active] ** 2)) if active.any() else 1.0
    y *= 0.05 * 10.0 ** (params.level_db / 20.0) / max(rms, 1e-12)
    y += 1e-4 * rng.standard_normal(n_samples)  # a quiet room, so no sample is exactly zero
    peak = np.max(np.abs(y))
    if peak > 0.99:  # a very loud voice is limited, never clipped
        y *= 0.99 / peak
    return y, np.where(voicing > 0.5, f0_jittered, 0.0)

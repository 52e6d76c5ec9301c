"""The built-in synthetic emotional-speech corpus: emotions as changes of voice parameters.

Each emotion changes prosody and voice quality relative to neutral speech, following the
vocal-correlates table of Murray & Arnott (1993) (docs/corpus.md has the table, row by row).
The voice itself is ``ser.corpus.voice.synthesize_voice``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ser.corpus.voice import SpeakerVoice, VoiceParams, synthesize_voice

__all__ = ["EMOTION_PARAMS", "EMOTIONS", "synthesize_utterance"]

# Murray & Arnott (1993), Table 1, read as changes relative to neutral speech:
#   "much higher" pitch average -> f0_ratio 1.25-1.5, "slightly slower" rate -> 0.85, etc.
EMOTION_PARAMS: dict[str, VoiceParams] = {
    "neutral": VoiceParams(),
    # faster or slower; much higher, much wider pitch; higher intensity; breathy, blaring;
    # smooth upward inflections
    "happy": VoiceParams(
        f0_ratio=1.25, f0_range=6.0, rate_ratio=1.1, level_db=3.0, open_quotient=0.55,
        tilt=0.15, breathiness=0.04, declination=-1.0, accent_sharpness=0.5,
    ),
    # slightly slower; slightly lower, slightly narrower pitch; lower intensity; resonant;
    # downward inflections; slurred articulation
    "sad": VoiceParams(
        f0_ratio=0.9, f0_range=1.5, rate_ratio=0.8, level_db=-6.0, open_quotient=0.7,
        tilt=0.6, jitter=0.015, declination=4.0, accent_sharpness=0.5, articulation=0.6,
    ),
    # slightly faster; very much higher, much wider pitch; higher intensity; breathy chest
    # tone; abrupt changes on stressed syllables; tense articulation
    "angry": VoiceParams(
        f0_ratio=1.35, f0_range=7.0, rate_ratio=1.15, level_db=6.0, open_quotient=0.4,
        tilt=0.05, breathiness=0.06, declination=3.0, accent_sharpness=0.15, articulation=1.0,
    ),
    # much faster; very much higher, much wider pitch; normal intensity; irregular voicing;
    # precise articulation
    "fearful": VoiceParams(
        f0_ratio=1.5, f0_range=5.0, rate_ratio=1.3, level_db=0.0, open_quotient=0.55,
        tilt=0.25, jitter=0.04, shimmer=0.12, breathiness=0.05, declination=1.0,
        articulation=1.0,
    ),
    # very much slower; very much lower, slightly wider pitch; lower intensity; grumbled
    # chest tone; wide downward terminal inflections
    "disgust": VoiceParams(
        f0_ratio=0.8, f0_range=3.5, rate_ratio=0.7, level_db=-3.0, open_quotient=0.45,
        tilt=0.45, jitter=0.02, declination=6.0, accent_sharpness=0.4,
    ),
}  # fmt: skip
EMOTIONS = tuple(EMOTION_PARAMS)


def _vary(params: VoiceParams, rng: np.random.Generator, spread: float) -> VoiceParams:
    """Per-utterance variation: every parameter moves by a random relative amount."""
    if spread <= 0:
        return params
    changes = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if field.name in ("level_db", "declination"):
            changes[field.name] = value + rng.normal(0.0, 3.0 * spread * 2)  # dB, semitones
        else:
            changes[field.name] = value * float(np.exp(rng.normal(0.0, spread)))
    changes["open_quotient"] = float(np.clip(changes["open_quotient"], 0.3, 0.9))
    changes["tilt"] = float(np.clip(changes["tilt"], 0.0, 0.9))
    changes["articulation"] = float(np.clip(changes["articulation"], 0.3, 1.0))
    return dataclasses.replace(params, **changes)


def synthesize_utterance(
    *,
    emotion: str = "neutral",
    speaker: SpeakerVoice | None = None,
    seed: int | np.random.Generator = 0,
    duration: float = 2.0,
    sr: int = 16000,
    variation: float = 0.0,
    return_f0: bool = False,
):
    """One synthetic utterance of ``emotion`` spoken by ``speaker``.

    Parameters
    ----------
    emotion : str
        A key of ``EMOTION_PARAMS``.
    speaker : SpeakerVoice, optional
        Defaults to a neutral adult male voice (120 Hz).
    seed : int or numpy.random.Generator
        Makes the utterance reproducible.
    duration : float
        Seconds.
    sr : int
        Sample rate in Hz.
    variation : float
        Relative spread of the per-utterance random variation of every voice parameter
        (0 is the table's exact values), so that the emotions overlap as real ones do.
    return_f0 : bool
        Also return the f0 contour (Hz, 0 where unvoiced).

    Returns
    -------
    y : ndarray, shape (round(duration * sr),), float64
    f0 : ndarray, same shape (only with ``return_f0``)
    """
    if emotion not in EMOTION_PARAMS:
        raise ValueError(f"unknown emotion {emotion!r}; choose one of {EMOTIONS}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    params = _vary(EMOTION_PARAMS[emotion], rng, variation)
    y, f0 = synthesize_voice(
        speaker=speaker or SpeakerVoice(), params=params, duration=duration, sr=sr, rng=rng
    )
    return (y, f0) if return_f0 else y

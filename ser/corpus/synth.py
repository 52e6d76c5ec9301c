"""The built-in synthetic emotional-speech corpus: emotions as changes of voice parameters.

Each emotion changes prosody and voice quality relative to neutral speech, following the
vocal-correlates table of Murray & Arnott (1993) (docs/corpus.md has the table, row by row).
The voice itself is ``ser.corpus.voice.synthesize_voice``.

``synthetic_corpus()`` is the course's embedded default data set: speakers x emotions x
utterances, each rendered on demand from its own seed, so nothing is downloaded or stored.
``write_synthetic_corpus()`` writes it as WAV files plus a CSV manifest that
``ser.corpus.load_corpus("synthetic", root)`` reads back.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from ser.corpus.records import Corpus, Utterance
from ser.corpus.voice import Sentence, SpeakerVoice, VoiceParams, synthesize_voice

__all__ = [
    "EMOTION_PARAMS",
    "EMOTIONS",
    "DEFAULT_EMOTIONS",
    "MANIFEST",
    "SyntheticSpeaker",
    "make_speakers",
    "synthesize_utterance",
    "synthetic_corpus",
    "synthetic_utterances",
    "write_synthetic_corpus",
]

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
        f0_ratio=1.45, f0_range=7.0, rate_ratio=1.15, level_db=6.0, open_quotient=0.4,
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
DEFAULT_EMOTIONS = ("neutral", "happy", "sad", "angry")
MANIFEST = "manifest.csv"


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
    for name, (low, high) in _PLAUSIBLE.items():  # stacked spreads must stay speech-like
        changes[name] = float(np.clip(changes[name], low, high))
    return dataclasses.replace(params, **changes)


# The range each varied parameter is kept in; e.g. a rate ratio of 0.6 is already very slow.
_PLAUSIBLE = {
    "f0_ratio": (0.7, 1.8),
    "f0_range": (0.5, 10.0),
    "rate_ratio": (0.6, 1.6),
    "level_db": (-15.0, 12.0),
    "open_quotient": (0.3, 0.9),
    "tilt": (0.0, 0.9),
    "jitter": (0.0, 0.06),
    "shimmer": (0.0, 0.2),
    "breathiness": (0.0, 0.3),
    "declination": (-4.0, 10.0),
    "accent_sharpness": (0.08, 0.8),
    "articulation": (0.3, 1.0),
}


def synthesize_utterance(
    *,
    emotion: str = "neutral",
    speaker: SpeakerVoice | None = None,
    seed: int | np.random.Generator = 0,
    duration: float | None = 2.0,
    sentence: Sentence | None = None,
    sr: int = 16000,
    variation: float = 0.0,
    params: VoiceParams | None = None,
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
    duration : float or None
        Seconds; None lets the sentence and the speaking rate decide (slow emotions last
        longer, as they do in real speech).
    sentence : Sentence, optional
        What is said; by default a random sentence drawn from the seed.
    sr : int
        Sample rate in Hz.
    variation : float
        Relative spread of the per-utterance random variation of every voice parameter
        (0 is the table's exact values), so that the emotions overlap as real ones do.
    params : VoiceParams, optional
        Use these instead of the table's row for ``emotion`` (a speaker's own style of it).
    return_f0 : bool
        Also return the f0 contour (Hz, 0 where unvoiced).

    Returns
    -------
    y : ndarray, shape (S,), float64; S = round(duration * sr) when a duration is given
    f0 : ndarray, same shape (only with ``return_f0``)
    """
    if emotion not in EMOTION_PARAMS:
        raise ValueError(f"unknown emotion {emotion!r}; choose one of {EMOTIONS}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    params = _vary(EMOTION_PARAMS[emotion] if params is None else params, rng, variation)
    y, f0 = synthesize_voice(
        speaker=speaker or SpeakerVoice(),
        params=params,
        sentence=sentence,
        duration=duration,
        sr=sr,
        rng=rng,
    )
    return (y, f0) if return_f0 else y


@dataclasses.dataclass(frozen=True)
class SyntheticSpeaker:
    """A speaker of the synthetic corpus: an id, a sex, and a voice."""

    id: str
    sex: str
    voice: SpeakerVoice


def make_speakers(n: int, *, seed: int = 0) -> list[SyntheticSpeaker]:
    """``n`` speakers, alternately female and male, with voices drawn from typical ranges.

    Women: f0 about 205 Hz (sd 18), formant scale 1.15 (sd 0.03); men: f0 about 115 Hz
    (sd 12), formant scale 1.0 (sd 0.03); both: 4.5 syllables/s (sd 0.35), breathiness
    0.02-0.08. Speaker i always gets the same voice for the same seed.
    """
    speakers = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7919, i])  # one stream per speaker
        female = i % 2 == 0
        f0 = rng.normal(205.0, 18.0) if female else rng.normal(115.0, 12.0)
        voice = SpeakerVoice(
            f0_hz=float(np.clip(f0, 150.0, 260.0) if female else np.clip(f0, 85.0, 150.0)),
            formant_scale=float(rng.normal(1.15 if female else 1.0, 0.03)),
            rate=float(np.clip(rng.normal(4.5, 0.35), 3.5, 5.5)),
            breathiness=float(rng.uniform(0.02, 0.08)),
        )
        speakers.append(SyntheticSpeaker(f"S{i + 1:02d}", "female" if female else "male", voice))
    return speakers


def _render(sr, *, emotion, speaker, style, sentence, seed, variation, snr_db):
    """Render one utterance of the corpus (kept at module level so it can be pickled)."""
    rng = np.random.default_rng(seed)
    y = synthesize_utterance(
        emotion=emotion,
        speaker=speaker,
        params=style,
        sentence=sentence,
        seed=rng,
        duration=None,
        sr=sr,
        variation=variation,
    )
    if snr_db is not None:
        from features.augment import add_noise

        y = add_noise(y, snr=snr_db, rng=rng)
        y *= min(1.0, 0.99 / np.max(np.abs(y)))  # noise may push a loud voice over full scale
    return y


def synthetic_corpus(
    *,
    emotions=DEFAULT_EMOTIONS,
    n_speakers: int = 10,
    n_utterances: int = 20,
    n_sentences: int = 10,
    seed: int = 0,
    variation: float = 0.2,
    speaker_style: float = 0.2,
    snr_db: float | None = None,
) -> Corpus:
    """The built-in synthetic corpus: every speaker says every sentence in every emotion.

    Parameters
    ----------
    emotions : sequence of str
        Keys of ``EMOTION_PARAMS``; the default is neutral, happy, sad, angry.
    n_speakers : int
        Speakers S01, S02, ... (alternately female and male).
    n_utterances : int
        Utterances per speaker and emotion: sentence ``u % n_sentences``, repetition
        ``u // n_sentences``.
    n_sentences : int
        Distinct sentences (8-11 syllables, about 2-3 s), shared by all speakers and emotions.
    seed : int
        Everything follows from it; utterance (speaker i, emotion j, index u) always has the
        same samples, whichever other utterances are rendered and in which order.
    variation : float
        Relative per-utterance spread of every voice parameter (``synthesize_utterance``).
    speaker_style : float
        Relative spread of each speaker's own way of expressing each emotion: the table's row
        is perturbed once per (speaker, emotion), as real speakers differ in how they show
        anger or joy. This is what a random (not speaker-independent) split leaks.
    snr_db : float, optional
        Add white noise at this signal-to-noise ratio (eq. SNR); None keeps the quiet room.

    Returns
    -------
    Corpus
        Utterances with ``path=None``; ``utterance.audio(sr)`` renders them on demand.
        Fields: id, sentence, repetition, sex, f0_hz, formant_scale, rate, seed.
    """
    return Corpus(
        "synthetic",
        tuple(
            synthetic_utterances(
                emotions=emotions,
                n_speakers=n_speakers,
                n_utterances=n_utterances,
                n_sentences=n_sentences,
                seed=seed,
                variation=variation,
                speaker_style=speaker_style,
                snr_db=snr_db,
            )
        ),
    )


def synthetic_utterances(
    *,
    emotions=DEFAULT_EMOTIONS,
    n_speakers: int = 10,
    n_utterances: int = 20,
    n_sentences: int = 10,
    seed: int = 0,
    variation: float = 0.2,
    speaker_style: float = 0.2,
    snr_db: float | None = None,
) -> Iterator[Utterance]:
    """The utterances of ``synthetic_corpus``, one at a time, in the same order.

    Nothing is held: ``ser synth`` writes a corpus of any size from this (each utterance's
    samples depend on its own seed only). Arguments as ``synthetic_corpus``; the checks run
    on the first ``next()``.
    """
    unknown = [e for e in emotions if e not in EMOTION_PARAMS]
    if unknown:
        raise ValueError(f"unknown emotions {unknown}; choose from {EMOTIONS}")
    if min(n_speakers, n_utterances, n_sentences) < 1:
        raise ValueError("n_speakers, n_utterances and n_sentences must be >= 1")
    sentence_rng = np.random.default_rng([seed, 104729])
    sentences = [
        Sentence.random(sentence_rng, int(sentence_rng.integers(8, 12))) for _ in range(n_sentences)
    ]
    for i, speaker in enumerate(make_speakers(n_speakers, seed=seed)):
        for emotion in emotions:
            j = EMOTIONS.index(emotion)  # stable whichever subset of emotions is chosen
            style_rng = np.random.default_rng([seed, i, j, 15485863])
            style = _vary(EMOTION_PARAMS[emotion], style_rng, speaker_style)
            for u in range(n_utterances):
                utt_seed = [seed, i, j, u]
                k = u % n_sentences
                yield Utterance(
                    path=None,
                    emotion=emotion,
                    speaker=speaker.id,
                    corpus="synthetic",
                    fields={
                        "id": f"{speaker.id}_{emotion}_{u:03d}",
                        "sentence": k,
                        "repetition": u // n_sentences,
                        "sex": speaker.sex,
                        "f0_hz": round(speaker.voice.f0_hz, 1),
                        "formant_scale": round(speaker.voice.formant_scale, 3),
                        "rate": round(speaker.voice.rate, 2),
                        "seed": "-".join(map(str, utt_seed)),
                    },
                    render=partial(
                        _render,
                        emotion=emotion,
                        speaker=speaker.voice,
                        style=style,
                        sentence=sentences[k],
                        seed=utt_seed,
                        variation=variation,
                        snr_db=snr_db,
                    ),
                )


MANIFEST_COLUMNS = ("path", "emotion", "speaker", "sentence", "repetition", "sex", "f0_hz",
                    "formant_scale", "rate", "seed")  # fmt: skip


def write_synthetic_corpus(
    corpus: Iterable[Utterance], out_dir, *, sr: int = 16000, progress=None, total=None
) -> Path:
    """Write every utterance as ``<speaker>/<id>.wav`` (16-bit PCM) plus ``manifest.csv``.

    ``corpus`` is a ``Corpus`` or any iterable of utterances (``synthetic_utterances``):
    each file is written as soon as it is synthesised and nothing is held, so a corpus of
    any size streams to the disk in constant memory. ``total`` (default ``len(corpus)``
    when it has one) is what ``progress(done, total)`` counts to.

    A folder with a manifest is complete: an old manifest is removed before the first file
    is rewritten, and the new one, written as the files are, is put in place atomically
    only after every file is on the disk (``os.sync``). Returns the manifest's path.
    """
    from ser.io import atomic_write, save_audio

    out_dir = Path(out_dir)
    if total is None and hasattr(corpus, "__len__"):
        total = len(corpus)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # the files are about to change

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
            writer.writeheader()
            n = 0
            for n, utt in enumerate(corpus, start=1):
                relative = Path(utt.speaker) / f"{utt.id}.wav"
                y = utt.audio(sr)
                # atomic, flushed all at once below rather than one fsync per file
                save_audio(out_dir / relative, y, sr, subtype="PCM_16", durable=False)
                writer.writerow({"path": relative.as_posix(), "emotion": utt.emotion,
                                 "speaker": utt.speaker,
                                 **{k: utt.fields[k] for k in MANIFEST_COLUMNS[3:]}})  # fmt: skip
                if progress is not None:
                    progress(n, total or n)
        if hasattr(os, "sync"):
            os.sync()  # every WAV reaches the disk before the manifest says they are there

    return atomic_write(out_dir / MANIFEST, write)

"""Emotion over time in a recording of any length (the document's A4): ``ser timeline``.

    file --blocks (features.streaming.read_blocks)--> samples at the model's rate
         --features.streaming.StreamingFeatures--> frames, as the offline features would be
         --windows (eq. T-1), scored (T-2), speech or silence (T-3)--> per-window probabilities
         --smoothing (T-4)--> one label per window --runs (T-5)--> segments

The file is read block by block and only the frames of the windows still to score are
kept, so the memory stays flat for an hour of audio; what is kept per window is K + 3 numbers,
plus a 10 Hz energy curve for the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser.smoothing import Segment, segments, smooth_labels
from ser.windows import WindowScorer

__all__ = ["Timeline", "timeline_of", "BLOCK_SECONDS"]

BLOCK_SECONDS = 10.0  # audio read at a time: 160k samples at 16 kHz, about 1.3 MB
_SCORE_BATCH = 256  # windows scored together
_ENERGY_STEP_S = 0.1  # the energy curve kept for the figure: one value per 0.1 s


@dataclass
class Timeline:
    """Everything ``ser timeline`` found in one recording.

    Attributes (N windows, K classes)
    ----------
    path : the file
    duration : float, seconds of audio read
    labels : list of K str
    window_s, hop_s : float, the window and hop in seconds (whole frames)
    starts, ends : ndarray (N,), seconds, each window's span (eq. T-1)
    probs : ndarray (N, K), class probabilities per window (eq. T-2)
    speech_fraction : ndarray (N,), fraction of speech frames per window (eq. T-3)
    speech : ndarray (N,) bool
    window_labels : list of N str, after smoothing (eq. T-4): an emotion or "silence"
    segments : list of Segment (eq. T-5)
    energy_times, energy_db : ndarray, the loudest frame every 0.1 s, dBFS (for the figure)
    smoothing : str
    """

    path: object
    duration: float
    labels: list
    window_s: float
    hop_s: float
    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    speech_fraction: np.ndarray
    speech: np.ndarray
    window_labels: list
    segments: list[Segment]
    energy_times: np.ndarray
    energy_db: np.ndarray
    smoothing: str = "viterbi"
    extra: dict = field(default_factory=dict)

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.starts + self.ends)

    def to_dict(self) -> dict:
        """The content of timeline.json. Each window as ``ser stream --jsonl`` prints it
        (``emotion``: its own most probable class or "silence"; ``probabilities`` by label),
        plus ``smoothed``: the label the smoothing gave it (its segment's)."""
        windows = []
        for i, (a, b, sp, f, smoothed, row) in enumerate(
            zip(self.starts, self.ends, self.speech, self.speech_fraction,
                self.window_labels, self.probs, strict=True)
        ):  # fmt: skip
            best = int(np.argmax(row))
            windows.append(
                {
                    "window": i,
                    "start": round(float(a), 4),
                    "end": round(float(b), 4),
                    "emotion": self.labels[best] if sp else "silence",
                    "confidence": round(float(row[best]), 6) if sp else None,
                    "speech": bool(sp),
                    "speech_fraction": round(float(f), 4),
                    "smoothed": smoothed,
                    "probabilities": {
                        lab: round(float(p), 6) for lab, p in zip(self.labels, row, strict=True)
                    },
                }
            )
        return {
            "file": str(Path(str(self.path)).resolve()),
            "duration_s": round(self.duration, 4),
            "labels": self.labels,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "smoothing": self.smoothing,
            "segments": [s.to_dict() for s in self.segments],
            "windows": windows,
            **self.extra,
        }


class _Windower:
    """Keeps the frames of the windows not yet scored and scores them in batches."""

    def __init__(self, scorer: WindowScorer):
        self.scorer = scorer
        self.buffer = {k: None for k in scorer.kinds}
        self.base = 0  # absolute index of the buffer's first frame
        self.next_window = 0
        self.probs, self.fractions = [], []

    def add(self, frames: dict, *, final: bool = False) -> None:
        for kind, new in frames.items():
            if kind not in self.buffer:
                continue
            old = self.buffer[kind]
            self.buffer[kind] = new if old is None else np.concatenate([old, new])
        self._score(final)

    def _score(self, final: bool) -> None:
        s = self.scorer
        held = self.buffer["energy"]
        if held is None:
            return
        first = self.next_window * s.hop_frames - self.base  # the next window's first frame
        count = s.n_windows(len(held) - first)
        if count < (1 if final else _SCORE_BATCH):
            return
        windows = s.windows_of({k: v[first:] for k, v in self.buffer.items()})
        self.probs.append(s.probabilities(windows))  # eq. T-2; T-3 from the fraction below
        self.fractions.append(s.speech_fraction(windows["energy"]))
        self.next_window += count
        keep = self.next_window * s.hop_frames - self.base
        self.buffer = {k: v[keep:] for k, v in self.buffer.items()}
        self.base += keep

    def results(self) -> tuple[np.ndarray, np.ndarray]:
        k = len(self.scorer.labels)
        if not self.probs:
            return np.empty((0, k)), np.empty(0)
        return np.concatenate(self.probs), np.concatenate(self.fractions)


def timeline_of(
    scorer: WindowScorer,
    path,
    *,
    smoothing: str = "viterbi",
    stay: float = 0.9,
    progress: Callable[[float, float], None] | None = None,
    block_seconds: float = BLOCK_SECONDS,
    settings: dict | None = None,
) -> Timeline:
    """Read ``path`` block by block and find its emotion over time (eqs. T-1 .. T-5).

    Parameters
    ----------
    scorer : WindowScorer
        The model and the window and hop (``ser.windows``).
    path : str or Path
        Any audio file ``features.load_audio`` reads, at any rate (resampled to the model's)
        and with any number of channels (down-mixed).
    smoothing, stay : see ``ser.smoothing.smooth_labels``
    progress : callable(seconds_done, seconds_total), optional
        Called after every block.
    settings : dict, optional
        Recorded in timeline.json as they are (the command's model file, stay, silence_db).

    Raises
    ------
    features.AudioError
        The file cannot be read as audio, or it is shorter than one window.
    """
    from features import AudioError
    from features.streaming import StreamingFeatures, read_blocks

    config = scorer.config
    sr = config.sample_rate
    stream = StreamingFeatures(config, kinds=scorer.kinds)
    windower = _Windower(scorer)
    step = max(1, int(round(_ENERGY_STEP_S / scorer.frame_seconds)))
    energy_curve, pending = [], np.empty(0)
    total = _seconds_in(path)
    samples = 0

    def take(frames: dict, final: bool = False) -> None:
        nonlocal pending
        windower.add(frames, final=final)
        pending = np.concatenate([pending, frames["energy"]])
        if final and len(pending) % step:  # the last, partial step: pad with silence
            pending = np.concatenate([pending, np.full(step - len(pending) % step, -100.0)])
        whole = len(pending) // step * step
        if whole:
            energy_curve.append(pending[:whole].reshape(-1, step).max(axis=1))
            pending = pending[whole:]

    for block in read_blocks(path, sr=sr, block_seconds=block_seconds):
        samples += len(block)
        take(stream.push(block))
        if progress is not None and total:
            progress(min(samples / sr, total), total)
    take(stream.finish(), final=True)
    duration = samples / sr
    probs, fractions = windower.results()
    if len(probs) == 0:
        shortest = scorer.spec.n_frames * scorer.frame_seconds
        hint = (
            f"use a shorter --window (at least the model's input, {shortest:.2f} s) or a "
            "longer file"
            if scorer.window_frames > scorer.spec.n_frames
            else f"the model reads {shortest:.2f} s at a time, so the file must be at least "
            "that long"
        )
        raise AudioError(
            f"{path}: {duration:.2f} s of audio is shorter than one window "
            f"({scorer.window_seconds:.2f} s); {hint}"
        )
    speech = fractions >= scorer.min_speech
    starts, ends = scorer.window_times(np.arange(len(probs)))
    window_labels = smooth_labels(probs, speech, scorer.labels, method=smoothing, stay=stay)
    centres = 0.5 * (starts + ends)
    segs = segments(
        window_labels, probs, fractions, centres, labels=scorer.labels, duration=duration
    )
    energy = np.concatenate(energy_curve) if energy_curve else np.empty(0)
    return Timeline(
        path=path,
        duration=duration,
        labels=scorer.labels,
        window_s=round(scorer.window_seconds, 6),
        hop_s=round(scorer.hop_seconds, 6),
        starts=starts,
        ends=ends,
        probs=probs,
        speech_fraction=fractions,
        speech=speech,
        window_labels=window_labels,
        segments=segs,
        energy_times=(np.arange(len(energy)) + 0.5) * step * scorer.frame_seconds,
        energy_db=energy,
        smoothing=smoothing,
        extra={"settings": {"window_s": round(scorer.window_seconds, 6),
                            "hop_s": round(scorer.hop_seconds, 6), "smoothing": smoothing,
                            "stay": stay, "silence_db": scorer.silence_db,
                            "min_speech": scorer.min_speech, **(settings or {})}},
    )  # fmt: skip


def _seconds_in(path) -> float | None:
    """The duration the file's header declares (for the progress estimate only)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # the reader reports what is wrong with the file; this is a hint only
        return None
    return info.frames / info.samplerate if info.samplerate else None

"""Class probabilities of fixed windows of a recording: what ``ser timeline`` and
``ser stream`` both compute, so that the two agree window for window (eqs. T-1 .. T-3).

    frames of the whole recording (T, C)  --T-1-->  windows i = 0, 1, ...: frames [i h, i h + W)
    window --as a test utterance (deltas M9, CMVN M10, crops)--> p_i (K,)          eq. T-2
    window energies (VAD-1) --VAD-2/3 with an absolute floor--> speech or silence  eq. T-3

A window is heard exactly as ``ser predict --whole`` hears a short file: its own deltas, the
model's normalisation (the training statistics stored in the model; a model normalised per
speaker or per utterance takes the window's own statistics, since a window has no speaker),
silence trimmed when the model was trained so, crops every ``n_frames // 2`` averaged. No
batch-normalisation adaptation: a live stream has no speaker's recordings to adapt to, and
the stream must give what the timeline gives.

Shape letters (docs/conventions.md): T frames, W frames per window, C features, K classes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from features import activity_from_energy
from ser.corpus.records import Utterance
from ser.experiment import pipeline_of, predict_proba
from ser.inputs import FeatureSet, model_inputs
from ser.smoothing import SILENCE  # re-exported: the label of a window without speech

__all__ = ["WindowScorer", "DEFAULT_SILENCE_DB", "DEFAULT_MIN_SPEECH", "SILENCE"]

DEFAULT_SILENCE_DB = -50.0  # dBFS: quieter frames are not speech (eq. T-3)
DEFAULT_MIN_SPEECH = 0.5  # a window is speech when at least this fraction of it is (eq. T-3);
# with a quarter, windows mostly of silence were scored, and came out as a confident "sad"
_BATCH_WINDOWS = 256  # windows scored per forward pass: bounded memory for any recording


class WindowScorer:
    """Scores the windows of a recording with a saved model (eqs. T-1 .. T-3).

    Parameters
    ----------
    model : nn model loaded by ``nn.serialization.load_model`` with ser metadata
    window_s : float, optional
        Window length in seconds; default the model's input, ``n_frames`` frames (1.28 s at a
        10 ms hop). Rounded to whole frames; a window shorter than the model's input is refused
        (the network reads ``n_frames`` frames at once).
    hop_s : float, optional
        Seconds between window starts; default half a window. Rounded to whole frames (>= 1).
    silence_db : float
        Absolute floor, dBFS, below which a frame is not speech (eq. T-3).
    min_speech : float
        Fraction of a window's frames that must be speech for it to be scored as speech.

    Attributes
    ----------
    config : features.MFCCConfig        the features the model reads
    kinds : tuple of str                feature kinds to extract ("energy" always among them)
    window_frames, hop_frames : int     W and h of eq. T-1
    frame_seconds : float               H / sr, seconds between frames
    labels : list of str                the model's classes, K of them
    """

    def __init__(
        self,
        model,
        *,
        window_s: float | None = None,
        hop_s: float | None = None,
        silence_db: float = DEFAULT_SILENCE_DB,
        min_speech: float = DEFAULT_MIN_SPEECH,
    ):
        spec, config, cmvn, _adapt = pipeline_of(model)  # checks the metadata first
        changes = {"test_crops": "all"}
        if spec.normalisation == "speaker":
            changes["normalisation"] = "utterance"
        self.model = model
        self.spec = replace(spec, **changes)
        self.cmvn = cmvn
        self.config = config
        self.labels = list(model.metadata["labels"])
        self.kinds = tuple(dict.fromkeys((spec.features, "energy")))
        self.frame_seconds = config.hop_length / config.sample_rate
        n = spec.n_frames
        if window_s is None:
            self.window_frames = n
        else:
            if not (np.isfinite(window_s) and window_s > 0):
                raise ValueError(f"the window must be a positive number of seconds, got {window_s}")
            self.window_frames = max(1, int(round(window_s / self.frame_seconds)))
            if self.window_frames < n:
                raise ValueError(
                    f"a window of {window_s:g} s is shorter than the model's input, {n} frames "
                    f"= {n * self.frame_seconds:.2f} s; use --window {n * self.frame_seconds:.2f} "
                    "or longer"
                )
        if hop_s is None:
            self.hop_frames = max(1, self.window_frames // 2)
        else:
            if not (np.isfinite(hop_s) and hop_s > 0):
                raise ValueError(f"the hop must be a positive number of seconds, got {hop_s}")
            self.hop_frames = max(1, int(round(hop_s / self.frame_seconds)))
        if not -100.0 <= silence_db <= 0.0:
            raise ValueError(f"--silence-db must be within -100 .. 0 dBFS, got {silence_db:g}")
        if not 0.0 <= min_speech <= 1.0:
            raise ValueError(f"min_speech must be within 0 .. 1, got {min_speech}")
        self.silence_db = float(silence_db)
        self.min_speech = float(min_speech)

    # ---- eq. T-1: where the windows are -----------------------------------------------------
    @property
    def window_seconds(self) -> float:
        return self.window_frames * self.frame_seconds

    @property
    def hop_seconds(self) -> float:
        return self.hop_frames * self.frame_seconds

    def n_windows(self, n_frames: int) -> int:
        """Whole windows in ``n_frames`` frames (eq. T-1): floor((T - W) / h) + 1, or 0."""
        if n_frames < self.window_frames:
            return 0
        return (n_frames - self.window_frames) // self.hop_frames + 1

    def window_times(self, i) -> tuple:
        """(start, end) in seconds of window ``i`` (an int or an array of them), eq. T-1.

        Frame t starts at sample t H (minus L // 2 with centre padding) and lasts L samples, so
        window i spans [i h H, ((i h + W - 1) H + L)] / sr, clipped at 0 on the left.
        """
        c = self.config
        offset = c.win_length // 2 if c.center else 0
        first = np.asarray(i) * self.hop_frames
        start = (first * c.hop_length - offset) / c.sample_rate
        end = ((first + self.window_frames - 1) * c.hop_length - offset + c.win_length) / (
            c.sample_rate
        )
        return np.maximum(start, 0.0), end

    def windows_of(self, frames: dict) -> dict:
        """The windows of eq. T-1 cut from a recording's frames: kind -> (N, W, C) (or (N, W)
        for the energy), views, not copies. ``frames`` maps each of ``kinds`` to (T, C)."""
        t = len(frames["energy"])
        count = self.n_windows(t)
        out = {}
        for kind in self.kinds:
            a = np.asarray(frames[kind], dtype=np.float64)
            if len(a) != t:
                raise ValueError(f"{len(a)} frames of {kind} for {t} frames of energy")
            if count == 0:
                out[kind] = np.empty((0, self.window_frames, *a.shape[1:]))
                continue
            view = np.lib.stride_tricks.sliding_window_view(a, self.window_frames, axis=0)
            view = view[:: self.hop_frames][:count]  # (N, [C,] W)
            out[kind] = np.moveaxis(view, -1, 1)  # (N, W[, C])
        return out

    # ---- eqs. T-2, T-3: what is in them -----------------------------------------------------
    def speech_fraction(self, energy_windows: np.ndarray) -> np.ndarray:
        """The fraction of each window's frames that are voice activity (VAD-2/3 on the
        window's own energies, absolute floor ``silence_db`` dBFS): (N, W) dBFS -> (N,)."""
        e = np.asarray(energy_windows, dtype=np.float64)
        out = np.zeros(len(e))
        for i, window in enumerate(e):
            active = activity_from_energy(
                window, top_db=self.spec.vad_top_db, floor_db=self.silence_db
            )
            out[i] = active.mean()
        return out

    def speech(self, energy_windows: np.ndarray) -> np.ndarray:
        """Eq. T-3: window i is speech when at least ``min_speech`` of its frames are voice
        activity (``speech_fraction``): (N, W) dBFS -> (N,) bool."""
        return self.speech_fraction(energy_windows) >= self.min_speech

    def score(self, windows: dict) -> tuple[np.ndarray, np.ndarray]:
        """Eqs. T-2 and T-3 for N windows.

        Parameters
        ----------
        windows : dict kind -> ndarray (N, W, C), and "energy" -> (N, W) dBFS
            Raw frames of each window (``windows_of``, or a stream's ring buffer).

        Returns
        -------
        probs : ndarray (N, K), float64
            Each window's class probabilities, the mean over its crops (eq. T-2).
        speech : ndarray (N,), bool
            Whether the window holds speech (eq. T-3); the probabilities of a silent window
            are computed all the same, and the caller decides what to show.
        """
        return self.probabilities(windows), self.speech(windows["energy"])

    def probabilities(self, windows: dict) -> np.ndarray:
        """Eq. T-2 alone: (N, K) class probabilities of the windows (see ``score``)."""
        n = len(windows["energy"])
        probs = np.empty((n, len(self.labels)))
        for lo in range(0, n, _BATCH_WINDOWS):
            hi = min(n, lo + _BATCH_WINDOWS)
            made = [
                model_inputs(self.spec, {k: [windows[k][i]] for k in self.kinds}, 0)
                for i in range(lo, hi)
            ]
            utts = [
                Utterance(
                    path=Path(f"window-{i}"),
                    emotion=self.labels[0],
                    speaker=f"w{i}",
                    corpus="windows",
                )
                for i in range(lo, hi)
            ]
            data = FeatureSet.build(
                utts, [x for x, _ in made], [s for _, s in made], self.labels, self.spec, self.cmvn
            )
            probs[lo:hi] = predict_proba(self.model, data)  # no adaptation: see the docstring
        return probs

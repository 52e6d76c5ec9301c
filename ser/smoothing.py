"""From per-window class probabilities to segments of one emotion (eqs. T-4, T-5).

A window's probabilities flicker: two windows 0.64 s apart can disagree with high confidence
(the network hears 1.28 s at a time). Emotion in speech changes more slowly than that, so
the labels are smoothed over time before they are shown:

- ``"viterbi"`` (default): a hidden Markov model whose states are the K emotions, "sticky"
  transitions (stay with probability ``stay``, else move to any other emotion equally), and
  each window's class probabilities as its emission scores; the most probable path is found
  by the Viterbi algorithm (eq. T-4). A one-window blip costs two switches, so it survives
  only when that window is very sure.
- ``"median"``: each class's probability median-filtered over ``median_windows`` windows,
  then the argmax.
- ``"none"``: each window's own argmax.

Windows without speech (eq. T-3) are never forced into an emotion: they are "silence", and
each run of speech windows between them is smoothed on its own. Runs of one label become
segments (eq. T-5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SILENCE", "Segment", "SMOOTHERS", "viterbi_path", "smooth_labels", "segments"]

SILENCE = "silence"  # the label of a window without speech (never one of the model's classes)
SMOOTHERS = ("viterbi", "median", "none")
_LOG_FLOOR = 1e-12  # a probability of exactly 0 would make every path through it -inf


def viterbi_path(probs: np.ndarray, *, stay: float = 0.9) -> np.ndarray:
    """The most probable state path of a sticky HMM (eq. T-4).

    Math (docs/timeline.md, eq. T-4)::

        A[j, k] = stay if j == k else (1 - stay) / (K - 1)          transitions
        delta_0[k] = log p_0[k]                                     (uniform start)
        delta_i[k] = max_j (delta_{i-1}[j] + log A[j, k]) + log p_i[k]
        s_{N-1} = argmax_k delta_{N-1}[k];  s_i = argmax_j (delta_i[j] + log A[j, s_{i+1}])

    The window posteriors p_i stand for the emission likelihoods (a "hybrid" HMM with a flat
    class prior). Ties go to the lower class index.

    Parameters
    ----------
    probs : ndarray (N, K)
        Class probabilities of N consecutive windows.
    stay : float
        Probability of keeping the same emotion from one window to the next, in (0, 1).

    Returns
    -------
    ndarray (N,), int: the class of each window on the best path.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs must be shaped (N, K), got {p.shape}")
    if not 0.0 < stay < 1.0:
        raise ValueError(f"stay must be within (0, 1), got {stay}")
    n, k = p.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    log_a = np.full((k, k), np.log((1.0 - stay) / (k - 1)))
    np.fill_diagonal(log_a, np.log(stay))
    log_b = np.log(np.maximum(p, _LOG_FLOOR))
    delta = log_b[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        scores = delta[:, None] + log_a  # (from j, to k)
        back[i] = scores.argmax(axis=0)
        delta = scores[back[i], np.arange(k)] + log_b[i]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(delta.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _median_path(probs: np.ndarray, width: int) -> np.ndarray:
    if width < 1:
        raise ValueError(f"the median filter needs at least 1 window, got {width}")
    half = width // 2
    padded = np.pad(probs, ((half, width - 1 - half), (0, 0)), mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, width, axis=0)  # (N, K, width)
    return np.median(view, axis=-1).argmax(axis=1)


def smooth_labels(
    probs: np.ndarray,
    speech: np.ndarray,
    labels,
    *,
    method: str = "viterbi",
    stay: float = 0.9,
    median_windows: int = 5,
) -> list[str]:
    """One label per window: an emotion for a speech window, ``"silence"`` for the others;
    each run of speech windows is smoothed on its own (``method``, see the module docstring).

    Parameters
    ----------
    probs : ndarray (N, K)      class probabilities of each window (eq. T-2)
    speech : ndarray (N,) bool  whether each window holds speech (eq. T-3)
    labels : sequence of K str
    """
    if method not in SMOOTHERS:
        raise ValueError(f"unknown smoothing {method!r}; choose one of {', '.join(SMOOTHERS)}")
    probs = np.asarray(probs, dtype=np.float64)
    speech = np.asarray(speech, dtype=bool)
    if len(speech) != len(probs):
        raise ValueError(f"{len(speech)} speech decisions for {len(probs)} windows")
    out = [SILENCE] * len(probs)
    edges = np.flatnonzero(np.diff(np.r_[0, speech.astype(np.int8), 0]))
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        run = probs[lo:hi]
        if method == "viterbi":
            path = viterbi_path(run, stay=stay)
        elif method == "median":
            path = _median_path(run, median_windows)
        else:
            path = run.argmax(axis=1)
        out[lo:hi] = [labels[int(c)] for c in path]
    return out


@dataclass(frozen=True)
class Segment:
    """A stretch of a recording with one label: [start, end) seconds, the label (an emotion
    or "silence"), its confidence and the windows [first, last] it is made of."""

    start: float
    end: float
    emotion: str
    confidence: float
    first: int
    last: int

    def to_dict(self) -> dict:
        return {
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "emotion": self.emotion,
            "confidence": round(self.confidence, 4),
            "windows": [self.first, self.last],
        }


def segments(
    window_labels, probs, speech_fraction, centres, *, labels, duration: float
) -> list[Segment]:
    """Runs of one label as segments (eq. T-5).

    Math (docs/timeline.md, eq. T-5): windows i..j with one label l make one segment;
    neighbouring segments meet halfway between the centres of their outer windows,
    (c_j + c_{j+1}) / 2; the first starts at 0 s and the last ends at ``duration``. Its
    confidence is the mean of p_i[l] over its windows, or for silence the mean fraction of
    frames without speech, 1 - f_i.

    Parameters
    ----------
    window_labels : list of N str       ``smooth_labels``
    probs : ndarray (N, K)
    speech_fraction : ndarray (N,)      f_i, the fraction of speech frames (eq. T-3)
    centres : ndarray (N,)              c_i, the centre of each window in seconds
    labels : sequence of K str          the model's classes
    duration : float                    seconds of the recording
    """
    n = len(window_labels)
    if n == 0:
        return []
    index = {name: k for k, name in enumerate(labels)}
    centres = np.asarray(centres, dtype=np.float64)
    out = []
    lo = 0
    for i in range(1, n + 1):
        if i < n and window_labels[i] == window_labels[lo]:
            continue
        label = window_labels[lo]
        if label == SILENCE:
            conf = float(np.mean(1.0 - np.asarray(speech_fraction[lo:i])))
        else:
            conf = float(np.mean(np.asarray(probs)[lo:i, index[label]]))
        start = 0.0 if lo == 0 else 0.5 * (centres[lo - 1] + centres[lo])
        end = duration if i == n else 0.5 * (centres[i - 1] + centres[i])
        out.append(Segment(float(start), float(max(end, start)), label, conf, lo, i - 1))
        lo = i
    return out

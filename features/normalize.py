"""Cepstral mean and variance normalisation, CMVN (M10).

Shape letters (docs/conventions.md): T frames, C coefficients.

Two forms:
- ``cmvn(x)``: per utterance, statistics from the utterance itself (needs no training data).
- ``fit_cmvn`` / ``CMVNStats.apply``: statistics fitted on *training* utterances only, globally
  or per speaker, then applied to anything. Fitting on test data leaks it into the model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["cmvn", "CMVNStats", "fit_cmvn", "fit_cmvn_per_speaker", "apply_cmvn_per_speaker"]

_STD_FLOOR = 1e-8  # a constant coefficient (silence, a DC offset) keeps std 0: divide by this


def cmvn(features: np.ndarray, *, variance: bool = True) -> np.ndarray:
    """Per-utterance CMVN.

    Math (docs/features.md, eq. M10)::

        mu[c]    = mean_t x[t, c]
        sigma[c] = sqrt(mean_t (x[t, c] - mu[c])^2)
        y[t, c]  = (x[t, c] - mu[c]) / max(sigma[c], 1e-8)      (variance=True)
        y[t, c]  =  x[t, c] - mu[c]                             (variance=False: CMN only)

    Parameters
    ----------
    features : ndarray, shape (T, C)

    Returns
    -------
    ndarray, shape (T, C), float64
    """
    x = np.asarray(features, dtype=np.float64)
    return CMVNStats.from_features([x]).apply(x, variance=variance)


@dataclass(frozen=True)
class CMVNStats:
    """Mean and standard deviation of each coefficient, fitted on training data.

    Attributes
    ----------
    mean, std : ndarray, shape (C,), float64
    n_frames : int
        How many frames the statistics were computed from.
    """

    mean: np.ndarray
    std: np.ndarray
    n_frames: int

    @classmethod
    def from_features(cls, utterances: Iterable[np.ndarray]) -> CMVNStats:
        """Pool every frame of ``utterances`` (each (T_i, C)) and measure eq. M10's mu, sigma."""
        frames = [np.asarray(u, dtype=np.float64) for u in utterances]
        if not frames:
            raise ValueError("CMVN needs at least one utterance to fit on")
        widths = {f.shape[1] if f.ndim == 2 else None for f in frames}
        if len(widths) != 1 or None in widths:
            raise ValueError(f"CMVN utterances must all be (T, C) with one C, got widths {widths}")
        stacked = np.concatenate(frames, axis=0)
        if stacked.shape[0] == 0:
            raise ValueError("CMVN needs at least one frame to fit on")
        # BEGIN SOLUTION ex=M10
        return cls(stacked.mean(axis=0), stacked.std(axis=0), int(stacked.shape[0]))
        # END SOLUTION

    def apply(self, features: np.ndarray, *, variance: bool = True) -> np.ndarray:
        """(x - mean) / max(std, 1e-8) per coefficient (eq. M10); (T, C) -> (T, C) float64."""
        x = np.asarray(features, dtype=np.float64)
        if x.shape[-1] != self.mean.shape[0]:
            raise ValueError(
                f"CMVN statistics are for {self.mean.shape[0]} coefficients, "
                f"features have {x.shape[-1]}"
            )
        # BEGIN SOLUTION ex=M10
        centred = x - self.mean  # eq. M10
        return centred / np.maximum(self.std, _STD_FLOOR) if variance else centred
        # END SOLUTION

    def to_dict(self) -> dict[str, np.ndarray]:
        """Arrays for an ``.npz`` file (no pickle): ``mean``, ``std``, ``n_frames``."""
        return {"mean": self.mean, "std": self.std, "n_frames": np.array(self.n_frames)}

    @classmethod
    def from_dict(cls, d) -> CMVNStats:
        """Inverse of ``to_dict``."""
        return cls(np.asarray(d["mean"], float), np.asarray(d["std"], float), int(d["n_frames"]))


def fit_cmvn(train_features: Iterable[np.ndarray]) -> CMVNStats:
    """Global CMVN statistics from the training utterances only (each (T_i, C))."""
    return CMVNStats.from_features(train_features)


def fit_cmvn_per_speaker(
    train_features: Sequence[np.ndarray], speakers: Sequence[Hashable]
) -> dict[Hashable, CMVNStats]:
    """One set of CMVN statistics per speaker, from that speaker's training utterances.

    Parameters
    ----------
    train_features : sequence of ndarray, each (T_i, C)
    speakers : sequence, same length: the speaker of each utterance

    Returns
    -------
    dict speaker -> CMVNStats
    """
    if len(train_features) != len(speakers):
        raise ValueError(f"got {len(train_features)} utterances but {len(speakers)} speaker labels")
    by_speaker: dict[Hashable, list[np.ndarray]] = {}
    for feats, speaker in zip(train_features, speakers, strict=True):
        by_speaker.setdefault(speaker, []).append(feats)
    return {s: CMVNStats.from_features(u) for s, u in by_speaker.items()}


def apply_cmvn_per_speaker(
    features: np.ndarray, speaker: Hashable, stats: dict[Hashable, CMVNStats]
) -> np.ndarray:
    """Normalise one utterance with its speaker's statistics; an unknown speaker is an error.

    A speaker who was not in the training data has no statistics: fit them on that speaker's
    unlabelled audio (``fit_cmvn([...])``) or use global statistics instead.
    """
    if speaker not in stats:
        raise KeyError(
            f"no CMVN statistics for speaker {speaker!r}; known speakers: {sorted(map(str, stats))}"
        )
    return stats[speaker].apply(features)

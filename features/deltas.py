"""Regression deltas and delta-deltas (M9): how fast each coefficient changes.

Shape letters (docs/conventions.md): T frames, C coefficients.
"""

from __future__ import annotations

import numpy as np

__all__ = ["deltas", "add_deltas"]


def deltas(features: np.ndarray, *, width: int = 2) -> np.ndarray:
    """Regression deltas over +-``width`` frames, edges replicated.

    Math (docs/features.md, eq. M9), with N = ``width``::

        d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2)

    where c_{t} for t < 0 is c_0 and for t > T-1 is c_{T-1} (edge replication, as HTK and
    python_speech_features). It is the least-squares slope of a line through the 2N+1 frames
    around t, so a linear ramp gives its exact slope away from the edges.

    Parameters
    ----------
    features : ndarray, shape (T, C)
    width : int
        N >= 1 (HTK's DELTAWINDOW; 2 is standard).

    Returns
    -------
    ndarray, shape (T, C), float64

    Notes
    -----
    librosa.feature.delta(width=2N+1) uses a Savitzky-Golay filter of order 1, which equals
    this formula in the interior; its default edge mode ("interp") differs at the first and last
    N frames.
    """
    c = np.asarray(features, dtype=np.float64)
    if width < 1:
        raise ValueError(f"delta width must be >= 1, got {width}")
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"deltas need features shaped (T, C) with T >= 1, got {c.shape}")
    # BEGIN SOLUTION ex=M9
    n_frames = c.shape[0]
    padded = np.pad(c, ((width, width), (0, 0)), mode="edge")
    numerator = np.zeros_like(c)
    for n in range(1, width + 1):
        ahead = padded[width + n : width + n + n_frames]  # c_{t+n}
        behind = padded[width - n : width - n + n_frames]  # c_{t-n}
        numerator += n * (ahead - behind)  # eq. M9
    return numerator / (2.0 * sum(n * n for n in range(1, width + 1)))
    # END SOLUTION


def add_deltas(features: np.ndarray, *, width: int = 2, order: int = 2) -> np.ndarray:
    """Stack features with their deltas (order 1) and delta-deltas (order 2).

    Returns
    -------
    ndarray, shape (T, C * (order + 1)): [c, d, dd]; 13 MFCCs become the usual 39.
    """
    blocks = [np.asarray(features, dtype=np.float64)]
    for _ in range(order):
        blocks.append(deltas(blocks[-1], width=width))
    return np.concatenate(blocks, axis=1)

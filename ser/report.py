"""Figures and tables for reports (matplotlib with the Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser.io import atomic_write

__all__ = ["save_features_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # write files; never try to open a window
    import matplotlib.pyplot as plt

    return plt


def save_features_figure(
    path, features: np.ndarray, *, hop_seconds: float, title: str, ylabel: str = "coefficient"
) -> Path:
    """Save a (T, C) feature matrix as an image: time across, coefficients up.

    Parameters
    ----------
    path : str or Path
        A .png (or any format matplotlib knows) file, written atomically.
    features : ndarray, shape (T, C)
    hop_seconds : float
        Seconds between frames, for the time axis.
    title, ylabel : str
    """
    plt = _pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
    image = ax.imshow(
        features.T,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(0.0, features.shape[0] * hop_seconds, -0.5, features.shape[1] - 0.5),
        cmap="magma",
    )
    ax.set(xlabel="time (s)", ylabel=ylabel, title=title)
    fig.colorbar(image, ax=ax)
    atomic_write(
        path, lambda tmp: fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    )
    plt.close(fig)
    return path

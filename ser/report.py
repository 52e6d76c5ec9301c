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


def _save(fig, path) -> Path:
    plt = _pyplot()
    path = Path(path)
    atomic_write(
        path, lambda tmp: fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    )
    plt.close(fig)
    return path


def save_training_curves(path, history) -> Path:
    """Loss and accuracy per epoch, training and validation."""
    plt = _pyplot()
    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for key, style in (("loss", "-o"), ("val_loss", "--o")):
        if key in h:
            ax[0].plot(epochs, h[key], style, label=key, ms=3)
    for key, style in (("accuracy", "-o"), ("val_accuracy", "--o")):
        if key in h:
            ax[1].plot(epochs, h[key], style, label=key, ms=3)
    ax[0].set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax[1].set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    for a in ax:
        a.legend()
    return _save(fig, path)


def save_confusion_matrix(path, confusion: np.ndarray, labels, *, title="Test speakers") -> Path:
    """Rows: true emotion; columns: predicted; each row also as a fraction (recall)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.8), layout="constrained")
    rows = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{confusion[i, j]}\n{rows[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if rows[i, j] > 0.5 else "black",
                fontsize=8,
            )
    ax.set(
        xticks=range(len(labels)),
        yticks=range(len(labels)),
        xticklabels=labels,
        yticklabels=labels,
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    return _save(fig, path)


def save_filters(path, kernel: np.ndarray) -> Path:
    """The learned first-layer kernels, (KH, KW, 1, F), one small image per filter."""
    plt = _pyplot()
    F = kernel.shape[-1]
    cols = 8
    fig, axes = plt.subplots(
        -(-F // cols), cols, figsize=(8, 1.1 * -(-F // cols)), layout="constrained"
    )
    limit = float(np.abs(kernel).max())
    for f, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if f < F:
            ax.imshow(kernel[:, :, 0, f], cmap="coolwarm", vmin=-limit, vmax=limit)
    fig.suptitle("Learned 3x3 filters (rows: time, columns: MFCC index)")
    return _save(fig, path)


def save_inputs_per_class(path, examples: dict) -> Path:
    """One normalised (128, 13) MFCC input per emotion."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(examples), figsize=(2.6 * len(examples), 3.4), layout="constrained", sharey=True
    )
    for ax, (label, feats) in zip(np.ravel(axes), examples.items(), strict=True):
        ax.imshow(feats.T, origin="lower", aspect="auto", cmap="magma", vmin=-3, vmax=3)
        ax.set(title=label, xlabel="frame")
    np.ravel(axes)[0].set(ylabel="MFCC index")
    fig.suptitle("One network input per emotion (128 frames x 13 MFCCs, after CMVN)")
    return _save(fig, path)

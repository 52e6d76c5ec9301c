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
    """Loss and accuracy per epoch, training and validation (and each head's of a
    multi-task model)."""
    plt = _pyplot()
    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    # a multi-task model logs each head too: "emotion_loss", "auxiliary_accuracy", ...
    losses = [k for k in h if k == "loss" or k.endswith("_loss")]
    scores = [k for k in h if k.endswith("accuracy") or k == "val_uar"]
    for key in losses:
        ax[0].plot(epochs, h[key], "--o" if key.startswith("val_") else "-o", label=key, ms=3)
    for key in scores:
        ax[1].plot(epochs, h[key], "--o" if key.startswith("val_") else "-o", label=key, ms=3)
    ax[0].set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax[1].set(xlabel="epoch", ylabel="accuracy or UAR", title="Accuracy", ylim=(0, 1.02))
    for a in ax:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
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


def save_fold_scores(path, result: dict) -> Path:
    """The UAR of every fold, one line of markers per model, with chance as a dashed line."""
    plt = _pyplot()
    names = list(result["models"])
    n_folds = len(result["folds"])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * n_folds + 3), 3.4), layout="constrained")
    folds = np.arange(1, n_folds + 1)
    for i, name in enumerate(names):
        values = [np.nan if v is None else v for v in result["models"][name]["fold_uar"]]
        offset = (i - (len(names) - 1) / 2) * 0.12
        mean = result["models"][name]["uar_mean"]
        label = name if mean is None else f"{name} (mean {mean:.3f})"
        ax.plot(folds + offset, values, "o", label=label, ms=6)
        if mean is not None:
            ax.axhline(mean, color=ax.lines[-1].get_color(), lw=0.8, alpha=0.6)
    ax.axhline(1 / len(result["emotions"]), color="grey", ls="--", lw=1, label="chance")
    ax.set(
        xlabel="fold (test speakers)",
        ylabel="UAR (unweighted average recall)",
        title=f"{result['corpus']}: {result['protocol']}",
        xticks=folds,
        ylim=(0, 1),
    )
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


CROSSVAL_OUTPUTS = ("crossval.json", "report.md", "fold_uar.png", "confusion_matrix.png")


def save_crossval_report(out, result: dict) -> Path:
    """``crossval.json``, ``report.md`` and its figures (per-fold UAR of every model; the best
    model's pooled confusion matrix) in the folder ``out``, from the result of
    ``ser.crossval``, published together: a reader of ``out`` sees all of the old ones or
    all of the new ones (``ser.io.StagedOutputs``). Returns the report's path."""
    import json

    from ser.io import StagedOutputs

    with StagedOutputs(out, CROSSVAL_OUTPUTS) as staged:
        _crossval_files(staged, result)
        atomic_write(
            staged.path("crossval.json"),
            lambda tmp: tmp.write_text(json.dumps(result, indent=1) + "\n"),
        )
        staged.publish()
    return Path(out) / "report.md"


def _crossval_files(staged, result: dict) -> None:
    figures = {"UAR per fold": save_fold_scores(staged.path("fold_uar.png"), result)}
    best = result.get("best_model")
    if best is not None:
        confusion = np.array(result["models"][best]["confusion"])
        figures[f"pooled confusion matrix of {best}"] = save_confusion_matrix(
            staged.path("confusion_matrix.png"),
            confusion,
            result["emotions"],
            title=f"{best}: every test speaker",
        )
    rows = []
    for name, m in result["models"].items():
        if m["uar_mean"] is None:
            rows.append(f"| {name} | failed | | | | 0/{len(m['fold_uar'])} |")
            continue
        rows.append(
            f"| {name} | {m['uar_mean']:.3f} ± {m['uar_sd']:.3f} | {m['uar_pooled']:.3f} "
            f"| {m['accuracy']:.3f} | {m['macro_f1']:.3f} "
            f"| {m['folds_done']}/{len(m['fold_uar'])} |"
        )
    alone = "\n".join(
        f"- `{name}` on each test file heard alone, with nothing known of its speaker (its own "
        f"statistics, batch normalisation as trained: what `ser predict` does): mean UAR "
        f"{m['uar_alone_mean']:.3f}."
        for name, m in result["models"].items()
        if m.get("uar_alone_mean") is not None
    )
    names = list(result["models"])
    fold_rows = []
    for i, fold in enumerate(result["fold_results"]):
        cells = []
        for name in names:
            r = fold["models"].get(name, {})
            cells.append(f"{r['uar']:.3f}" if "uar" in r else "failed")
        fold_rows.append(f"| {i + 1} | {', '.join(fold['test'])} | " + " | ".join(cells) + " |")
    failures = "\n".join(
        f"- fold {f['fold']}, {f['model']}: {f['error']}" for f in result["failures"]
    )
    figs = "\n".join(f"- {name}: ![{name}]({Path(p).name})" for name, p in figures.items())
    seconds = result.get("seconds")
    text = f"""# Cross-validation: {result["corpus"]}, {len(result["emotions"])} emotions

- Protocol: {result["protocol"]} (seed {result["seed"]}); in each fold, validation speakers
  taken from the training speakers are scored after every epoch (and choose the epoch with
  `--early-stopping`); the test speakers are heard once, at the end.
- Emotions: {", ".join(result["emotions"])} (chance UAR {1 / len(result["emotions"]):.3f}).
- The recommended recipe is `{result["default_model"]}`; `baseline` is utterance statistics
  normalised per speaker with a kernel classifier (docs/evaluation.md).
{f"- Time: {seconds:.0f} s in all." if seconds is not None else ""}

| model | mean UAR ± sd over folds | pooled UAR | accuracy (WA) | macro F1 | folds |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

{alone}

## UAR of each fold

| fold | test speakers | {" | ".join(names)} |
|---|---|{"---:|" * len(names)}
{chr(10).join(fold_rows)}

{"## Failures" + chr(10) + chr(10) + failures if failures else ""}

## Figures

{figs}

The sd is the sample standard deviation of the folds' UARs; the pooled scores count every
test utterance of every fold once.
"""
    atomic_write(staged.path("report.md"), lambda tmp: tmp.write_text(text))

"""Figures and tables for reports (matplotlib with the Agg backend: no screen needed).

Every figure follows the course's plotting style (``ser.plotting``): labelled axes with units,
a labelled colour bar on every image, probabilities on a fixed 0-1 scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser import plotting
from ser.io import atomic_write

__all__ = ["save_features_figure"]


def save_features_figure(
    path,
    features: np.ndarray,
    *,
    hop_seconds: float,
    title: str,
    ylabel: str = "coefficient",
    cbar_label: str = "feature value",
) -> Path:
    """Save a (T, C) feature matrix as an image: time across, coefficients up, a colour bar.

    Parameters
    ----------
    path : str or Path
        A .png (or any format matplotlib knows) file, written atomically.
    features : ndarray, shape (T, C)
    hop_seconds : float
        Seconds between frames, for the time axis.
    title, ylabel : str
    cbar_label : str
        What a colour means (the colour bar's label).

    Returns
    -------
    Path

    Notes
    -----
    Features of both signs (MFCCs) get a diverging scale symmetric about 0; features of one
    sign (log-mel energies) a sequential one (``ser.plotting``).
    """
    features = np.asarray(features, dtype=np.float64)
    signed = features.size > 0 and features.min() < 0 < features.max()
    fig, ax = plotting.subplots(figsize=(8, 3.2))
    plotting.image(
        ax,
        features.T,
        scale="diverging" if signed else "sequential",
        extent=plotting.frames_extent(features.shape[0], features.shape[1], hop_seconds),
        xlabel="time (s)",
        ylabel=ylabel,
        cbar_label=cbar_label,
        title=title,
        integer_ticks="y",
    )
    return _save(fig, path)


def _pyplot():
    """``matplotlib.pyplot`` with the Agg backend, in the course style (``ser.plotting``)."""
    return plotting.pyplot()


def _save(fig, path) -> Path:
    return plotting.save(fig, path, dpi=100)


def save_training_curves(path, history) -> Path:
    """Loss and accuracy per epoch, training and validation (and each head's of a
    multi-task model)."""
    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, ax = plotting.subplots(1, 2, figsize=(9, 3.2))
    # a multi-task model logs each head too: "emotion_loss", "auxiliary_accuracy", ...
    losses = [k for k in h if k == "loss" or k.endswith("_loss")]
    scores = [k for k in h if k.endswith("accuracy") or k == "val_uar"]
    for key in losses:
        ax[0].plot(epochs, h[key], "--o" if key.startswith("val_") else "-o", label=key, ms=3)
    for key in scores:
        ax[1].plot(epochs, h[key], "--o" if key.startswith("val_") else "-o", label=key, ms=3)
    ax[0].set(xlabel="epoch", ylabel="cross-entropy (nats)", title="Loss")
    ax[1].set(xlabel="epoch", ylabel="accuracy or UAR", title="Accuracy", ylim=(0, 1.02))
    for a in ax:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    return _save(fig, path)


def save_confusion_matrix(path, confusion: np.ndarray, labels, *, title="Test speakers") -> Path:
    """Rows: true emotion; columns: predicted; each cell's count and its fraction of the row
    (the diagonal is each class's recall), coloured on a fixed 0-1 scale.

    Parameters
    ----------
    path : str or Path
    confusion : ndarray of int, shape (K, K)
    labels : sequence of str, length K
    title : str

    Returns
    -------
    Path
    """
    confusion = np.asarray(confusion)
    fig, ax = plotting.subplots(figsize=(4.8, 3.8))
    rows = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    shown = plotting.image(
        ax,
        rows,
        scale="probability",
        origin="upper",
        aspect="equal",
        xlabel="predicted",
        ylabel="true",
        cbar_label="fraction of the true class",
        title=title,
    )
    texts = [[f"{confusion[i, j]}\n{rows[i, j]:.0%}" for j in range(len(labels))]
             for i in range(len(labels))]  # fmt: skip
    plotting.annotate_cells(ax, shown, rows, texts=texts)
    plotting.cell_ticks(ax, len(labels), len(labels), row_labels=labels, col_labels=labels)
    return _save(fig, path)


def save_filters(path, kernel: np.ndarray) -> Path:
    """The learned first-layer kernels, one small image per filter, all on one diverging
    scale with one colour bar.

    Parameters
    ----------
    path : str or Path
    kernel : ndarray, shape (KH, KW, 1, F)
        KH along time (frames), KW along the MFCC index (channels last).

    Returns
    -------
    Path
    """
    KH, KW, _, F = kernel.shape
    cols = 8
    rows = -(-F // cols)
    # a fixed layout: the constrained one costs seconds for 32 panels and a colour bar
    fig, axes = plotting.subplots(
        rows, cols, figsize=(9, 1.1 * rows + 0.9), sharex=True, sharey=True, squeeze=False,
        layout=None,
    )  # fmt: skip
    fig.subplots_adjust(left=0.05, right=0.9, bottom=0.1, top=0.88, wspace=0.1, hspace=0.1)
    limit = float(np.abs(kernel).max()) or 1.0
    shown = None
    for f, ax in enumerate(np.ravel(axes)):
        ax.set(xticks=[], yticks=[])
        if f < F:
            shown = plotting.image(
                ax, kernel[:, :, 0, f], scale="diverging", vmin=-limit, vmax=limit,
                origin="upper", aspect="equal", xlabel="", ylabel="", cbar_label=None,
            )  # fmt: skip
        else:
            ax.axis("off")
    plotting.colorbar(shown, ax=list(np.ravel(axes)), label="weight")
    fig.supxlabel(f"kernel column: MFCC index offset (0 .. {KW - 1})")
    fig.supylabel(f"kernel row: frame offset (0 .. {KH - 1})")
    fig.suptitle(f"Learned {KH}x{KW} filters of the first convolution ({F} filters)")
    return _save(fig, path)


def save_inputs_per_class(path, examples: dict, *, hop_seconds: float = 0.01) -> Path:
    """One normalised network input (T, C) per emotion, on one diverging scale of -3 to 3
    standard deviations (values beyond take the end colours).

    Parameters
    ----------
    path : str or Path
    examples : dict of str -> ndarray (T, C)
        Emotion -> its input (after normalisation, M10).
    hop_seconds : float
        Seconds between frames.

    Returns
    -------
    Path
    """
    fig, axes = plotting.subplots(
        1, len(examples), figsize=(2.6 * len(examples) + 1, 3.4), sharey=True, squeeze=False
    )
    axes = np.ravel(axes)
    shown = None
    for ax, (label, feats) in zip(axes, examples.items(), strict=True):
        shown = plotting.image(
            ax, feats.T, scale="diverging", vmin=-3, vmax=3,
            extent=plotting.frames_extent(feats.shape[0], feats.shape[1], hop_seconds),
            xlabel="time (s)", ylabel="", cbar_label=None, title=label, integer_ticks="y",
        )  # fmt: skip
    axes[0].set(ylabel="feature index")
    plotting.colorbar(shown, ax=list(axes), label="value after CMVN (standard deviations)")
    T, C = next(iter(examples.values())).shape
    fig.suptitle(f"One network input per emotion ({T} frames x {C} features, normalised)")
    return _save(fig, path)


def save_fold_scores(path, result: dict) -> Path:
    """The UAR of every fold, one line of markers per model, with chance as a dashed line."""
    names = list(result["models"])
    n_folds = len(result["folds"])
    fig, ax = plotting.subplots(figsize=(max(5.0, 0.5 * n_folds + 3), 3.4))
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


def save_robustness_curves(path, results, *, title: str | None = None) -> Path:
    """UAR against SNR (docs/robustness.md): clean at the right, labelled "clean".

    Parameters
    ----------
    path : str or Path
        The image (.png, .pdf, ...), written atomically.
    results : sequence of (label, result)
        ``ser.robustness.run_robustness`` results. One model: one line per noise kind on
        one axes. Several models (a clean-trained and a noise-augmented one): one panel per
        noise kind, side by side, one line per model, so the curves compare directly.
    title : str, optional

    Returns
    -------
    Path
        ``path``. Axes: x "SNR (dB)" (increasing to the right, then "clean"), y "UAR" from
        0 to 1, chance (1 / number of classes) as a dashed grey line.
    """
    results = list(results)
    snrs = sorted({s for _, r in results for s in r["snr_db"]})
    step = (snrs[-1] - snrs[0]) / max(1, len(snrs) - 1) if len(snrs) > 1 else 10.0
    clean_x = snrs[-1] + max(step, 5.0)  # where "clean" sits, one step beyond the highest SNR

    def curve(result, noise):
        by = {(e["noise"], e["snr_db"]): e["uar"] for e in result["entries"]}
        xs = [s for s in sorted(result["snr_db"]) if (noise, s) in by]
        return xs + [clean_x], [by[(noise, s)] for s in xs] + [by[("none", None)]]

    names = list(dict.fromkeys(n["name"] for _, r in results for n in r["noises"]))
    panels = [None] if len(results) == 1 else names
    fig, axes = plotting.subplots(
        1, len(panels), figsize=(max(5.5, 3.6 * len(panels)), 3.6), sharey=True, squeeze=False
    )
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, r in results:
            for noise in [n["name"] for n in r["noises"]] if panel is None else [panel]:
                if not any(e["noise"] == noise for e in r["entries"]):
                    continue
                xs, ys = curve(r, noise)
                ax.plot(xs, ys, "-o", ms=4, label=noise if panel is None else label)
        chance = min(r["chance"] for _, r in results)
        ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance ({chance:.2f})")
        ax.set_xticks([*snrs, clean_x], [f"{s:g}" for s in snrs] + ["clean"])
        ax.set(xlabel="SNR (dB)", ylim=(0, 1.02), title=panel if panel is not None else None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0][0].set(ylabel="UAR")
    if title or len(results) == 1:
        fig.suptitle(title or f"{results[0][0]}: UAR against SNR", fontsize=10)
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

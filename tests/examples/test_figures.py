"""The figure check of ``ser.plotting`` finds what it should, and every figure ``ser.report``
draws (the demo's and cross-validation's) passes it. The lessons' figures are checked where
the lessons run (test_examples.py)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from ser import plotting, report


def _problems(fig):
    problems = plotting.figure_problems(fig)
    plotting.pyplot().close(fig)
    return problems


def test_the_check_finds_unlabelled_axes_and_an_image_without_a_colour_bar():
    fig, ax = plotting.subplots()
    ax.imshow(np.arange(6.0).reshape(2, 3))  # what the lessons drew before issue 15
    assert _problems(fig) == [
        "axes 0: no x-axis label",
        "axes 0: no y-axis label",
        "axes 0: an image (AxesImage) without a colour bar",
    ]


def test_the_check_wants_a_label_on_every_colour_bar():
    fig, ax = plotting.subplots()
    shown = ax.imshow(np.eye(3))
    fig.colorbar(shown, ax=ax)
    ax.set(xlabel="frame", ylabel="unit")
    assert _problems(fig) == ["axes 1: a colour bar without a label (what a colour means)"]


def test_the_check_accepts_shared_axes_labelled_once_and_one_bar_for_one_scale():
    fig, axes = plotting.subplots(2, 2, sharex=True, sharey=True)
    shown = None
    for ax in axes.ravel():
        shown = plotting.image(
            ax, np.eye(3), scale="probability", xlabel="", ylabel="", cbar_label=None
        )
    axes[1, 0].set(xlabel="step t", ylabel="unit")  # the outer panels carry the labels
    plotting.colorbar(shown, ax=list(axes.ravel()), label="gate value")
    assert _problems(fig) == []


def test_an_empty_axes_needs_no_labels_and_a_line_plot_does():
    fig, (empty, line) = plotting.subplots(1, 2)
    empty.axis("off")
    line.plot([0, 1], [1, 0])
    line.set(xlabel="time (s)")
    assert _problems(fig) == ["axes 1: no y-axis label"]


def test_probabilities_are_drawn_on_a_fixed_0_to_1_scale_and_signed_values_about_0():
    fig, (a, b) = plotting.subplots(1, 2)
    gates = plotting.image(
        a,
        np.full((2, 3), 0.73),
        scale="probability",
        xlabel="t",
        ylabel="unit",
        cbar_label="gate value",
    )
    signed = plotting.image(
        b,
        np.array([[-1.0, 3.0]]),
        scale="diverging",
        xlabel="t",
        ylabel="unit",
        cbar_label="weight",
    )
    assert gates.get_clim() == (0.0, 1.0) and gates.get_cmap().name == plotting.PROBABILITY
    assert signed.get_clim() == (-3.0, 3.0) and signed.get_cmap().name == plotting.DIVERGING
    assert list(gates.colorbar.get_ticks()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert _problems(fig) == []


def test_a_colour_bar_without_a_label_is_refused():
    fig, ax = plotting.subplots()
    shown = ax.imshow(np.eye(2))
    with pytest.raises(ValueError, match="needs a label"):
        plotting.colorbar(shown, label="")
    plotting.pyplot().close(fig)


def test_every_report_figure_is_slide_ready(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", Figure.savefig)  # undone after the test
    log = tmp_path / "problems.jsonl"
    plotting.record_figure_problems(log)
    rng = np.random.default_rng(0)
    emotions = ["neutral", "sad", "angry"]
    history = SimpleNamespace(
        history={
            "loss": [1.1, 0.9],
            "accuracy": [0.4, 0.6],
            "val_loss": [1.0, 0.95],
            "val_accuracy": [0.5, 0.55],
        }
    )
    folds = {
        "models": {
            "cnn1d-spk": {"fold_uar": [0.6, 0.7], "uar_mean": 0.65},
            "baseline": {"fold_uar": [0.5, None], "uar_mean": None},
        },
        "folds": [["S01"], ["S02"]],
        "emotions": emotions,
        "corpus": "synthetic",
        "protocol": "2 folds of speakers",
    }
    report.save_features_figure(
        tmp_path / "mfcc.png", rng.standard_normal((50, 13)), hop_seconds=0.01, title="MFCC"
    )
    report.save_features_figure(
        tmp_path / "logmel.png",
        -5 - rng.random((50, 40)),
        hop_seconds=0.01,
        title="log-mel",
        ylabel="mel band",
    )
    report.save_training_curves(tmp_path / "curves.png", history)
    report.save_confusion_matrix(
        tmp_path / "confusion.png", np.array([[5, 1, 0], [2, 4, 0], [0, 0, 6]]), emotions
    )
    report.save_filters(tmp_path / "filters.png", rng.standard_normal((3, 3, 1, 32)))
    report.save_inputs_per_class(
        tmp_path / "inputs.png", {e: rng.standard_normal((128, 13)) for e in emotions}
    )
    report.save_fold_scores(tmp_path / "folds.png", folds)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["file"] for r in records] == [
        "mfcc.png",
        "logmel.png",
        "curves.png",
        "confusion.png",
        "filters.png",
        "inputs.png",
        "folds.png",
    ]
    assert {r["file"]: r["problems"] for r in records if r["problems"]} == {}

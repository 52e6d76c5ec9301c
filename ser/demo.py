"""``ser demo``: the main job, end to end, with no download.

synthesise the built-in corpus -> MFCC -> split by speaker -> train the document's CNN
-> test on unseen speakers -> model file, report.md and figures in the output folder.

The outputs describe one another (the report and the figures are of that model), so they
change together, and last (docs/reliability.md, "Outputs"):

- before training, a staging folder is made inside ``out`` (``ser.io.StagedOutputs``): a
  folder that cannot be written fails the run before any time is spent on it;
- after training, the model is written first, into the staging folder, then the figures
  and ``report.md``; all are moved into ``out`` in one committed step. A ``kill -9`` at any
  moment leaves ``out`` with either the old complete outputs or the new complete ones (a
  kill in the middle of the final renames is finished by the next run into ``out``);
- if the disk fills after training, the trained model is kept: beside the old outputs as
  ``model.<date>-<time>.npz`` when the model itself was written, or in the system's
  temporary folder when even that failed; the error says where.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo", "DEMO_EMOTIONS", "DEMO_OUTPUTS"]

# Three classes, as the document's Dense(3). The CNN confuses happy and angry (both loud,
# fast and high), although a linear model on whole-utterance MFCC statistics separates them
# (measured, docs/training.md); neutral / sad / angry span the arousal range.
DEMO_EMOTIONS = ("neutral", "sad", "angry")

# every file a run may write into ``out`` (filters.png only for the CNN): a run that does not
# write one of them removes an older run's, so a folder never mixes two runs
DEMO_OUTPUTS = (
    "model.npz",
    "report.md",
    "training_curves.png",
    "confusion_matrix.png",
    "inputs_per_class.png",
    "filters.png",
)


def run_demo(
    *,
    out,
    emotions=DEMO_EMOTIONS,
    epochs=None,
    seed=0,
    data=None,
    corpus_name=None,
    cache_dir=None,
    verbose=1,
    log=print,
    corpus_options=None,
    model="cnn",
) -> dict:
    """Run the main job; returns accuracy, UAR, macro F1, seconds, test speakers, model path.

    ``corpus_options`` go to ``synthetic_corpus`` (e.g. fewer speakers for a quick run).
    ``model`` is a recipe or its name (``ser.recipes.RECIPES``); the default is the
    document's CNN. ``epochs`` overrides the recipe's (None keeps it: 10 for the CNN).

    The outputs are published together at the end (the module's docstring says how); an
    ``OSError`` that names what was kept is raised if the disk fills after training.
    """
    from ser.io import StagedOutputs

    start = time.perf_counter()
    out = Path(out)
    staged = StagedOutputs(out, DEMO_OUTPUTS)  # an unwritable out fails here, before training
    with staged:
        for line in staged.recovered:
            log(line)
        results = _train_and_write(
            staged,
            log=log,
            start=start,
            emotions=emotions,
            epochs=epochs,
            seed=seed,
            data=data,
            corpus_name=corpus_name,
            cache_dir=cache_dir,
            verbose=verbose,
            corpus_options=corpus_options,
            model=model,
        )
    return results


def _train_and_write(
    staged,
    *,
    log,
    start,
    emotions,
    epochs,
    seed,
    data,
    corpus_name,
    cache_dir,
    verbose,
    corpus_options,
    model,
) -> dict:
    from ser.corpus import load_corpus
    from ser.experiment import train
    from ser.io import write_text
    from ser.report import (
        save_confusion_matrix,
        save_filters,
        save_inputs_per_class,
        save_training_curves,
    )

    out = staged.out
    if data is None:
        options = {"emotions": tuple(emotions), "seed": seed, **(corpus_options or {})}
        corpus = load_corpus("synthetic", **options)
        source = f"the built-in synthetic corpus (seed {seed})"
    else:
        corpus = load_corpus(corpus_name, data)
        source = f"{corpus_name} from {data}"
        if corpus.skipped:
            log(corpus.summary())
    log(f"data: {source}: {len(corpus)} utterances, {len(corpus.speakers)} speakers")
    run = train(
        corpus,
        labels=emotions,
        recipe=model,
        epochs=epochs,
        seed=seed,
        cache_dir=cache_dir,
        verbose=verbose,
        log=log,
    )
    s = run.test_scores
    _save_model_first(run.model, staged)
    try:
        figures = {
            "training curves": save_training_curves(
                staged.path("training_curves.png"), run.history
            ),
            "confusion matrix": save_confusion_matrix(
                staged.path("confusion_matrix.png"), s.confusion, s.labels
            ),
            "inputs": save_inputs_per_class(
                staged.path("inputs_per_class.png"),
                {
                    lab: run.test.features[int(np.flatnonzero(run.test.labels == k)[0])][:128]
                    for k, lab in enumerate(s.labels)
                    if np.any(run.test.labels == k)
                },
            ),
        }
        if run.recipe.name == "cnn":
            kernel = run.model.layers[0].params["kernel"]
            figures["learned filters"] = save_filters(staged.path("filters.png"), kernel)
        elapsed = time.perf_counter() - start
        results = {
            "accuracy": s.accuracy,
            "uar": s.uar,
            "macro_f1": s.macro_f1,
            "seconds": elapsed,
            "test_speakers": run.split.speakers["test"],
            "model": str(out / "model.npz"),
            "recipe": run.recipe.name,
        }
        report = _report(run, source, results, figures, seed, synthetic=data is None)
        write_text(staged.path("report.md"), report)
        staged.publish()
    except OSError as err:  # the disk filled (or the folder went away) after training
        raise _kept_model_error(staged, err) from err
    log("")
    log(f"test on {s.n} utterances of unseen speakers {', '.join(results['test_speakers'])}:")
    log(
        f"  accuracy {s.accuracy:.3f}   UAR {s.uar:.3f}   macro F1 {s.macro_f1:.3f}   "
        f"(chance {1 / len(s.labels):.3f})"
    )
    log("  " + s.table().replace("\n", "\n  "))
    written = f"{results['model']}, {out / 'report.md'} and {len(figures)} figures"
    log(f"wrote {written} in {elapsed:.0f} s")
    return results


def _save_model_first(model, staged) -> None:
    """Write the trained model before anything else; if ``out`` cannot take it, save it in
    the system's temporary folder and say so in the error (the training is not lost)."""
    from ser.io import display_path, save_model_or_keep

    save_model_or_keep(
        model,
        staged.path("model.npz"),
        failed=lambda err: _describe(err, staged),
        kept_note=f"the outputs in {display_path(staged.out)} are as they were, and ",
    )


def _kept_model_error(staged, err: OSError):
    """The error for a run whose model was written but whose report or figures were not:
    the model is moved beside the old outputs under a dated name (a rename: no space)."""
    from ser.io import OutputError, display_path

    failed = _describe(err, staged)
    if staged.committed:  # only a rename inside out failed: the next run finishes the move
        return OutputError(
            f"{failed}; the new outputs are complete in {display_path(staged.folder)} and "
            f"the next ser demo into {display_path(staged.out)} moves them into place"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = staged.out / f"model.{stamp}.npz"
    try:
        os.replace(staged.path("model.npz"), kept)
    except OSError as second:
        return OutputError(
            f"{failed}; the trained model was lost too ({second.strerror or second})"
        )
    return OutputError(
        f"{failed}; the outputs in {display_path(staged.out)} are as they were, and the "
        f"trained model is saved as {display_path(kept)}"
    )


def _describe(err: OSError, staged) -> str:
    """``cannot write <path>: <what the system said>``, naming the file in ``out`` the user
    knows rather than its place in the hidden staging folder."""
    from ser.io import display_path

    where = Path(err.filename) if err.filename is not None else staged.out
    try:
        where = staged.out / where.relative_to(staged.folder)
    except ValueError:
        pass
    return f"cannot write {display_path(where)}: {err.strerror or err}"


def _report(run, source, results, figures, seed, *, synthetic) -> str:
    s = run.test_scores
    h = run.history.history
    recipe = run.recipe
    groups = {k: ", ".join(v) for k, v in run.split.speakers.items()}
    recall = "\n".join(f"| {lab} | {r:.3f} |" for lab, r in zip(s.labels, s.recall, strict=True))
    figs = "\n".join(f"- {name}: ![{name}]({Path(p).name})" for name, p in figures.items())
    if recipe.name == "cnn":
        title = "the document's CNN"
        model = (
            "the document's CNN (Conv2D 32 3x3 relu, MaxPooling2D 2x2, Flatten, Dense 64 relu, "
            f"Dense {len(s.labels)} softmax)"
        )
    else:
        title = f"the {recipe.name} model"
        model = " -> ".join(type(layer).__name__ for layer in run.model.layers)
    spec = recipe.inputs
    kind = {"mfcc": "MFCCs", "logmel": "log-mel bands"}[spec.features]
    width = run.model.input_shape[2]
    features = (
        f"{width} numbers per frame: {kind}"
        + {
            0: "",
            1: " + deltas",
            2: " + deltas + delta-deltas",
        }[spec.deltas]
    )
    normalised = {
        "training": "CMVN fitted on the training speakers",
        "speaker": "CMVN of each speaker from their own utterances",
        "utterance": "CMVN of each utterance",
    }[spec.normalisation]
    crops = "the centre crop" if spec.test_crops == "centre" else "every crop, averaged"
    trimmed = ", silence trimmed" if spec.trim_silence else ""
    optimizer = f"Adam (learning rate {recipe.learning_rate:g}, {recipe.schedule})"
    last = (
        f"Final epoch: loss {h['loss'][-1]:.3f}, accuracy {_train_accuracy(h)[-1]:.3f}"
        + (f"; validation loss {h['val_loss'][-1]:.3f}" if "val_loss" in h else "")
        + (f", validation accuracy {h['val_accuracy'][-1]:.3f}" if "val_accuracy" in h else "")
        + (f"; best validation UAR {max(h['val_uar']):.3f}" if "val_uar" in h else "")
        + "."
    )
    if synthetic:
        caveat = (
            "A synthetic corpus teaches the machinery, not the real task: these scores say "
            "nothing about real recordings (docs/corpus.md)."
        )
    else:
        caveat = (
            f"Measured on real recordings ({source}), on {len(run.split.speakers['test'])} test "
            "speakers of one split: a single split of few speakers is noisy. For a number to "
            "quote, cross-validate by speaker (`ser crossval`, docs/evaluation.md)."
        )
    return f"""# Speech emotion recognition: {title} on unseen speakers

- Data: {source}; emotions {", ".join(s.labels)}.
- Split by speaker (seed {seed}): train {groups["train"]};
  validation {groups["validation"]}; test {groups["test"]}.
- Features: {features}, {normalised}{trimmed}, {spec.n_frames} frames
  (random crops in training, {crops} for testing).
- Model: {model}, {run.model.count_params():,} parameters; {optimizer}, batch
  {recipe.batch_size}, {recipe.epochs} epochs.
- Time: {results["seconds"]:.0f} s in all ({run.timings["features_s"]:.1f} s features,
  {run.timings["training_s"]:.1f} s training).

## Test speakers ({s.n} utterances never heard in training)

| metric | value |
|---|---:|
| accuracy | {s.accuracy:.3f} |
| unweighted average recall (UAR) | {s.uar:.3f} |
| macro F1 | {s.macro_f1:.3f} |
| chance | {1 / len(s.labels):.3f} |

| emotion | recall |
|---|---:|
{recall}

```
{s.table()}
```

{last}

## Figures

{figs}

{caveat}
"""


def _train_accuracy(h):
    """The training accuracy of emotion: "accuracy", or a multi-task model's emotion head's."""
    return h["accuracy"] if "accuracy" in h else h["emotion_accuracy"]

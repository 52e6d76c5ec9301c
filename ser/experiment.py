"""Train, evaluate and predict: the steps ``ser demo``, ``ser train``, ``ser evaluate`` and
``ser predict`` share.

A trained model is saved with everything needed to use it later (``model.metadata``): the
label names, the feature config, the CMVN statistics of its training speakers, the input
length, and which speakers it was trained, validated and tested on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features import AudioError, CMVNStats, MFCCConfig, fit_cmvn, load_audio, mfcc
from nn.metrics import accuracy, confusion_matrix, macro_f1, per_class_recall, uar
from ser import recipes
from ser.corpus import Corpus, speaker_split
from ser.pipeline import N_FRAMES, FeatureSet, extract_features, fixed_length, model_features
from ser.progress import progress_printer

__all__ = ["TrainingRun", "train", "evaluate", "predict_files", "Scores"]


@dataclass
class Scores:
    """Metrics on a set of utterances (accuracy, UAR, macro F1, recalls, confusion)."""

    labels: list[str]
    accuracy: float
    uar: float
    macro_f1: float
    recall: list[float]
    confusion: np.ndarray
    n: int

    @classmethod
    def of(cls, y_true, y_pred, labels):
        k = len(labels)
        return cls(
            list(labels),
            accuracy(y_true, y_pred),
            uar(y_true, y_pred, n_classes=k),
            macro_f1(y_true, y_pred, n_classes=k),
            per_class_recall(y_true, y_pred, n_classes=k).tolist(),
            confusion_matrix(y_true, y_pred, n_classes=k),
            len(y_true),
        )

    def table(self) -> str:
        """The confusion matrix as text: rows true, columns predicted."""
        width = max(9, *(len(label) + 1 for label in self.labels))
        head = "true \\ pred".ljust(width + 2) + "".join(
            lab[:width].rjust(width) for lab in self.labels
        )
        rows = [
            lab.ljust(width + 2) + "".join(str(v).rjust(width) for v in row)
            for lab, row in zip(self.labels, self.confusion, strict=True)
        ]
        return "\n".join([head, *rows])


@dataclass
class TrainingRun:
    model: object
    history: object
    split: object
    labels: list[str]
    test: FeatureSet
    test_scores: Scores
    timings: dict = field(default_factory=dict)


def train(
    corpus: Corpus,
    *,
    labels,
    epochs=10,
    batch_size=32,
    seed=0,
    config=None,
    cache_dir=None,
    verbose=1,
    log=print,
    model="cnn",
) -> TrainingRun:
    """Split ``corpus`` by speaker, extract features, train a model, test it.

    ``model`` names a recipe (``ser.recipes.RECIPES``): "cnn" is the document's CNN on
    (128, 13, 1) MFCC maps; "lstm", "gru", "seed-rnn" and "bilstm-attention" read (128, 39)
    sequences of MFCC + deltas + delta-deltas.

    The test speakers are scored once, at the end; training only ever sees the training
    speakers, and validation the validation speakers (docs/training.md).
    """
    import time

    labels = list(labels)
    missing = [e for e in labels if e not in corpus.emotions]
    if missing:
        raise ValueError(f"{corpus.name} has no utterances of {missing}; it has {corpus.emotions}")
    corpus = corpus.select(emotions=labels)
    config = config or MFCCConfig()
    split = speaker_split(corpus, validation=0.2, test=0.2, seed=seed)
    t0 = time.perf_counter()
    log(
        f"features: MFCC of {len(corpus)} utterances (cached in {cache_dir or 'the default cache'})"
    )
    raw = {}
    for name, part in (
        ("train", split.train),
        ("validation", split.validation),
        ("test", split.test),
    ):
        raw[name] = extract_features(
            list(part),
            config=config,
            cache_dir=cache_dir,
            progress=progress_printer(f"  {name}") if verbose else None,
        )
    t_features = time.perf_counter() - t0
    k = len(labels)
    model_name = model
    net, kind = recipes.build(model, k, n_mfcc=config.n_mfcc, n_frames=N_FRAMES, seed=seed)
    inputs = {name: [model_features(f, kind) for f in raw[name]] for name in raw}
    cmvn = fit_cmvn(inputs["train"])  # M10, training speakers only
    sets = {
        name: FeatureSet.build(list(part), inputs[name], labels, cmvn, kind)
        for name, part in (
            ("train", split.train),
            ("validation", split.validation),
            ("test", split.test),
        )
    }
    model = net
    model.metadata = {
        "recipe": model_name,
        "input": kind,
        "labels": labels,
        "feature_config": config.to_dict(),
        "n_frames": N_FRAMES,
        "cmvn": {"mean": cmvn.mean.tolist(), "std": cmvn.std.tolist(), "n_frames": cmvn.n_frames},
        "corpus": corpus.name,
        "speakers": split.speakers,
        "seed": seed,
    }
    log(
        f"training: {len(split.train)} utterances of {len(split.train.speakers)} speakers, "
        f"validating on {len(split.validation.speakers)}, testing on {len(split.test.speakers)} "
        f"unseen speakers"
    )
    t0 = time.perf_counter()
    history = model.fit(
        sets["train"].sampler(),
        sets["train"].onehot(k),
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        validation_data=(sets["validation"].tensor(), sets["validation"].onehot(k)),
    )
    t_train = time.perf_counter() - t0
    predictions = model.predict(sets["test"].tensor()).argmax(axis=1)
    scores = Scores.of(sets["test"].labels, predictions, labels)
    return TrainingRun(
        model,
        history,
        split,
        labels,
        sets["test"],
        scores,
        {"features_s": t_features, "training_s": t_train},
    )


def _cmvn_of(model) -> CMVNStats:
    c = model.metadata["cmvn"]
    return CMVNStats(np.asarray(c["mean"]), np.asarray(c["std"]), int(c["n_frames"]))


def evaluate(model, corpus: Corpus, *, cache_dir=None) -> Scores:
    """Score a saved model on every utterance of ``corpus`` with one of its labels."""
    labels = model.metadata["labels"]
    corpus = corpus.select(emotions=[e for e in labels if e in corpus.emotions])
    if not len(corpus):
        raise ValueError(f"{corpus.name} has no utterances of the model's labels {labels}")
    config = MFCCConfig.from_dict(model.metadata["feature_config"])
    kind = model.metadata.get("input", "image")
    raw = extract_features(list(corpus), config=config, cache_dir=cache_dir)
    inputs = [model_features(f, kind) for f in raw]
    data = FeatureSet.build(list(corpus), inputs, labels, _cmvn_of(model), kind)
    return Scores.of(data.labels, model.predict(data.tensor()).argmax(axis=1), labels)


def predict_files(model, paths):
    """Yield (path, probabilities or None, error message or None) for each file.

    Any sample rate and channel count: the file is resampled to the model's rate and
    down-mixed. A bad file yields its error; the others are still predicted.
    """
    config = MFCCConfig.from_dict(model.metadata["feature_config"])
    cmvn = _cmvn_of(model)
    n_frames = int(model.metadata.get("n_frames", N_FRAMES))
    kind = model.metadata.get("input", "image")
    for path in paths:
        try:
            y, sr = load_audio(path, sr=config.sample_rate)
            inputs = model_features(mfcc(y, sr=sr, config=config), kind)
            feats = fixed_length(cmvn.apply(inputs), n_frames=n_frames)
        except AudioError as err:
            message = str(err)
            if str(path) not in message:
                message = f"{path}: {message}"
            yield path, None, message
            continue
        batch = feats[None, :, :, None] if kind == "image" else feats[None]
        yield path, model.predict(batch.astype(np.float32))[0], None

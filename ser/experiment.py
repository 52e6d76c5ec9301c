"""Train, evaluate and predict: the steps ``ser demo``, ``ser train``, ``ser crossval``,
``ser evaluate`` and ``ser predict`` share.

A trained model is saved with everything needed to use it later (``model.metadata``): the
label names, the feature config, how its inputs are built (``ser.inputs.InputSpec``), the
CMVN statistics of its training speakers when it uses them, whether it adapts its batch
normalisation to each speaker, and which speakers it was trained, validated and tested on.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from features import AudioError, CMVNStats, MFCCConfig, load_audio, spec_augment
from nn.callbacks import Callback, EarlyStopping
from nn.metrics import accuracy, confusion_matrix, macro_f1, per_class_recall, uar
from ser import recipes
from ser.augmentation import WAVEFORM_AUGMENTATIONS, perturbed_copies
from ser.corpus import Corpus, Utterance, speaker_split
from ser.inputs import FeatureSet, InputSpec, fit_training_cmvn, model_inputs
from ser.pipeline import compute_features, extract
from ser.progress import progress_printer

__all__ = [
    "TrainingRun",
    "Scores",
    "train",
    "fit_recipe",
    "feature_sets",
    "predict_proba",
    "evaluate",
    "predict_files",
    "pipeline_of",
    "validate_metadata",
]


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
    recipe: object = None


# ---- inputs ------------------------------------------------------------------------------
def feature_config(recipe) -> MFCCConfig:
    """The features.MFCCConfig a recipe extracts with (its overrides on the default)."""
    return MFCCConfig(**recipe.feature_config)


def feature_sets(spec: InputSpec, parts: dict, raw: dict, labels, cmvn=None):
    """Build a FeatureSet per part from raw features.

    ``parts`` maps a name ("train", "validation", "test") to a list of utterances and ``raw``
    maps each utterance to its raw features (kind -> array, ``raw_features``). With normalisation
    "training" the statistics are fitted on the part "train" unless ``cmvn`` is given.

    Returns (dict name -> FeatureSet, the training CMVN statistics or None).
    """
    built = {}
    for name, utterances in parts.items():
        if not utterances:
            continue
        columns = {k: [raw[u][k] for u in utterances] for k in spec.kinds}
        pairs = [model_inputs(spec, columns, i) for i in range(len(utterances))]
        built[name] = (utterances, [p[0] for p in pairs], [p[1] for p in pairs])
    if spec.normalisation == "training" and cmvn is None:
        _, inputs, spans = built["train"]
        cmvn = fit_training_cmvn(inputs, spans)  # M10, training speakers only
    sets = {
        name: FeatureSet.build(utts, inputs, spans, labels, spec, cmvn)
        for name, (utts, inputs, spans) in built.items()
    }
    return sets, (cmvn if spec.normalisation == "training" else None)


def raw_features(utterances, spec: InputSpec, config, *, cache_dir=None, progress=None):
    """Utterance -> {kind: array} for ``utterances``, from ``ser.pipeline.extract``."""
    out = extract(
        list(utterances), config=config, kinds=spec.kinds, cache_dir=cache_dir, progress=progress
    )
    return {u: {k: out[k][i] for k in spec.kinds} for i, u in enumerate(utterances)}


# ---- training ------------------------------------------------------------------------------
def _augmenter(recipe):
    if "specaugment" not in recipe.augment:
        return None

    def augment(x, rng):  # eq. AUG-4 on (N, T, C); an image batch is (N, T, C, 1)
        flat = x[..., 0] if x.ndim == 4 else x
        out = spec_augment(flat, rng=rng, max_freq=max(1, flat.shape[2] // 8))
        return out[..., None] if x.ndim == 4 else out

    return augment


def _steps_per_epoch(recipe, train: FeatureSet) -> int:
    if not recipe.speaker_batches:
        return -(-len(train) // recipe.batch_size)
    _, counts = np.unique(train.speakers, return_counts=True)
    return int(sum(max(1, round(c / recipe.batch_size)) for c in counts))


class ValidationUAR(Callback):
    """Adds "val_uar", the UAR on the validation speakers as the model will be tested
    (every crop, AdaBN per speaker when the recipe adapts), to every epoch's logs.
    ``scorer``: the model that is tested, when it is not the one trained (the emotion part
    of a multi-task model)."""

    def __init__(self, data: FeatureSet, n_classes: int, adapt: bool, scorer=None):
        self.data, self.n_classes, self.adapt, self.scorer = data, n_classes, adapt, scorer

    def on_epoch_end(self, epoch, logs):
        probs = predict_proba(self.scorer or self.model, self.data, adapt=self.adapt)
        logs["val_uar"] = uar(self.data.labels, probs.argmax(axis=1), n_classes=self.n_classes)


def auxiliary_labels(recipe, utterances):
    """(class index of each training utterance, number of classes) for the recipe's
    auxiliary task, or None for a recipe without one. "gender": female 0, male 1, as the
    corpus records the speaker's sex; "speaker": the training speakers in sorted order. A
    corpus that does not record what the task needs is a clear error."""
    if not recipe.auxiliary:
        return None
    if recipe.auxiliary == "speaker":
        classes = tuple(sorted({u.speaker for u in utterances}))
        values = [u.speaker for u in utterances]
        task = "which training speaker is speaking"
    else:
        classes = ("female", "male")
        values = [u.fields.get("sex") for u in utterances]
        unknown = sorted({u.speaker for u, v in zip(utterances, values, strict=True)
                          if v not in classes})  # fmt: skip
        if unknown:
            raise ValueError(
                f"recipe {recipe.name!r} learns the speaker's gender beside emotion, but the "
                f"sex of speaker(s) {', '.join(unknown[:5])} is not recorded as one of {classes}"
            )
        task = "the speaker's gender"
    index = np.array([classes.index(v) for v in values], dtype=np.int64)
    if len(set(index.tolist())) < 2:
        raise ValueError(
            f"recipe {recipe.name!r} learns {task} beside emotion, but every training "
            f"utterance is of one class ({classes[index[0]]}): nothing to learn"
        )
    return index, len(classes)


def fit_recipe(
    recipe,
    train: FeatureSet,
    validation: FeatureSet | None,
    *,
    labels,
    config,
    seed=0,
    verbose=1,
    auxiliary=None,
):
    """Build the recipe's network and train it on ``train``; returns (model, History).

    Validation speakers are used as the recipe says: to report a validation loss (or, for a
    recipe that adapts to speakers, a validation UAR) after each epoch, and, with
    ``early_stopping``, to keep the weights of the epoch with the best validation UAR. The
    test speakers are never seen here.

    A multi-task recipe (``recipe.auxiliary``) trains its two heads jointly, with
    ``auxiliary`` ((labels, n classes) from ``auxiliary_labels`` of the training
    utterances) as the second head's targets, and returns the emotion part (the same
    layers, one output).
    """
    k = len(labels)
    if recipe.auxiliary and (auxiliary is None or len(auxiliary[0]) != len(train)):
        raise ValueError(f"recipe {recipe.name!r} needs one auxiliary label per training utterance")
    n_aux = auxiliary[1] if recipe.auxiliary else 2
    model = recipes.build(recipe, k, config=config, seed=seed, n_auxiliary=n_aux)
    steps = _steps_per_epoch(recipe, train) * recipe.epochs
    optimizer = recipe.optimizer(steps)
    targets = train.onehot(k)
    net = model
    if recipe.auxiliary:
        net = recipes.emotion_model(model)
        model.compile(
            optimizer,
            loss="categorical_crossentropy",
            loss_weights={"emotion": 1.0, "auxiliary": recipe.auxiliary_weight},
            metrics={"emotion": ["accuracy"], "auxiliary": ["accuracy"]},
        )
        targets = {"emotion": targets, "auxiliary": np.eye(n_aux, dtype=np.float32)[auxiliary[0]]}
    else:
        model.compile(optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    callbacks, extra = [], {}
    if validation is not None and (
        recipe.early_stopping or recipe.adapt_batchnorm or recipe.auxiliary
    ):
        # the validation speakers scored as the test speakers will be: every crop, AdaBN
        callbacks.append(ValidationUAR(validation, k, recipe.adapt_batchnorm, scorer=net))
        if recipe.early_stopping:
            callbacks.append(
                EarlyStopping(
                    monitor="val_uar", mode="max", patience=recipe.epochs, restore_best_weights=True
                )  # fmt: skip
            )
    elif validation is not None:
        extra["validation_data"] = (validation.tensor(), validation.onehot(k))
    history = model.fit(
        train.sampler(_augmenter(recipe)),
        targets,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        verbose=verbose,
        callbacks=callbacks,
        batch_groups=np.array(train.speakers) if recipe.speaker_batches else None,
        **extra,
    )
    net.history = history
    return net, history


def describe(recipe, *, labels, config, cmvn, corpus, speakers, seed) -> dict:
    """The metadata a saved model carries (everything predict/evaluate need)."""
    return {
        "recipe": recipe.name,
        "labels": list(labels),
        "feature_config": config.to_dict(),
        "inputs": recipe.inputs.to_dict(),
        "adapt_batchnorm": recipe.adapt_batchnorm,
        "input": recipe.inputs.layout,  # read by files saved before "inputs" existed
        "n_frames": recipe.inputs.n_frames,
        "cmvn": None
        if cmvn is None
        else {"mean": cmvn.mean.tolist(), "std": cmvn.std.tolist(), "n_frames": cmvn.n_frames},
        "corpus": corpus,
        "speakers": speakers,
        "seed": seed,
    }


def train(
    corpus: Corpus,
    *,
    labels,
    recipe="cnn",
    seed=0,
    cache_dir=None,
    verbose=1,
    log=print,
    epochs=None,
    model=None,
) -> TrainingRun:
    """Split ``corpus`` by speaker, extract features, train a recipe, test it.

    ``recipe`` is a ``ser.recipes.Recipe`` or its name (``model`` is an older name for the
    same argument; ``epochs`` overrides the recipe's). The test speakers are scored once, at
    the end; training only ever sees the training speakers, and validation the validation
    speakers (docs/training.md).
    """
    recipe = recipes.get(model or recipe) if isinstance(model or recipe, str) else recipe
    recipe = recipe.replace(epochs=epochs)
    labels = list(labels)
    missing = [e for e in labels if e not in corpus.emotions]
    if missing:
        raise ValueError(f"{corpus.name} has no utterances of {missing}; it has {corpus.emotions}")
    corpus = corpus.select(emotions=labels)
    config = feature_config(recipe)
    split = speaker_split(corpus, validation=0.2, test=0.2, seed=seed)
    t0 = time.perf_counter()
    log(
        f"features: {recipe.inputs.features} of {len(corpus)} utterances "
        f"(cached in {cache_dir or 'the default cache'})"
    )
    wanted = [a for a in recipe.augment if a in WAVEFORM_AUGMENTATIONS]
    copies = perturbed_copies(split.train, wanted, seed=seed) if wanted else []
    raw = raw_features(
        [*corpus, *copies],
        recipe.inputs,
        config,
        cache_dir=cache_dir,
        progress=progress_printer("  features") if verbose else None,
    )
    parts = {
        "train": [*split.train, *copies],
        "validation": list(split.validation),
        "test": list(split.test),
    }
    sets, cmvn = feature_sets(recipe.inputs, parts, raw, labels)
    t_features = time.perf_counter() - t0
    log(
        f"training: {len(split.train)} utterances of {len(split.train.speakers)} speakers, "
        f"validating on {len(split.validation.speakers)}, testing on {len(split.test.speakers)} "
        f"unseen speakers"
    )
    t0 = time.perf_counter()
    net, history = fit_recipe(
        recipe,
        sets["train"],
        sets["validation"],
        labels=labels,
        config=config,
        seed=seed,
        verbose=verbose,
        auxiliary=auxiliary_labels(recipe, parts["train"]),
    )
    t_train = time.perf_counter() - t0
    net.metadata = describe(
        recipe,
        labels=labels,
        config=config,
        cmvn=cmvn,
        corpus=corpus.name,
        speakers=split.speakers,
        seed=seed,
    )
    probs = predict_proba(net, sets["test"], adapt=recipe.adapt_batchnorm)
    scores = Scores.of(sets["test"].labels, probs.argmax(axis=1), labels)
    return TrainingRun(
        net,
        history,
        split,
        labels,
        sets["test"],
        scores,
        {"features_s": t_features, "training_s": t_train},
        recipe,
    )


# ---- prediction ------------------------------------------------------------------------------
_ADAPT_CHUNK = 1024  # a speaker's crops up to this adapt in one forward pass (nn.adaptation);
# 1024 crops of 128 frames x 64 channels in float32 are 32 MB per layer


def predict_proba(model, data: FeatureSet, *, adapt: bool = False) -> np.ndarray:
    """Class probabilities (N, K) of every utterance of ``data``, each the mean over its test
    crops (``FeatureSet.test_crops``).

    With ``adapt``, each speaker's crops are predicted with the network's batch normalisation
    adapted to that speaker's own crops (AdaBN, ``nn.adaptation``); labels are never used.
    """
    from nn.adaptation import adapted_batchnorm

    x, owner = data.test_crops()
    if adapt:
        speakers = np.array(data.speakers)[owner]
        crop_probs = np.empty((len(x), model.output_shape[-1]))
        for speaker in np.unique(speakers):
            rows = np.flatnonzero(speakers == speaker)
            with adapted_batchnorm(model, x[rows], batch_size=_ADAPT_CHUNK):
                crop_probs[rows] = model.predict(x[rows])
    else:
        crop_probs = model.predict(x)
    sums = np.zeros((len(data), crop_probs.shape[1]))
    np.add.at(sums, owner, crop_probs)
    return sums / np.bincount(owner, minlength=len(data))[:, None]


def _is_count(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1


def validate_metadata(model, path=None):
    """Check what a saved model says about its own use, before it is used.

    Returns ``pipeline_of(model)``: (InputSpec, MFCCConfig, training CMVN or None, adapt).
    Raises ``nn.serialization.ModelFileError`` naming the file (``path``, else the file the
    model was loaded from, else "the model") and the problem: labels not a list of unique
    strings, one per output unit; a feature config ``MFCCConfig.from_dict`` refuses; input
    settings ``InputSpec.from_dict`` refuses, or that disagree with the network's input
    shape; with normalisation "training", CMVN statistics missing, of the wrong length, not
    finite or with a negative standard deviation (0 is allowed: ``CMVNStats.apply`` floors
    it at 1e-8). Files written before ``InputSpec`` existed are read as the course's first
    recipes (``input`` and ``n_frames``).
    """
    from nn.serialization import ModelFileError

    where = path or getattr(model, "source_path", None) or "the model"

    def fail(message, err=None):
        raise ModelFileError(f"{where}: {message}") from err

    meta = model.metadata
    if not isinstance(meta, dict):
        fail(f"its metadata is a {type(meta).__name__}, not an object")
    k = model.output_shape[-1] if model.built else None
    labels = meta.get("labels")
    if labels is None:
        fail("the model has no label names (metadata 'labels')")
    if not (isinstance(labels, list) and labels and all(isinstance(s, str) for s in labels)):
        fail(f"its labels must be a list of names, got {str(labels)[:80]}")
    if len(set(labels)) != len(labels):
        fail(f"its labels repeat a name: {labels}")
    if len(labels) != k:
        fail(f"it names {len(labels)} labels {labels} for a network of {k} outputs")
    try:
        if "inputs" in meta:
            if not isinstance(meta["inputs"], dict):
                raise TypeError(f"a {type(meta['inputs']).__name__}, not an object")
            spec = InputSpec.from_dict(meta["inputs"])
        else:  # written before InputSpec: the course's first recipes
            layout, n_frames = meta.get("input", "image"), meta.get("n_frames", 128)
            if not _is_count(n_frames):
                raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
            spec = InputSpec(
                layout=layout, deltas=2 if layout == "sequence" else 0, n_frames=int(n_frames)
            )
        if not _is_count(spec.n_frames):
            raise ValueError(f"n_frames must be a positive integer, got {spec.n_frames!r}")
    except (TypeError, ValueError) as err:
        fail(f"its input settings are invalid ({err})", err)
    if "feature_config" not in meta:
        fail("the model has no feature config (metadata 'feature_config')")
    try:
        if not isinstance(meta["feature_config"], dict):
            raise TypeError(f"a {type(meta['feature_config']).__name__}, not an object")
        config = MFCCConfig.from_dict(meta["feature_config"])
    except (TypeError, ValueError) as err:
        fail(f"its feature config is invalid ({err})", err)
    shape = model.input_shape[1:] if model.built else None
    rank = 3 if spec.layout == "image" else 2
    if shape is None or len(shape) != rank or shape[0] != spec.n_frames:
        fail(
            f"its inputs are {spec.layout}s of {spec.n_frames} frames, but the network "
            f"reads inputs shaped {model.input_shape}"
        )
    cmvn = None
    if spec.normalisation == "training":
        cmvn = _training_cmvn(meta.get("cmvn"), shape[1], fail)
    adapt = meta.get("adapt_batchnorm", False)
    if not isinstance(adapt, bool):
        fail(f"its adapt_batchnorm must be true or false, got {adapt!r}")
    return spec, config, cmvn, adapt


def _training_cmvn(c, width, fail) -> CMVNStats:
    if c is None:
        fail("it is normalised with training statistics, but has none (metadata 'cmvn')")
    if not isinstance(c, dict):
        fail(f"its CMVN statistics are a {type(c).__name__}, not an object")
    arrays = {}
    for key in ("mean", "std"):
        v = c.get(key)
        ok = isinstance(v, list) and all(
            isinstance(a, numbers.Real) and not isinstance(a, bool) for a in v
        )
        if not ok or len(v) != width:
            fail(f"its CMVN {key} must be a list of {width} numbers (one per input feature)")
        if not all(math.isfinite(a) for a in v):
            fail(f"its CMVN {key} holds NaN or infinite values")
        arrays[key] = np.asarray(v, dtype=np.float64)
    if np.any(arrays["std"] < 0):
        fail("its CMVN std holds negative values")
    if not _is_count(c.get("n_frames")):
        fail(f"its CMVN n_frames must be a positive integer, got {c.get('n_frames')!r}")
    return CMVNStats(arrays["mean"], arrays["std"], int(c["n_frames"]))


def pipeline_of(model):
    """(InputSpec, MFCCConfig, training CMVN or None, adapt) of a saved model; files written
    before ``InputSpec`` existed are read as the course's first recipes. The metadata is
    checked first (``validate_metadata``): a problem is a ModelFileError naming the file."""
    return validate_metadata(model)


def evaluate(model, corpus: Corpus, *, cache_dir=None, shared: bool = True, report: bool = False):
    """Score a saved model on the utterances of ``corpus`` of a class the model knows.

    Across corpora the two label sets may differ (docs/across-corpora.md). Only the classes
    both have are scored (``ser.labels.match_labels``): an utterance of a class the model
    lacks cannot be scored, and a class of the model's that the corpus lacks is never the
    true one. With ``shared`` (the default) the model chooses among the shared classes: its
    probabilities are restricted to them and renormalised (eq. X-1), and the scores, the
    confusion matrix and chance (1/S) are over those S classes. Without it, the model
    chooses among all of its K classes, and answering a class the corpus lacks is an
    error. When the corpus has exactly the model's classes the two are the same.

    A model normalised per speaker gets each speaker's statistics from that speaker's
    scored utterances here (and adapts its batch normalisation to them when it was trained
    to), as in training, where they come from the utterances of the training classes.

    Returns
    -------
    Scores, or (Scores, ser.labels.LabelMatch) with ``report``: what was shared, what was
    left out on either side, how many utterances were not scored, and what the model did
    with the classes the corpus lacks.

    Raises
    ------
    ser.labels.NoSharedClass (a ValueError)
        No class in common; or, with ``shared``, only one.
    """
    from ser.labels import match_labels, restrict_probabilities, with_predictions

    spec, config, cmvn, adapt = pipeline_of(model)  # checks the metadata first
    labels = model.metadata["labels"]
    match = match_labels(labels, corpus, restricted=shared, trained_on=model.metadata.get("corpus"))
    corpus = corpus.select(emotions=match.shared)
    raw = raw_features(corpus, spec, config, cache_dir=cache_dir)
    sets, _ = feature_sets(spec, {"test": list(corpus)}, raw, labels, cmvn=cmvn)
    probs = predict_proba(model, sets["test"], adapt=adapt)  # (N, K)
    match = with_predictions(match, probs)
    if shared:
        q = restrict_probabilities(probs, labels, match.shared)  # (N, S), eq. X-1
        column = {labels.index(s): i for i, s in enumerate(match.shared)}
        truth = np.array([column[int(k)] for k in sets["test"].labels], dtype=np.int64)
        scores = Scores.of(truth, q.argmax(axis=1), match.shared)
    else:
        scores = Scores.of(sets["test"].labels, probs.argmax(axis=1), labels)
    return (scores, match) if report else scores


@dataclass(frozen=True)
class Heard:
    """How much of a file a prediction heard: ``seconds`` of the file's ``total`` seconds,
    ``how`` = "the centre" (one crop) or "all of its speech" (crops across it, averaged)."""

    seconds: float
    total: float
    how: str

    def __str__(self):
        return f"heard {self.seconds:.2f} s of {self.total:.2f} s: {self.how}"


def predict_files(
    model, paths, *, one_speaker: bool = False, whole: bool = False, report_heard: bool = False
):
    """Yield (path, probabilities or None, error message or None) for each file, in order
    (and a ``Heard`` fourth with ``report_heard``: how much of the file was heard).

    Any sample rate and channel count: the file is resampled to the model's rate and
    down-mixed. A bad file yields its error; the others are still predicted.

    A model hears a file as it was tested: the document's CNN one crop of ``n_frames`` at
    the centre, the real-speech recipe crops across all of its speech, averaged. ``whole``
    makes every model hear all of it that way (crops every ``n_frames // 2``, class
    probabilities averaged over them).

    A file alone says nothing of its speaker, so by default a model normalised per speaker
    is normalised by each file's own statistics, with its batch normalisation as trained (no
    adaptation); ``ser crossval`` measures what that costs (``uar_alone``). With
    ``one_speaker``, the good files are taken as recordings of one speaker and normalised
    together, by that speaker's statistics (M10) and, when the model was trained so, with its
    batch normalisation adapted to them (AdaBN), as ``ser crossval`` tests a speaker.
    """
    spec, config, cmvn, adapt = pipeline_of(model)
    changes = {}
    if spec.normalisation == "speaker" and not one_speaker:
        changes["normalisation"] = "utterance"
    if whole:
        changes["test_crops"] = "all"
    if changes:
        spec = spec.__class__(**{**spec.to_dict(), **changes})
    labels = model.metadata["labels"]
    seconds_per_frame = config.hop_length / config.sample_rate
    read = []  # (path, raw features, None, seconds) of a good file; (path, None, error, None)
    for path in paths:
        try:
            y, sr = load_audio(path, sr=config.sample_rate)
            raw = {kind: compute_features(kind, [y], config)[0] for kind in spec.kinds}
        except AudioError as err:
            message = str(err)
            if str(path) not in message:
                message = f"{path}: {message}"
            read.append((path, None, message, None))
        else:
            read.append((path, raw, None, len(y) / config.sample_rate))
        if not one_speaker:  # one file at a time: nothing is held back
            yield from _predict_read(model, spec, cmvn, labels, read, False, seconds_per_frame,
                                     report_heard)  # fmt: skip
            read = []
    if one_speaker:
        yield from _predict_read(model, spec, cmvn, labels, read, adapt, seconds_per_frame,
                                 report_heard)  # fmt: skip


def _predict_read(model, spec, cmvn, labels, read, adapt, frame, report_heard):
    """Predict the files read (as one speaker when there are several), errors in place."""
    good = [k for k, (_, _, error, _) in enumerate(read) if error is None]
    probs, heard = {}, {}
    if good:
        made = [model_inputs(spec, {k: [v] for k, v in read[i][1].items()}, 0) for i in good]
        utts = [
            Utterance(path=read[i][0], emotion=labels[0], speaker="?", corpus="files") for i in good
        ]
        data = FeatureSet.build(
            utts, [x for x, _ in made], [span for _, span in made], labels, spec, cmvn
        )
        probs = dict(zip(good, predict_proba(model, data, adapt=adapt), strict=True))
        for i, (_, (start, stop)) in zip(good, made, strict=True):
            duration = read[i][3]  # seconds of audio in the file
            if spec.test_crops == "all":
                speech = min((stop - start) * frame, duration)
                heard[i] = Heard(speech, duration, "all of its speech")
            else:
                centre = min(spec.n_frames * frame, duration)
                heard[i] = Heard(centre, duration, "the centre")
    for k, (path, _, error, _) in enumerate(read):
        yield (path, probs.get(k), error, heard.get(k)) if report_heard else (
            path, probs.get(k), error
        )  # fmt: skip

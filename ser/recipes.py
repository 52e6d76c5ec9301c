"""Ready-made recipes: a network and everything around it, from features to prediction.

A ``Recipe`` names the network (its builder), the inputs it reads (``ser.inputs.InputSpec``:
features, normalisation, silence trimming, crops) and how it is trained (epochs, batch size,
learning rate and schedule, augmentation, speaker batches, early stopping on validation
speakers). ``seed_cnn`` is the source document's model, exactly (P2, §5.2), in the recipe
"cnn"; the recurrent recipes classify sequences of MFCC + deltas + delta-deltas; "cnn1d-spk"
is the recipe for real speech (docs/evaluation.md measures every ingredient).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from nn.layers import (
    GRU,
    LSTM,
    Activation,
    AttentionPooling1D,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GradientReversal,
    Masking,
    MaxPooling2D,
    SeedRNN,
    StatisticsPooling1D,
)
from nn.models import Sequential
from nn.optimizers import Adam
from ser.inputs import InputSpec

__all__ = [
    "Recipe",
    "seed_cnn",
    "lstm_classifier",
    "gru_classifier",
    "seed_rnn_classifier",
    "bilstm_attention",
    "cnn1d_speaker_bn",
    "cnn1d_speaker_bn_multitask",
    "emotion_model",
    "AUXILIARY_TASKS",
    "RECIPES",
    "AUGMENTATIONS",
    "get",
    "build",
]

AUXILIARY_TASKS = ("gender", "speaker")
"""What a multi-task recipe can learn beside emotion (``Recipe.auxiliary``)."""
AUGMENTATIONS = ("specaugment", "speed", "noise")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Recipe:
    """A network, its inputs and its training, under one name.

    Attributes
    ----------
    name : str
    builder : callable ``(n_classes, *, input_shape, seed) -> Sequential``
    inputs : InputSpec
    summary : str
        One line for reports.
    epochs, batch_size : int
    learning_rate : float
        Adam's learning rate (the start of the schedule).
    schedule : {"constant", "cosine"}
        "cosine": ``nn.schedules.CosineDecay`` from ``learning_rate`` to 0 over all steps.
    clipnorm : float or None
        Adam's per-tensor gradient clipping (the recurrent recipes: 1.0, docs/rnn.md).
    augment : tuple of {"specaugment", "speed", "noise"}
        "specaugment": masks on every training batch (``features.spec_augment``); "speed"
        and "noise": perturbed copies of the training utterances, made once per run
        (``ser.augmentation``).
    speaker_batches : bool
        Every training batch holds one speaker's utterances (``fit(batch_groups=...)``), so
        BatchNormalization normalises by one speaker's statistics, as at test time.
    adapt_batchnorm : bool
        At test time, each speaker's BatchNormalization statistics come from that speaker's
        own (unlabelled) utterances (AdaBN, ``nn.adaptation``).
    early_stopping : bool
        Keep the weights of the epoch with the best UAR on the validation speakers.
    feature_config : dict
        Overrides of ``features.MFCCConfig`` (e.g. ``{"n_mels": 64}``).
    auxiliary : {"gender", "speaker"} or None
        Multi-task learning (S2.5): the builder makes a two-head ``nn.Model`` (emotion and
        this task, from one trunk), trained jointly; the emotion part alone is kept, saved
        and tested. "gender": the speaker's recorded sex (RAVDESS, EMO-DB, the built-in
        corpus); "speaker": which of the training speakers is speaking.
    auxiliary_weight : float
        The auxiliary loss's weight in the total (the emotion loss has weight 1).
    reverse_gradient : bool
        A ``GradientReversal`` before the auxiliary head (domain-adversarial training): the
        trunk learns to *remove* what that head recognises.
    """

    name: str
    builder: Callable[..., Sequential]
    inputs: InputSpec
    summary: str
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "constant"
    clipnorm: float | None = None
    augment: tuple[str, ...] = ()
    speaker_batches: bool = False
    adapt_batchnorm: bool = False
    early_stopping: bool = False
    feature_config: dict = field(default_factory=dict)
    auxiliary: str | None = None
    auxiliary_weight: float = 0.3
    reverse_gradient: bool = False

    def __post_init__(self):
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (
                self.learning_rate > 0 and self.learning_rate < float("inf"),
                f"the learning rate must be a positive number, got {self.learning_rate}",
            ),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (
                all(a in AUGMENTATIONS for a in self.augment),
                f"unknown augmentation in {list(self.augment)}; choose from {AUGMENTATIONS}",
            ),
            (
                self.auxiliary in (None, *AUXILIARY_TASKS),
                f"unknown auxiliary task {self.auxiliary!r}; choose from {AUXILIARY_TASKS}",
            ),
            (
                0.0 <= self.auxiliary_weight < float("inf"),
                f"the auxiliary weight must be >= 0, got {self.auxiliary_weight}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"recipe {self.name!r}: {message}")

    def replace(self, **changes) -> Recipe:
        """A copy with some training settings, input settings (``features``, ``deltas``, ...)
        or feature-config fields (``n_mels``, ``hop_length``, ...) changed; None keeps a
        setting as it is."""
        changes = {k: v for k, v in changes.items() if v is not None}
        input_names = {f.name for f in dataclasses.fields(InputSpec)}
        own = {f.name for f in dataclasses.fields(Recipe)}
        inputs = {k: changes.pop(k) for k in list(changes) if k in input_names}
        config = {k: changes.pop(k) for k in list(changes) if k not in own}
        if inputs:
            changes["inputs"] = dataclasses.replace(self.inputs, **inputs)
        if config:
            changes["feature_config"] = {**self.feature_config, **config}
        return dataclasses.replace(self, **changes)

    def optimizer(self, steps: int):
        """Adam with this recipe's learning rate, schedule over ``steps`` updates, clipping."""
        from nn.schedules import CosineDecay

        rate = self.learning_rate
        if self.schedule == "cosine":
            rate = CosineDecay(self.learning_rate, decay_steps=max(1, steps))
        return Adam(learning_rate=rate, clipnorm=self.clipnorm)


def seed_cnn(n_classes: int = 3, *, input_shape=(128, 13, 1), seed: int = 0) -> Sequential:
    """The document's CNN, line for line, compiled as the document compiles it.

        Conv2D(32, (3, 3), activation='relu', input_shape=(128, 13, 1))
        MaxPooling2D((2, 2))
        Flatten()
        Dense(64, activation='relu')
        Dense(3, activation='softmax')
        compile(optimizer=Adam(), loss='categorical_crossentropy', metrics=['accuracy'])

    One convolutional layer, although the document's text says two (docs/errata.md, E5).
    ``n_classes`` replaces the 3 of the last layer for other label sets.
    """
    model = Sequential(seed=seed, name="seed_cnn")
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(n_classes, activation="softmax"))
    model.compile(optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


# ---- recurrent recipes: sequences of MFCC + deltas + delta-deltas, (N, T, 39) ------------------
# Each starts with Masking: a short utterance is zero-padded to T frames after CMVN, where a
# real frame is never exactly zero in all 39 coefficients, so the padding is ignored (the state
# is carried over it and it gets no gradient). Adam with clipnorm=1.0 guards against the
# exploding gradients of BPTT (docs/rnn.md).

SEQUENCE_SHAPE = (128, 39)


def _recurrent(name, layers, n_classes, seed, learning_rate):
    model = Sequential(seed=seed, name=name)
    model.add(Masking(0.0, input_shape=layers[0]))
    for layer in layers[1:]:
        model.add(layer)
    model.add(Dense(n_classes, activation="softmax"))
    model.compile(
        optimizer=Adam(learning_rate=learning_rate, clipnorm=1.0),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def lstm_classifier(
    n_classes: int = 3, *, input_shape=SEQUENCE_SHAPE, units: int = 64, seed: int = 0
) -> Sequential:
    """Masking -> LSTM(units) (L1-L5 with biases, forget bias 1) -> Dense(softmax)."""
    return _recurrent("lstm", [input_shape, LSTM(units)], n_classes, seed, 3e-3)


def gru_classifier(
    n_classes: int = 3, *, input_shape=SEQUENCE_SHAPE, units: int = 64, seed: int = 0
) -> Sequential:
    """Masking -> GRU(units) (G1-G4, reset_after as Keras) -> Dense(softmax)."""
    return _recurrent("gru", [input_shape, GRU(units)], n_classes, seed, 3e-3)


def seed_rnn_classifier(
    n_classes: int = 3, *, input_shape=SEQUENCE_SHAPE, units: int = 64, seed: int = 0
) -> Sequential:
    """Masking -> SeedRNN(units) (the document's R1-R4 as written) -> Dense(softmax)."""
    return _recurrent("seed_rnn", [input_shape, SeedRNN(units)], n_classes, seed, 3e-3)


def bilstm_attention(
    n_classes: int = 3, *, input_shape=SEQUENCE_SHAPE, units: int = 64, seed: int = 0
) -> Sequential:
    """Masking -> Bidirectional(LSTM(units, return_sequences=True)) -> AttentionPooling1D
    -> Dense(softmax): the common SER recipe of a BiLSTM with attention over time."""
    layers = [
        input_shape,
        Bidirectional(LSTM(units, return_sequences=True)),
        AttentionPooling1D(units),
    ]
    return _recurrent("bilstm_attention", layers, n_classes, seed, 3e-3)


def cnn1d_speaker_bn(
    n_classes: int = 3,
    *,
    input_shape=(128, 128),
    filters: int = 96,
    dropout: float = 0.5,
    seed: int = 0,
) -> Sequential:
    """A 1-D CNN over time with batch normalisation and statistics pooling, for real speech.

        Conv1D(96, 5, same) -> BN -> ReLU          frames of log-mel + deltas, (T, 128)
        Conv1D(96, 3, same) -> BN -> ReLU
        Conv1D(96, 3, same, dilation 2) -> BN -> ReLU
        StatisticsPooling1D                        mean and std over time, (192,)
        BN -> Dropout(0.5) -> Dense(softmax)

    Trained with speaker batches and tested with AdaBN, every BatchNormalization normalises
    by one speaker's statistics: the last one does to the pooled statistics what the
    baseline's per-speaker standardisation (eq. B-1) does to its hand-made ones, but on
    features the network learned. The convolutions have no bias: the BN after each removes
    any constant.
    """
    model = Sequential(seed=seed, name="cnn1d_speaker_bn")
    model.add(Conv1D(filters, 5, padding="same", use_bias=False, input_shape=input_shape))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Activation("relu"))
    for dilation in (1, 2):
        model.add(Conv1D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False))
        model.add(BatchNormalization(momentum=0.9))
        model.add(Activation("relu"))
    model.add(StatisticsPooling1D())
    model.add(BatchNormalization(momentum=0.9))
    model.add(Dropout(dropout))
    model.add(Dense(n_classes, activation="softmax"))
    model.compile(optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn1d_speaker_bn_multitask(
    n_classes: int = 3,
    *,
    input_shape=(128, 128),
    n_auxiliary: int = 2,
    reverse_gradient: bool = False,
    filters: int = 96,
    dropout: float = 0.5,
    seed: int = 0,
):
    """``cnn1d_speaker_bn``'s network with a second head: multi-task learning (S2.5).

        frames -> [the trunk of cnn1d_speaker_bn, up to its Dropout] -> h
        h -> Dense(n_classes, softmax)  "emotion"
        h -> Dense(n_auxiliary, softmax) "auxiliary"     (h forks: eq. G-fork)
        with reverse_gradient: h -> GradientReversal -> the auxiliary head (eq. GRL)

    Returns the two-head ``nn.Model``; ``emotion_model(model)`` is its emotion part (the same
    layers: a chain, which AdaBN adapts and ``ser`` saves).
    """
    from nn import Input, Model
    from nn.graph import initial_seed

    with initial_seed(seed):
        frames = Input(tuple(input_shape), name="frames")
        h = Conv1D(filters, 5, padding="same", use_bias=False, name="conv1")(frames)
        h = Activation("relu", name="relu1")(BatchNormalization(momentum=0.9, name="bn1")(h))
        for k, dilation in ((2, 1), (3, 2)):
            h = Conv1D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False,
                       name=f"conv{k}")(h)  # fmt: skip
            h = BatchNormalization(momentum=0.9, name=f"bn{k}")(h)
            h = Activation("relu", name=f"relu{k}")(h)
        h = StatisticsPooling1D(name="stats")(h)
        h = Dropout(dropout, name="dropout")(BatchNormalization(momentum=0.9, name="bn4")(h))
        emotion = Dense(n_classes, activation="softmax", name="emotion")(h)
        if reverse_gradient:
            h = GradientReversal(1.0, name="reversal")(h)
        auxiliary = Dense(n_auxiliary, activation="softmax", name="auxiliary")(h)
    return Model(frames, [emotion, auxiliary], name="cnn1d_speaker_bn_multitask", seed=seed)


def emotion_model(model):
    """The emotion part of a two-head model: the same layers, one output."""
    from nn import Model

    return Model(model.inputs[0], model.outputs[0], name=model.name, seed=model.seed)


_SEQUENCE = InputSpec(layout="sequence", deltas=2)

RECIPES = {
    "cnn": Recipe(
        "cnn",
        seed_cnn,
        InputSpec(layout="image"),
        "the document's CNN on 128 x 13 MFCC maps (P2)",
    ),
    "lstm": Recipe(
        "lstm",
        lstm_classifier,
        _SEQUENCE,
        "LSTM(64) on MFCC + deltas + delta-deltas",
        learning_rate=3e-3,
        clipnorm=1.0,
    ),
    "gru": Recipe(
        "gru",
        gru_classifier,
        _SEQUENCE,
        "GRU(64) on MFCC + deltas + delta-deltas",
        learning_rate=3e-3,
        clipnorm=1.0,
    ),
    "seed-rnn": Recipe(
        "seed-rnn",
        seed_rnn_classifier,
        _SEQUENCE,
        "the document's gated RNN (R1-R4) on MFCC + deltas + delta-deltas",
        learning_rate=3e-3,
        clipnorm=1.0,
    ),
    "bilstm-attention": Recipe(
        "bilstm-attention",
        bilstm_attention,
        _SEQUENCE,
        "BiLSTM(64) with attention pooling on MFCC + deltas + delta-deltas",
        learning_rate=3e-3,
        clipnorm=1.0,
    ),
    "cnn1d-spk": Recipe(
        "cnn1d-spk",
        cnn1d_speaker_bn,
        InputSpec(
            layout="sequence",
            features="logmel",
            deltas=1,
            normalisation="speaker",
            trim_silence=True,
            test_crops="all",
            vad_floor_db=-100.0,  # no absolute floor: a quiet recording is trimmed as a loud one
        ),
        "1-D CNN with batch norm and statistics pooling on log-mel + deltas, normalised per "
        "speaker (speaker batches, AdaBN)",
        epochs=50,
        schedule="cosine",
        speaker_batches=True,
        adapt_batchnorm=True,
        early_stopping=False,  # the last epoch of the cosine schedule (docs/evaluation.md)
        feature_config={"n_mels": 64},
    ),
}
RECIPES["cnn1d-spk-mtl"] = dataclasses.replace(
    RECIPES["cnn1d-spk"],
    name="cnn1d-spk-mtl",
    builder=cnn1d_speaker_bn_multitask,
    summary="cnn1d-spk with a second head for the speaker's gender, trained jointly (S2.5)",
    auxiliary="gender",
    auxiliary_weight=0.3,
)
RECIPES["cnn1d-spk-adv"] = dataclasses.replace(
    RECIPES["cnn1d-spk"],
    name="cnn1d-spk-adv",
    builder=cnn1d_speaker_bn_multitask,
    summary="cnn1d-spk with an adversarial speaker head behind a gradient reversal (DANN)",
    auxiliary="speaker",
    auxiliary_weight=0.1,
    reverse_gradient=True,
)
"""name -> Recipe. "cnn" is the document's; "cnn1d-spk" the recipe for real speech."""


def get(name: str) -> Recipe:
    """The recipe ``name`` (a key of RECIPES), or a clear error."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def input_width(recipe: Recipe, config) -> int:
    """Numbers per frame the network reads: n_mfcc or n_mels, times (1 + deltas)."""
    base = config.n_mfcc if recipe.inputs.features == "mfcc" else config.n_mels
    return base * (1 + recipe.inputs.deltas)


def build(
    recipe: Recipe | str, n_classes: int, *, config=None, seed: int = 0, n_auxiliary: int = 2
) -> Sequential:
    """The network of ``recipe`` for ``n_classes`` and the features of ``config`` (and
    ``n_auxiliary`` outputs of a multi-task recipe's second head)."""
    from features import MFCCConfig

    recipe = get(recipe) if isinstance(recipe, str) else recipe
    config = config or MFCCConfig(**recipe.feature_config)
    c, n = input_width(recipe, config), recipe.inputs.n_frames
    shape = (n, c, 1) if recipe.inputs.layout == "image" else (n, c)
    if recipe.auxiliary:
        return recipe.builder(
            n_classes,
            input_shape=shape,
            seed=seed,
            n_auxiliary=n_auxiliary,
            reverse_gradient=recipe.reverse_gradient,
        )
    return recipe.builder(n_classes, input_shape=shape, seed=seed)

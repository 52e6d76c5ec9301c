"""Ready-made models. ``seed_cnn`` is the source document's model, exactly (P2, §5.2); the
recurrent recipes classify sequences of MFCC + deltas + delta-deltas."""

from __future__ import annotations

from nn.layers import (
    GRU,
    LSTM,
    AttentionPooling1D,
    Bidirectional,
    Conv2D,
    Dense,
    Flatten,
    Masking,
    MaxPooling2D,
    SeedRNN,
)
from nn.models import Sequential
from nn.optimizers import Adam

__all__ = [
    "seed_cnn",
    "lstm_classifier",
    "gru_classifier",
    "seed_rnn_classifier",
    "bilstm_attention",
    "RECIPES",
    "build",
]


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


RECIPES = {
    "cnn": ("image", seed_cnn),
    "lstm": ("sequence", lstm_classifier),
    "gru": ("sequence", gru_classifier),
    "seed-rnn": ("sequence", seed_rnn_classifier),
    "bilstm-attention": ("sequence", bilstm_attention),
}
"""name -> (input kind, builder). "image": (N, 128, 13, 1) MFCC maps for the CNN; "sequence":
(N, 128, 39) MFCC + deltas + delta-deltas for the recurrent models."""


def build(name: str, n_classes: int, *, n_mfcc: int = 13, n_frames: int = 128, seed: int = 0):
    """The model ``name`` (a key of RECIPES) for ``n_classes`` and its input kind."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(RECIPES)}")
    kind, builder = RECIPES[name]
    shape = (n_frames, n_mfcc, 1) if kind == "image" else (n_frames, 3 * n_mfcc)
    return builder(n_classes, input_shape=shape, seed=seed), kind

"""Ready-made models. ``seed_cnn`` is the source document's model, exactly (P2, §5.2)."""

from __future__ import annotations

from nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from nn.models import Sequential
from nn.optimizers import Adam

__all__ = ["seed_cnn"]


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

"""Flatten, Dropout, Activation and GradientReversal."""

from __future__ import annotations

import math

import numpy as np

from nn.functional.dropout import dropout_backward, dropout_forward
from nn.layers.base import NO_CACHE, Layer

__all__ = ["Flatten", "Dropout", "Activation", "GradientReversal"]


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 d2 ...), in C order (channels last stay innermost, as Keras)."""

    kind = "flatten"

    def _output_shape(self, input_shape):
        return (math.prod(input_shape),)  # Python ints: no int64 overflow

    def _forward(self, x, training):
        return x.reshape(x.shape[0], -1), x.shape

    def _backward(self, dz, shape):
        return dz.reshape(shape), {}


class Dropout(Layer):
    """Inverted dropout (eq. DO) in training; the identity at inference.

    The mask comes from the generator the model gives the layer (``Sequential(seed=...)``),
    so training is reproducible.
    """

    any_length = True  # (T, C) inputs with T None

    kind = "dropout"
    supports_masking = True

    def __init__(self, rate, *, input_shape=None, name=None, dtype=None):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(0)

    def _output_shape(self, input_shape):
        return input_shape

    def _build(self, input_shape, rng):
        self.rng = np.random.default_rng(rng.integers(2**63))

    def _forward(self, x, training):
        y, mask = dropout_forward(x, rate=self.rate, rng=self.rng, training=training)
        return y, (mask if mask is not None else NO_CACHE)

    def _backward(self, dz, mask):
        return dropout_backward(dz, None if mask is NO_CACHE else mask), {}

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class Activation(Layer):
    """An activation on its own: relu, tanh, sigmoid, softmax or linear."""

    any_length = True  # (T, C) inputs with T None

    kind = "activation"
    supports_masking = True

    def __init__(self, activation, *, input_shape=None, name=None, dtype=None):
        super().__init__(activation=activation, input_shape=input_shape, name=name, dtype=dtype)

    def _output_shape(self, input_shape):
        return input_shape

    def _forward(self, x, training):
        return x, NO_CACHE

    def _backward(self, dz, cache):
        return dz, {}

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class GradientReversal(Layer):
    """The identity forward, the gradient times -factor backward (eq. GRL; Ganin and
    Lempitsky 2015, domain-adversarial training)::

        forward:   y = x                      backward:  dL/dx = -factor dL/dy

    Put before a head that recognises what the features should *not* hold (the speaker): the
    head learns to recognise it, while the layers before the reversal receive the opposite
    gradient and learn to remove it. No parameters.
    """

    any_length = True  # (T, C) inputs with T None

    kind = "gradient_reversal"
    supports_masking = True

    def __init__(self, factor=1.0, *, input_shape=None, name=None, dtype=None):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor >= 0):
            raise ValueError(
                f"GradientReversal factor must be a finite number >= 0, got {factor!r}"
            )
        self.factor = float(factor)

    def _output_shape(self, input_shape):
        return input_shape

    def _forward(self, x, training):
        return x, NO_CACHE

    def _backward(self, dz, cache):
        return -self.factor * dz, {}  # eq. GRL

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}

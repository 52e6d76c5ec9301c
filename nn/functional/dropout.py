"""Inverted dropout: zero a fraction ``rate`` of the inputs in training and scale the rest.

Math (docs/cnn.md, eq. DO)::

    training:   m ~ Bernoulli(1 - rate),   y = x * m / (1 - rate)
    inference:  y = x

Scaling during training (not at inference) keeps E[y] = x, so nothing changes at test time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, *, rate: float, rng: np.random.Generator, training: bool):
    """Returns (y, cache); cache is the scaled mask m / (1 - rate), or None at inference."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if not training or rate == 0.0:
        return x, None
    mask = (rng.random(x.shape) >= rate).astype(x.dtype) / x.dtype.type(1.0 - rate)
    return x * mask, mask


def dropout_backward(dout, mask):
    """dx = dout * m / (1 - rate) (the same mask), or dout at inference."""
    return dout if mask is None else dout * mask

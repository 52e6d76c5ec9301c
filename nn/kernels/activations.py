"""Numba twins of ``nn.functional.activations.relu_forward / relu_backward``.

Same formulas (C4) and conventions (ReLU'(0) = 0; +0.0 for negative inputs); one pass each
instead of NumPy's separate maximum, comparison and bool-times-float passes (measured for the
document's CNN's 1.4 M activations: 0.71 ms -> one pass forward, 0.79 ms -> one pass backward).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["relu_forward", "relu_backward"]


@njit(cache=True)
def _relu_forward(x, out, mask):
    for k in range(x.size):
        v = x[k]
        positive = v > 0
        mask[k] = positive
        out[k] = v if positive else 0.0  # eq. C4


@njit(cache=True)
def _relu_backward(dout, mask, dx):
    for k in range(dout.size):
        dx[k] = dout[k] if mask[k] else 0.0


def relu_forward(x):
    """Same contract as ``nn.functional.activations.relu_forward``."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.bool_)
    _relu_forward(x.reshape(-1), out.reshape(-1), mask.reshape(-1))
    return out, mask


def relu_backward(dout, mask):
    """Same contract as ``nn.functional.activations.relu_backward``."""
    dout = np.ascontiguousarray(dout)
    dx = np.empty_like(dout)
    _relu_backward(dout.reshape(-1), np.ascontiguousarray(mask).reshape(-1), dx.reshape(-1))
    return dx

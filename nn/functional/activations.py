"""Element-wise activations and softmax (C4 and S3.2).

Every ``*_forward(x)`` returns ``(out, cache)``, every ``*_backward(dout, cache)`` returns dx.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "relu_forward",
    "relu_backward",
    "tanh_forward",
    "tanh_backward",
    "sigmoid",
    "sigmoid_forward",
    "sigmoid_backward",
    "softmax",
    "softmax_forward",
    "softmax_backward",
    "linear_forward",
    "linear_backward",
    "ACTIVATIONS",
]


def relu_forward(x):
    """a = max(0, x) (the document's C4). Cache: the mask x > 0."""
    # BEGIN SOLUTION ex=C4
    mask = x > 0
    return np.maximum(x, 0), mask  # eq. C4 (x * mask would give -0.0 for negative x)
    # END SOLUTION


def relu_backward(dout, mask):
    """da/dx = 1 where x > 0, else 0. Convention at the kink: ReLU'(0) = 0 (as PyTorch, TF)."""
    # BEGIN SOLUTION ex=C4
    return dout * mask
    # END SOLUTION


def tanh_forward(x):
    """a = tanh(x). Cache: a."""
    a = np.tanh(x)
    return a, a


def tanh_backward(dout, a):
    """da/dx = 1 - a^2."""
    # BEGIN SOLUTION ex=ACT
    return dout * (1.0 - a * a)
    # END SOLUTION


def sigmoid(x):
    """Numerically stable logistic function: never evaluates exp of a large positive number.

    sigma(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))  # always in (0, 1]: no overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    """a = sigma(x). Cache: a."""
    a = sigmoid(x)
    return a, a


def sigmoid_backward(dout, a):
    """da/dx = a (1 - a)."""
    # BEGIN SOLUTION ex=ACT
    return dout * a * (1.0 - a)
    # END SOLUTION


def softmax(z, axis=-1):
    """softmax(z)_k = exp(z_k - max z) / sum_j exp(z_j - max z) (max subtracted: no overflow)."""
    # BEGIN SOLUTION ex=SM
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
    # END SOLUTION


def softmax_forward(z):
    """s = softmax(z) over the last axis (S3.2, the output layer). Cache: s."""
    s = softmax(z)
    return s, s


def softmax_backward(dout, s):
    """dz_k = s_k (dout_k - sum_j dout_j s_j)   (the Jacobian diag(s) - s s^T applied to dout)."""
    # BEGIN SOLUTION ex=SM
    return s * (dout - np.sum(dout * s, axis=-1, keepdims=True))
    # END SOLUTION


def linear_forward(x):
    """The identity (Keras activation=None / "linear")."""
    return x, None


def linear_backward(dout, _):
    return dout


ACTIVATIONS = {
    None: (linear_forward, linear_backward),
    "linear": (linear_forward, linear_backward),
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "softmax": (softmax_forward, softmax_backward),
}

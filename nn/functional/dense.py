"""Fully connected (dense) layer.

Shape letters (docs/conventions.md): N batch, D input features, M output features.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_forward", "dense_backward"]


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None):
    """Affine map of a minibatch.

    Math (docs/cnn.md, eq. D-1)::

        y = x W + b            y[n, m] = sum_d x[n, d] W[d, m] + b[m]

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (D, M)     (Keras "kernel")
    b : ndarray, shape (M,), or None for no bias

    Returns
    -------
    y : ndarray, shape (N, M)
    cache : tuple (x, W, has_bias)
    """
    y = x @ W  # eq. D-1
    if b is not None:
        y = y + b
    return y, (x, W, b is not None)


def dense_backward(dy: np.ndarray, cache, *, need_dx=True):
    """Gradients through ``dense_forward``.

    Math (eqs. D-2 .. D-4), with dy = dL/dy::

        dx = dy W^T          dW = x^T dy          db = sum_n dy[n, :]

    Returns
    -------
    dx : (N, D), or None when ``need_dx`` is False    dW : (D, M)    db : (M,) or None
    """
    x, W, has_bias = cache
    dx = dy @ W.T if need_dx else None  # eq. D-2
    dW = x.T @ dy  # eq. D-3
    db = dy.sum(axis=0) if has_bias else None  # eq. D-4
    return dx, dW, db

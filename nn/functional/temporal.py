"""Pooling over time: from a sequence of states (N, T, H) to one vector per sequence (N, H).

Shape letters (docs/conventions.md): N batch, T time steps, H features per step, A attention
units. ``mask`` (N, T) of 0/1 marks real steps; padded steps get no weight and no gradient.
"""

from __future__ import annotations

import numpy as np

from nn.functional.activations import softmax
from nn.functional.sequence import time_mask

__all__ = [
    "global_average_pool1d_forward",
    "global_average_pool1d_backward",
    "attention_pool_forward",
    "attention_pool_backward",
]


def global_average_pool1d_forward(x, mask=None):
    """The mean over the real steps.

    Math (docs/rnn.md, eq. P-avg)::

        y[n] = sum_t m[n, t] x[n, t] / sum_t m[n, t]        (m = 1 everywhere without a mask)

    Parameters
    ----------
    x : (N, T, H)    mask : (N, T) or None

    Returns
    -------
    y : (N, H)
    cache : (weights (N, T, 1): m / sum_t m)
    """
    N, T, _ = x.shape
    m = time_mask(mask, N, T, x.dtype)
    m = np.ones((N, T), x.dtype) if m is None else m
    count = m.sum(axis=1, keepdims=True)
    if np.any(count == 0):
        raise ValueError("a sequence in the batch has no real step (its mask is all 0)")
    weights = (m / count)[:, :, None]
    return (weights * x).sum(axis=1), weights


def global_average_pool1d_backward(dy, weights):
    """dx[n, t] = dy[n] m[n, t] / sum_t m[n, t]. Returns dx (N, T, H)."""
    return weights * dy[:, None, :]


def attention_pool_forward(x, W, v, mask=None):
    """Attention pooling, as many SER papers use it (e.g. Mirsamadi et al., 2017).

    Math (docs/rnn.md, eqs. P-att1 .. P-att3)::

        u_t = tanh(x_t W)                   (N, T, A)  a small tanh layer per step
        s_t = u_t . v                       (N, T)     a score per step
        alpha = softmax_t(s) over real steps           weights that sum to 1 over t
        y = sum_t alpha_t x_t               (N, H)

    Parameters
    ----------
    x : (N, T, H)    W : (H, A)    v : (A,)    mask : (N, T) or None (padded steps: alpha 0)

    Returns
    -------
    y : (N, H)
    cache : (x, W, v, u, alpha)
    """
    N, T, _ = x.shape
    m = time_mask(mask, N, T, x.dtype)
    u = np.tanh(x @ W)  # eq. P-att1
    s = u @ v
    if m is not None:
        if np.any(m.sum(axis=1) == 0):
            raise ValueError("a sequence in the batch has no real step (its mask is all 0)")
        s = np.where(m > 0, s, -np.inf)  # exp(-inf) = 0: padding gets no weight
    alpha = softmax(s, axis=1)  # eq. P-att2
    y = np.einsum("nt,nth->nh", alpha, x)  # eq. P-att3
    return y, (x, W, v, u, alpha)


def attention_pool_backward(dy, cache):
    """Gradients of ``attention_pool_forward``.

    Math (docs/rnn.md, eq. P-att-b)::

        dalpha_t = dy . x_t                 ds_t = alpha_t (dalpha_t - sum_k alpha_k dalpha_k)
        dz = ds_t v (1 - u_t^2)             (z = x_t W, the tanh layer's input)
        dx_t = alpha_t dy + dz W^T          dW = sum_{n,t} x_t^T dz      dv = sum_{n,t} ds_t u_t

    Returns
    -------
    dx : (N, T, H)    dW : (H, A)    dv : (A,)
    """
    x, W, v, u, alpha = cache
    dalpha = np.einsum("nh,nth->nt", dy, x)
    ds = alpha * (dalpha - (alpha * dalpha).sum(axis=1, keepdims=True))  # softmax backward
    dz = ds[:, :, None] * v * (1.0 - u * u)
    dx = alpha[:, :, None] * dy[:, None, :] + dz @ W.T
    H, A = W.shape
    dW = x.reshape(-1, H).T @ dz.reshape(-1, A)
    dv = np.einsum("nt,nta->a", ds, u)
    return dx, dW, dv

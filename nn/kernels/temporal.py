"""Numba twins of ``nn/functional/temporal.py``: statistics pooling (eq. P-stat).

See ``nn.functional.temporal.statistics_pool1d_forward`` for the formula, the shapes and the
mask; only the evaluation differs. The reference makes five full-size (N, T, H) temporaries
(w x, x - mu, its square times w, and two more in the backward pass); these loops walk each
sequence twice forward (the mean, then the centred squares) and once backward, and make none.
Every ``prange`` iteration owns one sequence: y[n] forward, dx[n] backward.

The other pooling layers (average, attention) have no twin: ``GlobalAveragePooling1D`` and
``AttentionPooling1D`` call the references directly.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nn.functional.sequence import time_mask

__all__ = ["statistics_pool1d_forward", "statistics_pool1d_backward"]


@njit(cache=True, parallel=True)
def _stats_forward(x, m, epsilon, y, sigma):
    N, T, H = x.shape
    for n in prange(N):
        count = 0.0
        for t in range(T):
            count += m[n, t]
        mu = y[n, :H]
        mu[:] = 0.0
        for t in range(T):
            if m[n, t] != 0.0:  # padded steps are skipped, never multiplied by 0
                row = x[n, t]
                for h in range(H):
                    mu[h] += row[h]
        for h in range(H):
            mu[h] /= count  # eq. P-stat, the mean
        var = y[n, H:]
        var[:] = 0.0
        for t in range(T):
            if m[n, t] != 0.0:
                row = x[n, t]
                for h in range(H):
                    d = row[h] - mu[h]
                    var[h] += d * d
        for h in range(H):
            s = np.sqrt(var[h] / count + epsilon)  # eq. P-stat, biased variance
            var[h] = s
            sigma[n, h] = s


@njit(cache=True, parallel=True)
def _stats_backward(dy, x, m, mu, sigma, dx):
    N, T, H = x.shape
    for n in prange(N):
        count = 0.0
        for t in range(T):
            count += m[n, t]
        w = 1.0 / count
        dmu = dy[n, :H]
        scale = dy[n, H:] / sigma[n]  # dsigma / sigma
        for t in range(T):
            out = dx[n, t]
            if m[n, t] == 0.0:
                out[:] = 0.0  # padding: no gradient
                continue
            row = x[n, t]
            for h in range(H):
                out[h] = w * (dmu[h] + (row[h] - mu[n, h]) * scale[h])  # eq. P-stat-b


def _mask_or_ones(mask, N, T, dtype):
    m = time_mask(mask, N, T, dtype)
    if m is None:
        return np.ones((N, T), dtype=dtype)
    if np.any(m.sum(axis=1) == 0):
        raise ValueError("a sequence in the batch has no real step (its mask is all 0)")
    return np.ascontiguousarray(m)


def statistics_pool1d_forward(x, mask=None, *, epsilon=1e-5):
    """Same contract as ``nn.functional.temporal.statistics_pool1d_forward``; the cache is
    (x, mask, mu, sigma) instead."""
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    N, T, H = x.shape
    m = _mask_or_ones(mask, N, T, x.dtype)
    y = np.empty((N, 2 * H), dtype=x.dtype)
    sigma = np.empty((N, H), dtype=x.dtype)
    _stats_forward(x, m, x.dtype.type(epsilon), y, sigma)
    return y, (x, m, np.ascontiguousarray(y[:, :H]), sigma)


def statistics_pool1d_backward(dy, cache):
    """Same contract as ``nn.functional.temporal.statistics_pool1d_backward``."""
    x, m, mu, sigma = cache
    N, T, H = x.shape
    if dy.shape != (N, 2 * H):
        raise ValueError(
            f"statistics pooling backward: dy has shape {dy.shape}, expected {(N, 2 * H)}"
        )
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    dx = np.empty_like(x)  # every element is written
    _stats_backward(dy, x, m, mu, sigma, dx)
    return dx

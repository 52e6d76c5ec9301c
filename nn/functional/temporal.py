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
    "statistics_pool1d_forward",
    "statistics_pool1d_backward",
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


def statistics_pool1d_forward(x, mask=None, *, epsilon=1e-5):
    """Statistics pooling: the mean and the standard deviation over the real steps.

    Math (docs/rnn.md, eq. P-stat), with w[n, t] = m[n, t] / sum_t m[n, t]::

        mu[n]    = sum_t w[n, t] x[n, t]
        var[n]   = sum_t w[n, t] (x[n, t] - mu[n])^2          (biased: divides by the count)
        sigma[n] = sqrt(var[n] + epsilon)
        y[n]     = [mu[n], sigma[n]]                          (N, 2H): means first

    Parameters
    ----------
    x : (N, T, H)    mask : (N, T) or None (every step real)
    epsilon : float, added to the variance (1e-5): keeps sigma and its gradient finite for a
        constant feature or a one-step sequence

    Returns
    -------
    y : (N, 2 H)
    cache : (w (N, T, 1), x - mu (N, T, H), sigma (N, H))

    Raises
    ------
    ValueError
        If a sequence has no real step (its mask is all 0): its statistics do not exist.

    Notes
    -----
    The variance is computed from the centred values (two passes), never as
    E[x^2] - mu^2, which loses every digit when the mean is large against the spread.

    References
    ----------
    D. Snyder, D. Garcia-Romero, G. Sell, D. Povey, S. Khudanpur, "X-vectors: robust DNN
    embeddings for speaker recognition", ICASSP 2018 (the statistics pooling layer).

    See Also
    --------
    nn.kernels.temporal.statistics_pool1d_forward : the Numba twin.
    """
    N, T, _ = x.shape
    m = time_mask(mask, N, T, x.dtype)
    m = np.ones((N, T), x.dtype) if m is None else m
    count = m.sum(axis=1, keepdims=True)
    if np.any(count == 0):
        raise ValueError("a sequence in the batch has no real step (its mask is all 0)")
    w = (m / count)[:, :, None]
    mu = (w * x).sum(axis=1)  # eq. P-stat, the mean
    centred = x - mu[:, None, :]
    var = (w * centred * centred).sum(axis=1)  # eq. P-stat, the biased variance
    sigma = np.sqrt(var + epsilon)
    return np.concatenate([mu, sigma], axis=1), (w, centred, sigma)


def statistics_pool1d_backward(dy, cache):
    """Gradient of ``statistics_pool1d_forward``.

    Math (docs/rnn.md, eq. P-stat-b), with dy = [dmu, dsigma]::

        dx[n, t] = w[n, t] (dmu[n] + (x[n, t] - mu[n]) dsigma[n] / sigma[n])

    (The variance's own dependence on mu adds nothing: sum_t w (x_t - mu) = 0.) Padded steps
    have w = 0, so they get no gradient. Returns dx (N, T, H).
    """
    w, centred, sigma = cache
    H = sigma.shape[1]
    dmu, dsigma = dy[:, :H], dy[:, H:]
    return w * (dmu[:, None, :] + centred * (dsigma / sigma)[:, None, :])  # eq. P-stat-b


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

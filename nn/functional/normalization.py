"""Batch normalisation, channels last: the readable reference (BN-1 .. BN-7).

Shape letters (docs/conventions.md): N batch, C channels (the last axis). An input is
(N, C), (N, T, C) or (N, H, W, C); the statistics of channel c run over every other axis,
so below "the M positions" of a channel are the N, N T or N H W entries that share it. A
time mask (N, T) of 0/1 for (N, T, C) inputs leaves the padded steps out of the statistics.

The fast twin with the same signatures lives in ``nn/kernels/normalization.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "BatchNormCache",
    "mask_weights",
    "check_inputs",
    "batchnorm_forward",
    "batchnorm_backward",
]


class BatchNormCache(NamedTuple):
    """What ``batchnorm_backward`` needs, and the statistics the layer keeps (a tuple)."""

    xhat: np.ndarray  # (..., C) normalised input, x.dtype; 0 at padded steps
    inv_std: np.ndarray  # (C,) float64, 1 / sqrt(variance + epsilon)
    gamma: np.ndarray | None  # (C,) or None (scale=False)
    has_beta: bool  # False: center=False, no dbeta
    weights: np.ndarray | None  # (..., 1) 0/1 of x.dtype (the mask), None without a mask
    count: int  # M, the number of (real) positions per channel
    batch_statistics: bool  # True: the batch's own statistics (training)
    mean: np.ndarray  # (C,) the mean used: the batch's (float64) or the given one
    variance: np.ndarray  # (C,) the variance used: the batch's (biased, float64) or given


def mask_weights(x, mask):
    """The mask as 0/1 weights shaped x.shape[:-1] + (1,), or None; checks it."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != x.shape[:-1]:
        raise ValueError(
            f"batchnorm: the mask must be shaped {x.shape[:-1]} (the input without its "
            f"channel axis), got {mask.shape}"
        )
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("batchnorm: the mask must hold only 0 (padding) and 1 (a real step)")
    return mask[..., None].astype(x.dtype)


def check_inputs(x, gamma, beta, mean, variance):
    """Shared by both twins: rank >= 2, one (C,) vector per channel, both statistics or none."""
    if x.ndim < 2:
        raise ValueError(f"batchnorm: the input must be (N, ..., C), got shape {x.shape}")
    C = x.shape[-1]
    for what, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)):
        if v is not None and np.shape(v) != (C,):
            raise ValueError(
                f"batchnorm: the input has {C} channels, but {what} has shape {np.shape(v)}"
            )
    if (mean is None) != (variance is None):
        raise ValueError("batchnorm: give both mean and variance (inference), or neither")


def batchnorm_forward(x, gamma, beta, *, epsilon=1e-3, mean=None, variance=None, mask=None):
    """Normalise every channel, then scale and shift it (Ioffe & Szegedy, 2015).

    Math (docs/cnn.md, eqs. BN-1 .. BN-4), for channel c over its M positions i (with a
    mask, only the real ones, m_i = 1)::

        mu[c]     = (1/M) sum_i m_i x[i, c]                          (BN-1)
        var[c]    = (1/M) sum_i m_i (x[i, c] - mu[c])^2              (BN-2, biased)
        xhat[i, c] = (x[i, c] - mu[c]) / sqrt(var[c] + epsilon)      (BN-3)
        y[i, c]   = m_i (gamma[c] xhat[i, c] + beta[c])              (BN-4)

    Training uses the batch's mu and var (BN-1, BN-2). Inference passes ``mean`` and
    ``variance`` (the layer's moving statistics) and uses them in BN-3 instead.

    Parameters
    ----------
    x : ndarray, shape (N, C), (N, T, C) or (N, H, W, C); channels last
    gamma : ndarray (C,), or None for no scale (``scale=False``: gamma = 1)
    beta : ndarray (C,), or None for no shift (``center=False``: beta = 0)
    epsilon : float
        Added to the variance before the square root (Keras's default 1e-3; PyTorch 1e-5).
    mean, variance : ndarray (C,), optional
        Fixed statistics (inference). Without them, the batch's own.
    mask : ndarray (N, T) of 0/1, optional
        For (N, T, C) inputs (generally x.shape[:-1]): 1 for a real step, 0 for padding.
        Padded steps are left out of BN-1 and BN-2, output 0 and get no gradient.

    Returns
    -------
    y : ndarray, shape of x, dtype of x
    cache : BatchNormCache (a named tuple)
        (xhat, inv_std, gamma, has_beta, weights, count, batch_statistics, mean, variance):
        the normalised input (0 at padded steps), 1/sqrt(var + epsilon) (C,), gamma, whether
        there is a beta, the mask as weights (..., 1) or None, M, whether the batch's
        statistics were used, and the mean and variance used (C,). The layer reads
        ``cache.mean`` and ``cache.variance`` to update its moving statistics.

    Notes
    -----
    The statistics are accumulated in float64 whatever the dtype of x (numerically safer in
    float32; the twin does the same) and y is cast back to x.dtype. The variance of BN-2 is
    the biased one (divide by M), as Keras and PyTorch normalise; PyTorch's *running*
    variance is the unbiased one (docs/cnn.md, "Keras and PyTorch").

    Raises
    ------
    ValueError
        On a gamma, beta, mean or variance that is not one value per channel, a mask of the
        wrong shape, or a batch with no real position (every step padded).

    References
    ----------
    S. Ioffe and C. Szegedy, "Batch normalization: accelerating deep network training by
    reducing internal covariate shift", ICML 2015, Algorithm 1 (eqs. BN-1 .. BN-4).

    See Also
    --------
    nn.kernels.normalization.batchnorm_forward : the Numba twin (one fused pass per block).
    nn.layers.BatchNormalization : the layer, with the moving statistics (BN-5).
    """
    check_inputs(x, gamma, beta, mean, variance)
    axes = tuple(range(x.ndim - 1))  # every axis but the channels
    w = mask_weights(x, mask)
    M = int(np.prod(x.shape[:-1])) if w is None else int(w.sum())
    if M == 0:
        raise ValueError("batchnorm: every position of the batch is padding (the mask is all 0)")
    batch_statistics = mean is None
    if batch_statistics:
        xw = x if w is None else x * w
        mean = xw.sum(axis=axes, dtype=np.float64) / M  # eq. BN-1
        centred = x - mean  # float64
        sq = centred**2 if w is None else centred**2 * w
        variance = sq.sum(axis=axes) / M  # eq. BN-2 (biased: divide by M)
    else:
        centred = x - np.asarray(mean, dtype=np.float64)
    inv_std = 1.0 / np.sqrt(np.asarray(variance, dtype=np.float64) + epsilon)
    xhat = centred * inv_std  # eq. BN-3
    y = xhat if gamma is None else gamma * xhat  # eq. BN-4
    if beta is not None:
        y = y + beta
    if w is not None:
        xhat, y = xhat * w, y * w  # padded steps: output 0 (and xhat 0 for the backward pass)
    cache = BatchNormCache(
        xhat.astype(x.dtype),
        inv_std,
        gamma,
        beta is not None,
        w,
        M,
        batch_statistics,
        mean,
        variance,
    )
    return y.astype(x.dtype), cache


def batchnorm_backward(dout, cache, *, need_dx=True):
    """Gradients through ``batchnorm_forward``.

    Math (docs/cnn.md, eqs. BN-6, BN-7; sums and means over the M real positions of a
    channel, g = dout at real positions and 0 at padded ones)::

        dbeta[c]  = sum_i g[i, c]                                          (BN-6)
        dgamma[c] = sum_i g[i, c] xhat[i, c]                               (BN-6)

        training (the batch's statistics, which depend on x):
        dx[i, c] = m_i gamma[c] / sqrt(var[c] + eps)
                   * (g[i, c] - dbeta[c] / M - xhat[i, c] dgamma[c] / M)  (BN-7)

        inference (fixed statistics, an affine map of x):
        dx[i, c] = m_i gamma[c] / sqrt(var[c] + eps) * g[i, c]             (BN-7i)

    Parameters
    ----------
    dout : ndarray, shape of the forward output
    cache : BatchNormCache from ``batchnorm_forward``
    need_dx : bool
        False skips dx (returns None): the first layer of a network, whose input is data.

    Returns
    -------
    dx : ndarray, shape and dtype of x, or None (``need_dx=False``)
    dgamma : ndarray (C,) of gamma's dtype, or None without gamma
    dbeta : ndarray (C,) of gamma's (or x's) dtype, or None without beta

    See Also
    --------
    nn.kernels.normalization.batchnorm_backward : the Numba twin.
    """
    xhat, inv_std, gamma, has_beta, w, M, batch_statistics, _, _ = cache
    axes = tuple(range(dout.ndim - 1))
    g = dout if w is None else dout * w
    dbeta = g.sum(axis=axes, dtype=np.float64)  # eq. BN-6
    dgamma = (g * xhat).sum(axis=axes, dtype=np.float64)  # eq. BN-6
    dx = None
    if need_dx:
        scale = inv_std if gamma is None else gamma * inv_std  # (C,) float64
        if batch_statistics:
            dx = scale * (g - dbeta / M - xhat * (dgamma / M))  # eq. BN-7
            if w is not None:
                dx = dx * w  # xhat is 0 there, but the two means are not
        else:
            dx = scale * g  # eq. BN-7i
        dx = dx.astype(dout.dtype)
    pdtype = dout.dtype if gamma is None else gamma.dtype
    return (
        dx,
        None if gamma is None else dgamma.astype(pdtype),
        dbeta.astype(pdtype) if has_beta else None,
    )

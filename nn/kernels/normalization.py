"""Numba twin of ``nn/functional/normalization.py`` (BN-1 .. BN-7).

See ``nn.functional.normalization.batchnorm_forward`` for the formulas, shapes and the cache
contract; only the evaluation order differs:

- The input is seen as a (R, C) matrix of rows (R = N, N T or N H W positions), cut into
  blocks of ``_BLOCK_ROWS`` rows; each ``prange`` iteration owns one block's partial results.
- The statistics take one sweep over memory. Each block computes its own mean and centred
  sum of squares while its rows are in cache (two passes over 64 KB, not over the whole
  input), and the blocks are merged with the exact pairwise formula of Chan, Golub and
  LeVeque (1979): M2 = sum_b [M2_b + n_b (mu_b - mu)^2]. No sum of squares minus the squared
  mean, so no cancellation.
- The output is one fused pass, y = (x - mu) (gamma / sigma) + beta, with the row's mask
  weight applied once per row; the reference makes a temporary array per operation.
- The cache keeps x itself (a reference, not a copy) instead of xhat: the backward pass
  recomputes xhat on the fly, so the forward pass writes one array, not two.
- The block count depends on the shape only, never on the number of threads, so results do
  not change with the thread count. Partial sums are float64, as in the reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from nn.functional.normalization import check_inputs, mask_weights

__all__ = ["BatchNormKernelCache", "batchnorm_forward", "batchnorm_backward"]

_BLOCK_ROWS = 256  # rows per block: 256 x 64 float32 channels = 64 KB, cache-resident


class BatchNormKernelCache(NamedTuple):
    """As ``nn.functional.normalization.BatchNormCache``, but x (as (R, C)) instead of xhat."""

    x2: np.ndarray  # (R, C) the input, C-contiguous (a reshape of x, not a copy when possible)
    inv_std: np.ndarray  # (C,) float64
    gamma: np.ndarray | None
    has_beta: bool
    w: np.ndarray  # (R,) float64 0/1 row weights; empty without a mask
    count: int
    batch_statistics: bool
    mean: np.ndarray  # (C,) the mean used (float64 for the batch's, else as given)
    variance: np.ndarray  # (C,) the variance used
    mean64: np.ndarray  # (C,) float64 copy of ``mean``: what the backward loops read


def _n_blocks(R):
    return max(1, -(-R // _BLOCK_ROWS))


@njit(cache=True, parallel=True)
def _block_moments(x, w, has_w, rows, count, mean, m2):
    """Block b owns count[b] (real rows), mean[b] (C,) and m2[b] = sum (x - mean[b])^2."""
    R, C = x.shape
    for b in prange(count.shape[0]):
        lo, hi = b * rows, min(R, (b + 1) * rows)
        mb, qb = mean[b], m2[b]
        n = 0.0
        for c in range(C):
            mb[c] = 0.0
            qb[c] = 0.0
        for r in range(lo, hi):
            if has_w and w[r] == 0.0:
                continue
            n += 1.0
            for c in range(C):
                mb[c] += x[r, c]  # eq. BN-1, this block's part
        count[b] = n
        if n == 0.0:
            continue
        for c in range(C):
            mb[c] /= n
        for r in range(lo, hi):  # the block's rows are still in cache
            if has_w and w[r] == 0.0:
                continue
            for c in range(C):
                d = x[r, c] - mb[c]
                qb[c] += d * d  # eq. BN-2, centred on the block's own mean


@njit(cache=True, parallel=True)
def _normalise(x, w, has_w, rows, mean, scale, shift, y):
    """y[r] = m_r ((x[r] - mean) scale + shift), scale = gamma / sigma; block b owns its rows."""
    R, C = x.shape
    for b in prange((R + rows - 1) // rows):
        for r in range(b * rows, min(R, (b + 1) * rows)):
            if has_w and w[r] == 0.0:
                for c in range(C):
                    y[r, c] = 0.0
                continue
            for c in range(C):
                y[r, c] = (x[r, c] - mean[c]) * scale[c] + shift[c]  # eqs. BN-3, BN-4


@njit(cache=True, parallel=True)
def _block_grad_sums(dout, x, w, has_w, rows, mean, inv_std, sb, sg):
    """Block b owns sb[b] = sum g and sg[b] = sum g xhat over its real rows (BN-6)."""
    R, C = x.shape
    for b in prange(sb.shape[0]):
        pb, pg = sb[b], sg[b]
        for c in range(C):
            pb[c] = 0.0
            pg[c] = 0.0
        for r in range(b * rows, min(R, (b + 1) * rows)):
            if has_w and w[r] == 0.0:
                continue
            for c in range(C):
                g = dout[r, c]
                pb[c] += g
                pg[c] += g * ((x[r, c] - mean[c]) * inv_std[c])  # xhat recomputed


@njit(cache=True, parallel=True)
def _input_grad(dout, x, w, has_w, rows, mean, inv_std, scale, a, k, dx):
    """dx[r] = m_r scale (dout[r] - a - xhat[r] k); a = dbeta / M, k = dgamma / M in training
    (BN-7), a = k = 0 with fixed statistics (BN-7i). Block b owns its rows of dx."""
    R, C = x.shape
    for b in prange((R + rows - 1) // rows):
        for r in range(b * rows, min(R, (b + 1) * rows)):
            if has_w and w[r] == 0.0:
                for c in range(C):
                    dx[r, c] = 0.0
                continue
            for c in range(C):
                xhat = (x[r, c] - mean[c]) * inv_std[c]
                dx[r, c] = scale[c] * (dout[r, c] - a[c] - xhat * k[c])  # eq. BN-7


def _rows(x):
    C = x.shape[-1]
    return np.ascontiguousarray(x).reshape(-1, C)


def batchnorm_forward(x, gamma, beta, *, epsilon=1e-3, mean=None, variance=None, mask=None):
    """Same contract as ``nn.functional.normalization.batchnorm_forward``; the cache is a
    ``BatchNormKernelCache`` (x instead of xhat) with the same ``mean`` and ``variance``."""
    check_inputs(x, gamma, beta, mean, variance)
    C = x.shape[-1]
    x2 = _rows(x)
    R = x2.shape[0]
    wfull = mask_weights(x, mask)
    has_w = wfull is not None
    w = wfull.reshape(-1).astype(np.float64) if has_w else np.empty(0, np.float64)
    M = R if not has_w else int(w.sum())
    if M == 0:
        raise ValueError("batchnorm: every position of the batch is padding (the mask is all 0)")
    batch_statistics = mean is None
    if batch_statistics:
        B = _n_blocks(R)
        count = np.empty(B)
        bmean, bm2 = np.empty((B, C)), np.empty((B, C))
        _block_moments(x2, w, has_w, _BLOCK_ROWS, count, bmean, bm2)
        mean = (count @ bmean) / M  # eq. BN-1: the blocks' means, weighted by their counts
        variance = (bm2.sum(axis=0) + count @ (bmean - mean) ** 2) / M  # eq. BN-2 (Chan)
        mean64 = mean
    else:
        mean64 = np.asarray(mean, dtype=np.float64)
    inv_std = 1.0 / np.sqrt(np.asarray(variance, dtype=np.float64) + epsilon)
    scale = inv_std if gamma is None else np.asarray(gamma, np.float64) * inv_std
    shift = np.zeros(C) if beta is None else np.asarray(beta, np.float64)
    y = np.empty((R, C), dtype=x.dtype)
    _normalise(x2, w, has_w, _BLOCK_ROWS, mean64, scale, shift, y)
    cache = BatchNormKernelCache(
        x2, inv_std, gamma, beta is not None, w, M, batch_statistics, mean, variance, mean64
    )
    return y.reshape(x.shape), cache


def batchnorm_backward(dout, cache, *, need_dx=True):
    """Same contract as ``nn.functional.normalization.batchnorm_backward``."""
    x2, inv_std, gamma, has_beta, w, M, batch_statistics, _, _, mean64 = cache
    R, C = x2.shape
    has_w = w.size > 0
    d2 = np.ascontiguousarray(dout).reshape(R, C)
    B = _n_blocks(R)
    sb, sg = np.empty((B, C)), np.empty((B, C))
    _block_grad_sums(d2, x2, w, has_w, _BLOCK_ROWS, mean64, inv_std, sb, sg)
    dbeta, dgamma = sb.sum(axis=0), sg.sum(axis=0)  # eq. BN-6, blocks added in order
    dx = None
    if need_dx:
        scale = inv_std if gamma is None else np.asarray(gamma, np.float64) * inv_std
        if batch_statistics:
            a, k = dbeta / M, dgamma / M
        else:
            a = k = np.zeros(C)
        dx2 = np.empty((R, C), dtype=dout.dtype)
        _input_grad(d2, x2, w, has_w, _BLOCK_ROWS, mean64, inv_std, scale, a, k, dx2)
        dx = dx2.reshape(dout.shape)
    pdtype = dout.dtype if gamma is None else gamma.dtype
    return (
        dx,
        None if gamma is None else dgamma.astype(pdtype),
        dbeta.astype(pdtype) if has_beta else None,
    )

"""Numba twin of ``nn/functional/conv.py``: im2col + one BLAS matrix product.

See ``nn.functional.conv.conv2d_forward`` for the formula (C1), shapes and the cache contract;
only the evaluation order differs. Every window of the padded input is copied into one row of
a (N H_out W_out, KH KW C) matrix (``_im2col``), so the whole convolution is a single
(N H_out W_out, KH KW C) @ (KH KW C, F) product that BLAS runs at full speed; the backward
pass is two more products and the inverse scatter (``_col2im``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nn.functional.conv import pad_amounts

__all__ = ["conv2d_forward", "conv2d_backward"]


@njit(cache=True, parallel=True)
def _im2col(xp, KH, KW, SH, SW, cols):
    """cols[n, i, j, p, q, c] = xp[n, i SH + p, j SW + q, c]; iteration n owns cols[n]."""
    N, H_out, W_out = cols.shape[0], cols.shape[1], cols.shape[2]
    C = xp.shape[3]
    for n in prange(N):
        for i in range(H_out):
            for j in range(W_out):
                for p in range(KH):
                    for q in range(KW):
                        for c in range(C):
                            cols[n, i, j, p, q, c] = xp[n, i * SH + p, j * SW + q, c]


@njit(cache=True, parallel=True)
def _col2im(dcols, SH, SW, dxp):
    """dxp[n, i SH + p, j SW + q, c] += dcols[n, i, j, p, q, c]; iteration n owns dxp[n]."""
    N, H_out, W_out, KH, KW, C = dcols.shape
    for n in prange(N):
        for i in range(H_out):
            for j in range(W_out):
                for p in range(KH):
                    for q in range(KW):
                        for c in range(C):
                            dxp[n, i * SH + p, j * SW + q, c] += dcols[n, i, j, p, q, c]


def conv2d_forward(x, W, b, *, strides=(1, 1), padding="valid"):
    """Same contract as ``nn.functional.conv.conv2d_forward``; the cache also keeps the
    im2col matrix, which the backward pass reuses for dW."""
    N, H, Wd, C = x.shape
    KH, KW, C_w, F = W.shape
    if C != C_w:
        raise ValueError(f"conv2d: input has {C} channels, kernel expects {C_w}")
    SH, SW = strides
    pads = pad_amounts((H, Wd), (KH, KW), strides, padding)
    xp = np.ascontiguousarray(np.pad(x, ((0, 0), pads[0], pads[1], (0, 0))))
    H_out = (xp.shape[1] - KH) // SH + 1
    W_out = (xp.shape[2] - KW) // SW + 1
    if H_out < 1 or W_out < 1:
        raise ValueError(f"conv2d: a {KH}x{KW} kernel does not fit a {H}x{Wd} input")
    dtype = np.result_type(x, W)
    cols = np.empty((N, H_out, W_out, KH, KW, C), dtype=dtype)
    _im2col(xp.astype(dtype, copy=False), KH, KW, SH, SW, cols)
    W2 = W.reshape(KH * KW * C, F).astype(dtype, copy=False)  # Keras layout is (p, q, c) order
    out = cols.reshape(-1, KH * KW * C) @ W2  # eq. C1 as one matrix product
    if b is not None:
        out += b
    return out.reshape(N, H_out, W_out, F), (x.shape, W, b is not None, (SH, SW), pads, cols)


def conv2d_backward(dout, cache):
    """Same contract as ``nn.functional.conv.conv2d_backward``."""
    x_shape, W, has_bias, (SH, SW), pads, cols = cache
    N, H, Wd, C = x_shape
    KH, KW, _, F = W.shape
    d2 = np.ascontiguousarray(dout).reshape(-1, F)
    dW = (cols.reshape(-1, KH * KW * C).T @ d2).reshape(W.shape)  # eq. C1-b
    dcols = (d2 @ W.reshape(KH * KW * C, F).T).reshape(cols.shape)  # eq. C1-c, before the scatter
    dxp = np.zeros((N, H + sum(pads[0]), Wd + sum(pads[1]), C), dtype=dcols.dtype)
    _col2im(dcols, SH, SW, dxp)
    dx = dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + Wd, :]
    db = d2.sum(axis=0) if has_bias else None  # eq. C1-d
    return dx, dW, db

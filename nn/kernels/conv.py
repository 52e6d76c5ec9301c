"""Numba twin of ``nn/functional/conv.py``: im2col + one BLAS matrix product.

See ``nn.functional.conv.conv2d_forward`` for the formula (C1), shapes and the cache contract;
only the evaluation order differs. Every window of the padded input is copied into one row of
a (N H_out W_out, KH KW C) matrix (``_im2col``), so the whole convolution is a single
(N H_out W_out, KH KW C) @ (KH KW C, F) product that BLAS runs at full speed; the backward
pass is two more products and the inverse scatter (``_col2im``).

The bias rides in the same product: the matrix gets one more column of ones and the kernel one
more row, b. A separate ``out += b`` pass over the output cost 0.8 ms at batch 32 for the
document's CNN, as much as the product itself; the backward product then gives db as its last
row.
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
    K = KH * KW * C
    extra = 1 if b is not None else 0  # a column of ones for the bias
    matrix = np.empty((N * H_out * W_out, K + extra), dtype=dtype)
    cols = matrix[:, :K].reshape(N, H_out, W_out, KH, KW, C)  # a view: im2col writes in place
    _im2col(xp.astype(dtype, copy=False), KH, KW, SH, SW, cols)
    kernel = W.reshape(K, F).astype(dtype, copy=False)  # Keras layout is (p, q, c) order
    if b is not None:
        matrix[:, K] = 1.0
        kernel = np.vstack([kernel, b.astype(dtype, copy=False)[None, :]])
    out = matrix @ kernel  # eq. C1 as one matrix product, bias included
    return out.reshape(N, H_out, W_out, F), (x.shape, W, b is not None, (SH, SW), pads, matrix)


def conv2d_backward(dout, cache):
    """Same contract as ``nn.functional.conv.conv2d_backward``."""
    x_shape, W, has_bias, (SH, SW), pads, matrix = cache
    N, H, Wd, C = x_shape
    KH, KW, _, F = W.shape
    K = KH * KW * C
    _, H_out, W_out, _ = dout.shape
    d2 = np.ascontiguousarray(dout).reshape(-1, F)
    d_kernel = matrix.T @ d2  # eq. C1-b, and C1-d in the last row when there is a bias
    dW = d_kernel[:K].reshape(W.shape)
    db = d_kernel[K] if has_bias else None
    dcols = (d2 @ W.reshape(K, F).T.astype(d2.dtype, copy=False)).reshape(
        N, H_out, W_out, KH, KW, C
    )  # eq. C1-c, before the scatter
    dxp = np.zeros((N, H + sum(pads[0]), Wd + sum(pads[1]), C), dtype=dcols.dtype)
    _col2im(dcols, SH, SW, dxp)
    dx = dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + Wd, :]
    return dx, dW, db

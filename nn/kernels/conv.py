"""Numba twin of ``nn/functional/conv.py``: a direct convolution, or im2col + BLAS.

See ``nn.functional.conv.conv2d_forward`` for the formula (C1), shapes and the cache contract;
only the evaluation order differs.

Stride-1 convolutions whose channel counts fill whole SIMD vectors (``direct_conv.fits``: with
AVX-512 and float32, 16 k input and 32 k output channels) run the register-blocked kernels of
``nn.engine.direct_conv``, which read the input in place. Measured on a 16 -> 64-channel 3 x 3
convolution of 32 x 128 x 40 inputs: forward 13 ms against 26 ms for im2col + OpenBLAS below,
forward + backward 45 against 82 ms (benchmarks/bench_cnn.py, docs/benchmarks.md).

Every other convolution (the document's CNN, whose first layer has one input channel; any
stride) uses im2col. Every window of the padded input is copied into one row of
a (N H_out W_out, KH KW C) matrix (``_im2col``), so the whole convolution is a single
(N H_out W_out, KH KW C) @ (KH KW C, F) product that BLAS runs at full speed; the backward
pass is two more products and the inverse scatter (``_col2im``).

The bias rides in the same product: the matrix gets one more column of ones and the kernel one
more row, b. A separate ``out += b`` pass over the output cost 0.8 ms at batch 32 for the
document's CNN, as much as the product itself; the backward product then gives db as its last
row.

The 1-D convolution (``conv1d_forward``, eq. C1-1d) has its own paths, described in its
docstring: with stride 1, K BLAS products on shifted views of the padded batch and no copy
of the windows at all; with a larger stride, a 1-D im2col (which also dilates) and one
product.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.linalg import blas

from nn.engine import direct_conv
from nn.engine.threads import numba_threads
from nn.functional.conv import conv1d_geometry, output_geometry, pad_input

__all__ = ["conv2d_forward", "conv2d_backward", "conv1d_forward", "conv1d_backward"]


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
    """Same contract as ``nn.functional.conv.conv2d_forward``; on the im2col path the cache
    also keeps the im2col matrix, which the backward pass reuses for dW."""
    N, C = x.shape[0], x.shape[3]
    KH, KW, _, F = W.shape
    SH, SW = strides
    dtype = np.result_type(x, W)
    if direct_conv.fits(C, F, strides, dtype):
        pads, H_out, W_out = output_geometry(x.shape, W.shape, strides, padding)
        x = np.ascontiguousarray(x, dtype=dtype)
        W = np.ascontiguousarray(W, dtype=dtype)
        bias = np.zeros(F, dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
        out = np.empty((N, H_out, W_out, F), dtype=dtype)
        direct_conv.correlate(x, W, bias, pads[0][0], pads[1][0], out)  # eq. C1
        return out, ("direct", x.shape, W, b is not None, (SH, SW), pads, x)
    xp, pads, H_out, W_out = pad_input(x, W, strides, padding)
    xp = np.ascontiguousarray(xp)
    xp = xp.astype(dtype, copy=False)
    kernel = _kernel_matrix(W, b, dtype)
    out = np.empty((N, H_out, W_out, F), dtype=dtype)
    K = KH * KW * C
    if N * H_out * W_out * (K + 1) * dtype.itemsize <= _WHOLE_MATRIX_BYTES:
        # small: build the whole matrix once and keep it for the backward pass
        matrix = np.empty((N * H_out * W_out, K + int(b is not None)), dtype=dtype)
        if b is not None:
            matrix[:, K] = 1.0
        _im2col(xp, KH, KW, SH, SW, matrix[:, :K].reshape(N, H_out, W_out, KH, KW, C))
        np.matmul(matrix, kernel, out=out.reshape(-1, F))  # eq. C1, bias included
        return out, ("whole", x.shape, W, b is not None, (SH, SW), pads, matrix)
    with numba_threads(1):  # serial im2col between multithreaded BLAS calls
        for n0, n1, matrix in _blocks(xp, (KH, KW), (SH, SW), (H_out, W_out), b is not None):
            rows = matrix.shape[0]
            np.matmul(matrix, kernel, out=out[n0:n1].reshape(rows, F))  # eq. C1
    return out, ("blocks", x.shape, W, b is not None, (SH, SW), pads, xp)


# Up to this size the im2col matrix is built whole and kept for backward (the document's CNN:
# 1.8 MB); above it, it is built a few images at a time (measured: 94 MB whole took 55 ms
# forward, in blocks 31 ms; the document's CNN in blocks lost 2-3 ms per step).
_WHOLE_MATRIX_BYTES = 16 * 2**20
_BLOCK_ROWS = 8192  # rows of the im2col matrix per block: 8192 x 144 x 4 B = 4.7 MB


def _kernel_matrix(W, b, dtype):
    """(KH KW C [+1], F): the kernel in (p, q, c) order, with the bias as a last row."""
    kernel = W.reshape(-1, W.shape[-1]).astype(dtype, copy=False)
    return kernel if b is None else np.vstack([kernel, b.astype(dtype, copy=False)[None, :]])


def _blocks(xp, kernel_hw, strides, out_hw, with_ones):
    """Yield (n0, n1, im2col matrix of images n0 .. n1-1), a few images at a time.

    One buffer is reused for every block, so the matrix never exists for the whole batch at
    once (94 MB for a 16-channel 3 x 3 convolution of 32 x 128 x 40 inputs): each block is
    built and multiplied while it is still in cache. ``with_ones`` adds the bias column.
    """
    N, C = xp.shape[0], xp.shape[3]
    (KH, KW), (SH, SW), (H_out, W_out) = kernel_hw, strides, out_hw
    K = KH * KW * C
    per_block = max(1, _BLOCK_ROWS // (H_out * W_out))
    buffer = np.empty((min(per_block, N) * H_out * W_out, K + int(with_ones)), dtype=xp.dtype)
    if with_ones:
        buffer[:, K] = 1.0
    for n0 in range(0, N, per_block):
        n1 = min(N, n0 + per_block)
        rows = (n1 - n0) * H_out * W_out
        cols = buffer[:rows, :K].reshape(n1 - n0, H_out, W_out, KH, KW, C)  # a view
        _im2col(xp[n0:n1], KH, KW, SH, SW, cols)
        yield n0, n1, buffer[:rows]


def conv2d_backward(dout, cache, *, need_dx=True):
    """Same contract as ``nn.functional.conv.conv2d_backward``."""
    kind, x_shape, W, has_bias, (SH, SW), pads, kept = cache
    if kind == "direct":
        return _direct_backward(dout, kept, W, has_bias, pads, need_dx)
    N, H, Wd, C = x_shape
    KH, KW, _, F = W.shape
    K = KH * KW * C
    _, H_out, W_out, _ = dout.shape
    dout = np.ascontiguousarray(dout)
    W2t = W.reshape(K, F).T.astype(dout.dtype, copy=False)
    dxp = (
        np.zeros((N, H + sum(pads[0]), Wd + sum(pads[1]), C), dtype=dout.dtype) if need_dx else None
    )
    if kind == "whole":
        d2 = dout.reshape(-1, F)
        d_kernel = kept.T @ d2  # eq. C1-b (and C1-d in the last row)
        if need_dx:
            _col2im((d2 @ W2t).reshape(N, H_out, W_out, KH, KW, C), SH, SW, dxp)  # eq. C1-c
    else:  # rebuild the blocks from the padded input instead of keeping the whole matrix
        d_kernel = np.zeros((K + int(has_bias), F), dtype=dout.dtype)
        with numba_threads(1):
            for n0, n1, matrix in _blocks(kept, (KH, KW), (SH, SW), (H_out, W_out), has_bias):
                d2 = dout[n0:n1].reshape(-1, F)
                d_kernel += matrix.T @ d2
                if need_dx:
                    dcols = (d2 @ W2t).reshape(n1 - n0, H_out, W_out, KH, KW, C)
                    _col2im(dcols, SH, SW, dxp[n0:n1])
    dx = dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + Wd, :] if need_dx else None
    return dx, d_kernel[:K].reshape(W.shape), (d_kernel[K] if has_bias else None)


def _direct_backward(dout, x, W, has_bias, pads, need_dx):
    """conv2d_backward for the direct path; x is the (contiguous) forward input."""
    KH, KW = W.shape[:2]
    top, left = pads[0][0], pads[1][0]
    expected = (
        x.shape[0],
        x.shape[1] + sum(pads[0]) - KH + 1,
        x.shape[2] + sum(pads[1]) - KW + 1,
        W.shape[3],
    )
    if dout.shape != expected:
        raise ValueError(f"conv2d backward: dout has shape {dout.shape}, expected {expected}")
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    dW, db = direct_conv.weight_gradient(x, dout, top, left, (KH, KW))  # eqs. C1-b, C1-d
    dx = None
    if need_dx:
        # eq. C1-c: dx[n, u, v, c] = sum_{p, q, f} dout[n, u + p - (KH-1-top), v + q - (KW-1-left),
        # f] W[KH-1-p, KW-1-q, c, f], a correlation of dout with the flipped, transposed kernel
        flipped = np.ascontiguousarray(W[::-1, ::-1].transpose(0, 1, 3, 2))
        dx = np.empty_like(x)
        no_bias = np.zeros(x.shape[3], dtype=x.dtype)
        direct_conv.correlate(dout, flipped, no_bias, KH - 1 - top, KW - 1 - left, dx)
    return dx, dW, (db if has_bias else None)


# ---- 1-D convolution (eq. C1-1d) ----------------------------------------------------------


def conv1d_forward(x, W, b, *, stride=1, padding="valid", dilation=1):
    """Same contract as ``nn.functional.conv.conv1d_forward``; only the evaluation differs
    (and the cache, which keeps the padded input or the im2col matrix).

    **Stride 1, any dilation: shifted products.** Lay the zero-padded batch out as one
    (N T_p, C) matrix X (T_p = padded length), and give the output the same rows. Then tap p
    of eq. C1-1d is the product of the rows of X shifted by p D with W[p]::

        full[r] = sum_p X[r + p D] W[p]            r = 0 .. N T_p - span
        out[n, t] = full[n T_p + t] + b            t < T_out

    because row n T_p + t + p D of X is xpad[n, t + p D]. The K products read X in place
    (a row slice is a matrix BLAS takes as it is) and add into ``full`` (BLAS's beta = 1), so
    no window is ever copied; the rows t >= T_out of each sequence mix two sequences and are
    dropped (span - 1 of every T_p rows: 3% here). The backward pass runs the same shifted
    products on dout zero-padded to T_p rows per sequence (so the dropped rows get no
    gradient): dW[p] = X[pD:]^T dfull, and dX[pD:] += dfull W[p]^T.

    Why not the 2-D twin on an (N, 1, T, C) view, which is exactly equivalent for
    dilation 1 and takes the direct kernels when the channels fit: measured on (32, 128,
    64) float32 -> 64 filters, kernel 5, 'same', one thread, it took 4.4 ms forward against
    2.1 ms for the shifted products (PyTorch: 2.1 ms), because with one output row per
    image its register tile is reloaded for every row; the (N, T, 1, C) view was slower
    still (one pixel per row, 16 ms).

    **Stride > 1: im2col.** Window t of tap p is copied to row n T_out + t, columns p C ..
    (p + 1) C of an (N T_out, K C + 1) matrix (``_im2col1d``, with the dilation), whose last
    column of ones carries the bias, so the convolution is one BLAS product; the backward
    pass is two more products and the scatter back (``_col2im1d``).

    All products go through SciPy's BLAS, as the recurrent twins' (``nn.engine.time_major``).
    """
    S, D = int(stride), int(dilation)
    pads, T_out = conv1d_geometry(x.shape, W.shape, S, padding, D)
    dtype = np.result_type(x, W)
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    N, T, C = x.shape
    K, _, F = W.shape
    W = np.ascontiguousarray(W, dtype=dtype)
    xp = _padded(x, pads, dtype)
    if S == 1:
        Tp = xp.shape[1]
        rows = N * Tp - (K - 1) * D  # every start row whose last tap is still in the buffer
        X = xp.reshape(N * Tp, C)
        full = np.empty((N * Tp, F), dtype=dtype)
        for p in range(K):  # eq. C1-1d: full[r] += X[r + p D] W[p]
            _gemm(X[p * D : p * D + rows], W[p], full[:rows], accumulate=p > 0)
        out = full.reshape(N, Tp, F)[:, :T_out]
        out = out + b.astype(dtype, copy=False) if b is not None else np.ascontiguousarray(out)
        return out, ("shifted", x.shape, W, b is not None, S, D, pads, xp)
    kernel = _kernel_matrix(W, b, dtype)
    KC = K * C
    matrix = np.empty((N * T_out, KC + int(b is not None)), dtype=dtype)
    if b is not None:
        matrix[:, KC] = 1.0
    _im2col1d(xp, K, S, D, matrix[:, :KC].reshape(N, T_out, K, C))
    out = np.empty((N, T_out, F), dtype=dtype)
    _gemm(matrix, kernel, out.reshape(N * T_out, F))  # eq. C1-1d, bias included
    return out, ("im2col", x.shape, W, b is not None, S, D, pads, matrix)


def conv1d_backward(dout, cache, *, need_dx=True):
    """Same contract as ``nn.functional.conv.conv1d_backward``."""
    kind, (N, T, C), W, has_bias, S, D, pads, kept = cache
    K, _, F = W.shape
    span = (K - 1) * D + 1
    T_out = (T + sum(pads) - span) // S + 1
    if dout.shape != (N, T_out, F):
        raise ValueError(f"conv1d backward: dout has shape {dout.shape}, expected {(N, T_out, F)}")
    dtype = W.dtype
    if kind == "shifted":
        Tp = kept.shape[1]
        rows = N * Tp - (K - 1) * D
        dfull = np.empty((N, Tp, F), dtype=dtype)
        dfull[:, :T_out] = dout
        dfull[:, T_out:] = 0.0  # the rows dropped in the forward pass get no gradient
        d2 = dfull.reshape(N * Tp, F)[:rows]
        db = None
        if has_bias:  # eq. C1-1d-d, as one BLAS product with ones (NumPy's sum: 6x slower)
            gemv = blas.sgemv if dtype == np.float32 else blas.dgemv
            db = gemv(1.0, d2.T, np.ones(rows, dtype=dtype))
        X = kept.reshape(N * Tp, C)
        dW = np.empty((K, C, F), dtype=dtype)
        for p in range(K):
            _gemm(X[p * D : p * D + rows].T, d2, dW[p])  # eq. C1-1d-b
        if not need_dx:
            return None, dW, db
        dX = np.empty((N * Tp, C), dtype=dtype)
        dX[rows:] = 0.0  # the first product writes rows [0, rows); the others add
        for p in range(K):
            _gemm(d2, W[p].T, dX[p * D : p * D + rows], accumulate=p > 0)  # eq. C1-1d-c
        dx = np.ascontiguousarray(dX.reshape(N, Tp, C)[:, pads[0] : pads[0] + T])
        return dx, dW, db
    KC = K * C
    d2 = np.ascontiguousarray(dout, dtype=dtype).reshape(N * T_out, F)
    d_kernel = np.empty((kept.shape[1], F), dtype=dtype)
    _gemm(kept.T, d2, d_kernel)  # eq. C1-1d-b (and C1-1d-d in the last row)
    dW = d_kernel[:KC].reshape(K, C, F)
    db = d_kernel[KC].copy() if has_bias else None
    if not need_dx:
        return None, dW, db
    dcols = np.empty((N * T_out, KC), dtype=dtype)
    _gemm(d2, W.reshape(KC, F).T, dcols)
    dxp = np.zeros((N, T + sum(pads), C), dtype=dtype)
    _col2im1d(dcols.reshape(N, T_out, K, C), S, D, dxp)  # eq. C1-1d-c
    return np.ascontiguousarray(dxp[:, pads[0] : pads[0] + T]), dW, db


def _padded(x, pads, dtype):
    """x (N, T, C) with pads[0] zero steps before and pads[1] after, in a new C-contiguous
    array of ``dtype`` (only the padding is zero-filled)."""
    N, T, C = x.shape
    xp = np.empty((N, T + sum(pads), C), dtype=dtype)
    xp[:, : pads[0]] = 0.0
    xp[:, pads[0] : pads[0] + T] = x
    xp[:, pads[0] + T :] = 0.0
    return xp


def _gemm(a, b, out, *, accumulate=False):
    """out = a @ b, or out += a @ b (BLAS's beta = 1), in place, through SciPy's BLAS.

    a (M, K) and b (K, F) are C-contiguous or transposes of C-contiguous arrays; out is a
    C-contiguous (M, F) array of their dtype (a row slice of a bigger one is fine). BLAS is
    column major, where out is out^T = b^T a^T; each operand is passed as it lies, with the
    transpose flag where needed (as ``nn.engine.time_major.matmul``), so nothing is copied.
    """
    gemm = blas.sgemm if out.dtype == np.float32 else blas.dgemm
    b_f, trans_b = (b.T, 0) if b.flags.c_contiguous else (b, 1)
    a_f, trans_a = (a.T, 0) if a.flags.c_contiguous else (a, 1)
    result = gemm(
        1.0,
        b_f,
        a_f,
        beta=1.0 if accumulate else 0.0,
        c=out.T,
        trans_a=trans_b,
        trans_b=trans_a,
        overwrite_c=1,
    )
    if result.ctypes.data != out.ctypes.data:  # f2py copied out: the sum would be lost
        raise RuntimeError(
            f"conv1d: BLAS did not write in place ({out.dtype}, {out.shape}, "
            f"contiguous={out.flags.c_contiguous})"
        )


@njit(cache=True, parallel=True)
def _im2col1d(xp, K, S, D, cols):
    """cols[n, t, p, c] = xp[n, t S + p D, c]; iteration n owns cols[n]."""
    N, T_out, C = cols.shape[0], cols.shape[1], xp.shape[2]
    for n in prange(N):
        for t in range(T_out):
            for p in range(K):
                src = t * S + p * D
                for c in range(C):
                    cols[n, t, p, c] = xp[n, src, c]


@njit(cache=True, parallel=True)
def _col2im1d(dcols, S, D, dxp):
    """dxp[n, t S + p D, c] += dcols[n, t, p, c]; iteration n owns dxp[n]."""
    N, T_out, K, C = dcols.shape
    for n in prange(N):
        for t in range(T_out):
            for p in range(K):
                dst = t * S + p * D
                for c in range(C):
                    dxp[n, dst, c] += dcols[n, t, p, c]

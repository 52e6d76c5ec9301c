"""Stride-1 convolution without an im2col matrix: register-blocked loops over the input itself.

The im2col twin (``nn.kernels.conv``) copies every 3 x 3 window into a matrix nine times the
size of the input and lets BLAS multiply it; for a 16 -> 64-channel convolution of 32 x 128 x
40 inputs that matrix is 94 MB, and writing and reading it cost as much as the arithmetic.
These kernels read the input where it lies. Each holds a small tile of the result in SIMD
registers (``nn.engine.simd``) for the whole sum over (p, q, c), so every value loaded feeds
several fused multiply-adds:

- ``correlate`` (eq. C1, and C1-c for the input gradient): ``PIXELS`` neighbouring output
  pixels x one vector of output channels. Each step loads one vector of the kernel and
  broadcasts one input value per pixel.
- ``weight_gradient`` (eqs. C1-b, C1-d): 4 input channels x 2 vectors of output channels of
  dW. Each step over an output pixel loads two vectors of dout and broadcasts four inputs.

Zero padding is never materialised for the whole input: a kernel row that would read outside
the image is left out of the sum (which is what multiplying by a padded zero does), and the
few input rows under one output row are copied into a small zero-padded buffer, so that every
block of pixels, the edges included, runs the same unclipped loop. (Clipping the kernel
columns at the edges instead, one pixel at a time, made the forward pass 60% slower.)

Requirements, checked by ``fits``: stride 1, output channels a multiple of two vectors and
input channels a multiple of one (with AVX-512 and float32: F % 32 == 0, C % 16 == 0). The
im2col twin handles every other case.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from nn.engine import simd
from nn.engine.rows import add_into
from nn.engine.simd import broadcast, fma, load, store

__all__ = ["fits", "correlate", "weight_gradient", "PIXELS"]

PIXELS = 10  # output pixels per register tile of ``correlate``: 10 accumulators + 2 operands


def fits(C, F, strides, dtype) -> bool:
    """Whether these kernels handle a convolution of C -> F channels at ``strides``."""
    lanes = simd.lanes(dtype)
    return tuple(strides) == (1, 1) and F % (2 * lanes) == 0 and C % lanes == 0


def _require(condition, message):
    if not condition:
        raise ValueError(f"direct_conv: {message}")


def _require_vectors(F, dtype, *arrays):
    """Every array C-contiguous, of one float dtype, and F whole vectors of it."""
    _require(
        all(a.dtype == dtype and a.flags.c_contiguous for a in arrays),
        f"arrays must be C-contiguous and all {dtype}, got "
        + ", ".join(
            f"{a.dtype}{'' if a.flags.c_contiguous else ' (not contiguous)'}" for a in arrays
        ),
    )
    _require(dtype in (np.float32, np.float64), f"float32 or float64 expected, got {dtype}")
    _require(
        F % simd.lanes(dtype) == 0,
        f"{F} output channels are not a whole number of {simd.lanes(dtype)}-value vectors",
    )


def correlate(src, kernel, bias, top, left, out):
    """Stride-1 cross-correlation with implicit zero padding (eq. C1).

    Math::

        out[n, y, x, f] = bias[f] + sum_{p, q, c} src[n, y + p - top, x + q - left, c]
                                                  kernel[p, q, c, f]

    where terms with a src index outside the image are zero (``top`` and ``left`` are the
    zero rows and columns padded before the image). The input gradient of a convolution is
    the same operation on dout with the kernel flipped and its channel axes swapped (C1-c).

    Parameters
    ----------
    src : (N, H, W, C) C-contiguous
    kernel : (KH, KW, C, F) C-contiguous, same dtype; F a multiple of ``simd.lanes``
    bias : (F,) same dtype (zeros for no bias)
    top, left : int, zero padding before the first row and column
    out : (N, H_out, W_out, F) C-contiguous, written in full

    Raises ValueError when the arrays do not fit together: the compiled loop indexes them
    without bounds checks, so a wrong shape must never reach it.
    """
    N, _, _, C = src.shape
    KH, KW, C_k, F = kernel.shape
    _require(
        C_k == C and bias.shape == (F,) and out.shape[0] == N and out.shape[3] == F,
        f"src {src.shape}, kernel {kernel.shape}, bias {bias.shape} and out {out.shape} do not "
        "fit: expected src (N, H, W, C), kernel (KH, KW, C, F), bias (F,), out (N, ., ., F)",
    )
    _require_vectors(F, out.dtype, src, kernel, bias, out)
    threads = max(1, min(get_num_threads(), out.shape[0] * out.shape[1]))
    _correlate(src, kernel, bias, top, left, out, threads, simd.lanes(out.dtype))


@njit(cache=True, parallel=True, error_model="numpy")
def _correlate(src, kernel, bias, top, left, out, T, L):
    N, H, W, C = src.shape
    KH, KW, F = kernel.shape[0], kernel.shape[1], kernel.shape[3]
    H_out, W_out = out.shape[1], out.shape[2]
    width = W_out + KW - 1  # input columns the windows of one output row span, padding included
    v_lo, v_hi = min(left, width), min(left + W, width)  # of which these lie in the image
    k, o = kernel.reshape(-1), out.reshape(-1)
    rows = N * H_out
    for t in prange(T):  # each iteration owns a contiguous run of output rows
        # the KH input rows under one output row, zero-padded left and right, so that the
        # blocked loop never clips a window; consecutive output rows share KH - 1 of them
        window = np.zeros((KH, width, C), dtype=src.dtype)
        s = window.reshape(-1)
        held = np.full(KH, -1)  # which input row (n H + r) each window row holds
        for row in range(t * rows // T, (t + 1) * rows // T):
            n = row // H_out
            y = row - n * H_out
            p_lo, p_hi = max(0, top - y), min(KH, H + top - y)  # kernel rows inside the image
            for p in range(p_lo, p_hi):  # input row r sits in window row r % KH, copied once
                r = y + p - top
                if held[r % KH] != n * H + r:
                    window[r % KH, v_lo:v_hi] = src[n, r, v_lo - left : v_hi - left]
                    held[r % KH] = n * H + r
            for f0 in range(0, F, L):
                b = load(bias, f0)
                x = 0
                while x + PIXELS <= W_out:
                    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = b
                    for p in range(p_lo, p_hi):
                        in_row = ((y + p - top) % KH) * width  # its window row
                        for q in range(KW):
                            si = (in_row + x + q) * C
                            ki = (p * KW + q) * C * F + f0
                            for _ in range(C):
                                w = load(k, ki)
                                a0 = fma(broadcast(s, si), w, a0)
                                a1 = fma(broadcast(s, si + C), w, a1)
                                a2 = fma(broadcast(s, si + 2 * C), w, a2)
                                a3 = fma(broadcast(s, si + 3 * C), w, a3)
                                a4 = fma(broadcast(s, si + 4 * C), w, a4)
                                a5 = fma(broadcast(s, si + 5 * C), w, a5)
                                a6 = fma(broadcast(s, si + 6 * C), w, a6)
                                a7 = fma(broadcast(s, si + 7 * C), w, a7)
                                a8 = fma(broadcast(s, si + 8 * C), w, a8)
                                a9 = fma(broadcast(s, si + 9 * C), w, a9)
                                si += 1
                                ki += F
                    oi = (row * W_out + x) * F + f0
                    store(o, oi, a0)
                    store(o, oi + F, a1)
                    store(o, oi + 2 * F, a2)
                    store(o, oi + 3 * F, a3)
                    store(o, oi + 4 * F, a4)
                    store(o, oi + 5 * F, a5)
                    store(o, oi + 6 * F, a6)
                    store(o, oi + 7 * F, a7)
                    store(o, oi + 8 * F, a8)
                    store(o, oi + 9 * F, a9)
                    x += PIXELS
                while x < W_out:  # the last W_out % PIXELS pixels, one at a time
                    a0 = b
                    for p in range(p_lo, p_hi):
                        in_row = ((y + p - top) % KH) * width  # its window row
                        for q in range(KW):
                            si = (in_row + x + q) * C
                            ki = (p * KW + q) * C * F + f0
                            for _ in range(C):
                                a0 = fma(broadcast(s, si), load(k, ki), a0)
                                si += 1
                                ki += F
                    store(o, (row * W_out + x) * F + f0, a0)
                    x += 1


def weight_gradient(src, dout, top, left, kernel_hw):
    """dW and db of a stride-1 convolution (eqs. C1-b, C1-d), padding implicit.

    Math::

        dW[p, q, c, f] = sum_{n, y, x} src[n, y + p - top, x + q - left, c] dout[n, y, x, f]
        db[f] = sum_{n, y, x} dout[n, y, x, f]

    with out-of-image terms zero. The output rows are split into one contiguous part per
    Numba thread, each summed into its own partial dW and db, and the parts are added at the
    end.

    Parameters
    ----------
    src : (N, H, W, C) C-contiguous      dout : (N, H_out, W_out, F) C-contiguous, same dtype
    top, left : int      kernel_hw : (KH, KW)

    Returns
    -------
    dW : (KH, KW, C, F)      db : (F,)

    Raises ValueError when the arrays do not fit (see ``correlate``).
    """
    KH, KW = kernel_hw
    C, F = src.shape[3], dout.shape[3]
    _require(
        src.shape[0] == dout.shape[0],
        f"src {src.shape} and dout {dout.shape} hold different numbers of images",
    )
    _require_vectors(F, dout.dtype, src, dout)
    pair = 2 * simd.lanes(dout.dtype)
    _require(F % pair == 0, f"{F} output channels are not a whole number of {pair}-value pairs")
    threads = max(1, min(get_num_threads(), dout.shape[0] * dout.shape[1]))
    parts_dw = np.zeros((threads, KH, KW, C, F), dtype=dout.dtype)
    parts_db = np.zeros((threads, F), dtype=dout.dtype)
    _weight_gradient(src, dout, top, left, parts_dw, parts_db, simd.lanes(dout.dtype))
    return parts_dw.sum(axis=0), parts_db.sum(axis=0)


@njit(cache=True, parallel=True, error_model="numpy")
def _weight_gradient(src, dout, top, left, parts_dw, parts_db, L):
    N, H, W, C = src.shape
    H_out, W_out, F = dout.shape[1], dout.shape[2], dout.shape[3]
    T, KH, KW = parts_dw.shape[0], parts_dw.shape[1], parts_dw.shape[2]
    s, g = src.reshape(-1), dout.reshape(-1)
    rows = N * H_out
    C4 = C - C % 4
    for t in prange(T):  # each iteration owns parts_dw[t] and parts_db[t]
        dw, db = parts_dw[t].reshape(-1), parts_db[t]
        for row in range(t * rows // T, (t + 1) * rows // T):
            n = row // H_out
            y = row - n * H_out
            g_row = row * W_out * F
            for x in range(W_out):  # eq. C1-d
                add_into(db, g[g_row + x * F : g_row + (x + 1) * F])
            for p in range(max(0, top - y), min(KH, H + top - y)):
                for q in range(KW):
                    x_lo, x_hi = max(0, left - q), min(W_out, W + left - q)
                    s_row = ((n * H + y + p - top) * W + x_lo + q - left) * C
                    for c0 in range(0, C4, 4):  # 4 input channels x 2 vectors of dW
                        for f0 in range(0, F, 2 * L):
                            di = ((p * KW + q) * C + c0) * F + f0
                            a0, b0 = load(dw, di), load(dw, di + L)
                            a1, b1 = load(dw, di + F), load(dw, di + F + L)
                            a2, b2 = load(dw, di + 2 * F), load(dw, di + 2 * F + L)
                            a3, b3 = load(dw, di + 3 * F), load(dw, di + 3 * F + L)
                            si = s_row + c0
                            gi = g_row + x_lo * F + f0
                            for _ in range(x_lo, x_hi):
                                u, v = load(g, gi), load(g, gi + L)
                                e = broadcast(s, si)
                                a0, b0 = fma(e, u, a0), fma(e, v, b0)
                                e = broadcast(s, si + 1)
                                a1, b1 = fma(e, u, a1), fma(e, v, b1)
                                e = broadcast(s, si + 2)
                                a2, b2 = fma(e, u, a2), fma(e, v, b2)
                                e = broadcast(s, si + 3)
                                a3, b3 = fma(e, u, a3), fma(e, v, b3)
                                si += C
                                gi += F
                            store(dw, di, a0)
                            store(dw, di + L, b0)
                            store(dw, di + F, a1)
                            store(dw, di + F + L, b1)
                            store(dw, di + 2 * F, a2)
                            store(dw, di + 2 * F + L, b2)
                            store(dw, di + 3 * F, a3)
                            store(dw, di + 3 * F + L, b3)
                    for c in range(C4, C):  # the last C % 4 channels, one at a time
                        for f0 in range(0, F, 2 * L):
                            di = ((p * KW + q) * C + c) * F + f0
                            a0, b0 = load(dw, di), load(dw, di + L)
                            si = s_row + c
                            gi = g_row + x_lo * F + f0
                            for _ in range(x_lo, x_hi):
                                e = broadcast(s, si)
                                a0 = fma(e, load(g, gi), a0)
                                b0 = fma(e, load(g, gi + L), b0)
                                si += C
                                gi += F
                            store(dw, di, a0)
                            store(dw, di + L, b0)

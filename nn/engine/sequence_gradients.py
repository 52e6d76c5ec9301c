"""The gradients that sum over every time step, computed after the backward time loop:

    dW = sum_t x_t^T dA_t        dU = sum_t h_{t-1}^T dA_t        db = sum_t sum_n dA_t[n]
    dx_t = dA_t W^T

(eqs. L-b3 and L-b4 for the LSTM, docs/lstm.md; the other cells' are the same with their own
gate count G), where dA_t (N, G H) holds the gate gradients of step t (L-b2).

Why not BLAS, which did these before: the blocked time loops run on Numba's threads, and
OpenBLAS keeps its own threads spinning for a while after each product. Alternating the two
made both slower: on the benchmark's LSTM (batch 32, 300 steps, 128 units) the backward pass
took 45 ms against 23 ms for its parts timed alone, and the next forward pass 25 ms instead of
12. These kernels use the register tiles of ``nn.engine.step_product`` on Numba's threads,
so a recurrent layer's whole forward and backward pass runs on one pool of threads.

Layout: every sequence array is time major and flattened to rows, one row per (t, n):
x (T N, D), h (T N, H) (the state *before* each step), dA (T N, G H). The sum over the T N
rows runs in chunks of ``CHUNK`` rows, so that the chunk of dA stays in the L2 cache while
every tile of dW and dU reads it; each thread owns a range of dA's columns (dW, dU, db) or of
its rows (dx), so no two threads write the same value.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nn.engine import simd
from nn.engine.rows import add_into
from nn.engine.step_product import ROWS, pack_panel, panels, set_rows, tile

__all__ = ["weight_gradients", "input_gradient", "CHUNK"]

CHUNK = 512  # rows of dA per pass; each thread packs its columns of them (512 KB for 4 x 128
# float32 gates on two threads) to stay in L2. Measured (dW + dU + db of the benchmark's LSTM):
# 9.9 ms with 128 rows, 8.8 with 256, 7.9 with 512, 8.5 with 1024.


def _require_fit(x, h, dA):
    R, G = dA.shape
    if not (x.ndim == h.ndim == 2 and x.shape[0] == h.shape[0] == R):
        raise ValueError(
            f"sequence_gradients: x {x.shape}, h {h.shape} and dA {dA.shape} must be "
            "(rows, D), (rows, H) and (rows, G H) with the same rows"
        )
    if not all(a.dtype == dA.dtype and a.flags.c_contiguous for a in (x, h, dA)):
        raise ValueError("sequence_gradients: x, h and dA must be C-contiguous and of one dtype")
    if G % (2 * simd.lanes(dA.dtype)) != 0:
        raise ValueError(
            f"sequence_gradients: {G} gate columns are not whole pairs of "
            f"{simd.lanes(dA.dtype)}-value vectors"
        )


def weight_gradients(x, h, dA, threads):
    """dW = x^T dA, dU = h^T dA and db = the column sums of dA, in one pass over dA.

    Parameters
    ----------
    x : (R, D)     h : (R, H)     dA : (R, G)     C-contiguous, one float dtype, G a
        multiple of two vectors (``step_product.fits``)
    threads : int, Numba threads to split the columns of dA among

    Returns
    -------
    dW : (D, G)     dU : (H, G)     db : (G,)
    """
    _require_fit(x, h, dA)
    G = dA.shape[1]
    dW = np.zeros((x.shape[1], G), dA.dtype)
    dU = np.zeros((h.shape[1], G), dA.dtype)
    db = np.zeros(G, dA.dtype)
    _weight_gradients(x, h, dA, dW, dU, db, threads, simd.lanes(dA.dtype))
    return dW, dU, db


@njit(cache=True, parallel=True, error_model="numpy")
def _weight_gradients(x, h, dA, dW, dU, db, P, L):
    R, G = dA.shape
    D, H = x.shape[1], h.shape[1]
    blocks = G // (2 * L)  # column blocks of two vectors
    dw, du = dW.reshape(-1), dU.reshape(-1)
    for p in prange(P):
        offsets = np.empty((4, ROWS), np.int64)
        b_lo, b_hi = p * blocks // P, (p + 1) * blocks // P  # this thread's column blocks
        chunk = np.empty((b_hi - b_lo, CHUNK, 2 * L), dA.dtype)  # their panels of dA
        for r0 in range(0, R, CHUNK):
            r1 = min(R, r0 + CHUNK)
            xs, hs = x[r0:r1].reshape(-1), h[r0:r1].reshape(-1)
            for jb in range(b_lo, b_hi):
                pack_panel(dA[r0:r1], jb * 2 * L, L, chunk[jb - b_lo])
                for r in range(r1 - r0):
                    add_into(db[jb * 2 * L : (jb + 1) * 2 * L], chunk[jb - b_lo, r])
            # the rows of dW and dU are columns of x and h: a step of D (or H) per row of
            # dA. Rows outside, columns inside: the 8 columns of x or h stay in L1 while
            # the panels stream from L2.
            for d in range(0, D, ROWS):
                set_rows(offsets, 2, d, D - 1, 0, 1)  # column d of x
                set_rows(offsets, 3, 0, 0, 0, 0)  # no second sum
                for jb in range(b_lo, b_hi):
                    set_rows(offsets, 0, d, D - 1, jb * 2 * L, G)  # into dW, accumulating
                    set_rows(offsets, 1, d, D - 1, jb * 2 * L, G)
                    da = chunk[jb - b_lo, : r1 - r0].reshape(-1)
                    tile(dw, dw, xs, da, xs[:0], da[:0], offsets, L, D)
            for k in range(0, H, ROWS):
                set_rows(offsets, 2, k, H - 1, 0, 1)
                set_rows(offsets, 3, 0, 0, 0, 0)
                for jb in range(b_lo, b_hi):
                    set_rows(offsets, 0, k, H - 1, jb * 2 * L, G)
                    set_rows(offsets, 1, k, H - 1, jb * 2 * L, G)
                    da = chunk[jb - b_lo, : r1 - r0].reshape(-1)
                    tile(du, du, hs, da, hs[:0], da[:0], offsets, L, H)


def input_gradient(dA, W, threads):
    """dx = dA W^T, row by row: the gradient of the layer's input at every step.

    Parameters
    ----------
    dA : (R, G) C-contiguous     W : (D, G), same dtype
    threads : int, Numba threads to split the rows among

    Returns
    -------
    dx : (R, D)

    W^T is padded with zero columns to whole vector pairs (39 inputs become 64 with AVX-512
    and float32), so that the tiles apply; the padding costs arithmetic, not correctness.
    """
    R, G = dA.shape
    D = W.shape[0]
    if W.shape[1] != G or W.dtype != dA.dtype or not dA.flags.c_contiguous:
        raise ValueError(
            f"sequence_gradients: dA {dA.shape} {dA.dtype} and W {W.shape} {W.dtype} must be "
            "(rows, G) C-contiguous and (D, G) of the same dtype"
        )
    pair = 2 * simd.lanes(dA.dtype)
    padded = -(-D // pair) * pair
    WT = np.zeros((G, padded), dA.dtype)
    WT[:, :D] = W.T
    dx = np.empty((R, padded), dA.dtype)
    L = simd.lanes(dA.dtype)
    _input_gradient(dA, panels(WT, L), dx, threads, L)
    return dx[:, :D]


@njit(cache=True, parallel=True, error_model="numpy")
def _input_gradient(dA, WT_panels, dx, P, L):
    R, G = dA.shape
    width = dx.shape[1]
    da, out = dA.reshape(-1), dx.reshape(-1)
    zeros = np.zeros(width, dx.dtype)
    for p in prange(P):
        lo, hi = p * R // P, (p + 1) * R // P
        offsets = np.empty((4, ROWS), np.int64)
        for r in range(lo, hi, ROWS):
            set_rows(offsets, 2, r, hi - 1, 0, G)  # rows of dA
            set_rows(offsets, 3, 0, 0, 0, 0)
            for j in range(0, width, 2 * L):
                set_rows(offsets, 0, r, hi - 1, j, width)  # into dx
                set_rows(offsets, 1, 0, 0, j, 0)  # from zero
                wt = WT_panels[j // (2 * L)].reshape(-1)
                tile(out, zeros, da, wt, da[:0], wt[:0], offsets, L)

"""The recurrent product of one time step, register-blocked: a few batch rows times a weight
matrix, with the partial sums held in SIMD registers.

Why not BLAS: the LSTM's step product (32 x 128) @ (128 x 512) is small, and calling BLAS 300
times in a row costs its set-up and its thread hand-off every time; OpenBLAS took 35 us per
step for it (PyTorch's library 24 us). Here each Numba thread owns a part of the batch for the
whole sequence (the rows of a batch never interact), so the threads never wait for each other
inside the time loop, and each keeps the weights (256 KB in float32) in its own L2 cache.

One call of ``tile`` computes, for ``ROWS`` rows r and the two vectors of columns starting at
column j::

    out[r, j : j + 2L] = init[r, j : j + 2L] + sum_k a[r, k] B[k, j : j + 2L]
                                              + sum_k a2[r, k] B2[k, j : j + 2L]

The 2 x ROWS = 16 accumulators stay in registers for the whole sum over k; each step over k
loads two vectors of B and broadcasts one value of each row, so every value loaded feeds 8
(B) or 2 (a) fused multiply-adds. The second sum lets the forward pass fold the input
projection x_t W into the same registers as h_{t-1} U, so that x W + b is never written out
for every step (19.6 MB for the benchmark's LSTM). A caller leaves it out by passing empty
``a2`` and ``B2``.

**B is packed** (``panels``, ``pack_panel``): the tile reads B's two vector columns as a
contiguous K x 2L panel, not in place. In place, consecutive rows of B lie a whole row apart
(2 KB for 512 float32 columns), and addresses 2 KB apart share a few sets of the L1 cache;
packed, a panel (21 KB for the LSTM's x and h sums) sits in consecutive lines. Measured on
the benchmark's LSTM: forward 11.5 -> 10.5 ms, weight gradients 10.3 -> 9.9 ms; less than
the cache conflicts suggested, but never slower.

Rows and columns: the caller passes each row's flat offset in out, init, a and a2, so a row
may live in any array (a scratch buffer, a step of a time-major sequence). When fewer than
ROWS rows remain, the caller repeats the last one: a repeated row computes and stores the same
numbers twice, which costs time but needs no second, narrower loop. The columns must be whole
pairs of vectors (``fits``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.engine import simd
from nn.engine.simd import broadcast, fma, load, store

__all__ = ["ROWS", "fits", "panels", "pack_panel", "tile", "set_rows"]

ROWS = 8  # batch rows per tile: 8 rows x 2 vectors = 16 accumulators of the 32 registers


def fits(columns: int, dtype) -> bool:
    """Whether ``columns`` is a whole number of vector pairs of ``dtype`` (``tile``'s width)."""
    return columns % (2 * simd.lanes(dtype)) == 0


def panels(B, L):
    """B (K, C) as C / 2L contiguous panels of its vector pairs: (C / 2L, K, 2L), a copy."""
    K, C = B.shape
    return np.ascontiguousarray(B.reshape(K, C // (2 * L), 2 * L).transpose(1, 0, 2))


@njit(cache=True, error_model="numpy")
def pack_panel(B, j, L, panel):
    """panel[k] = B[k, j : j + 2L] for every row k of B: one panel of ``panels`` (B 2-D,
    panel (K, 2L) contiguous)."""
    for k in range(B.shape[0]):
        for c in range(2 * L):
            panel[k, c] = B[k, j + c]


@njit(cache=True, error_model="numpy")
def tile(out, init, a, panel, a2, panel2, offsets, L, step=1):
    """ROWS rows x 2 vectors of out = init + a B + a2 B2 (see the module's docstring).

    Parameters
    ----------
    out, init, a, a2 : 1-D contiguous arrays of one float dtype, holding the rows
    panel, panel2 : 1-D contiguous, the two vector columns of B (and B2) that this tile
        computes, packed row after row (``pack``): K rows of 2L values, K the length of the
        sum (panel2 may be empty: no second sum)
    offsets : (4, ROWS) int64, the flat offset of each row in out, init, a and a2, the
        first column of the tile included for out and init
    L : values per vector, ``simd.lanes(dtype)``
    step : distance in a (and a2) between a row's consecutive values: 1 when the rows are
        rows of a, the row length of a when they are its columns (a^T B)

    No bounds checks: the caller proves every index (and the tests run this under
    NUMBA_DISABLE_JIT, where ``simd`` checks each slice).
    """
    i0, i1, i2, i3 = offsets[1, 0], offsets[1, 1], offsets[1, 2], offsets[1, 3]
    i4, i5, i6, i7 = offsets[1, 4], offsets[1, 5], offsets[1, 6], offsets[1, 7]
    p0, p1, p2, p3 = load(init, i0), load(init, i1), load(init, i2), load(init, i3)
    p4, p5, p6, p7 = load(init, i4), load(init, i5), load(init, i6), load(init, i7)
    q0, q1, q2 = load(init, i0 + L), load(init, i1 + L), load(init, i2 + L)
    q3, q4, q5 = load(init, i3 + L), load(init, i4 + L), load(init, i5 + L)
    q6, q7 = load(init, i6 + L), load(init, i7 + L)
    for second in range(2):
        rows, matrix, row = (a2, panel2, 3) if second else (a, panel, 2)
        r0, r1, r2, r3 = offsets[row, 0], offsets[row, 1], offsets[row, 2], offsets[row, 3]
        r4, r5, r6, r7 = offsets[row, 4], offsets[row, 5], offsets[row, 6], offsets[row, 7]
        bi, ai = 0, 0
        for _ in range(matrix.size // (2 * L)):
            w, v = load(matrix, bi), load(matrix, bi + L)
            s = broadcast(rows, r0 + ai)
            p0, q0 = fma(s, w, p0), fma(s, v, q0)
            s = broadcast(rows, r1 + ai)
            p1, q1 = fma(s, w, p1), fma(s, v, q1)
            s = broadcast(rows, r2 + ai)
            p2, q2 = fma(s, w, p2), fma(s, v, q2)
            s = broadcast(rows, r3 + ai)
            p3, q3 = fma(s, w, p3), fma(s, v, q3)
            s = broadcast(rows, r4 + ai)
            p4, q4 = fma(s, w, p4), fma(s, v, q4)
            s = broadcast(rows, r5 + ai)
            p5, q5 = fma(s, w, p5), fma(s, v, q5)
            s = broadcast(rows, r6 + ai)
            p6, q6 = fma(s, w, p6), fma(s, v, q6)
            s = broadcast(rows, r7 + ai)
            p7, q7 = fma(s, w, p7), fma(s, v, q7)
            bi += 2 * L
            ai += step
    o0, o1, o2, o3 = offsets[0, 0], offsets[0, 1], offsets[0, 2], offsets[0, 3]
    o4, o5, o6, o7 = offsets[0, 4], offsets[0, 5], offsets[0, 6], offsets[0, 7]
    store(out, o0, p0), store(out, o0 + L, q0)
    store(out, o1, p1), store(out, o1 + L, q1)
    store(out, o2, p2), store(out, o2 + L, q2)
    store(out, o3, p3), store(out, o3 + L, q3)
    store(out, o4, p4), store(out, o4 + L, q4)
    store(out, o5, p5), store(out, o5 + L, q5)
    store(out, o6, p6), store(out, o6 + L, q6)
    store(out, o7, p7), store(out, o7 + L, q7)


@njit(cache=True)
def set_rows(offsets, which, first, last, start, stride):
    """offsets[which, r] = start + min(first + r, last) stride, for r < ROWS: the flat offsets
    of rows first, first + 1, ... of an array whose rows lie ``stride`` apart from ``start``,
    with row ``last`` repeated past the end (see the module's docstring)."""
    for r in range(ROWS):
        offsets[which, r] = start + min(first + r, last) * stride

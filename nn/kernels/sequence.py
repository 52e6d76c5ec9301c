"""Helpers shared by the recurrent twins: time-major layout, the mask, denormal flushing.

The twins keep sequences **time major**, (T, N, .) instead of the references' (N, T, .), so
that the slice for step t is one contiguous (N, .) block: the recurrent product of each step
is then a plain BLAS call on contiguous memory, and the input projection of all steps is a
single (T N, D) @ (D, G H) product before the time loop.

**Denormals.** With the loss on the last of 300 steps, the gradient reaching the early steps
shrinks geometrically; in float32 it falls below the smallest normal number (1.2e-38) into
subnormal numbers, which x86 processors handle in microcode, tens of times slower than normal
ones. The backward loops therefore flush every value below ``tiny`` (the dtype's smallest
normal number) to zero, in the gradient they carry and in the gate gradients they hand to
BLAS. The values flushed are below 1.2e-38 (float32) or 2.2e-308 (float64): far below any
tolerance, and exactly what a CPU in flush-to-zero mode would do.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.linalg import blas

from nn.functional.sequence import time_mask

__all__ = ["matmul", "time_major", "time_major_mask", "flush_denormals", "sigmoid", "tanh", "tiny"]


def matmul(a, b):
    """a @ b for 2-D float arrays of one dtype, through SciPy's BLAS: the library that
    Numba's ``np.dot`` calls inside the time loops.

    NumPy and SciPy each bundle their own OpenBLAS, each with its own threads, and an idle
    OpenBLAS thread spins for a while before it sleeps. Alternating NumPy products (before and
    after the loop) with Numba's per-step products (in it) made the two thread pools fight
    over the two cores: the LSTM forward pass of the benchmark took 127-150 ms that way and
    67 ms with every product in one library. The result is C-contiguous (BLAS computes
    b^T a^T in Fortran order, which is a @ b in C order); no input is copied.
    """
    gemm = blas.sgemm if a.dtype == np.float32 else blas.dgemm
    return gemm(1.0, b.T, a.T).T


def time_major(x, dtype):
    """(N, T, D) -> contiguous (T, N, D) in ``dtype``."""
    return np.ascontiguousarray(np.asarray(x).transpose(1, 0, 2), dtype=dtype)


def time_major_mask(mask, N, T, dtype):
    """The (N, T) 0/1 mask as a contiguous (T, N) array; all ones when there is none.

    With m = 1 the carry m h~ + (1 - m) h_prev is h~ exactly, so unmasked batches give the
    reference's numbers.
    """
    m = time_mask(mask, N, T, dtype)
    return np.ones((T, N), dtype=dtype) if m is None else np.ascontiguousarray(m.T)


FLUSH_DENORMALS = True
"""Set to False only to measure what flushing saves (benchmarks/bench_rnn.py)."""


def tiny(dtype) -> float:
    """The smallest normal number of ``dtype``; anything smaller in magnitude is flushed
    (0.0, flushing nothing, when FLUSH_DENORMALS is off)."""
    return float(np.finfo(dtype).tiny) if FLUSH_DENORMALS else 0.0


@njit(cache=True)
def flush_denormals(a, tiny):
    """a[...] = 0 where |a| < tiny, in place (a is contiguous)."""
    flat = a.reshape(-1)
    for k in range(flat.size):
        if abs(flat[k]) < tiny:
            flat[k] = 0.0


@njit(cache=True)
def sigmoid(v):
    """The stable logistic function of ``nn.functional.activations.sigmoid``, one scalar."""
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@njit(cache=True)
def tanh(v):
    """tanh through one exp: (1 - e) / (1 + e) with e = exp(-2|v|), the sign put back.

    Measured in a compiled loop: glibc's tanh costs about 20 ns per value, exp about 4 ns, and
    the LSTM forward pass evaluates tanh twice per unit and step. Below |v| = 1e-3 the
    quotient would lose digits to cancellation, so the Taylor series v - v^3/3 + 2 v^5/15 is
    used there (its first omitted term is below 1e-19 relative). Both agree with np.tanh to
    about 1e-15 relative in float64.
    """
    a = abs(v)
    if a < 1e-3:
        a2 = a * a
        r = a * (1.0 - a2 * (1.0 / 3.0 - a2 * (2.0 / 15.0)))
    else:
        e = math.exp(-2.0 * a)
        r = (1.0 - e) / (1.0 + e)
    return r if v >= 0 else -r

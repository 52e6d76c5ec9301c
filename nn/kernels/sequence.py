"""Helpers shared by the recurrent twins: time-major layout, the mask, denormal flushing.

The twins keep sequences **time major**, (T, N, .) instead of the references' (N, T, .), so
that the slice for step t is one contiguous (N, .) block: the recurrent product of each step
is then a plain BLAS call on contiguous memory, and the input projection of all steps is a
single (T N, D) @ (D, G H) product before the time loop.

**Denormals.** With the loss on the last of 300 steps, the gradient reaching the early steps
shrinks geometrically; in float32 it falls below the smallest normal number (1.2e-38) into
subnormal numbers, which x86 processors handle in microcode, tens of times slower than normal
ones. The backward loops therefore flush every value below ``tiny`` (the dtype's smallest
normal number) to zero: in the gradient they carry, in the gate gradients they hand to
BLAS, and in the input gradient they return. The values flushed are below 1.2e-38 (float32)
or 2.2e-308 (float64): far below any tolerance, and exactly what a CPU in flush-to-zero mode
would do.
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


def project_inputs(x, W, b, dtype):
    """The time-major input and its projection for every step at once, before the loop.

    x : (N, T, D)    W : (D, G H)    b : (G H,) or None
    Returns xt (T, N, D) and a_in (T, N, G H) = x_t W + b for every t: one product.
    """
    N, T, D = x.shape
    xt = time_major(x, dtype)
    a_in = matmul(xt.reshape(T * N, D), W.astype(dtype, copy=False)).reshape(T, N, -1)
    if b is not None:
        a_in += b
    return xt, a_in


def input_gradients(dA, xt, W):
    """Back through ``project_inputs`` for every step at once: dx (N, T, D) = dA W^T and
    dW (D, G H) = sum_t x_t^T dA_t, from dA (T, N, G H) and xt (T, N, D).

    dx is flushed too: a gate gradient just above the normal range times a weight below 1
    is subnormal again, and dx is what the layer below (a stacked recurrent layer) carries
    into its own backward loop.
    """
    T, N, D = xt.shape
    dA2 = dA.reshape(T * N, -1)
    dx = matmul(dA2, W.T.astype(dA.dtype, copy=False)).reshape(T, N, D).transpose(1, 0, 2)
    dx = np.ascontiguousarray(dx)
    flush_denormals(dx, tiny(dx.dtype))
    return dx, matmul(xt.reshape(T * N, D).T, dA2)


def masked_outputs(hs, m):
    """The layer's (N, T, H) outputs from the (T + 1, N, H) states: 0 at padded steps."""
    return np.ascontiguousarray((hs[1:] * m[:, :, None]).transpose(1, 0, 2))


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

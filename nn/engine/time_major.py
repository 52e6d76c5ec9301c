"""Helpers shared by the recurrent twins: time-major layout, the mask, denormal flushing.

The twins keep sequences **time major**, (T, N, .) instead of the references' (N, T, .), so
that the slice for step t is one contiguous (N, .) block: the recurrent product of each step
is then a plain BLAS call on contiguous memory, and the input projection of all steps is a
single (T N, D) @ (D, G H) product before the time loop.

**Denormals.** With the loss on the last of 300 steps, the gradient reaching the early steps
shrinks geometrically; in float32 it falls below the smallest normal number (1.2e-38) into
subnormal numbers, which x86 processors handle in microcode, tens of times slower than normal
ones. The backward loops therefore flush every value below ``tiny`` to zero: in the gradient
they carry, in the gate gradients they hand to BLAS, and in the input gradient they return.

``tiny`` is the smallest normal number divided by the machine epsilon: 9.9e-32 in float32,
1.0e-292 in float64. Flushing only below the normal range is not enough: a normal gradient
of 1e-37 times a weight of 0.05 is subnormal again, inside the BLAS products (the step's
recurrent product and the weight gradients), where we cannot flush. Measured on the LSTM of
the benchmark: the weight gradient h^T dA took 27 ms with the threshold at 1.2e-38 and 7 ms
at 9.9e-32; with subnormal inputs it took 861 ms. Above tiny / eps, a product is normal
unless its other factor is below eps (1.2e-7): rare in a network's weights and states.

What is lost: values below 1e-31 (float32) or 1e-292 (float64), which change a sum that
holds any term above 1e-24 (1e-276) by less than its rounding; a CPU in flush-to-zero mode
(``torch.set_flush_denormal(True)``) drops everything below 1.2e-38 the same way.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import blas

from nn.functional.sequence import time_mask

__all__ = ["matmul", "time_major", "time_major_mask", "flush_denormals", "tiny"]


def matmul(a, b):
    """a @ b for 2-D float arrays of one dtype, through SciPy's BLAS: the library that
    Numba's ``np.dot`` calls inside the time loops.

    NumPy and SciPy each bundle their own OpenBLAS, each with its own threads, and an idle
    OpenBLAS thread spins for a while before it sleeps. Alternating NumPy products (before and
    after the loop) with Numba's per-step products (in it) made the two thread pools fight
    over the two cores: the LSTM forward pass of the benchmark took 127-150 ms that way and
    67 ms with every product in one library.

    BLAS works in Fortran order, where a @ b in C order is b^T a^T. Each operand is handed
    over as it lies in memory, with BLAS's transpose flag where needed, so that neither is
    copied: the weight gradient h^T dA of the LSTM backward pass (a transposed view times a
    C-ordered array) took 18 ms with a copy and 10 ms without. The result is C-contiguous.
    """
    gemm = blas.sgemm if a.dtype == np.float32 else blas.dgemm
    # b^T is b.T (Fortran-ordered when b is C-ordered), or b itself with trans_a=1.
    b_f, trans_b = (b.T, 0) if b.flags.c_contiguous else (b, 1)
    a_f, trans_a = (a.T, 0) if a.flags.c_contiguous else (a, 1)
    return gemm(1.0, b_f, a_f, trans_a=trans_b, trans_b=trans_a).T


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


def input_gradients(dA, xt, W, need_dx=True):
    """Back through ``project_inputs`` for every step at once: dx (N, T, D) = dA W^T and
    dW (D, G H) = sum_t x_t^T dA_t, from dA (T, N, G H) and xt (T, N, D). With
    ``need_dx=False`` dx is None and its product is skipped.

    dx is flushed too: a gate gradient just above the normal range times a weight below 1
    is subnormal again, and dx is what the layer below (a stacked recurrent layer) carries
    into its own backward loop.
    """
    T, N, D = xt.shape
    dA2 = dA.reshape(T * N, -1)
    dW = matmul(xt.reshape(T * N, D).T, dA2)
    if not need_dx:
        return None, dW
    dx = matmul(dA2, W.T.astype(dA.dtype, copy=False)).reshape(T, N, D).transpose(1, 0, 2)
    dx = np.ascontiguousarray(dx)
    flush_denormals(dx, tiny(dx.dtype))
    return dx, dW


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
    """The flush threshold of ``dtype``: its smallest normal number divided by its machine
    epsilon (see the module's docstring); anything smaller in magnitude is flushed. 0.0,
    flushing nothing, when FLUSH_DENORMALS is off."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps) if FLUSH_DENORMALS else 0.0


@njit(cache=True, error_model="numpy")
def flush_denormals(a, tiny):
    """a[...] = 0 where |a| < tiny, in place (a is contiguous).

    Written as a select, not an ``if``, so that the loop vectorises (nn/engine/rows.py);
    NaN is kept (its comparison is false).
    """
    flat = a.reshape(-1)
    for k in range(flat.size):
        v = flat[k]
        flat[k] = v if abs(v) >= tiny else 0.0 * v

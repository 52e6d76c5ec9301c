"""Numba twin of ``nn/functional/lstm.py``: see ``nn.functional.lstm.lstm_forward`` for the
formulas (L1-L5), shapes and gate order; only the evaluation order differs.

The input projection x W + b of every step is one matrix product before the time loop; the
loop (compiled) adds h_{t-1} U, applies the gates and stores what the backward pass needs.
The backward loop computes the gate gradients of each step and the one recurrent product
dh_{t-1} = da U^T; the weight gradients of all steps are then single matrix products. The
backward loop flushes denormals (nn/kernels/sequence.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.kernels.sequence import (
    flush_denormals,
    input_gradients,
    masked_outputs,
    matmul,
    project_inputs,
    sigmoid,
    tanh,
    time_major,
    time_major_mask,
    tiny,
)

__all__ = ["lstm_forward", "lstm_backward"]


@njit(cache=True)
def _forward_loop(a_in, U, m, hs, cs, gates, tanh_c):
    """hs, cs: (T + 1, N, H) states after each step (index 0: h0, c0); gates: (T, N, 4H)
    the activated i, f, g, o; tanh_c: (T, N, H) tanh of the new cell state, before masking."""
    T, N, H = tanh_c.shape
    for t in range(T):
        a = a_in[t] + np.dot(hs[t], U)
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                i = sigmoid(a[n, k])  # eq. L1
                f = sigmoid(a[n, H + k])  # eq. L2
                g = tanh(a[n, 2 * H + k])
                o = sigmoid(a[n, 3 * H + k])  # eq. L3
                c = f * cs[t, n, k] + i * g  # eq. L4
                tc = tanh(c)
                h = o * tc  # eq. L5
                gates[t, n, k], gates[t, n, H + k] = i, f
                gates[t, n, 2 * H + k], gates[t, n, 3 * H + k] = g, o
                tanh_c[t, n, k] = tc
                hs[t + 1, n, k] = keep * h + (1.0 - keep) * hs[t, n, k]  # eq. R-mask
                cs[t + 1, n, k] = keep * c + (1.0 - keep) * cs[t, n, k]


@njit(cache=True)
def _backward_loop(dhs, dh, dc, UT, m, cs, gates, tanh_c, dA, tiny):
    """dA[t] = dL/d(pre-activations of step t); dh, dc carried backwards in place."""
    T, N, H = tanh_c.shape
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                d_h = dh[n, k] + keep * dhs[t, n, k]
                i, f = gates[t, n, k], gates[t, n, H + k]
                g, o = gates[t, n, 2 * H + k], gates[t, n, 3 * H + k]
                tc = tanh_c[t, n, k]
                dC = keep * dc[n, k] + keep * d_h * o * (1.0 - tc * tc)  # eq. L-b1
                dA[t, n, k] = dC * g * i * (1.0 - i)  # eq. L-b2
                dA[t, n, H + k] = dC * cs[t, n, k] * f * (1.0 - f)
                dA[t, n, 2 * H + k] = dC * i * (1.0 - g * g)
                dA[t, n, 3 * H + k] = keep * d_h * tc * o * (1.0 - o)
                dc[n, k] = dC * f + (1.0 - keep) * dc[n, k]
                dh[n, k] = (1.0 - keep) * d_h  # the path around a padded step
        flush_denormals(dA[t], tiny)
        dh += np.dot(dA[t], UT)  # eq. L-b3
        flush_denormals(dh, tiny)
        flush_denormals(dc, tiny)


def lstm_forward(x, W, U, b, h0, c0, mask=None):
    """Same contract as ``nn.functional.lstm.lstm_forward``."""
    N, T, D = x.shape
    H = U.shape[0]
    dtype = np.result_type(x, W, U, h0, c0)
    xt, a_in = project_inputs(x, W, b, dtype)
    m = time_major_mask(mask, N, T, dtype)
    hs, cs = np.empty((T + 1, N, H), dtype), np.empty((T + 1, N, H), dtype)
    hs[0], cs[0] = h0, c0
    gates, tanh_c = np.empty((T, N, 4 * H), dtype), np.empty((T, N, H), dtype)
    _forward_loop(a_in, np.ascontiguousarray(U, dtype), m, hs, cs, gates, tanh_c)
    cache = (xt, W, U, b is not None, m, hs, cs, gates, tanh_c)
    return (masked_outputs(hs, m), hs[-1].copy(), cs[-1].copy()), cache


def lstm_backward(dhs, dh_last, dc_last, cache):
    """Same contract as ``nn.functional.lstm.lstm_backward``."""
    xt, W, U, has_bias, m, hs, cs, gates, tanh_c = cache
    T, N, D = xt.shape
    H = U.shape[0]
    dtype = hs.dtype
    dA = np.empty((T, N, 4 * H), dtype)
    dh = np.array(dh_last, dtype=dtype, copy=True)
    dc = np.array(dc_last, dtype=dtype, copy=True)
    UT = np.ascontiguousarray(U.T, dtype)
    _backward_loop(time_major(dhs, dtype), dh, dc, UT, m, cs, gates, tanh_c, dA, tiny(dtype))
    dx, dW = input_gradients(dA, xt, W)
    dA2 = dA.reshape(T * N, 4 * H)
    dU = matmul(hs[:-1].reshape(T * N, H).T, dA2)
    db = dA2.sum(axis=0) if has_bias else None
    return dx, dW, dU, db, dh, dc

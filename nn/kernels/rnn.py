"""Numba twin of ``nn/functional/rnn.py``: see ``nn.functional.rnn.rnn_forward`` for the
formula (R0) and shapes; only the evaluation order differs (the input projection of all steps
is one product, the time loop is compiled, denormals are flushed in the backward loop; see
nn/kernels/sequence.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.kernels.sequence import (
    flush_denormals,
    input_gradients,
    masked_outputs,
    matmul,
    project_inputs,
    tanh,
    time_major,
    time_major_mask,
    tiny,
)

__all__ = ["rnn_forward", "rnn_backward"]


@njit(cache=True)
def _forward_loop(a_in, U, m, hs, h_new):
    """hs: (T + 1, N, H) states (index 0: h0); h_new: (T, N, H) tanh before masking."""
    T, N, H = h_new.shape
    for t in range(T):
        a = a_in[t] + np.dot(hs[t], U)
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                h = tanh(a[n, k])  # eq. R0
                h_new[t, n, k] = h
                hs[t + 1, n, k] = keep * h + (1.0 - keep) * hs[t, n, k]  # eq. R-mask


@njit(cache=True)
def _backward_loop(dhs, dh, UT, m, h_new, dA, tiny):
    T, N, H = h_new.shape
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                d_h = dh[n, k] + keep * dhs[t, n, k]
                h = h_new[t, n, k]
                dA[t, n, k] = keep * d_h * (1.0 - h * h)  # eq. R0-b
                dh[n, k] = (1.0 - keep) * d_h
        flush_denormals(dA[t], tiny)
        dh += np.dot(dA[t], UT)
        flush_denormals(dh, tiny)


def rnn_forward(x, W, U, b, h0, mask=None):
    """Same contract as ``nn.functional.rnn.rnn_forward``."""
    N, T, D = x.shape
    H = U.shape[0]
    dtype = np.result_type(x, W, U, h0)
    xt, a_in = project_inputs(x, W, b, dtype)
    m = time_major_mask(mask, N, T, dtype)
    hs, h_new = np.empty((T + 1, N, H), dtype), np.empty((T, N, H), dtype)
    hs[0] = h0
    _forward_loop(a_in, np.ascontiguousarray(U, dtype), m, hs, h_new)
    return (masked_outputs(hs, m), hs[-1].copy()), (xt, W, U, b is not None, m, hs, h_new)


def rnn_backward(dhs, dh_last, cache):
    """Same contract as ``nn.functional.rnn.rnn_backward``."""
    xt, W, U, has_bias, m, hs, h_new = cache
    T, N, D = xt.shape
    H = U.shape[0]
    dtype = hs.dtype
    dA = np.empty((T, N, H), dtype)
    dh = np.array(dh_last, dtype=dtype, copy=True)
    UT = np.ascontiguousarray(U.T, dtype)
    _backward_loop(time_major(dhs, dtype), dh, UT, m, h_new, dA, tiny(dtype))
    dx, dW = input_gradients(dA, xt, W)
    dA2 = dA.reshape(T * N, H)
    dU = matmul(hs[:-1].reshape(T * N, H).T, dA2)
    db = dA2.sum(axis=0) if has_bias else None
    return dx, dW, dU, db, dh

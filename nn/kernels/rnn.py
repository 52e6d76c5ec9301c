"""Numba twin of ``nn/functional/rnn.py``: see ``nn.functional.rnn.rnn_forward`` for the
formula (R0) and shapes; only the evaluation order differs (the input projection of all steps
is one product, the time loop is compiled, denormals are flushed in the backward loop; see
nn/engine/time_major.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.engine import rows
from nn.engine.time_major import (
    flush_denormals,
    input_gradients,
    masked_outputs,
    matmul,
    project_inputs,
    time_major,
    time_major_mask,
    tiny,
)

__all__ = ["rnn_forward", "rnn_backward"]


@njit(cache=True, error_model="numpy")
def _forward_loop(a_in, U, m, hs, h_new):
    """hs: (T + 1, N, H) states (index 0: h0); h_new: (T, N, H) tanh before masking.
    The row loops vectorise (nn/engine/rows.py)."""
    T, N, H = h_new.shape
    rec = np.empty((N, H), hs.dtype)
    for t in range(T):
        np.dot(hs[t], U, rec)
        for n in range(N):
            rows.tanh_of_sum(a_in[t, n], rec[n], h_new[t, n])  # eq. R0
            rows.carry(m[t, n], h_new[t, n], hs[t, n], hs[t + 1, n])  # eq. R-mask


@njit(cache=True, error_model="numpy")
def _backward_loop(dhs, dh, UT, m, h_new, dA, tiny):
    """dA[t] = dL/d(pre-activation of step t); dh carried backwards in place: dh + keep
    dhs[t] goes through the step (eq. R0-b), or around it when it is padded."""
    T, N, H = h_new.shape
    d_h, rec = np.empty((N, H), dh.dtype), np.empty((N, H), dh.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            rows.add_scaled(dh[n], keep, dhs[t, n], d_h[n])
            rows.tanh_gradient(d_h[n], keep, h_new[t, n], dA[t, n])  # eq. R0-b
        flush_denormals(dA[t], tiny)
        np.dot(dA[t], UT, rec)
        for n in range(N):
            rows.add_scaled(rec[n], 1.0 - m[t, n], d_h[n], dh[n])
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

"""Numba twin of ``nn/functional/seed_rnn.py``: see
``nn.functional.seed_rnn.seed_rnn_forward`` for the formulas (R1-R4), shapes and f_0 = 1.

Only the evaluation order differs, with one omission: i_t (R1) and o_t (R3) reach no output
and no gradient, so the twin does not compute them (the reference does, to show them). W_h
is used as its two row blocks, the h part (H, H) and the x part (D, H), so the x part of every
step is one product before the time loop.
"""

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

__all__ = ["seed_rnn_forward", "seed_rnn_backward"]


@njit(cache=True, error_model="numpy")
def _forward_loop(xh, W_f, W_hh, m, hs, fs, f_new, h_new):
    """hs, fs: (T + 1, N, H) carried h and f (index 0: h0, f0 = 1); f_new, h_new: (T, N, H)
    this step's gate and state before masking. The row loops vectorise (nn/engine/rows.py)."""
    T, N, H = h_new.shape
    fh, rec = np.empty((N, H), hs.dtype), np.empty((N, H), hs.dtype)
    for t in range(T):
        np.dot(hs[t], W_f, rec)
        for n in range(N):
            rows.sigmoid_of(rec[n], f_new[t, n])  # eq. R2
            rows.product(fs[t, n], hs[t, n], fh[n])  # f_{t-1} h_{t-1}, as R4 is written
        np.dot(fh, W_hh, rec)
        for n in range(N):
            keep = m[t, n]
            rows.tanh_of_sum(xh[t, n], rec[n], h_new[t, n])  # eq. R4
            rows.carry(keep, h_new[t, n], hs[t, n], hs[t + 1, n])  # eq. R-mask
            rows.carry(keep, f_new[t, n], fs[t, n], fs[t + 1, n])


@njit(cache=True, error_model="numpy")
def _carry_gradients_row(d_fh, f_prev, h_prev, d_h, around, dh, df):
    """Through the product f_{t-1} h_{t-1} of R4 (eq. R-b3): dh += d_fh f_{t-1} plus the
    path around a padded step, df += d_fh h_{t-1}; one row, one loop per output."""
    for k in range(dh.size):
        dh[k] += around * d_h[k] + d_fh[k] * f_prev[k]
    for k in range(df.size):
        df[k] += d_fh[k] * h_prev[k]


@njit(cache=True, error_model="numpy")
def _backward_loop(dhs, dh, W_fT, W_hhT, m, hs, fs, f_new, h_new, dA, dAF, tiny):
    """dA[t]: dL/d(R4's pre-activation); dAF[t]: dL/d(R2's pre-activation)."""
    T, N, H = h_new.shape
    df = np.zeros((N, H), hs.dtype)
    d_h, d_fh = np.empty((N, H), hs.dtype), np.empty((N, H), hs.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            rows.add_scaled(dh[n], keep, dhs[t, n], d_h[n])
            rows.tanh_gradient(d_h[n], keep, h_new[t, n], dA[t, n])  # eq. R-b1
            rows.sigmoid_gradient(df[n], keep, f_new[t, n], dAF[t, n])  # eq. R-b2
            rows.scale(1.0 - keep, df[n])  # df passes around a padded step only
        flush_denormals(dA[t], tiny)
        flush_denormals(dAF[t], tiny)
        np.dot(dA[t], W_hhT, d_fh)
        np.dot(dAF[t], W_fT, dh)  # eq. R-b3
        for n in range(N):
            _carry_gradients_row(d_fh[n], fs[t, n], hs[t, n], d_h[n], 1.0 - m[t, n], dh[n], df[n])
        flush_denormals(dh, tiny)
        flush_denormals(df, tiny)


def seed_rnn_forward(x, W_i, W_f, W_o, W_h, h0, mask=None):
    """Same contract as ``nn.functional.seed_rnn.seed_rnn_forward``."""
    N, T, D = x.shape
    H = W_f.shape[0]
    dtype = np.result_type(x, W_h, W_f, h0)
    xt, xh = project_inputs(x, W_h[H:], None, dtype)  # the x rows of W_h, for every step
    W_hh = np.ascontiguousarray(W_h[:H], dtype)
    m = time_major_mask(mask, N, T, dtype)
    hs, fs = np.empty((T + 1, N, H), dtype), np.empty((T + 1, N, H), dtype)
    hs[0], fs[0] = h0, 1.0  # f_0 = 1 (nn.functional.seed_rnn.initial_forget_gate)
    f_new, h_new = np.empty((T, N, H), dtype), np.empty((T, N, H), dtype)
    _forward_loop(xh, np.ascontiguousarray(W_f, dtype), W_hh, m, hs, fs, f_new, h_new)
    cache = (xt, W_i, W_f, W_o, W_h, m, hs, fs, f_new, h_new)
    return (masked_outputs(hs, m), hs[-1].copy()), cache


def seed_rnn_backward(dhs, dh_last, cache):
    """Same contract as ``nn.functional.seed_rnn.seed_rnn_backward``."""
    xt, W_i, W_f, W_o, W_h, m, hs, fs, f_new, h_new = cache
    T, N, D = xt.shape
    H = W_f.shape[0]
    dtype = hs.dtype
    dA, dAF = np.empty((T, N, H), dtype), np.empty((T, N, H), dtype)
    dh = np.array(dh_last, dtype=dtype, copy=True)
    W_fT = np.ascontiguousarray(W_f.T, dtype)
    W_hhT = np.ascontiguousarray(W_h[:H].T, dtype)
    _backward_loop(
        time_major(dhs, dtype), dh, W_fT, W_hhT, m, hs, fs, f_new, h_new, dA, dAF, tiny(dtype)
    )
    dx, dW_hx = input_gradients(dA, xt, W_h[H:])
    dA2 = dA.reshape(T * N, H)
    fh = (fs[:-1] * hs[:-1]).reshape(T * N, H)
    dW_h = np.concatenate([matmul(fh.T, dA2), dW_hx])
    dW_f = matmul(hs[:-1].reshape(T * N, H).T, dAF.reshape(T * N, H))
    zeros = np.zeros_like(W_i, dtype=dtype), np.zeros_like(W_o, dtype=dtype)
    return dx, zeros[0], dW_f, zeros[1], dW_h, dh

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

__all__ = ["seed_rnn_forward", "seed_rnn_backward"]


@njit(cache=True)
def _forward_loop(xh, W_f, W_hh, m, hs, fs, f_new, h_new):
    """hs, fs: (T + 1, N, H) carried h and f (index 0: h0, f0 = 1); f_new, h_new: (T, N, H)
    this step's gate and state before masking."""
    T, N, H = h_new.shape
    fh = np.empty((N, H), hs.dtype)
    for t in range(T):
        f = np.dot(hs[t], W_f)
        for n in range(N):
            for k in range(H):
                f_new[t, n, k] = sigmoid(f[n, k])  # eq. R2
                fh[n, k] = fs[t, n, k] * hs[t, n, k]  # f_{t-1} h_{t-1}, as R4 is written
        a = xh[t] + np.dot(fh, W_hh)
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                h = tanh(a[n, k])  # eq. R4
                h_new[t, n, k] = h
                hs[t + 1, n, k] = keep * h + (1.0 - keep) * hs[t, n, k]  # eq. R-mask
                fs[t + 1, n, k] = keep * f_new[t, n, k] + (1.0 - keep) * fs[t, n, k]


@njit(cache=True)
def _backward_loop(dhs, dh, W_fT, W_hhT, m, hs, fs, f_new, h_new, dA, dAF, tiny):
    """dA[t]: dL/d(R4's pre-activation); dAF[t]: dL/d(R2's pre-activation)."""
    T, N, H = h_new.shape
    df = np.zeros((N, H), hs.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                d_h = dh[n, k] + keep * dhs[t, n, k]
                h, f = h_new[t, n, k], f_new[t, n, k]
                dA[t, n, k] = keep * d_h * (1.0 - h * h)  # eq. R-b1
                dAF[t, n, k] = keep * df[n, k] * f * (1.0 - f)  # eq. R-b2
                dh[n, k] = (1.0 - keep) * d_h
                df[n, k] = (1.0 - keep) * df[n, k]
        flush_denormals(dA[t], tiny)
        flush_denormals(dAF[t], tiny)
        d_fh = np.dot(dA[t], W_hhT)
        dh += np.dot(dAF[t], W_fT)  # eq. R-b3
        for n in range(N):
            for k in range(H):
                dh[n, k] += d_fh[n, k] * fs[t, n, k]
                df[n, k] += d_fh[n, k] * hs[t, n, k]
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

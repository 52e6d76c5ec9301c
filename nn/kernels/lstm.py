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

from nn.kernels import rows
from nn.kernels.sequence import (
    flush_denormals,
    input_gradients,
    masked_outputs,
    matmul,
    project_inputs,
    time_major,
    time_major_mask,
    tiny,
)

__all__ = ["lstm_forward", "lstm_backward"]


@njit(cache=True, error_model="numpy")
def _cell_row(i, f, g, c_prev, keep, c_new):
    """c_new = C_t (eq. L4), carried over a padded step (eq. R-mask); one row."""
    for k in range(c_new.size):
        c_new[k] = keep * (f[k] * c_prev[k] + i[k] * g[k]) + (1.0 - keep) * c_prev[k]


@njit(cache=True, error_model="numpy")
def _hidden_row(o, tanh_c, h_prev, keep, h_new):
    """h_new = o tanh(C_t) (eq. L5), carried over a padded step (eq. R-mask); one row."""
    for k in range(h_new.size):
        h_new[k] = keep * (o[k] * tanh_c[k]) + (1.0 - keep) * h_prev[k]


@njit(cache=True, error_model="numpy")
def _forward_loop(a_in, U, m, hs, cs, gates, tanh_c):
    """hs, cs: (T + 1, N, H) states after each step (index 0: h0, c0); gates: (T, N, 4H)
    the activated i, f, g, o; tanh_c: (T, N, H) tanh of the cell state.

    At a padded step tanh_c holds tanh of the carried state; nothing reads it there (every
    use is multiplied by keep = 0). The row loops live in small functions so that each
    vectorises (nn/kernels/rows.py).
    """
    T, N, H = tanh_c.shape
    rec = np.empty((N, 4 * H), hs.dtype)
    for t in range(T):
        np.dot(hs[t], U, rec)
        for n in range(N):
            a, r, gate = a_in[t, n], rec[n], gates[t, n]
            rows.sigmoid_of_sum(a[: 2 * H], r[: 2 * H], gate[: 2 * H])  # eqs. L1, L2
            rows.tanh_of_sum(a[2 * H : 3 * H], r[2 * H : 3 * H], gate[2 * H : 3 * H])
            rows.sigmoid_of_sum(a[3 * H :], r[3 * H :], gate[3 * H :])  # eq. L3
            i, f, g, o = gate[:H], gate[H : 2 * H], gate[2 * H : 3 * H], gate[3 * H :]
            keep = m[t, n]
            _cell_row(i, f, g, cs[t, n], keep, cs[t + 1, n])  # eq. L4
            rows.tanh_of(cs[t + 1, n], tanh_c[t, n])
            _hidden_row(o, tanh_c[t, n], hs[t, n], keep, hs[t + 1, n])  # eq. L5


@njit(cache=True, error_model="numpy")
def _cell_gradient_row(dc, d_h, o, tanh_c, keep, dC):
    """dC = dL/dC_t through both paths, L4 of the next step and L5 (eq. L-b1); one row."""
    for k in range(dC.size):
        dC[k] = keep * (dc[k] + d_h[k] * o[k] * (1.0 - tanh_c[k] * tanh_c[k]))


@njit(cache=True, error_model="numpy")
def _gate_gradients_row(dC, d_h, keep, c_prev, i, f, g, o, tanh_c, da_i, da_f, da_g, da_o):
    """da = dL/d(pre-activations) of the four gates (eq. L-b2); one row, one loop per gate
    (a loop with four outputs would not vectorise, nn/kernels/rows.py)."""
    for k in range(dC.size):
        da_i[k] = dC[k] * g[k] * i[k] * (1.0 - i[k])
    for k in range(dC.size):
        da_f[k] = dC[k] * c_prev[k] * f[k] * (1.0 - f[k])
    for k in range(dC.size):
        da_g[k] = dC[k] * i[k] * (1.0 - g[k] * g[k])
    for k in range(dC.size):
        da_o[k] = keep * d_h[k] * tanh_c[k] * o[k] * (1.0 - o[k])


@njit(cache=True, error_model="numpy")
def _carry_cell_gradient_row(dC, f, keep, dc):
    """dc = dL/dC_{t-1} = dC f, or dc unchanged around a padded step; one row, in place."""
    for k in range(dc.size):
        dc[k] = dC[k] * f[k] + (1.0 - keep) * dc[k]


@njit(cache=True, error_model="numpy")
def _backward_loop(dhs, dh, dc, UT, m, cs, gates, tanh_c, dA, tiny):
    """dA[t] = dL/d(pre-activations of step t); dh, dc carried backwards in place.

    d_h = dh + keep dhs[t]: the gradient carried from step t + 1 plus this step's output's.
    Around a padded step (keep = 0) dh and dc pass unchanged and dA[t] is 0.
    """
    T, N, H = tanh_c.shape
    d_h, dC = np.empty((N, H), dh.dtype), np.empty((N, H), dh.dtype)
    rec = np.empty((N, H), dh.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            rows.add_scaled(dh[n], keep, dhs[t, n], d_h[n])
            gate, da = gates[t, n], dA[t, n]
            i, f, g, o = gate[:H], gate[H : 2 * H], gate[2 * H : 3 * H], gate[3 * H :]
            _cell_gradient_row(dc[n], d_h[n], o, tanh_c[t, n], keep, dC[n])  # eq. L-b1
            _gate_gradients_row(
                dC[n], d_h[n], keep, cs[t, n], i, f, g, o, tanh_c[t, n],
                da[:H], da[H : 2 * H], da[2 * H : 3 * H], da[3 * H :],
            )  # eq. L-b2  # fmt: skip
            _carry_cell_gradient_row(dC[n], f, keep, dc[n])
        flush_denormals(dA[t], tiny)
        np.dot(dA[t], UT, rec)
        for n in range(N):
            rows.add_scaled(rec[n], 1.0 - m[t, n], d_h[n], dh[n])  # eq. L-b3
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

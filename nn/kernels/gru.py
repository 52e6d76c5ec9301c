"""Numba twin of ``nn/functional/gru.py``: see ``nn.functional.gru.gru_forward`` for the
formulas (G1-G4, both forms), shapes, gate order and bias layout; only the evaluation order
differs (the input projection of all steps is one product, the time loop is compiled,
denormals are flushed in the backward loop; see nn/engine/time_major.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.engine import rows, vmath
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
from nn.functional.gru import _split_bias

__all__ = ["gru_forward", "gru_backward"]


@njit(cache=True, error_model="numpy")
def _candidate_row(x, r, rec_h, out):
    """out = tanh(x + r rec_h): the candidate state h~ of eq. G3a; one row."""
    for k in range(out.size):
        out[k] = vmath.tanh(x[k] + r[k] * rec_h[k])


@njit(cache=True, error_model="numpy")
def _update_row(z, hh, h_prev, keep, h_new):
    """h_new = z h_{t-1} + (1 - z) h~ (eq. G4), carried over a padded step; one row."""
    for k in range(h_new.size):
        h = z[k] * h_prev[k] + (1.0 - z[k]) * hh[k]
        h_new[k] = keep * h + (1.0 - keep) * h_prev[k]


@njit(cache=True, error_model="numpy")
def _forward_loop(a_in, U, b_rec, reset_after, m, hs, saved):
    """hs: (T + 1, N, H) states; saved: (T, N, 4H) z, r, h~ and rec_h of every step, where
    rec_h is h_{t-1} U_h + b'_h (reset_after) or r h_{t-1} (Cho et al.). The row loops
    vectorise (nn/engine/rows.py)."""
    T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    U_zr = np.ascontiguousarray(U[:, : 2 * H])
    U_h = np.ascontiguousarray(U[:, 2 * H :])
    rec = np.empty((N, 3 * H), hs.dtype)
    rec_zr = np.empty((N, 2 * H), hs.dtype)  # Cho et al.: h_{t-1} U_zr alone
    rh, rh_U = np.empty((N, H), hs.dtype), np.empty((N, H), hs.dtype)
    for t in range(T):
        if reset_after:
            np.dot(hs[t], U, rec)
        else:
            np.dot(hs[t], U_zr, rec_zr)
        for n in range(N):
            a, s = a_in[t, n], saved[t, n]
            r_n = rec[n] if reset_after else rec_zr[n]
            if reset_after:
                rows.add_into(r_n, b_rec)
            rows.sigmoid_of_sum(a[: 2 * H], r_n[: 2 * H], s[: 2 * H])  # eqs. G1, G2
            if reset_after:
                s[3 * H :] = r_n[2 * H :]  # rec_h = h_{t-1} U_h + b'_h
            else:
                rows.product(s[H : 2 * H], hs[t, n], rh[n])  # r h_{t-1}
                s[3 * H :] = rh[n]
        if not reset_after:
            np.dot(rh, U_h, rh_U)
        for n in range(N):
            a, s = a_in[t, n], saved[t, n]
            if reset_after:
                _candidate_row(a[2 * H :], s[H : 2 * H], s[3 * H :], s[2 * H : 3 * H])  # G3a
            else:
                rows.tanh_of_sum(a[2 * H :], rh_U[n], s[2 * H : 3 * H])  # eq. G3b
            _update_row(s[:H], s[2 * H : 3 * H], hs[t, n], m[t, n], hs[t + 1, n])  # eq. G4


@njit(cache=True, error_model="numpy")
def _gate_gradients_row(e, keep, h_prev, z, hh, da_z, da_h, d_direct):
    """From e = dL/dh_t (carried plus this step's output's), through G4 (eq. G-b1): the
    gradients at the pre-activations of z and h~, and the direct path to h_{t-1} (z e, or
    all of e around a padded step); one row, one loop per output."""
    for k in range(e.size):
        da_z[k] = keep * e[k] * (h_prev[k] - hh[k]) * z[k] * (1.0 - z[k])
    for k in range(e.size):
        da_h[k] = keep * e[k] * (1.0 - z[k]) * (1.0 - hh[k] * hh[k])
    for k in range(e.size):
        d_direct[k] = keep * e[k] * z[k] + (1.0 - keep) * e[k]


@njit(cache=True, error_model="numpy")
def _reset_gradient_row(d, x, r, da_r):
    """da_r = d x r (1 - r): back through r (eq. G-b2), d being the gradient of r x."""
    for k in range(da_r.size):
        da_r[k] = d[k] * x[k] * r[k] * (1.0 - r[k])


@njit(cache=True, error_model="numpy")
def _backward_loop(dhs, dh, U, reset_after, m, hs, saved, dXW, dREC, tiny):
    """dXW[t] = dL/d(x_t W + b_in); dREC[t] = dL/d(h U + b_rec) for reset_after, else
    [da_z | da_r | da_h] with da_h the gradient at the candidate's pre-activation."""
    T, N, H = saved.shape[0], saved.shape[1], saved.shape[2] // 4
    U_T = np.ascontiguousarray(U.T)
    U_zrT = np.ascontiguousarray(U[:, : 2 * H].T)
    U_hT = np.ascontiguousarray(U[:, 2 * H :].T)
    e, d_direct = np.empty((N, H), hs.dtype), np.empty((N, H), hs.dtype)
    da_h, d_rh = np.empty((N, H), hs.dtype), np.empty((N, H), hs.dtype)
    da_zr = np.empty((N, 2 * H), hs.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep, s, dx_n = m[t, n], saved[t, n], dXW[t, n]
            rows.add_scaled(dh[n], keep, dhs[t, n], e[n])
            z, r, hh = s[:H], s[H : 2 * H], s[2 * H : 3 * H]
            _gate_gradients_row(
                e[n], keep, hs[t, n], z, hh, dx_n[:H], dx_n[2 * H :], d_direct[n]
            )  # eq. G-b1
            if reset_after:
                _reset_gradient_row(dx_n[2 * H :], s[3 * H :], r, dx_n[H : 2 * H])  # G-b2
                dr_n = dREC[t, n]
                dr_n[: 2 * H] = dx_n[: 2 * H]
                rows.product(dx_n[2 * H :], r, dr_n[2 * H :])
            else:
                da_h[n] = dx_n[2 * H :]
        if reset_after:
            flush_denormals(dXW[t], tiny)
            flush_denormals(dREC[t], tiny)
            np.dot(dREC[t], U_T, dh)  # eq. G-b3
        else:
            np.dot(da_h, U_hT, d_rh)
            for n in range(N):
                r, dx_n = saved[t, n, H : 2 * H], dXW[t, n]
                _reset_gradient_row(d_rh[n], hs[t, n], r, dx_n[H : 2 * H])  # eq. G-b2
                rows.product(d_rh[n], r, e[n])
                rows.add_into(d_direct[n], e[n])
                da_zr[n] = dx_n[: 2 * H]
            flush_denormals(dXW[t], tiny)
            flush_denormals(da_zr, tiny)
            np.dot(da_zr, U_zrT, dh)
        for n in range(N):
            rows.add_into(dh[n], d_direct[n])
        flush_denormals(dh, tiny)


def gru_forward(x, W, U, b, h0, mask=None, reset_after=True):
    """Same contract as ``nn.functional.gru.gru_forward``."""
    N, T, D = x.shape
    H = U.shape[0]
    dtype = np.result_type(x, W, U, h0)
    b_in, b_rec = _split_bias(b, H, reset_after)
    xt, a_in = project_inputs(x, W, b_in, dtype)
    b_rec = np.zeros(3 * H, dtype) if b_rec is None else b_rec.astype(dtype)
    m = time_major_mask(mask, N, T, dtype)
    hs, saved = np.empty((T + 1, N, H), dtype), np.empty((T, N, 4 * H), dtype)
    hs[0] = h0
    _forward_loop(a_in, np.ascontiguousarray(U, dtype), b_rec, reset_after, m, hs, saved)
    cache = (xt, W, U, b is not None, reset_after, m, hs, saved)
    return (masked_outputs(hs, m), hs[-1].copy()), cache


def gru_backward(dhs, dh_last, cache):
    """Same contract as ``nn.functional.gru.gru_backward``."""
    xt, W, U, has_bias, reset_after, m, hs, saved = cache
    T, N, D = xt.shape
    H = U.shape[0]
    dtype = hs.dtype
    dXW, dREC = np.empty((T, N, 3 * H), dtype), np.empty((T, N, 3 * H), dtype)
    dh = np.array(dh_last, dtype=dtype, copy=True)
    U_ = np.ascontiguousarray(U, dtype)
    _backward_loop(
        time_major(dhs, dtype), dh, U_, reset_after, m, hs, saved, dXW, dREC, tiny(dtype)
    )
    dx, dW = input_gradients(dXW, xt, W)
    dXW2 = dXW.reshape(T * N, 3 * H)
    h_prev = hs[:-1].reshape(T * N, H)
    if reset_after:
        dREC2 = dREC.reshape(T * N, 3 * H)
        dU = matmul(h_prev.T, dREC2)
    else:
        rh = saved[:, :, 3 * H :].reshape(T * N, H)
        dU = np.concatenate(
            [matmul(h_prev.T, dXW2[:, : 2 * H]), matmul(rh.T, dXW2[:, 2 * H :])], axis=1
        )
    db = None
    if has_bias:
        db = np.stack([dXW2.sum(axis=0), dREC2.sum(axis=0)]) if reset_after else dXW2.sum(0)
    return dx, dW, dU, db, dh

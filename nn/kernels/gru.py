"""Numba twin of ``nn/functional/gru.py``: see ``nn.functional.gru.gru_forward`` for the
formulas (G1-G4, both forms), shapes, gate order and bias layout; only the evaluation order
differs (the input projection of all steps is one product, the time loop is compiled,
denormals are flushed in the backward loop; see nn/kernels/sequence.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nn.functional.gru import _split_bias
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

__all__ = ["gru_forward", "gru_backward"]


@njit(cache=True)
def _forward_loop(a_in, U, b_rec, reset_after, m, hs, saved):
    """hs: (T + 1, N, H) states; saved: (T, N, 4H) z, r, h~ and rec_h of every step, where
    rec_h is h_{t-1} U_h + b'_h (reset_after) or r h_{t-1} (Cho et al.)."""
    T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    U_zr = np.ascontiguousarray(U[:, : 2 * H])
    U_h = np.ascontiguousarray(U[:, 2 * H :])
    rh = np.empty((N, H), hs.dtype)
    for t in range(T):
        if reset_after:
            rec = np.dot(hs[t], U) + b_rec
        else:
            rec = np.dot(hs[t], U_zr)
        for n in range(N):
            for k in range(H):
                z = sigmoid(a_in[t, n, k] + rec[n, k])  # eq. G1
                r = sigmoid(a_in[t, n, H + k] + rec[n, H + k])  # eq. G2
                saved[t, n, k], saved[t, n, H + k] = z, r
                rh[n, k] = r * hs[t, n, k]
        if not reset_after:
            rh_U = np.dot(rh, U_h)
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                z, r = saved[t, n, k], saved[t, n, H + k]
                if reset_after:
                    rec_h = rec[n, 2 * H + k]
                    hh = tanh(a_in[t, n, 2 * H + k] + r * rec_h)  # eq. G3a
                else:
                    rec_h = rh[n, k]
                    hh = tanh(a_in[t, n, 2 * H + k] + rh_U[n, k])  # eq. G3b
                saved[t, n, 2 * H + k], saved[t, n, 3 * H + k] = hh, rec_h
                h = z * hs[t, n, k] + (1.0 - z) * hh  # eq. G4
                hs[t + 1, n, k] = keep * h + (1.0 - keep) * hs[t, n, k]  # eq. R-mask


@njit(cache=True)
def _backward_loop(dhs, dh, U, reset_after, m, hs, saved, dXW, dREC, tiny):
    """dXW[t] = dL/d(x_t W + b_in); dREC[t] = dL/d(h U + b_rec) for reset_after, else
    [da_z | da_r | da_h] with da_h the gradient at the candidate's pre-activation."""
    T, N, H = saved.shape[0], saved.shape[1], saved.shape[2] // 4
    U_T = np.ascontiguousarray(U.T)
    U_zrT = np.ascontiguousarray(U[:, : 2 * H].T)
    U_hT = np.ascontiguousarray(U[:, 2 * H :].T)
    d_direct = np.empty((N, H), hs.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = m[t, n]
            for k in range(H):
                d_h = keep * (dh[n, k] + keep * dhs[t, n, k])
                z, hh = saved[t, n, k], saved[t, n, 2 * H + k]
                dXW[t, n, k] = d_h * (hs[t, n, k] - hh) * z * (1.0 - z)  # eq. G-b1
                dXW[t, n, 2 * H + k] = d_h * (1.0 - z) * (1.0 - hh * hh)
                d_direct[n, k] = d_h * z + (1.0 - keep) * (dh[n, k] + dhs[t, n, k] * keep)
        if reset_after:
            for n in range(N):
                for k in range(H):
                    r, rec_h = saved[t, n, H + k], saved[t, n, 3 * H + k]
                    da_h = dXW[t, n, 2 * H + k]
                    dXW[t, n, H + k] = da_h * rec_h * r * (1.0 - r)  # eq. G-b2
                    dREC[t, n, k], dREC[t, n, H + k] = dXW[t, n, k], dXW[t, n, H + k]
                    dREC[t, n, 2 * H + k] = da_h * r
            flush_denormals(dXW[t], tiny)
            flush_denormals(dREC[t], tiny)
            dh[:, :] = d_direct + np.dot(dREC[t], U_T)  # eq. G-b3
        else:
            d_rh = np.dot(np.ascontiguousarray(dXW[t, :, 2 * H :]), U_hT)
            for n in range(N):
                for k in range(H):
                    r = saved[t, n, H + k]
                    dXW[t, n, H + k] = d_rh[n, k] * hs[t, n, k] * r * (1.0 - r)  # eq. G-b2
                    d_direct[n, k] += d_rh[n, k] * r
            flush_denormals(dXW[t], tiny)
            dh[:, :] = d_direct + np.dot(np.ascontiguousarray(dXW[t, :, : 2 * H]), U_zrT)
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

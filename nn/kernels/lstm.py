"""Numba twin of ``nn/functional/lstm.py``: see ``nn.functional.lstm.lstm_forward`` for the
formulas (L1-L5), shapes and gate order; only the evaluation order differs.

Two forms of the time loops, one result:

- **Blocked** (when H is a whole number of vector pairs, ``step_product.fits``: H % 32 == 0
  in float32 with AVX-512). The batch is split into one part per thread, and each thread runs
  all T steps of its rows, with no BLAS and no waiting for the other threads. The step
  products are register tiles (``nn.engine.step_product``): in the forward pass one tile
  sums x_t W + h_{t-1} U + b, so the input projection of all steps is never stored; in the
  backward pass dh_{t-1} = da U^T.
- **BLAS** (any other H): the input projection x W + b of every step is one matrix product
  before the loop, and each step adds h_{t-1} U with one BLAS call.

In both, the backward loop computes the gate gradients of each step, the weight gradients of
all steps are single matrix products after it, and it flushes denormals
(nn/engine/time_major.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nn.engine import rows, simd, step_product
from nn.engine.sequence_gradients import input_gradient, weight_gradients
from nn.engine.step_product import ROWS, panels, set_rows, tile
from nn.engine.threads import numba_threads, threads_for
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
def _new_state(gate, keep, c_prev, c_new, tanh_c, h_prev, h_new):
    """C_t, tanh(C_t) and h_t of one row from its activated gates (i, f, g, o)."""
    H = c_new.size
    i, f, g, o = gate[:H], gate[H : 2 * H], gate[2 * H : 3 * H], gate[3 * H :]
    _cell_row(i, f, g, c_prev, keep, c_new)  # eq. L4
    rows.tanh_of(c_new, tanh_c)
    _hidden_row(o, tanh_c, h_prev, keep, h_new)  # eq. L5


@njit(cache=True, error_model="numpy")
def _forward_loop(a_in, U, m, hs, cs, gates, tanh_c):
    """hs, cs: (T + 1, N, H) states after each step (index 0: h0, c0); gates: (T, N, 4H)
    the activated i, f, g, o; tanh_c: (T, N, H) tanh of the cell state.

    At a padded step tanh_c holds tanh of the carried state; nothing reads it there (every
    use is multiplied by keep = 0). The row loops live in small functions so that each
    vectorises (nn/engine/rows.py).
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
            _new_state(gate, m[t, n], cs[t, n], cs[t + 1, n], tanh_c[t, n], hs[t, n], hs[t + 1, n])


@njit(cache=True, parallel=True, error_model="numpy")
def _forward_blocked(xt, W_panels, U_panels, b, m, hs, cs, gates, tanh_c, out, P, L):
    """The forward loop with register-tiled step products, on P threads.

    Thread p owns the batch rows [p N / P, (p + 1) N / P) for all T steps. At each step its
    tiles write the pre-activations x_t W + h_{t-1} U + b of its rows into ``pre``; the row
    loops then apply the gates, update the states and write the layer's output row, out[n, t]
    = keep h_t (out (N, T, H)), while h_t is still in L1. Arrays as ``_forward_loop``; xt is
    (T, N, D), b (4H,) (zeros for no bias), W and U packed (``step_product.panels``).
    """
    T, N, D = xt.shape
    H = tanh_c.shape[2]
    G = 4 * H
    x, h = xt.reshape(-1), hs.reshape(-1)
    for p in prange(P):
        lo, hi = p * N // P, (p + 1) * N // P
        pre = np.empty((hi - lo) * G, hs.dtype)  # this part's pre-activations of one step
        offsets = np.empty((4, ROWS), np.int64)
        for t in range(T):
            # columns outside, rows inside: the panels of W and U stay in L1 while every
            # row block uses them
            for j in range(0, G, 2 * L):
                w, u = W_panels[j // (2 * L)].reshape(-1), U_panels[j // (2 * L)].reshape(-1)
                for n in range(lo, hi, ROWS):
                    set_rows(offsets, 0, n - lo, hi - 1 - lo, j, G)  # into pre
                    set_rows(offsets, 1, 0, 0, j, 0)  # every row starts from the bias
                    set_rows(offsets, 2, n, hi - 1, t * N * D, D)  # x_t
                    set_rows(offsets, 3, n, hi - 1, t * N * H, H)  # h_{t-1} = hs[t]
                    tile(pre, b, x, w, h, u, offsets, L)  # the sums inside eqs. L1-L3
            for n in range(lo, hi):
                a, gate = pre[(n - lo) * G : (n - lo + 1) * G], gates[t, n]
                rows.sigmoid_of(a[: 2 * H], gate[: 2 * H])  # eqs. L1, L2
                rows.tanh_of(a[2 * H : 3 * H], gate[2 * H : 3 * H])
                rows.sigmoid_of(a[3 * H :], gate[3 * H :])  # eq. L3
                _new_state(
                    gate, m[t, n], cs[t, n], cs[t + 1, n], tanh_c[t, n], hs[t, n], hs[t + 1, n]
                )
                rows.scaled(m[t, n], hs[t + 1, n], out[n, t])


@njit(cache=True, error_model="numpy")
def _cell_gradient_row(dc, d_h, o, tanh_c, keep, dC):
    """dC = dL/dC_t through both paths, L4 of the next step and L5 (eq. L-b1); one row."""
    for k in range(dC.size):
        dC[k] = keep * (dc[k] + d_h[k] * o[k] * (1.0 - tanh_c[k] * tanh_c[k]))


@njit(cache=True, error_model="numpy")
def _gate_gradients_row(dC, d_h, keep, c_prev, i, f, g, o, tanh_c, da_i, da_f, da_g, da_o):
    """da = dL/d(pre-activations) of the four gates (eq. L-b2); one row, one loop per gate
    (a loop with four outputs would not vectorise, nn/engine/rows.py)."""
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
def _step_gradients(dh, dhs_t, dc, keep, c_prev, gate, tanh_c, d_h, dC, da):
    """One row of one step backwards: d_h = dh + keep dhs_t (the gradient carried from step
    t + 1 plus this step's output's), dC (eq. L-b1), the gate gradients da (eq. L-b2), and
    dc carried to step t - 1 in place. Around a padded step (keep = 0) dc passes unchanged
    and da is 0."""
    H = d_h.size
    rows.add_scaled(dh, keep, dhs_t, d_h)
    i, f, g, o = gate[:H], gate[H : 2 * H], gate[2 * H : 3 * H], gate[3 * H :]
    _cell_gradient_row(dc, d_h, o, tanh_c, keep, dC)  # eq. L-b1
    _gate_gradients_row(
        dC, d_h, keep, c_prev, i, f, g, o, tanh_c,
        da[:H], da[H : 2 * H], da[2 * H : 3 * H], da[3 * H :],
    )  # eq. L-b2  # fmt: skip
    _carry_cell_gradient_row(dC, f, keep, dc)


@njit(cache=True, error_model="numpy")
def _backward_loop(dhs, dh, dc, UT, m, cs, gates, tanh_c, dA, tiny):
    """dA[t] = dL/d(pre-activations of step t); dh, dc carried backwards in place.

    Around a padded step (keep = 0) dh and dc pass unchanged and dA[t] is 0.
    """
    T, N, H = tanh_c.shape
    d_h, dC = np.empty((N, H), dh.dtype), np.empty((N, H), dh.dtype)
    rec = np.empty((N, H), dh.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            _step_gradients(
                dh[n], dhs[t, n], dc[n], m[t, n], cs[t, n], gates[t, n], tanh_c[t, n],
                d_h[n], dC[n], dA[t, n],
            )  # fmt: skip
        flush_denormals(dA[t], tiny)
        np.dot(dA[t], UT, rec)
        for n in range(N):
            rows.add_scaled(rec[n], 1.0 - m[t, n], d_h[n], dh[n])  # eq. L-b3
        flush_denormals(dh, tiny)
        flush_denormals(dc, tiny)


@njit(cache=True, parallel=True, error_model="numpy")
def _backward_blocked(dhs, dh, dc, UT_panels, m, cs, gates, tanh_c, dA, tiny, P, L):
    """``_backward_loop`` with register-tiled step products, on P threads, each owning the
    same rows of the batch as in ``_forward_blocked``. dhs is read where the layer passed it,
    batch major (N, T, H), instead of being copied to time major first.

    The tile writes dh_{t-1} = da U^T + (1 - keep) d_h (eq. L-b3): it starts each row from
    ``passed`` = (1 - keep) d_h, the gradient that a padded step hands on unchanged.
    """
    T, N, H = tanh_c.shape
    G = 4 * H
    da_all, dh_all = dA.reshape(-1), dh.reshape(-1)
    for p in prange(P):
        lo, hi = p * N // P, (p + 1) * N // P
        d_h, dC = np.empty((hi - lo, H), dh.dtype), np.empty((hi - lo, H), dh.dtype)
        passed = np.empty((hi - lo, H), dh.dtype)
        offsets = np.empty((4, ROWS), np.int64)
        for t in range(T - 1, -1, -1):
            for n in range(lo, hi):
                k = n - lo
                _step_gradients(
                    dh[n], dhs[n, t], dc[n], m[t, n], cs[t, n], gates[t, n], tanh_c[t, n],
                    d_h[k], dC[k], dA[t, n],
                )  # fmt: skip
                rows.scaled(1.0 - m[t, n], d_h[k], passed[k])
            flush_denormals(dA[t, lo:hi], tiny)
            for j in range(0, H, 2 * L):
                ut = UT_panels[j // (2 * L)].reshape(-1)
                for n in range(lo, hi, ROWS):
                    set_rows(offsets, 0, n, hi - 1, j, H)  # into dh
                    set_rows(offsets, 1, n - lo, hi - 1 - lo, j, H)  # from passed
                    set_rows(offsets, 2, n, hi - 1, t * N * G, G)  # da = dA[t]
                    set_rows(offsets, 3, 0, 0, 0, 0)  # no second sum
                    tile(dh_all, passed.reshape(-1), da_all, ut, da_all[:0], ut[:0], offsets, L)
            flush_denormals(dh[lo:hi], tiny)
            flush_denormals(dc[lo:hi], tiny)


def _require(shapes):
    """Refuse arrays whose shapes do not fit, before any loop runs: the blocked loops index
    without bounds checks. ``shapes`` maps a name to (actual shape, expected shape)."""
    wrong = [
        f"{name} {got} (expected {want})" for name, (got, want) in shapes.items() if got != want
    ]
    if wrong:
        raise ValueError("nn.kernels.lstm: " + ", ".join(wrong))


def _blocked(H, N, dtype):
    """Whether the blocked loops take this layer, and on how many threads (0: they do not)."""
    return threads_for(N) if step_product.fits(H, dtype) else 0


def lstm_forward(x, W, U, b, h0, c0, mask=None):
    """Same contract as ``nn.functional.lstm.lstm_forward``."""
    N, T, D = x.shape
    H = U.shape[0]
    _require(
        {
            "W": (np.shape(W), (D, 4 * H)),
            "U": (np.shape(U), (H, 4 * H)),
            "b": (np.shape(b) if b is not None else (4 * H,), (4 * H,)),
            "h0": (np.shape(h0), (N, H)),
            "c0": (np.shape(c0), (N, H)),
        }
    )
    dtype = np.result_type(x, W, U, h0, c0)
    m = time_major_mask(mask, N, T, dtype)
    hs, cs = np.empty((T + 1, N, H), dtype), np.empty((T + 1, N, H), dtype)
    hs[0], cs[0] = h0, c0
    gates, tanh_c = np.empty((T, N, 4 * H), dtype), np.empty((T, N, H), dtype)
    U_c = np.ascontiguousarray(U, dtype)
    threads = _blocked(H, N, dtype)
    if threads:
        xt = time_major(x, dtype)
        L = simd.lanes(dtype)
        W_p, U_p = panels(W.astype(dtype, copy=False), L), panels(U_c, L)
        b_c = np.zeros(4 * H, dtype) if b is None else np.ascontiguousarray(b, dtype)
        out = np.empty((N, T, H), dtype)
        with numba_threads(threads):
            _forward_blocked(xt, W_p, U_p, b_c, m, hs, cs, gates, tanh_c, out, threads, L)
    else:
        xt, a_in = project_inputs(x, W, b, dtype)
        _forward_loop(a_in, U_c, m, hs, cs, gates, tanh_c)
        out = masked_outputs(hs, m)
    cache = (xt, W, U, b is not None, m, hs, cs, gates, tanh_c)
    return (out, hs[-1].copy(), cs[-1].copy()), cache


def lstm_backward(dhs, dh_last, dc_last, cache, *, need_input_grad=True):
    """Same contract as ``nn.functional.lstm.lstm_backward``."""
    xt, W, U, has_bias, m, hs, cs, gates, tanh_c = cache
    T, N, D = xt.shape
    H = U.shape[0]
    _require(
        {
            "dhs": (np.shape(dhs), (N, T, H)),
            "dh_last": (np.shape(dh_last), (N, H)),
            "dc_last": (np.shape(dc_last), (N, H)),
        }
    )
    dtype = hs.dtype
    dA = np.empty((T, N, 4 * H), dtype)
    dh = np.array(dh_last, dtype=dtype, copy=True)
    dc = np.array(dc_last, dtype=dtype, copy=True)
    UT = np.ascontiguousarray(U.T, dtype)
    below = tiny(dtype)
    threads = _blocked(H, N, dtype)
    if not threads:
        _backward_loop(time_major(dhs, dtype), dh, dc, UT, m, cs, gates, tanh_c, dA, below)
        dx, dW = input_gradients(dA, xt, W, need_input_grad)
        dA2 = dA.reshape(T * N, 4 * H)
        dU = matmul(hs[:-1].reshape(T * N, H).T, dA2)
        db = dA2.sum(axis=0) if has_bias else None
        return dx, dW, dU, db, dh, dc
    L = simd.lanes(dtype)
    with numba_threads(threads):
        dhs_c = np.ascontiguousarray(dhs, dtype)
        _backward_blocked(dhs_c, dh, dc, panels(UT, L), m, cs, gates, tanh_c, dA, below, threads, L)
        dA2 = dA.reshape(T * N, 4 * H)
        dW, dU, db = weight_gradients(xt.reshape(T * N, D), hs[:-1].reshape(T * N, H), dA2, threads)
        dx = (
            input_gradient(dA2, np.ascontiguousarray(W, dtype), threads)
            if need_input_grad
            else None
        )
    if dx is not None:
        dx = np.ascontiguousarray(dx.reshape(T, N, D).transpose(1, 0, 2))
        flush_denormals(dx, below)  # see nn.engine.time_major.input_gradients
    return dx, dW, dU, (db if has_bias else None), dh, dc

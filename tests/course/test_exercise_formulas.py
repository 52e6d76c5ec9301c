"""Formula tests written for the exercises (ser/course/exercises.py).

Each one grades a single exercise by the plain formula, evaluated independently of the
library (loops, Python floats), where the existing tests mix two exercises (the pooling
formulas test checks max and average pooling at once) or check a forward pass only through
a gradient check of forward and backward together. So a forward exercise is graded by its
own region alone, and its row of the grade sheet turns green as soon as it is right.
"""

import math

import numpy as np
import pytest

from features import lifter_weights, log_compress
from nn.functional.conv import pad_amounts
from nn.functional.gru import gru_step_forward
from nn.functional.losses import (
    log_softmax,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from nn.functional.lstm import lstm_step_forward
from nn.functional.optim import adam_update
from nn.functional.pool import avgpool2d_forward, maxpool2d_forward
from nn.functional.rnn import rnn_step_forward
from nn.gradcheck import numerical_grad, rel_error


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# ---- chapter 1 ----


@pytest.mark.ch01_mfcc
@pytest.mark.ex_M6
def test_log_compress_m6_in_db_with_top_db_by_hand():
    E = np.array([[1.0, 1e-3, 1e-12, 0.0]])
    want = [[10 * math.log10(e) if e >= 1e-10 else -100.0 for e in E[0]]]
    np.testing.assert_allclose(log_compress(E, kind="db"), want, atol=1e-12)
    clipped = [[max(v, 0.0 - 80.0) for v in want[0]]]  # the peak is 0 dB
    np.testing.assert_allclose(log_compress(E, kind="db", top_db=80.0), clipped, atol=1e-12)
    np.testing.assert_allclose(log_compress(E, floor=1e-3), np.log([[1.0, 1e-3, 1e-3, 1e-3]]))


@pytest.mark.ch01_mfcc
@pytest.mark.ex_M8
def test_lifter_weights_m8_with_librosas_offset_by_hand():
    L, C = 22.0, 6
    for first in (0, 1):
        w = lifter_weights(C, lifter=L, first_index=first)
        want = [1.0 + (L / 2.0) * math.sin(math.pi * (i + first) / L) for i in range(C)]
        assert w.shape == (C,)
        np.testing.assert_allclose(w, want, rtol=1e-14)


# ---- chapter 2 ----

POOL_CASES = [  # shape, pool, strides, padding
    ((2, 4, 5, 2), (2, 2), None, "valid"),
    ((1, 5, 7, 3), (2, 3), (1, 2), "valid"),
    ((2, 5, 5, 1), (2, 2), None, "same"),
    ((1, 6, 4, 2), (3, 3), (2, 1), "same"),
]


def _windows(x, pool, strides, padding):
    """Yield (n, i, j, c, [(p, q, value or None for padding), ...]) for every window."""
    N, H, W, C = x.shape
    PH, PW = pool
    SH, SW = strides or pool
    (top, bottom), (left, right) = pad_amounts((H, W), pool, (SH, SW), padding)
    H_out = (H + top + bottom - PH) // SH + 1
    W_out = (W + left + right - PW) // SW + 1
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                for c in range(C):
                    cells = []
                    for p in range(PH):
                        for q in range(PW):
                            r, s = i * SH + p - top, j * SW + q - left
                            inside = 0 <= r < H and 0 <= s < W
                            cells.append((p, q, x[n, r, s, c] if inside else None))
                    yield n, i, j, c, cells


@pytest.mark.ch02_cnn
@pytest.mark.ex_C2
@pytest.mark.parametrize("shape, pool, strides, padding", POOL_CASES)
def test_maxpool_forward_is_the_formula_c2_as_loops(rng, shape, pool, strides, padding):
    x = np.round(rng.standard_normal(shape), 1)  # rounded: ties inside some windows
    out, cache = maxpool2d_forward(x, pool_size=pool, strides=strides, padding=padding)
    arg = cache[1]
    assert out.shape == arg.shape
    for n, i, j, c, cells in _windows(x, pool, strides, padding):
        real = [(p, q, v) for p, q, v in cells if v is not None]
        best = max(v for _, _, v in real)
        p, q, _ = next(cell for cell in real if cell[2] == best)  # the first maximum
        assert out[n, i, j, c] == best  # eq. C2
        assert arg[n, i, j, c] == p * pool[1] + q, "arg: p * PW + q of the first maximum"


@pytest.mark.ch02_cnn
@pytest.mark.ex_C3
@pytest.mark.parametrize("shape, pool, strides, padding", POOL_CASES)
def test_avgpool_forward_is_the_formula_c3_as_loops(rng, shape, pool, strides, padding):
    x = rng.standard_normal(shape)
    out, _ = avgpool2d_forward(x, pool_size=pool, strides=strides, padding=padding)
    for n, i, j, c, cells in _windows(x, pool, strides, padding):
        real = [v for _, _, v in cells if v is not None]  # K_ij: the real inputs only
        assert out[n, i, j, c] == pytest.approx(sum(real) / len(real), rel=1e-12, abs=1e-14)


# ---- chapter 3 ----


@pytest.mark.ch03_gradcheck
@pytest.mark.ex_GC
def test_numerical_grad_g1_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    before = x.copy()
    g = numerical_grad(lambda v: np.sin(v) * v, x, dout)
    np.testing.assert_allclose(g, (np.cos(x) * x + np.sin(x)) * dout, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)  # perturbed in place, then restored exactly
    W = rng.standard_normal((2, 3))
    v = rng.standard_normal((3, 5))
    d = rng.standard_normal((2, 5))
    np.testing.assert_allclose(numerical_grad(lambda u: W @ u, v, d), W.T @ d, atol=1e-8)


@pytest.mark.ch03_gradcheck
@pytest.mark.ex_GC
def test_rel_error_by_hand():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1)  # the 1e-8 floor
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert isinstance(rel_error(np.ones(2), np.ones(2)), float)


# ---- chapter 4 ----


@pytest.mark.ch04_training
@pytest.mark.ex_CE
def test_softmax_cross_entropy_ce_by_hand(rng):
    z = rng.standard_normal((4, 3)) * 3
    y = np.array([[1.0, 0, 0], [0, 0, 1.0], [0.2, 0.8, 0], [0, 1.0, 0]])  # soft labels too
    N, K = z.shape
    logp = np.array(
        [[z[n, k] - math.log(sum(math.exp(v) for v in z[n])) for k in range(K)] for n in range(N)]
    )
    np.testing.assert_allclose(log_softmax(z), logp, atol=1e-12)
    np.testing.assert_allclose(log_softmax(np.array([[1000.0, 0.0]])), [[0.0, -1000.0]])
    loss, cache = softmax_cross_entropy_forward(z, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(-sum(y[n, k] * logp[n, k] for n in range(N) for k in range(K)) / N)
    dz = softmax_cross_entropy_backward(0.5, cache)
    np.testing.assert_allclose(dz, 0.5 * (np.exp(logp) - y) / N, atol=1e-12)  # eq. CE-b


@pytest.mark.ch04_training
@pytest.mark.ex_ADAM
def test_adam_update_o2_three_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w = np.array([0.5, -1.0, 2.0])
    w0 = w.copy()
    grads = [np.array([0.1, -0.3, 0.2]), np.array([-0.2, 0.1, 0.4]), np.array([0.3, 0.3, -0.1])]
    state = {}
    m = [0.0] * 3
    v = [0.0] * 3
    want = list(w0)
    for t, g in enumerate(grads, start=1):
        adam_update(w, g, state, learning_rate=lr)
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for k in range(3):
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            want[k] -= alpha * m[k] / (math.sqrt(v[k]) + eps)
        np.testing.assert_allclose(w, want, rtol=1e-12)  # w is updated in place
    assert state["t"] == 3
    np.testing.assert_allclose(state["m"], m, rtol=1e-12)
    np.testing.assert_allclose(state["v"], v, rtol=1e-12)


# ---- chapters 5 and 6 ----


def _matvec(row, M, col):
    return sum(row[d] * M[d, col] for d in range(len(row)))


@pytest.mark.ch05_rnn
@pytest.mark.ex_RNN
@pytest.mark.parametrize("bias", [True, False])
def test_elman_step_r0_by_hand(rng, bias):
    N, D, H = 2, 3, 4
    x, h0 = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    W, U, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    h, _ = rnn_step_forward(x, h0, W, U, b if bias else None)
    for n in range(N):
        for k in range(H):
            a = _matvec(x[n], W, k) + _matvec(h0[n], U, k) + (b[k] if bias else 0.0)
            assert h[n, k] == pytest.approx(math.tanh(a), rel=1e-12, abs=1e-14)  # eq. R0


@pytest.mark.ch05_rnn
@pytest.mark.ex_LSTM
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_step_l1_l5_by_hand(rng, bias):
    N, D, H = 2, 3, 2
    x, h0, c0 = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    W, U, b = (0.5 * rng.standard_normal(s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    (h, c), cache = lstm_step_forward(x, h0, c0, W, U, b if bias else None)
    gates = cache[3:8]  # i, f, g, o, tanh(c): what the backward pass reads
    for n in range(N):
        for k in range(H):

            def a(gate, n=n, k=k):  # gate order i, f, g, o
                col = gate * H + k
                return _matvec(x[n], W, col) + _matvec(h0[n], U, col) + (b[col] if bias else 0)

            i, f, g, o = _sigmoid(a(0)), _sigmoid(a(1)), math.tanh(a(2)), _sigmoid(a(3))
            c_want = f * c0[n, k] + i * g  # eq. L4
            h_want = o * math.tanh(c_want)  # eq. L5
            assert c[n, k] == pytest.approx(c_want, rel=1e-12, abs=1e-14)
            assert h[n, k] == pytest.approx(h_want, rel=1e-12, abs=1e-14)
            for got, want in zip(gates, (i, f, g, o, math.tanh(c_want)), strict=True):
                assert got[n, k] == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.ch05_rnn
@pytest.mark.ex_GRU
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_step_g1_g4_by_hand(rng, reset_after, bias):
    N, D, H = 2, 3, 2
    x, h0 = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    W, U = 0.5 * rng.standard_normal((D, 3 * H)), 0.5 * rng.standard_normal((H, 3 * H))
    b = rng.standard_normal((2, 3 * H) if reset_after else (3 * H,)) if bias else None
    b_in = np.zeros(3 * H) if b is None else (b[0] if reset_after else b)
    b_rec = np.zeros(3 * H) if b is None or not reset_after else b[1]
    h, cache = gru_step_forward(x, h0, W, U, b, reset_after)
    z_c, r_c, hh_c, rec_c = cache[2:6]
    for n in range(N):
        for k in range(H):

            def xw(col, n=n):
                return _matvec(x[n], W, col) + b_in[col]

            def hu(col, n=n):
                return _matvec(h0[n], U, col) + b_rec[col]

            z = _sigmoid(xw(k) + hu(k))  # eq. G1
            r = _sigmoid(xw(H + k) + hu(H + k))  # eq. G2
            if reset_after:  # eq. G3a
                rec = hu(2 * H + k)
                hh = math.tanh(xw(2 * H + k) + r * rec)
            else:  # eq. G3b: the reset gates of every unit j multiply h_prev before U
                r_all = [_sigmoid(xw(H + j) + hu(H + j)) for j in range(H)]
                rec = r * h0[n, k]
                hh = math.tanh(
                    xw(2 * H + k) + sum(r_all[j] * h0[n, j] * U[j, 2 * H + k] for j in range(H))
                )
            h_want = z * h0[n, k] + (1 - z) * hh  # eq. G4
            assert h[n, k] == pytest.approx(h_want, rel=1e-12, abs=1e-14)
            for got, want in zip((z_c, r_c, hh_c, rec_c), (z, r, hh, rec), strict=True):
                assert got[n, k] == pytest.approx(want, rel=1e-12, abs=1e-14)

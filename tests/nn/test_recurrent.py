"""Float64 gradient checks of every recurrent cell (R0, R1-R4, L1-L5, G1-G4), step and
sequence, on the references and on the Numba twins, and the twins equal to the references."""

import importlib

import numpy as np
import pytest

from nn.engine import simd
from nn.functional.sequence import lengths_to_mask
from nn.gradcheck import numerical_grad, rel_error
from nn.kernels import lstm as lstm_kernels

pytestmark = [pytest.mark.ch05_rnn, pytest.mark.kernels]

STEP = 1e-7  # one step of a smooth cell
SEQUENCE = 1e-6  # a whole sequence, T <= 5


def _shapes(cell, D, H):
    """name -> shape of every weight, in the order the cell's functions take them."""
    return {
        "rnn": {"W": (D, H), "U": (H, H), "b": (H,)},
        "lstm": {"W": (D, 4 * H), "U": (H, 4 * H), "b": (4 * H,)},
        "gru": {"W": (D, 3 * H), "U": (H, 3 * H), "b": (2, 3 * H)},
        "gru_cho": {"W": (D, 3 * H), "U": (H, 3 * H), "b": (3 * H,)},
        "seed_rnn": {"W_i": (H + D, H), "W_f": (H, H), "W_o": (H, H), "W_h": (H + D, H)},
    }[cell]


CELLS = ["rnn", "lstm", "gru", "gru_cho", "seed_rnn"]
N_STATES = {"rnn": 1, "lstm": 2, "gru": 1, "gru_cho": 1, "seed_rnn": 1}


def _module(cell, impl):
    family = "gru" if cell.startswith("gru") else cell
    return importlib.import_module(f"nn.{impl}.{family}")


def _forward(cell, impl, x, weights, states, mask=None):
    """(outputs tuple, cache) of the whole-sequence forward."""
    mod = _module(cell, impl)
    family = "gru" if cell.startswith("gru") else cell
    extra = {"reset_after": cell == "gru"} if family == "gru" else {}
    return getattr(mod, f"{family}_forward")(x, *weights, *states, mask=mask, **extra)


def _backward(cell, impl, douts, cache):
    mod = _module(cell, impl)
    family = "gru" if cell.startswith("gru") else cell
    return getattr(mod, f"{family}_backward")(*douts, cache)


def _problem(cell, rng, N=3, T=4, D=2, H=3, bias=True):
    x = rng.standard_normal((N, T, D))
    weights = [0.5 * rng.standard_normal(s) for s in _shapes(cell, D, H).values()]
    if not bias and cell != "seed_rnn":
        weights[2] = None
    states = [0.5 * rng.standard_normal((N, H)) for _ in range(N_STATES[cell])]
    douts = [rng.standard_normal((N, T, H))] + [rng.standard_normal((N, H)) for _ in states]
    return x, weights, states, douts


def _check_sequence(cell, impl, rng, mask=None, bias=True, **sizes):
    x, weights, states, douts = _problem(cell, rng, bias=bias, **sizes)
    outs, cache = _forward(cell, impl, x, weights, states, mask)
    grads = _backward(cell, impl, douts, cache)
    flat_dout = np.concatenate([d.ravel() for d in douts])

    def run(*_):
        outs, _ = _forward(cell, impl, x, weights, states, mask)
        return np.concatenate([o.ravel() for o in outs])

    inputs = [x, *weights, *states]
    errors = {}
    for k, (value, grad) in enumerate(zip(inputs, grads, strict=True)):
        if value is None:
            assert grad is None, f"input {k} is None but its gradient is not"
            continue
        assert grad.shape == value.shape, f"gradient {k}: {grad.shape} vs {value.shape}"
        errors[k] = rel_error(grad, numerical_grad(run, value, flat_dout))
    return errors, grads


@pytest.mark.parametrize("impl", ["functional", "kernels"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes", [dict(N=1, T=1, D=1, H=1), dict(N=3, T=4, D=2, H=3)])
def test_sequence_gradients(cell, impl, sizes, rng):
    """Every input, weight and initial state of the whole-sequence BPTT (eq. *-bptt)."""
    errors, _ = _check_sequence(cell, impl, rng, **sizes)
    assert max(errors.values()) < SEQUENCE, errors


@pytest.mark.parametrize("impl", ["functional", "kernels"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_cho"])
def test_sequence_gradients_without_bias(cell, impl, rng):
    """use_bias=False: the document's LSTM exactly (L1-L5 have no biases)."""
    errors, grads = _check_sequence(cell, impl, rng, bias=False)
    assert max(errors.values()) < SEQUENCE, errors


@pytest.mark.parametrize("impl", ["functional", "kernels"])
@pytest.mark.parametrize("cell", CELLS)
def test_masked_sequence_gradients(cell, impl, rng):
    """Variable lengths: the check passes with the padding masked (eq. R-mask)."""
    mask = lengths_to_mask([4, 2, 1], 4)
    errors, grads = _check_sequence(cell, impl, rng, mask=mask)
    assert max(errors.values()) < SEQUENCE, errors
    dx = grads[0]
    assert np.all(dx[~mask] == 0), "padded steps must receive no gradient"


@pytest.mark.parametrize("impl", ["functional", "kernels"])
@pytest.mark.parametrize("cell", CELLS)
def test_padding_changes_nothing(cell, impl, rng):
    """A sequence padded with garbage and masked gives the unpadded sequence's numbers."""
    x, weights, states, _ = _problem(cell, rng, N=2, T=5)
    mask = lengths_to_mask([5, 3], 5)
    (hs, *last), _ = _forward(cell, impl, x, weights, states, mask)
    short = [s[1:] for s in states]
    (hs_short, *last_short), _ = _forward(cell, impl, x[1:, :3], weights, short)
    np.testing.assert_allclose(hs[1, :3], hs_short[0], rtol=1e-12, atol=1e-14)
    assert np.all(hs[1, 3:] == 0), "outputs at padded steps are 0"
    for a, b in zip(last, last_short, strict=True):
        np.testing.assert_allclose(a[1], b[0], rtol=1e-12, atol=1e-14)


def test_seed_rnn_input_and_output_gates_get_exactly_zero_gradient(rng):
    """R1 and R3 never reach h_t: W_i and W_o get exactly 0, analytically and numerically
    (docs/errata.md, E7)."""
    errors, grads = _check_sequence("seed_rnn", "functional", rng)
    _, dW_i, dW_f, dW_o, dW_h, _ = grads
    assert np.all(dW_i == 0) and np.all(dW_o == 0)
    assert np.abs(dW_f).max() > 1e-3 and np.abs(dW_h).max() > 1e-3
    assert max(errors.values()) < SEQUENCE, errors


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param("rnn", marks=pytest.mark.ex_RNNb),
        pytest.param("lstm", marks=pytest.mark.ex_LSTMb),
        pytest.param("gru", marks=pytest.mark.ex_GRUb),
        pytest.param("gru_cho", marks=pytest.mark.ex_GRUb),
        "seed_rnn",
    ],
)
def test_step_gradients(cell, rng):
    """One step (eq. R0, L1-L5, G1-G4, R1-R4) checked on its own, threshold 1e-7."""
    family = "gru" if cell.startswith("gru") else cell
    mod = _module(cell, "functional")
    step_f = getattr(mod, f"{family}_step_forward")
    step_b = getattr(mod, f"{family}_step_backward")
    N, D, H = 3, 2, 4
    x, weights, _, _ = _problem(cell, rng, N=N, D=D, H=H)
    x_t = x[:, 0].copy()
    extra = (cell == "gru",) if family == "gru" else ()
    n_carry = {"rnn": 1, "gru": 1, "lstm": 2, "seed_rnn": 2}[family]
    carried = [0.5 * rng.standard_normal((N, H)) for _ in range(n_carry)]
    if family == "seed_rnn":
        carried[1] = rng.uniform(0.1, 0.9, (N, H))  # f_{t-1} is a gate value
    douts = [rng.standard_normal((N, H)) for _ in range(n_carry)]

    def run(*_):
        out, _ = step_f(x_t, *carried, *weights, *extra)
        return np.concatenate([o.ravel() for o in (out if isinstance(out, tuple) else (out,))])

    out, cache = step_f(x_t, *carried, *weights, *extra)
    grads = step_b(*douts, cache)
    flat = np.concatenate([d.ravel() for d in douts])
    for value, grad in zip([x_t, *carried, *weights], grads, strict=True):
        assert rel_error(grad, numerical_grad(run, value, flat, h=1e-5)) < STEP


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("masked", [False, True])
def test_kernel_equals_reference(cell, masked, rng):
    """The Numba twin gives the reference's outputs and every gradient (float64, rtol 1e-10)."""
    x, weights, states, douts = _problem(cell, rng, N=4, T=6, D=3, H=5)
    mask = lengths_to_mask([6, 4, 1, 5], 6) if masked else None
    ref_out, ref_cache = _forward(cell, "functional", x, weights, states, mask)
    ker_out, ker_cache = _forward(cell, "kernels", x, weights, states, mask)
    ref_grads = _backward(cell, "functional", douts, ref_cache)
    ker_grads = _backward(cell, "kernels", douts, ker_cache)
    for a, b in zip([*ref_out, *ref_grads], [*ker_out, *ker_grads], strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_kernel_float32(cell, rng):
    """Training runs in float32: the twin keeps float32 and stays close to float64."""
    x, weights, states, douts = _problem(cell, rng, N=4, T=6, D=3, H=5)
    f32 = [None if w is None else w.astype(np.float32) for w in weights]
    out64, cache64 = _forward(cell, "kernels", x, weights, states)
    out32, cache32 = _forward(
        cell, "kernels", x.astype(np.float32), f32, [s.astype(np.float32) for s in states]
    )
    g64 = _backward(cell, "kernels", douts, cache64)
    g32 = _backward(cell, "kernels", [d.astype(np.float32) for d in douts], cache32)
    for a, b in zip([*out64, *g64], [*out32, *g32], strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# ---- the LSTM's blocked loops (nn.engine.step_product), taken when H fills vector pairs ----

BLOCKED_H = 2 * simd.lanes(np.float64)  # the smallest H the blocked float64 loops take


def test_the_blocked_loops_take_whole_vector_pairs_only():
    assert lstm_kernels._blocked(BLOCKED_H, 4, np.float64) >= 1
    assert lstm_kernels._blocked(2 * simd.lanes(np.float32), 4, np.float32) >= 1
    assert lstm_kernels._blocked(5, 4, np.float64) == 0  # BLAS loops


def test_blocked_lstm_sequence_gradients(rng):
    """Finite differences through the blocked loops, masked, every input (eq. L-bptt).

    The error is measured over each whole array, |a - b| / (|a| + |b|) in the 2-norm, not
    element by element: with the 16 units the blocked float64 loops need, some entries of
    dU are ~1e-7, where the finite difference's own rounding gives element-wise errors of
    4e-6 for the reference too."""
    mask = lengths_to_mask([3, 1], 3)
    x, weights, states, douts = _problem("lstm", rng, N=2, T=3, D=2, H=BLOCKED_H)
    outs, cache = _forward("lstm", "kernels", x, weights, states, mask)
    grads = _backward("lstm", "kernels", douts, cache)
    flat_dout = np.concatenate([d.ravel() for d in douts])

    def run(*_):
        outs, _ = _forward("lstm", "kernels", x, weights, states, mask)
        return np.concatenate([o.ravel() for o in outs])

    for k, (value, grad) in enumerate(zip([x, *weights, *states], grads, strict=True)):
        numeric = numerical_grad(run, value, flat_dout)
        error = np.linalg.norm(grad - numeric) / (np.linalg.norm(grad) + np.linalg.norm(numeric))
        assert error < 1e-8, f"input {k}: relative error {error:.1e}"
    assert np.all(grads[0][~mask] == 0), "padded steps must receive no gradient"


@pytest.mark.parametrize("N", [5, 11])  # part of a tile and one and a half tiles per thread
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_blocked_lstm_equals_reference(N, masked, bias, rng):
    """Outputs and every gradient of the blocked loops equal the reference (float64, rtol
    1e-10), with rows repeated to fill a tile and the batch split among threads."""
    x, weights, states, douts = _problem("lstm", rng, N=N, T=6, D=3, H=BLOCKED_H, bias=bias)
    mask = lengths_to_mask(rng.integers(1, 7, N), 6) if masked else None
    ref_out, ref_cache = _forward("lstm", "functional", x, weights, states, mask)
    ker_out, ker_cache = _forward("lstm", "kernels", x, weights, states, mask)
    ref_grads = _backward("lstm", "functional", douts, ref_cache)
    ker_grads = _backward("lstm", "kernels", douts, ker_cache)
    for a, b in zip([*ref_out, *ref_grads], [*ker_out, *ker_grads], strict=True):
        if a is None:
            assert b is None
            continue
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_blocked_lstm_float32_stays_close_to_float64(rng):
    H = 2 * simd.lanes(np.float32)
    x, weights, states, douts = _problem("lstm", rng, N=4, T=6, D=3, H=H)
    out64, cache64 = _forward("lstm", "kernels", x, weights, states)
    f32 = lambda arrays: [a.astype(np.float32) for a in arrays]  # noqa: E731
    out32, cache32 = _forward("lstm", "kernels", *[x.astype(np.float32)], f32(weights), f32(states))
    g64 = _backward("lstm", "kernels", douts, cache64)
    g32 = _backward("lstm", "kernels", f32(douts), cache32)
    for a, b in zip([*out64, *g64], [*out32, *g32], strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["functional", "kernels"])
@pytest.mark.parametrize("H", [3, BLOCKED_H])
def test_lstm_backward_without_the_input_gradient(impl, H, rng):
    """need_input_grad=False: dx is None and every other gradient is unchanged."""
    x, weights, states, douts = _problem("lstm", rng, N=3, T=4, D=2, H=H)
    _, cache = _forward("lstm", impl, x, weights, states)
    full = _backward("lstm", impl, douts, cache)
    _, cache = _forward("lstm", impl, x, weights, states)
    module = _module("lstm", impl)
    without = module.lstm_backward(*douts, cache, need_input_grad=False)
    assert without[0] is None
    for a, b in zip(full[1:], without[1:], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("H", [3, BLOCKED_H])
def test_lstm_twin_refuses_shapes_that_do_not_fit(H, rng):
    """The blocked loops index without bounds checks: a wrong shape must stop before them."""
    x, (W, U, b), states, douts = _problem("lstm", rng, N=3, T=4, D=2, H=H)
    with pytest.raises(ValueError, match=r"nn.kernels.lstm: W \(3, "):
        lstm_kernels.lstm_forward(x, np.vstack([W, W[:1]]), U, b, *states)
    with pytest.raises(ValueError, match=r"b \(\d+,\) \(expected"):
        lstm_kernels.lstm_forward(x, W, U, b[:-1], *states)
    _, cache = lstm_kernels.lstm_forward(x, W, U, b, *states)
    with pytest.raises(ValueError, match="dhs"):
        lstm_kernels.lstm_backward(douts[0][:, :-1], douts[1], douts[2], cache)


def test_the_blocked_loops_take_every_thread_up_to_one_per_row(monkeypatch):
    """On an idle machine (SER_THREADS=fixed: whatever else runs now); with others busy,
    at most the free cores (eq. TH-1), here pinned to one."""
    import numba

    from nn import backend
    from nn.engine.threads import threads_for

    monkeypatch.setenv("SER_THREADS", "1")
    assert threads_for(10**6) == 1
    monkeypatch.setenv("SER_THREADS", "fixed")
    assert threads_for(1) == 1
    assert threads_for(10**6) == numba.config.NUMBA_NUM_THREADS
    with backend.model_threads():  # one Numba thread for the other kernels of a model
        assert lstm_kernels._blocked(BLOCKED_H, 10**6, np.float64) == threads_for(10**6)

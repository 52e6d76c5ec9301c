"""The recurrent twins' helpers (denormal flushing, one BLAS), and every bad input of
the recurrent part: one clear error that names what was expected."""

import json

import numpy as np
import pytest

from nn.engine import time_major as kernel_sequence
from nn.engine.time_major import flush_denormals, matmul
from nn.functional import rnn as rnn_ref
from nn.functional import temporal
from nn.functional.gru import gru_forward
from nn.functional.sequence import time_mask
from nn.kernels import rnn as rnn_kernel
from nn.layers import GRU, LSTM, Bidirectional, Dense, GlobalAveragePooling1D, SeedRNN
from nn.models import Sequential, load_model
from nn.serialization import ModelFileError

pytestmark = [pytest.mark.ch05_rnn, pytest.mark.kernels]


def test_flush_denormals_zeroes_what_is_below_the_threshold_only():
    tiny = float(np.finfo(np.float32).tiny)
    a = np.array([tiny / 4, -tiny / 2, tiny, -tiny, 1.0, 0.0, -3e-30, np.nan], dtype=np.float32)
    flush_denormals(a, tiny)
    expected = np.array([0, 0, tiny, -tiny, 1, 0, -3e-30, np.nan], np.float32)
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_flush_threshold_keeps_products_with_small_factors_normal(dtype):
    """Above the threshold, a value times any factor down to eps is still a normal number
    (nn/engine/time_major.py), and the threshold is far below anything a tolerance sees."""
    info = np.finfo(dtype)
    threshold = dtype(kernel_sequence.tiny(dtype))
    assert threshold * info.eps >= info.tiny
    assert threshold * (info.eps / 2) < info.tiny  # and not higher than that needs
    assert threshold < 1e-30


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_equals_numpy_for_views_and_transposes(dtype, rng):
    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((9, 7)).astype(dtype)
    got = matmul(a.T, b.T)  # two transposed views, as the backward passes use them
    assert got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_allclose(got, a.T @ b.T, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_the_twin_flushes_the_denormals_the_reference_makes(rng):
    """Loss on the last of 120 steps, a contracting recurrent kernel, float32: the reference's
    input gradient of early steps is subnormal; the twin's is exactly 0 there and equal to the
    reference elsewhere."""
    N, T, D, H = 2, 120, 3, 4
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    W = (0.5 * rng.standard_normal((D, H))).astype(np.float32)
    U = (0.2 * np.linalg.qr(rng.standard_normal((H, H)))[0]).astype(np.float32)
    h0 = np.zeros((N, H), np.float32)
    dhs, dh_last = np.zeros((N, T, H), np.float32), np.ones((N, H), np.float32)
    tiny = np.finfo(np.float32).tiny
    dx_ref = rnn_ref.rnn_backward(dhs, dh_last, rnn_ref.rnn_forward(x, W, U, None, h0)[1])[0]
    dx_ker = rnn_kernel.rnn_backward(dhs, dh_last, rnn_kernel.rnn_forward(x, W, U, None, h0)[1])[0]
    subnormal = lambda a: (a != 0) & (np.abs(a) < tiny)  # noqa: E731
    assert subnormal(dx_ref).any(), "the test needs the reference to underflow"
    assert not subnormal(dx_ker).any()
    np.testing.assert_allclose(dx_ker, dx_ref, rtol=1e-4, atol=kernel_sequence.tiny(np.float32))


# ---- bad inputs: one clear error each ----------------------------------------------------------
def test_masks_of_the_wrong_shape_or_values_are_refused():
    with pytest.raises(ValueError, match=r"mask must have shape \(N, T\) = \(2, 5\), got \(2, 4\)"):
        time_mask(np.ones((2, 4)), 2, 5, np.float64)
    with pytest.raises(ValueError, match="only 0 \\(padding\\) and 1"):
        time_mask(np.full((2, 5), 0.5), 2, 5, np.float64)
    layer = LSTM(3, name="enc").build((5, 2), np.random.default_rng(0), "float64")
    expected = r"layer 'enc': the mask must be shaped \(N, T\) = \(2, 5\)"
    with pytest.raises(ValueError, match=expected):
        layer.forward(np.zeros((2, 5, 2)), mask=np.ones((2, 4)))


def test_a_sequence_with_no_real_step_is_refused_by_pooling():
    x, mask = np.ones((2, 3, 4)), np.array([[1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="no real step"):
        temporal.global_average_pool1d_forward(x, mask)
    with pytest.raises(ValueError, match="no real step"):
        temporal.attention_pool_forward(x, np.ones((4, 2)), np.ones(2), mask)


def test_initial_states_must_match_the_layer():
    layer = LSTM(3, name="enc").build((5, 2), np.random.default_rng(0), "float64")
    x = np.zeros((2, 5, 2))
    with pytest.raises(ValueError, match=r"'enc' needs 2 initial state\(s\) \(h, c\), got 1"):
        layer.forward(x, initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"'enc'.*\(N, H\) = \(2, 3\), got \(2, 4\)"):
        layer.forward(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 3))])


def test_states_travel_as_arguments_and_results_not_as_attributes(rng):
    """As Keras: ``initial_state=`` in, final states out, their gradients into backward;
    nothing about one call's states is left on the layer for the next call to pick up."""
    layer = LSTM(3, return_state=True).build((5, 2), np.random.default_rng(0), "float64")
    x = rng.standard_normal((2, 5, 2))
    h0, c0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    out, h, c = layer.forward(x, initial_state=[h0, c0])
    np.testing.assert_array_equal(out, h)
    before = set(vars(layer))
    default, _, _ = layer.forward(x)  # zeros again, not the states of the call before
    zeros, _, _ = layer.forward(x, initial_state=[np.zeros((2, 3)), np.zeros((2, 3))])
    np.testing.assert_array_equal(default, zeros)
    assert not np.allclose(default, out)
    assert set(vars(layer)) == before
    assert not any("initial_state" in k or "final" in k for k in vars(layer) if k.startswith("_"))


def test_a_gru_bias_of_the_other_form_is_refused():
    x, W, U, h0 = np.zeros((1, 2, 3)), np.zeros((3, 6)), np.zeros((2, 6)), np.zeros((1, 2))
    with pytest.raises(ValueError, match=r"reset_after=True the GRU bias is \(2, 3H\)"):
        gru_forward(x, W, U, np.zeros(6), h0, reset_after=True)
    with pytest.raises(ValueError, match=r"reset_after=False the GRU bias is \(3H,\)"):
        gru_forward(x, W, U, np.zeros((2, 6)), h0, reset_after=False)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: LSTM(0), ValueError, "units must be >= 1"),
        (lambda: GRU(4, dropout=1.0), ValueError, "dropout must be in"),
        (lambda: SeedRNN(4, use_bias=True), ValueError, "R1-R4 are written without them"),
        (lambda: Bidirectional(Dense(3)), TypeError, "wraps a recurrent layer, got Dense"),
        (lambda: Bidirectional(LSTM(3), "max"), ValueError, "merge_mode must be one of"),
        (lambda: Bidirectional(LSTM(3, return_state=True)), ValueError, "return_state"),
    ],
)
def test_bad_layer_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_model_file_with_a_tampered_architecture_is_one_clear_error(tmp_path):
    model = Sequential(seed=0)
    model.add(Bidirectional(LSTM(3, return_sequences=True), input_shape=(5, 2)))
    model.add(GlobalAveragePooling1D())
    model.add(Dense(2, activation="softmax"))
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    description = json.loads(str(arrays["__model__"]))
    description["architecture"]["layers"][0]["config"]["layer"]["class"] = "Transformer"
    arrays["__model__"] = np.array(json.dumps(description))
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"tampered.npz.*unknown layer class 'Transformer'"):
        load_model(tmp_path / "tampered.npz")

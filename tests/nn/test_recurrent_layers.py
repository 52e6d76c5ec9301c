"""The recurrent layers and the layers around them: gradient checks in float64 (every weight,
the input, h0 and c0), masks, direction, Keras arguments, saving, and clipping."""

import numpy as np
import pytest

from nn.functional.sequence import lengths_to_mask
from nn.gradcheck import check_layer, numerical_grad, rel_error
from nn.layers import (
    GRU,
    LSTM,
    AttentionPooling1D,
    Bidirectional,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    Masking,
    SeedRNN,
    SimpleRNN,
)
from nn.models import Sequential, load_model
from nn.optimizers import SGD

pytestmark = pytest.mark.ch05_rnn

SEQUENCE = 1e-6
# h = 1e-5, not 1e-6: through a T-step sequence some weights get gradients of 1e-5, where the
# rounding noise of centred differences at h = 1e-6 (about 1e-10 absolute) is already 2e-6
# relative; at h = 1e-5 it is 2e-7 (measured on the LSTM's recurrent kernel).
H_FD = 1e-5
T, D, H = 4, 3, 5


def built(layer, shape=(T, D), seed=0):
    layer.build(shape, np.random.default_rng(seed), dtype="float64")
    for k, v in layer.params.items():  # away from the all-zero bias, so every path is tested
        layer.params[k] = v + 0.1 * np.random.default_rng(seed + 1).standard_normal(v.shape)
    return layer


LAYERS = {
    "SimpleRNN": lambda **kw: SimpleRNN(H, **kw),
    "SeedRNN": lambda **kw: SeedRNN(H, **kw),
    "LSTM": lambda **kw: LSTM(H, **kw),
    "LSTM-no-bias": lambda **kw: LSTM(H, use_bias=False, **kw),
    "GRU": lambda **kw: GRU(H, **kw),
    "GRU-cho": lambda **kw: GRU(H, reset_after=False, **kw),
}


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_check_layer(name, return_sequences, go_backwards, rng):
    layer = built(LAYERS[name](return_sequences=return_sequences, go_backwards=go_backwards))
    errors = check_layer(layer, rng.standard_normal((3, T, D)), h=H_FD)
    assert max(errors.values()) < SEQUENCE, errors


@pytest.mark.parametrize("name", LAYERS)
def test_initial_state_gradients(name, rng):
    """dL/dh0 (and dL/dc0) of the layer, checked against finite differences."""
    layer = built(LAYERS[name](return_sequences=True))
    x = rng.standard_normal((2, T, D))
    states = [rng.standard_normal((2, H)) for _ in layer.state_names]
    out = layer.forward(x, initial_state=states)
    dout = rng.standard_normal(out.shape)
    layer.backward(dout)
    for k, state in enumerate(states):

        def run(_):
            y = layer.forward(x, initial_state=states)
            layer._clear_cache()
            return y

        numeric = numerical_grad(run, state, dout, h=H_FD)
        assert rel_error(layer.initial_state_grads[k], numeric) < SEQUENCE


def test_seed_rnn_layer_shows_the_unused_gates(rng):
    layer = built(SeedRNN(H))
    layer.forward(rng.standard_normal((2, T, D)))
    layer.backward(rng.standard_normal((2, H)))
    assert np.all(layer.grads["W_i"] == 0) and np.all(layer.grads["W_o"] == 0)
    assert np.abs(layer.grads["W_h"]).max() > 0 and np.abs(layer.grads["W_f"]).max() > 0


def test_lstm_forget_bias_starts_at_one_and_keras_shapes():
    layer = LSTM(7)
    layer.build((T, 3), np.random.default_rng(0))
    assert layer.params["kernel"].shape == (3, 28)
    assert layer.params["recurrent_kernel"].shape == (7, 28)
    np.testing.assert_array_equal(layer.params["bias"][7:14], 1.0)
    np.testing.assert_array_equal(layer.params["bias"][:7], 0.0)
    gru = GRU(7).build((T, 3), np.random.default_rng(0))
    assert gru.params["bias"].shape == (2, 21)
    assert GRU(7, reset_after=False).build((T, 3), np.random.default_rng(0)).params[
        "bias"
    ].shape == (21,)
    # each gate's recurrent block is orthogonal, as Keras initialises it
    U = layer.params["recurrent_kernel"][:, 7:14].astype(np.float64)
    np.testing.assert_allclose(U.T @ U, np.eye(7), atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional(merge_mode, return_sequences, rng):
    layer = built(Bidirectional(LSTM(H, return_sequences=return_sequences), merge_mode))
    errors = check_layer(layer, rng.standard_normal((2, T, D)), h=H_FD)
    assert max(errors.values()) < SEQUENCE, errors


def test_bidirectional_backward_half_reads_the_reversed_sequence(rng):
    layer = built(Bidirectional(GRU(H, return_sequences=True)))
    x = rng.standard_normal((2, T, D))
    out = layer.forward(x)
    alone = GRU(H, return_sequences=True).build((T, D), np.random.default_rng(0), "float64")
    alone.params = {k: layer.params[f"backward/{k}"] for k in alone.params}
    expected = alone.forward(x[:, ::-1].copy())[:, ::-1]
    np.testing.assert_allclose(out[..., H:], expected, rtol=1e-12)


@pytest.mark.parametrize("pool", ["average", "attention"])
def test_pooling_layers_gradients(pool, rng):
    layer = GlobalAveragePooling1D() if pool == "average" else AttentionPooling1D(4)
    layer = built(layer, (T, H))
    errors = check_layer(layer, rng.standard_normal((3, T, H)), h=H_FD)
    assert max(errors.values()) < SEQUENCE, errors


def _masked_model(rnn, pool):
    model = Sequential(seed=3, dtype="float64")
    model.add(Masking(input_shape=(6, D)))
    model.add(rnn)
    if pool is not None:
        model.add(pool)
    model.add(Dense(2))
    return model


@pytest.mark.parametrize(
    "rnn, pool",
    [
        (lambda: LSTM(H), None),
        (lambda: GRU(H, return_sequences=True), lambda: GlobalAveragePooling1D()),
        (lambda: Bidirectional(SimpleRNN(H, return_sequences=True)), lambda: AttentionPooling1D()),
        (lambda: SeedRNN(H, return_sequences=True), lambda: GlobalAveragePooling1D()),
    ],
)
def test_padding_is_ignored_end_to_end(rnn, pool, rng):
    """Zero-padded sequences in a batch give the same outputs as each sequence alone, and the
    padded steps receive no gradient."""
    model = _masked_model(rnn(), None if pool is None else pool())
    lengths = [6, 4, 2]
    x = rng.standard_normal((3, 6, D))
    x[~lengths_to_mask(lengths, 6)] = 0.0
    out = model.forward(x)
    for n, length in enumerate(lengths):
        alone = model.forward(np.pad(x[n : n + 1, :length], ((0, 0), (0, 6 - length), (0, 0))))
        np.testing.assert_allclose(out[n], alone[0], rtol=1e-10, atol=1e-12)
    out = model.forward(x, training=True)
    dx = model.backward(rng.standard_normal(out.shape))
    assert np.all(dx[~lengths_to_mask(lengths, 6)] == 0)


def test_mask_into_a_layer_that_cannot_use_it_is_a_clear_error(rng):
    model = Sequential(seed=0)
    model.add(Masking(input_shape=(6, D)))
    model.add(LSTM(H, return_sequences=True))
    model.add(Flatten(name="flat"))
    with pytest.raises(ValueError, match="'flat' \\(Flatten\\) received a time mask"):
        model.forward(rng.standard_normal((2, 6, D)).astype(np.float32))


def test_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match="lstm.*\\(None, T, D\\)"):
        Sequential([LSTM(4, input_shape=(10,), name="lstm")])
    model = Sequential([GRU(4, input_shape=(10, 3), name="my_gru")])
    with pytest.raises(ValueError, match="my_gru.*\\(None, 10, 3\\)"):
        model.forward(np.zeros((2, 10, 4), np.float32))


def test_return_state(rng):
    layer = built(LSTM(H, return_state=True))
    x = rng.standard_normal((2, T, D))
    out, h, c = layer.forward(x)
    np.testing.assert_array_equal(out, h)
    dx = layer.backward((rng.standard_normal((2, H)), rng.standard_normal((2, H)), np.ones((2, H))))
    assert dx.shape == x.shape
    with pytest.raises(ValueError, match="return_state"):
        Sequential([LSTM(H, return_state=True, input_shape=(T, D))])


def test_recurrent_dropout_is_refused_and_dropout_is_one_mask_per_sequence(rng):
    with pytest.raises(NotImplementedError, match="recurrent_dropout"):
        LSTM(H, recurrent_dropout=0.2)
    layer = SimpleRNN(H, dropout=0.5).build((T, D), np.random.default_rng(0), "float64")
    layer.forward(np.ones((4, T, D)), training=True)
    _, drop, _, _ = layer._cache  # (cell cache, dropout mask, final states, steps)
    assert drop.shape == (4, 1, D)  # the same mask at every step
    assert set(np.unique(drop)) <= {0.0, 2.0}


@pytest.mark.parametrize(
    "layer",
    [
        lambda: SeedRNN(H),
        lambda: LSTM(H, use_bias=False, unit_forget_bias=False),
        lambda: GRU(H, reset_after=False, go_backwards=True),
        lambda: Bidirectional(LSTM(H, return_sequences=True), "sum"),
    ],
)
def test_save_and_load_every_recurrent_layer(layer, tmp_path, rng):
    model = Sequential(seed=1)
    model.add(layer() if not isinstance(layer, type) else layer)
    model.layers[0].input_shape = (T, D)
    model.build((T, D))
    if model.layers[-1].output_shape != (H,):
        model.add(GlobalAveragePooling1D())
    model.add(Dense(2, activation="softmax"))
    model.compile("adam")
    path = model.save(tmp_path / "m.npz") or tmp_path / "m.npz"
    loaded = load_model(path)
    x = rng.standard_normal((3, T, D)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_clipnorm_tames_an_exploding_rnn(rng):
    """A recurrent kernel with spectral radius 3 makes the gradient grow with T; clipnorm
    keeps the update's norm at the limit."""
    layer = SimpleRNN(8, recurrent_initializer="orthogonal").build(
        (40, 2), np.random.default_rng(0), "float64"
    )
    layer.params["recurrent_kernel"] *= 3.0
    layer.params["kernel"] *= 0.01  # stay out of tanh's saturation: the gradient explodes
    layer.forward(1e-3 * rng.standard_normal((4, 40, 2)))
    layer.backward(np.ones((4, 8)))
    grad = layer.grads["recurrent_kernel"]
    before = layer.params["recurrent_kernel"].copy()
    assert np.linalg.norm(grad) > 1e3  # it did explode
    SGD(learning_rate=1.0, clipnorm=1.0).apply([(layer.params["recurrent_kernel"], grad)])
    step = np.linalg.norm(layer.params["recurrent_kernel"] - before)
    assert step == pytest.approx(1.0, rel=1e-6)

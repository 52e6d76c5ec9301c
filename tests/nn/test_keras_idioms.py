"""Everyday Keras idioms, each as a Keras user writes it (docs/keras.md lists the surface)."""

import numpy as np
import pytest

from nn import Input, Model
from nn.callbacks import Callback
from nn.gradcheck import numerical_grad, rel_error
from nn.layers import LSTM, Conv2D, Dense, Flatten
from nn.models import Sequential, load_model
from nn.optimizers import RMSprop

pytestmark = [pytest.mark.ch04_training]


def small(seed=0):
    model = Sequential(seed=seed)
    model.add(Dense(4, activation="relu", input_shape=(3,)))
    model.add(Dense(2, activation="softmax"))
    model.compile(RMSprop(0.01), "categorical_crossentropy", ["accuracy"])
    return model


def data(rng, n=20):
    x = rng.standard_normal((n, 3))
    return x, np.eye(2)[(x[:, 0] > 0).astype(int)]


def test_a_layer_given_an_input_shape_runs_on_its_own():
    """Conv2D(8, (3, 3), input_shape=...).forward(x) used to say 'not built'."""
    x = np.zeros((2, 16, 13, 1), dtype=np.float32)
    assert Conv2D(8, (3, 3), input_shape=(16, 13, 1)).forward(x).shape == (2, 14, 11, 8)


def test_sequences_of_any_length_as_keras_writes_them(rng, tmp_path):
    """LSTM(4, input_shape=(None, 13)) and Input((None, 13)): one model for every length."""
    model = Sequential([LSTM(4, input_shape=(None, 13)), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    assert model.input_shape == (None, None, 13)
    for steps in (5, 17):
        assert model.predict(rng.standard_normal((3, steps, 13))).shape == (3, 2)
        model.fit(rng.standard_normal((4, steps, 13)), np.array([0, 1, 0, 1]), 2, 1, 0)
    x = rng.standard_normal((2, 9, 13))
    np.testing.assert_array_equal(load_model(model.save(tmp_path / "any.npz")).predict(x),
                                  model.predict(x))  # fmt: skip
    with pytest.raises(ValueError, match="Flatten: input shape .None, 13.: a length of None"):
        Flatten(input_shape=(None, 13))
    with pytest.raises(ValueError, match="only the time axis"):
        Input((None, None))


@pytest.mark.ch03_gradcheck
def test_a_graph_over_sequences_of_any_length_passes_the_gradient_check(rng):
    from nn.layers import GRU, BatchNormalization, Bidirectional, Conv1D, StatisticsPooling1D
    from nn.training import loss_and_grad

    inp = Input((None, 3), dtype="float64", name="anylen")
    h = Conv1D(4, 3, padding="same", activation="tanh", name="anylen_conv")(inp)
    h = Bidirectional(GRU(3, return_sequences=True), name="anylen_bigru")(h)
    h = StatisticsPooling1D(name="anylen_stats")(BatchNormalization(name="anylen_bn")(h))
    model = Model(inp, Dense(2, activation="softmax", name="anylen_out")(h))
    model.compile("sgd", "categorical_crossentropy")
    for steps in (4, 7):
        x, y = rng.standard_normal((3, steps, 3)), np.eye(2)[[0, 1, 1]]
        out = model.forward(x, training=True)
        dx = model.backward(loss_and_grad(model, out, y)[1], from_preactivation=True)

        def loss_of(v, y=y):
            value = loss_and_grad(model, model.forward(v, training=True), y)[0]
            for layer in model.layers:
                layer._clear_cache()
            return np.array(value)

        assert rel_error(dx, numerical_grad(loss_of, x, np.array(1.0), h=1e-5)) < 1e-6, steps


def test_models_are_callable_on_arrays(rng):
    model = small()
    x, _ = data(rng)
    np.testing.assert_array_equal(model(x), model.predict(x))
    inp = Input((3,), name="call_x")
    graph = Model(inp, Dense(2, name="call_d")(inp))
    np.testing.assert_array_equal(graph(x), graph.predict(x))
    with pytest.raises(TypeError, match="a model inside a model"):
        graph(inp)


def test_save_with_any_suffix_then_load_by_the_same_name(rng, tmp_path):
    """model.save("m.keras") writes m.keras.npz; load_model("m.keras") finds it."""
    model = small()
    written = model.save(tmp_path / "m.keras")
    assert written.name == "m.keras.npz"
    x, _ = data(rng)
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").predict(x), model.predict(x))


def test_get_set_save_and_load_weights(rng, tmp_path):
    a, b = small(seed=0), small(seed=1)
    x, _ = data(rng)
    assert not np.allclose(a.predict(x), b.predict(x))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    c = small(seed=2)
    c.load_weights(a.save_weights(tmp_path / "w.weights"))
    np.testing.assert_array_equal(a.predict(x), c.predict(x))
    with pytest.raises(ValueError, match=r"has 4 weight arrays; got 3"):
        c.set_weights(a.get_weights()[:3])
    other = Sequential([Dense(5, input_shape=(3,))])
    with pytest.raises(ValueError, match="do not belong to this model"):
        other.load_weights(tmp_path / "w.weights.npz")
    layer = a.layers[0]
    with pytest.raises(ValueError, match=r"'kernel' is shaped \(3, 4\), got \(4, 3\)"):
        layer.set_weights([np.zeros((4, 3)), np.zeros(4)])


@pytest.mark.ch03_gradcheck
def test_binary_crossentropy_is_fused_with_a_sigmoid_and_gradient_checked(rng):
    """eq. BCE from logits: dL/dz = (sigmoid(z) - y) / (N K), checked by finite differences."""
    from nn.training import loss_and_grad

    model = Sequential([Dense(3, activation="sigmoid", input_shape=(4,))], dtype="float64")
    model.compile("sgd", "binary_crossentropy", ["accuracy"])
    x, y = rng.standard_normal((5, 4)), (rng.random((5, 3)) > 0.5).astype(float)
    out = model.forward(x, training=True)
    _, grad = loss_and_grad(model, out, y)
    dx = model.backward(grad, from_preactivation=True)

    def loss_of(v):
        value = loss_and_grad(model, model.forward(v, training=False), y)[0]
        for layer in model.layers:
            layer._clear_cache()
        return np.array(value)

    assert rel_error(dx, numerical_grad(loss_of, x, np.array(1.0), h=1e-5)) < 1e-6
    params = model.layers[0].params
    p = 1 / (1 + np.exp(-(x @ params["kernel"] + params["bias"])))  # the textbook form
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss_of(x) == pytest.approx(expected, rel=1e-12)
    history = model.fit(x, y, 5, 2, 0)
    assert 0 <= history.history["accuracy"][-1] <= 1
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        model.fit(x, 2 * y + 1, 5, 1, 0)


def test_every_callback_hook_is_called_in_order(rng):
    calls = []

    class Spy(Callback):
        def on_train_begin(self):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs):
            calls.append(f"batch_end {batch}")

        def on_epoch_end(self, epoch, logs):
            calls.append(f"epoch_end {epoch}")

        def on_train_end(self):
            calls.append("train_end")

    x, y = data(rng, n=8)
    small().fit(x, y, 4, 2, 0, [Spy()], shuffle=False)
    epoch = ["epoch_begin {e}", "batch_end 0", "batch_end 1", "epoch_end {e}"]
    expected = ["train_begin", *(c.format(e=e) for e in (0, 1) for c in epoch), "train_end"]
    assert calls == expected


def test_evaluate_returns_a_dict_on_request(rng):
    model = small()
    x, y = data(rng)
    loss, acc = model.evaluate(x, y)
    assert model.evaluate(x, y, return_dict=True) == {"loss": loss, "accuracy": acc}


def test_flatten_then_dense_inside_a_functional_model_trains(rng):
    inp = Input((4, 4, 1), name="img")
    out = Dense(2, activation="softmax", name="cls")(
        Flatten(name="flat")(Conv2D(2, 3, name="cv")(inp))
    )
    model = Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x = rng.standard_normal((12, 4, 4, 1))
    history = model.fit(x, (x.sum(axis=(1, 2, 3)) > 0).astype(int), 4, 3, 0)
    assert len(history.history["loss"]) == 3 and "accuracy" in history.history


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize(
    "loss, activation, k",
    [
        ("categorical_crossentropy", "softmax", 3),
        ("sparse_categorical_crossentropy", "softmax", 3),
        ("binary_crossentropy", "sigmoid", 3),
        ("mse", None, 2),
    ],
)
def test_weighted_losses_are_the_weighted_mean_and_pass_the_gradient_check(
    rng, loss, activation, k
):
    """eq. SW: L = (1/N) sum_n w_n l_n; its gradient, checked by finite differences."""
    from nn.functional.losses import per_example
    from nn.training import loss_and_grad

    model = Sequential([Dense(k, activation=activation, input_shape=(4,))], dtype="float64")
    model.compile("sgd", loss)
    n = 6
    x = rng.standard_normal((n, 4))
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, k, n)
    elif loss == "mse":
        y = rng.standard_normal((n, k))
    else:
        y = np.eye(k)[rng.integers(0, k, n)]
    w = rng.random(n) * 2
    out = model.forward(x, training=True)
    value, grad = loss_and_grad(model, out, y, sample_weight=w)
    fused = model.heads()[0].fused
    prediction = model.layers[0].preactivation if fused else out
    assert value == pytest.approx(np.mean(w * per_example(loss, prediction, y)), rel=1e-12)
    dx = model.backward(grad, from_preactivation=fused)

    def weighted(v):
        result = loss_and_grad(model, model.forward(v, training=False), y, sample_weight=w)[0]
        for layer in model.layers:
            layer._clear_cache()
        return np.array(result)

    assert rel_error(dx, numerical_grad(weighted, x, np.array(1.0), h=1e-5)) < 1e-6
    ones = loss_and_grad(model, model.forward(x, training=True), y, sample_weight=np.ones(n))[0]
    assert ones == pytest.approx(loss_and_grad(model, model.forward(x, training=True), y)[0])


def test_class_weight_and_sample_weight_in_fit(rng):
    """Doubling a class's weight is the same step as doubling each of its examples' weights;
    a zero weight leaves the model as if the example were not there."""
    x, y = data(rng, n=8)
    labels = y.argmax(axis=1)
    by_class, by_sample = small(seed=4), small(seed=4)
    by_class.fit(x, y, 8, 1, 0, shuffle=False, class_weight={1: 2.0})
    by_sample.fit(x, y, 8, 1, 0, shuffle=False, sample_weight=np.where(labels == 1, 2.0, 1.0))
    for a, b in zip(by_class.get_weights(), by_sample.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="sample_weight must be 8 finite numbers"):
        small().fit(x, y, 8, 1, 0, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="class_weight must map class indices 0 .. 1"):
        small().fit(x, y, 8, 1, 0, class_weight={5: 1.0})

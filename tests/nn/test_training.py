"""Optimizers, Sequential (the document's code line for line), callbacks, model files."""

import json
import zipfile

import numpy as np
import pytest

from nn.callbacks import Callback, EarlyStopping, ModelCheckpoint
from nn.gradcheck import numerical_grad, rel_error
from nn.initializers import glorot_uniform, he_normal, orthogonal
from nn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from nn.models import Sequential, load_model
from nn.optimizers import SGD, Adam, adam_update
from nn.regularizers import L1, L2
from nn.serialization import ModelFileError
from nn.training import loss_and_grad

pytestmark = pytest.mark.ch04_training


def toy_images(n=120, seed=0):
    """Three classes told apart by where a bright band lies in a 16 x 6 'MFCC image'."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 16, 6, 1)) * 0.5
    for i, k in enumerate(labels):
        x[i, 5 * k : 5 * k + 4, :, 0] += 2.0
    return x.astype(np.float32), np.eye(3, dtype=np.float32)[labels], labels


def document_model(input_shape=(16, 6, 1), seed=0):
    """The source document's §5.2 model, line for line (P2), on a smaller input."""
    model = Sequential(seed=seed)
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_the_documents_code_runs_and_learns():
    x, y, _ = toy_images()
    model = document_model()
    history = model.fit(
        x[:90], y[:90], epochs=10, batch_size=32, validation_data=(x[90:], y[90:]), verbose=0
    )
    test_loss, test_accuracy = model.evaluate(x[90:], y[90:])
    assert test_accuracy > 0.9 and test_loss < history.history["val_loss"][0]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.history is history  # as Keras
    assert len(history.history["loss"]) == 10


def test_the_documents_model_summary_counts_parameters_as_keras():
    text = document_model(input_shape=(128, 13, 1)).summary(print_fn=None)
    assert "conv2d (Conv2D)" in text and "(None, 126, 11, 32)" in text and "320" in text
    assert "(None, 63, 5, 32)" in text and "(None, 10080)" in text and "645,184" in text
    assert "Total params: 645,699" in text


def test_training_is_deterministic_from_the_seed():
    x, y, _ = toy_images()
    runs = []
    for _ in range(2):
        m = document_model(seed=3)
        m.fit(x, y, epochs=2, verbose=0)
        runs.append(m.predict(x[:5]))
    np.testing.assert_array_equal(runs[0], runs[1])
    other = document_model(seed=4)
    other.fit(x, y, epochs=2, verbose=0)
    assert not np.array_equal(other.predict(x[:5]), runs[0])


def test_fused_softmax_cross_entropy_gradient_of_a_whole_model(rng):
    """The gradient the model backpropagates equals finite differences of its loss (float64)."""
    model = Sequential(
        [
            Conv2D(2, 3, activation="tanh", input_shape=(5, 4, 1)),
            Flatten(),
            Dense(3, activation="softmax"),
        ],
        dtype="float64",
    )
    model.compile(SGD(0.0), "categorical_crossentropy")
    x, y = rng.standard_normal((4, 5, 4, 1)), np.eye(3)[[0, 2, 1, 1]]
    out = model.forward(x, training=True)
    _, grad = loss_and_grad(model, out, y)
    dx = model.backward(grad, from_preactivation=True)

    def loss_of(v):
        value = loss_and_grad(model, model.forward(v, training=False), y)[0]
        for layer in model.layers:
            layer._clear_cache()
        return np.array(value)

    assert rel_error(dx, numerical_grad(loss_of, x, np.array(1.0), h=1e-5)) < 1e-6


def test_sparse_labels_and_mse_and_validation_split():
    x, y, labels = toy_images()
    m = document_model()
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    h = m.fit(x, labels, epochs=3, validation_split=0.25, verbose=0)
    assert h.history["val_accuracy"][-1] > 0.6
    reg = Sequential([Dense(1, input_shape=(2,))], seed=1)
    reg.compile(SGD(0.1), "mse")
    xs = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    reg.fit(xs, xs @ np.array([[2.0], [-1.0]], np.float32) + 0.5, epochs=60, verbose=0)
    np.testing.assert_allclose(reg.layers[0].params["kernel"].ravel(), [2.0, -1.0], atol=0.05)


def test_sampler_gives_fresh_inputs_every_epoch():
    x, y, _ = toy_images()
    seen = []

    def sampler(epoch, rng):
        seen.append(epoch)
        return x + rng.normal(0, 0.01, x.shape).astype(np.float32)

    document_model().fit(sampler, y, epochs=3, verbose=0)
    assert seen == [0, 1, 2]


def test_bad_targets_and_inputs_are_named():
    x, y, _ = toy_images(10)
    m = document_model()
    with pytest.raises(
        ValueError, match=r"expects x shaped \(None, 16, 6, 1\), received \(10, 6, 16, 1\)"
    ):
        m.fit(x.transpose(0, 2, 1, 3), y, verbose=0)
    with pytest.raises(ValueError, match=r"needs targets shaped \(N, 3\)"):
        m.fit(x, y[:, :2], verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        Sequential([Dense(2, input_shape=(3,))]).fit(np.ones((2, 3)), np.ones((2, 2)))


@pytest.mark.ex_ADAM
def test_adam_update_matches_the_keras_formula_by_hand():
    w, g, state = np.array([1.0, -2.0]), np.array([0.5, 0.1]), {}
    adam_update(w, g, state, learning_rate=0.1)
    m, v = 0.1 * g, 0.001 * g * g
    alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(w, np.array([1.0, -2.0]) - alpha * m / (np.sqrt(v) + 1e-7))


def test_optimizer_state_is_keyed_by_the_array_not_its_name():
    opt = SGD(0.1, momentum=0.9)
    a, b = np.zeros(2), np.zeros(2)
    opt.apply([(a, np.ones(2))])
    assert opt.state_for(a)["velocity"] is not None and opt.state_for(b) == {}


def test_clipnorm_and_clipvalue_tame_an_exploding_gradient():
    huge = np.array([3e6, 4e6])
    w = np.zeros(2)
    SGD(1.0, clipnorm=1.0).apply([(w, huge)])
    np.testing.assert_allclose(np.linalg.norm(w), 1.0)
    w = np.zeros(2)
    SGD(1.0, clipvalue=0.5).apply([(w, huge)])
    np.testing.assert_allclose(w, [-0.5, -0.5])


def test_regularizers_add_their_penalty_and_gradient():
    w = np.array([1.0, -2.0])
    assert L2(0.01)(w) == pytest.approx(0.05) and L1(0.1)(w) == pytest.approx(0.3)
    np.testing.assert_allclose(L2(0.01).gradient(w), [0.02, -0.04])
    m = Sequential([Dense(2, input_shape=(3,), kernel_regularizer=L2(0.5))])
    m.compile("sgd", "mse")
    x = np.zeros((4, 3), np.float32)
    loss = m.evaluate(x, np.zeros((4, 2), np.float32))
    assert loss == pytest.approx(0.5 * float(np.sum(m.layers[0].params["kernel"] ** 2)), rel=1e-5)


def test_initializers_have_the_keras_scales(rng):
    w = glorot_uniform((300, 200), rng)
    assert np.abs(w).max() <= np.sqrt(6 / 500) and w.std() == pytest.approx(
        np.sqrt(2 / 500), rel=0.05
    )
    h = he_normal((3, 3, 16, 32), rng)
    assert h.std() == pytest.approx(np.sqrt(2 / 144), rel=0.1)
    q = orthogonal((8, 8), rng).astype(float)
    np.testing.assert_allclose(q @ q.T, np.eye(8), atol=1e-6)


def test_early_stopping_on_validation_loss_restores_the_best_weights():
    x, y, _ = toy_images()
    m = document_model()
    stop = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    m.compile(Adam(0.05), "categorical_crossentropy", ["accuracy"])  # too fast: it will get worse
    h = m.fit(
        x[:90], y[:90], epochs=30, validation_data=(x[90:], y[90:]), callbacks=[stop], verbose=0
    )
    assert len(h.epoch) < 30
    assert m.evaluate(x[90:], y[90:])[0] == pytest.approx(min(h.history["val_loss"]), rel=1e-5)
    with pytest.raises(KeyError, match="pass validation_data"):
        document_model().fit(x, y, epochs=1, callbacks=[EarlyStopping()], verbose=0)


def test_model_checkpoint_keeps_the_best(tmp_path):
    x, y, _ = toy_images()
    m = document_model()
    ck = ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", save_best_only=True)
    m.fit(x[:90], y[:90], epochs=3, validation_data=(x[90:], y[90:]), callbacks=[ck], verbose=0)
    assert load_model(tmp_path / "best.npz").evaluate(x[90:], y[90:])[1] == pytest.approx(ck.best)


def test_save_and_load_round_trip_with_metadata(tmp_path):
    x, y, _ = toy_images(40)
    m = Sequential(
        [
            Conv2D(4, 3, activation="relu", input_shape=(16, 6, 1)),
            MaxPooling2D(),
            Dropout(0.3),
            Flatten(),
            Dense(3, activation="softmax", kernel_regularizer=L2(0.01)),
        ]
    )
    m.compile("adam", "categorical_crossentropy", ["accuracy"])
    m.fit(x, y, epochs=1, verbose=0)
    m.metadata = {"labels": ["neutral", "happy", "sad"], "cmvn_mean": np.arange(3.0)}
    path = m.save(tmp_path / "model.npz")
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(x), m.predict(x))
    assert again.metadata == {"labels": ["neutral", "happy", "sad"], "cmvn_mean": [0.0, 1.0, 2.0]}
    assert again.summary(print_fn=None) == m.summary(print_fn=None)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


def test_a_model_can_be_saved_before_training(tmp_path):
    path = document_model().save(tmp_path / "untrained")
    assert path.name == "untrained.npz" and load_model(path).count_params() > 0


def test_truncated_foreign_and_tampered_files_give_clear_errors(tmp_path):
    path = document_model().save(tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.npz: not a readable \.npz model file"):
        load_model(tmp_path / "cut.npz")
    np.savez(tmp_path / "foreign.npz", a=np.ones(3))
    with pytest.raises(ModelFileError, match="not a model saved by this library"):
        load_model(tmp_path / "foreign.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["weights/0/kernel"] = arrays["weights/0/kernel"] + 1.0
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ModelFileError, match="do not match their checksum"):
        load_model(tmp_path / "tampered.npz")
    description = json.loads(str(arrays["__model__"]))
    description["format_version"] = 99
    arrays["__model__"] = np.array(json.dumps(description))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(tmp_path / "future.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.npz")
    with zipfile.ZipFile(path) as z:  # the file never needs pickle: every member is plain
        assert all(not name.endswith(".pkl") for name in z.namelist())


def test_adam_runs_through_the_backend_twin_and_matches_the_rule(monkeypatch):
    """The optimizer must use the backend's kernel (a bypass once went unnoticed) and agree
    with the readable rule."""
    from nn import backend
    from nn.optimizers import adam_update

    calls = []
    real = backend.ops.optim.adam_update

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.ops.optim, "adam_update", spy)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(6)
    w_ref, state_ref = w.copy(), {}
    opt = Adam(0.01)
    for _ in range(3):
        g = rng.standard_normal(6)
        opt.apply([(w, g)])
        adam_update(w_ref, g, state_ref, learning_rate=0.01)
    assert len(calls) == 3
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)


def test_training_skips_the_input_gradient_but_not_the_parameter_gradients(rng):
    x, y, _ = toy_images(8)
    grads = []
    for need in (True, False):
        m = document_model()
        out = m.forward(x, training=True)
        _, g = loss_and_grad(m, out, y)
        dx = m.backward(g, from_preactivation=True, need_input_grad=need)
        assert (dx is None) == (not need)
        grads.append([layer.grads[k].copy() for layer in m.layers for k in layer.grads])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


class AddsAScore(Callback):
    def on_epoch_end(self, epoch, logs):
        logs["val_uar"] = 0.5 + epoch


def test_the_progress_line_is_a_callback_that_prints_what_the_others_added(capsys):
    """verbose=2: one line per epoch, after the user's callbacks (Keras's ProgbarLogger)."""
    from nn.callbacks import ProgbarLogger

    x, y, _ = toy_images(8)
    m = document_model()
    m.fit(x, y, batch_size=4, epochs=2, verbose=2, callbacks=[AddsAScore()])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - 2/2 ")
    assert "ms/step - loss: " in lines[1] and lines[1].endswith("val_uar: 1.5000")
    m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    bar = ProgbarLogger()  # verbose 1, not on a terminal: a header, then the epoch's line
    bar.set_params({"epochs": 3, "steps": 5, "verbose": 1})
    bar.on_epoch_begin(0, {})
    bar.on_batch_end(0, {"loss": 2.0})  # no live bar when stdout is not a terminal
    bar.on_epoch_end(0, {"loss": 1.0})
    header, line = capsys.readouterr().out.splitlines()
    assert header == "Epoch 1/3" and line.startswith("5/5 ") and line.endswith("loss: 1.0000")


def test_fit_takes_keras_positional_order():
    """model.fit(x, y, batch_size, epochs) as Keras: 3 epochs of batches of 4."""
    x, y, _ = toy_images(8)
    history = document_model().fit(x, y, 4, 3, 0)
    assert history.epoch == [0, 1, 2]

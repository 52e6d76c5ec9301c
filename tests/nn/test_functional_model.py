"""The functional API (nn.graph, nn.functional_model, nn.layers.merge): a graph with a fork,
a join (Concatenate, Add) and a shared layer, gradient-checked in float64 (eq. G-fork: the
gradients at a fork are summed) and compared with PyTorch's autograd; training with several
outputs; layers called on arrays; and the mistakes a user makes, each one clear error."""

import numpy as np
import pytest

from nn import Input, Model
from nn.gradcheck import numerical_grad, rel_error
from nn.layers import LSTM, Add, Concatenate, Conv2D, Dense, Flatten
from nn.models import Sequential
from nn.optimizers import SGD
from nn.training import loss_and_grad

pytestmark = [pytest.mark.ch04_training]

TOL = 1e-6  # relative error of a float64 centred difference, h = 1e-5


def fork_join_shared(prefix, dtype="float64"):
    """x -> h (tanh) forks into: shared(h) and shared(h2(x)) [one layer, two calls];
    Concatenate[a, b, h] -> emotion (softmax); Add[a, b] -> gender (softmax)."""
    x = Input((5,), dtype=dtype, name=f"{prefix}x")
    h = Dense(4, activation="tanh", name=f"{prefix}h")(x)
    shared = Dense(4, activation="tanh", name=f"{prefix}shared")
    a = shared(h)
    b = shared(Dense(4, name=f"{prefix}h2")(x))
    emotion = Dense(3, activation="softmax", name=f"{prefix}emotion")(
        Concatenate(name=f"{prefix}cat")([a, b, h])
    )
    gender = Dense(2, activation="softmax", name=f"{prefix}gender")(
        Add(name=f"{prefix}add")([a, b])
    )
    model = Model(x, [emotion, gender])
    model.compile(SGD(0.0), "categorical_crossentropy", loss_weights=[1.0, 0.5])
    return model


def data(rng, n=6):
    x = rng.standard_normal((n, 5))
    return x, [np.eye(3)[rng.integers(0, 3, n)], np.eye(2)[rng.integers(0, 2, n)]]


def total_loss_and_grads(model, x, ys):
    """The weighted loss, every weight's gradient and dL/dx, as the trainer computes them."""
    for layer in model.layers:
        layer.zero_grad()
    outs = model.forward(x, training=True)
    total, grads, fused = 0.0, [], []
    for k, head in enumerate(model.heads()):
        loss, g = loss_and_grad(model, outs[k], ys[k], head=k)
        total += head.weight * loss
        grads.append(head.weight * g)
        fused.append(head.fused)
    dx = model.backward(grads, from_preactivation=fused, need_input_grad=True)
    weights = {
        (layer.name, k): layer.grads[k].copy() for layer in model.layers for k in layer.params
    }
    return total, weights, dx


def loss_only(model, x, ys):
    outs = model.forward(x, training=False)
    value = sum(h.weight * loss_and_grad(model, outs[k], ys[k], head=k)[0]
                for k, h in enumerate(model.heads()))  # fmt: skip
    for layer in model.layers:
        layer._clear_cache()
    return np.array(value)


@pytest.mark.ch03_gradcheck
def test_a_graph_with_a_fork_a_join_and_a_shared_layer_passes_the_gradient_check(rng):
    model = fork_join_shared("gc_")
    x, ys = data(rng)
    _, weights, dx = total_loss_and_grads(model, x, ys)
    assert (
        rel_error(dx, numerical_grad(lambda v: loss_only(model, v, ys), x, np.array(1.0), h=1e-5))
        < TOL
    )
    layers = {layer.name: layer for layer in model.layers}
    for (name, key), g in weights.items():
        param = layers[name].params[key]

        def f(p, param=param):
            saved = param.copy()
            param[...] = p
            value = loss_only(model, x, ys)
            param[...] = saved
            return value

        numeric = numerical_grad(f, param.copy(), np.array(1.0), h=1e-5)
        assert rel_error(g, numeric) < TOL, (name, key)


def test_at_a_fork_the_gradient_is_the_sum_of_what_each_branch_sends_back(rng):
    """x -> h -> {head a, head b}: dL/dx of the two-head model equals dL_a/dx + w dL_b/dx,
    each computed by a one-head model over the same layers (eq. G-fork)."""
    x = Input((5,), dtype="float64", name="fork_x")
    h = Dense(4, activation="tanh", name="fork_h")(x)
    out_a = Dense(3, activation="softmax", name="fork_a")(h)
    out_b = Dense(2, activation="softmax", name="fork_b")(h)
    both = Model(x, [out_a, out_b])
    both.compile(SGD(0.0), "categorical_crossentropy", loss_weights=[1.0, 0.5])
    only_a, only_b = Model(x, out_a), Model(x, out_b)
    only_a.compile(SGD(0.0), "categorical_crossentropy")
    only_b.compile(SGD(0.0), "categorical_crossentropy", loss_weights=0.5)
    xs, ys = data(rng)
    _, weights, dx = total_loss_and_grads(both, xs, ys)
    _, weights_a, dx_a = total_loss_and_grads(only_a, xs, [ys[0]])
    _, weights_b, dx_b = total_loss_and_grads(only_b, xs, [ys[1]])
    np.testing.assert_allclose(dx, dx_a + dx_b, rtol=1e-12, atol=1e-15)
    for key in (("fork_h", "kernel"), ("fork_h", "bias")):  # the shared trunk: summed too
        np.testing.assert_allclose(weights[key], weights_a[key] + weights_b[key], rtol=1e-12)


@pytest.mark.parity
def test_the_same_graph_in_pytorch_autograd_gives_the_same_loss_and_gradients(rng):
    torch = pytest.importorskip("torch")
    model = fork_join_shared("pt_")
    x, ys = data(rng)
    total, weights, dx = total_loss_and_grads(model, x, ys)
    p = {(layer.name, k): torch.tensor(v, requires_grad=True)
         for layer in model.layers for k, v in layer.params.items()}  # fmt: skip

    def dense(name, t):
        return t @ p[(name, "kernel")] + p[(name, "bias")]

    tx = torch.tensor(x, requires_grad=True)
    h = torch.tanh(dense("pt_h", tx))
    a = torch.tanh(dense("pt_shared", h))
    b = torch.tanh(dense("pt_shared", dense("pt_h2", tx)))
    emotion_logits = dense("pt_emotion", torch.cat([a, b, h], dim=1))
    gender_logits = dense("pt_gender", a + b)
    ce = torch.nn.functional.cross_entropy
    loss = ce(emotion_logits, torch.tensor(ys[0].argmax(1))) + 0.5 * ce(
        gender_logits, torch.tensor(ys[1].argmax(1))
    )
    loss.backward()
    assert abs(float(loss.detach()) - total) < 1e-12
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    for key, g in weights.items():
        np.testing.assert_allclose(g, p[key].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=str(key))


def test_two_heads_train_from_dict_or_list_targets_and_report_each_output(rng):
    model = fork_join_shared("fit_", dtype="float32")
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"],
                  loss_weights={"fit_emotion": 1.0, "fit_gender": 0.3})  # fmt: skip
    x, ys = data(rng, n=40)
    history = model.fit(x, {"fit_emotion": ys[0], "fit_gender": ys[1]}, 8, 15, 0)
    keys = set(history.history)
    assert {"loss", "fit_emotion_loss", "fit_gender_loss", "fit_emotion_accuracy"} <= keys
    assert history.history["loss"][-1] < history.history["loss"][0]
    logs = model.evaluate(x, ys, return_dict=True)
    total = logs["fit_emotion_loss"] + 0.3 * logs["fit_gender_loss"]
    assert logs["loss"] == pytest.approx(total, rel=1e-6)
    values = model.evaluate(x, ys)  # Keras's order: total, each loss, each accuracy
    assert values == pytest.approx(list(logs.values()))
    emotion, gender = model.predict(x)
    assert emotion.shape == (40, 3) and gender.shape == (40, 2)
    np.testing.assert_allclose(emotion.sum(axis=1), 1.0, rtol=1e-5)
    val = model.fit(x, ys, 8, 1, 0, validation_data=(x, ys)).history
    assert "val_fit_gender_accuracy" in val


def test_several_inputs_by_list_or_by_name():
    a, b = Input((3,), name="mi_a"), Input((2,), name="mi_b")
    out = Dense(2, activation="softmax", name="mi_out")(Concatenate(name="mi_cat")([a, b]))
    model = Model([a, b], out)
    model.compile("adam", "sparse_categorical_crossentropy")
    xa, xb = np.ones((4, 3)), np.zeros((4, 2))
    by_list = model.predict([xa, xb])
    np.testing.assert_array_equal(by_list, model.predict({"mi_a": xa, "mi_b": xb}))
    assert model.fit([xa, xb], np.array([0, 1, 0, 1]), epochs=2, verbose=0).epoch == [0, 1]
    with pytest.raises(ValueError, match=r"'mi_b' shaped \(None, 2\), received \(4, 3\)"):
        model.predict([xa, xa])
    with pytest.raises(ValueError, match=r"has 2 inputs \['mi_a', 'mi_b'\]"):
        model.predict(xa)


def test_layers_are_callable_on_arrays_and_build_on_the_first_call(rng):
    """Keras's everyday idiom: Conv2D(8, (3, 3))(x) runs, building the layer from x."""
    x = rng.standard_normal((2, 16, 13, 1)).astype(np.float32)
    conv = Conv2D(8, (3, 3))
    y = conv(x)
    assert y.shape == (2, 14, 11, 8) and conv.built and conv.name is not None
    np.testing.assert_array_equal(conv(x), y)  # the same weights on the second call
    assert Flatten()(y).shape == (2, 14 * 11 * 8)
    with pytest.raises(RuntimeError, match=r"call it on the data, layer\(x\)"):
        Dense(3).forward(np.ones((2, 4)))


def test_the_mistakes_of_building_a_graph_are_clear_errors():
    x = Input((4,), name="err_x")
    with pytest.raises(ValueError, match="takes one input, got 2; merge them first"):
        Dense(2)([x, x])
    with pytest.raises(ValueError, match="Add.*one shape"):
        Add()([x, Input((3,), name="err_y")])
    with pytest.raises(ValueError, match="joins at least two inputs"):
        Concatenate()([x])
    shared = Dense(3, name="err_shared")
    shared(x)
    with pytest.raises(ValueError, match=r"built for inputs shaped \(None, 4\); this call gives"):
        shared(Input((5,), name="err_z"))
    with pytest.raises(ValueError, match="only the time axis"):
        Input((13, None))
    other = Input((4,), name="err_other")
    out = Dense(2, name="err_out")(Add(name="err_add")([x, other]))
    with pytest.raises(ValueError, match="not one of the model's inputs"):
        Model(x, out)
    with pytest.raises(ValueError, match="missing"):
        Model([x, other], [out]).compile("adam", loss={"nope": "mse"})
    with pytest.raises(TypeError, match="given when the model runs"):
        Dense(2)(x, training=True)
    with pytest.raises(ValueError, match="two different layers are named"):
        Model(x, [Dense(2, name="twin")(x), Dense(2, name="twin")(x)])


def test_sequential_and_model_train_the_same_chain_to_the_same_weights(rng):
    """A chain is a graph too: the document's kind of model gives the same numbers either way."""
    x = rng.standard_normal((16, 6, 5, 1))
    y = np.eye(3)[rng.integers(0, 3, 16)]
    seq = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 5, 1), name="c"),
                      Flatten(name="f"), Dense(3, activation="softmax", name="d")],
                     dtype="float64", seed=3)  # fmt: skip
    inp = Input((6, 5, 1), dtype="float64", name="chain_x")
    layers = [Conv2D(2, 3, activation="relu", name="c2"), Flatten(name="f2"),
              Dense(3, activation="softmax", name="d2")]  # fmt: skip
    t = inp
    for layer in layers:
        t = layer(t)
    graph = Model(inp, t, seed=3)
    for src, dst in zip(seq.layers, graph.layers, strict=True):
        for k in src.params:
            dst.params[k][...] = src.params[k]
    for m in (seq, graph):
        m.compile(SGD(0.1), "categorical_crossentropy")
        m.fit(x, y, batch_size=4, epochs=2, verbose=0)
    for src, dst in zip(seq.layers, graph.layers, strict=True):
        for k in src.params:
            np.testing.assert_allclose(dst.params[k], src.params[k], rtol=1e-12)


def test_a_recurrent_encoder_in_a_graph(rng):
    x = Input((7, 3), dtype="float64", name="rnn_x")
    h = LSTM(4, name="rnn_lstm")(x)
    model = Model(x, [Dense(2, activation="softmax", name="rnn_a")(h), Dense(1, name="rnn_b")(h)])
    model.compile(SGD(0.0), loss=["categorical_crossentropy", "mse"])
    xs = rng.standard_normal((3, 7, 3))
    ys = [np.eye(2)[[0, 1, 0]], rng.standard_normal((3, 1))]
    _, _, dx = total_loss_and_grads(model, xs, ys)
    numeric = numerical_grad(lambda v: loss_only(model, v, ys), xs, np.array(1.0), h=1e-5)
    assert rel_error(dx, numeric) < TOL


def test_a_graph_model_saves_and_loads_exactly_compiled_and_all(rng, tmp_path):
    from nn.models import load_model

    model = fork_join_shared("io_", dtype="float32")
    model.compile("adam", {"io_emotion": "categorical_crossentropy", "io_gender": "mse"},
                  metrics={"io_emotion": ["accuracy"], "io_gender": []},
                  loss_weights={"io_emotion": 1.0, "io_gender": 0.25})  # fmt: skip
    x, ys = data(rng, n=12)
    model.fit(x, ys, 4, 2, 0)
    again = load_model(model.save(tmp_path / "graph.npz"))
    assert type(again).__name__ == "Model" and again.output_names == model.output_names
    for a, b in zip(again.predict(x), model.predict(x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.loss == model.loss and again.loss_weights == model.loss_weights
    assert again.evaluate(x, ys, return_dict=True) == model.evaluate(x, ys, return_dict=True)
    assert again.summary(print_fn=None) == model.summary(print_fn=None)


def test_an_edited_graph_description_is_one_clear_error(rng, tmp_path):
    import io
    import json
    import zipfile

    from nn.models import load_model
    from nn.serialization import ModelFileError

    path = fork_join_shared("bad_").save(tmp_path / "g.npz")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    text = np.load(path, allow_pickle=False)["__model__"].item()

    def edited(change, name):
        description = json.loads(text)
        change(description["architecture"])
        out = tmp_path / name
        arrays = (
            {k[:-4]: v for k, v in np.load(path, allow_pickle=False).items()} if False else None
        )
        del arrays
        with zipfile.ZipFile(out, "w") as zf:
            for member, data in members.items():
                if member == "__model__.npy":  # the description, edited; the weights as saved
                    buf = io.BytesIO()
                    np.save(buf, np.array(json.dumps(description)))
                    data = buf.getvalue()
                zf.writestr(member, data)
        return out

    cases = {
        "a node reading a later node": (lambda a: a["nodes"][0].update(inputs=[["node", 5]]),
                                        "inputs that come before it"),
        "an output nowhere": (lambda a: a.update(outputs=[["node", 99]]),
                              "is not an input or a node"),
        "no nodes": (lambda a: a.pop("nodes"), "has no 'nodes'"),
    }  # fmt: skip
    for name, (change, message) in cases.items():
        with pytest.raises(ModelFileError, match=message):
            load_model(edited(change, name.replace(" ", "_") + ".npz"))

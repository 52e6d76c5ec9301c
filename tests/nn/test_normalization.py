"""Batch normalisation (BN-1 .. BN-8): the formula as loops, finite-difference gradients on both
backends, the layer's moving statistics and state, model files, AdaBN, and PyTorch parity."""

import json

import numpy as np
import pytest

from nn import backend
from nn.adaptation import adapt_batchnorm, adapted_batchnorm, input_statistics, restore_batchnorm
from nn.callbacks import Callback, EarlyStopping
from nn.functional import normalization as ref
from nn.gradcheck import check_layer, numerical_grad, rel_error
from nn.kernels import normalization as fast
from nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    Masking,
)
from nn.models import Sequential, load_model
from nn.optimizers import SGD, Adam
from nn.serialization import ModelFileError, _checksum

SINGLE = 1e-7  # one smooth op (STYLE.md)
BACKENDS = [pytest.param(ref, id="reference"), pytest.param(fast, id="kernel")]
SHAPES = [(1, 1), (4, 3), (2, 5, 3), (1, 4, 2), (2, 3, 2, 3)]  # (N, C), (N, T, C), (N, H, W, C)


def inputs(rng, shape, offset=1.5, spread=2.0):
    """x away from zero mean and unit variance, so that normalising it changes it."""
    C = shape[-1]
    x = offset + spread * rng.standard_normal(shape)
    return x, 1.0 + 0.5 * rng.standard_normal(C), rng.standard_normal(C)


def some_mask(rng, N, T):
    mask = (rng.random((N, T)) > 0.35).astype(np.float64)
    mask[:, 0] = 1.0  # every sequence has a real step
    return mask


def built(layer, shape, seed=0, dtype="float64"):
    return layer.build(shape, np.random.default_rng(seed), dtype=dtype)


# ---- the formula, evaluated independently ------------------------------------------------------
@pytest.mark.ch02_cnn
@pytest.mark.parametrize(
    "shape, masked", [((6, 3), False), ((3, 4, 2), False), ((3, 4, 2), True), ((2, 3, 4, 2), False)]
)  # a time mask belongs to (N, T, C) inputs
@pytest.mark.parametrize("fixed", [False, True], ids=["batch", "moving"])
def test_batchnorm_formula_bn1_to_bn4_as_a_per_channel_loop(rng, shape, masked, fixed):
    x, gamma, beta = inputs(rng, shape)
    eps = 1e-3
    mask = some_mask(rng, *shape[:2]) if masked else None
    given = dict(mean=rng.standard_normal(shape[-1]), variance=rng.random(shape[-1]) + 0.5)
    y, cache = ref.batchnorm_forward(
        x, gamma, beta, epsilon=eps, mask=mask, **(given if fixed else {})
    )

    want = np.zeros(shape)
    for c in range(shape[-1]):  # one channel at a time, one position at a time
        real = [ix for ix in np.ndindex(shape[:-1]) if mask is None or mask[ix[:2]] == 1]
        values = [x[ix + (c,)] for ix in real]
        if fixed:
            mu, var = given["mean"][c], given["variance"][c]
        else:
            mu = sum(values) / len(values)  # BN-1
            var = sum((v - mu) ** 2 for v in values) / len(values)  # BN-2, biased
        for ix in real:
            xhat = (x[ix + (c,)] - mu) / np.sqrt(var + eps)  # BN-3
            want[ix + (c,)] = gamma[c] * xhat + beta[c]  # BN-4; padded positions stay 0
        if not fixed:
            assert cache.mean[c] == pytest.approx(mu, rel=1e-12)
            assert cache.variance[c] == pytest.approx(var, rel=1e-12)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.ch02_cnn
def test_training_output_has_zero_mean_and_unit_variance_per_channel(rng):
    x, _, _ = inputs(rng, (8, 5, 3))
    y, _ = ref.batchnorm_forward(x, None, None, epsilon=1e-12)
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1)), 1.0, rtol=1e-9)


# ---- gradients: every input and parameter, both backends -------------------------------------
def _check_gradients(impl, rng, shape, *, training, masked, center=True, scale=True):
    """rel_error of dx, dgamma, dbeta against finite differences (h = 1e-6).

    In training mode dx sums to 0 over each channel, and so does dx * xhat (BN-7), so a few
    of its elements can be close to 0. rel_error divides element by element, and there the
    ~1e-10 rounding of a centred difference dominates: over other seeds than the fixture's,
    the worst seen was 1e-5 at an element of 1.2e-5 (absolute error 5e-10, max |dx| 0.94).
    The fixture's fixed seed keeps these checks deterministic (worst measured 4e-8).
    """
    x, gamma, beta = inputs(rng, shape)
    gamma, beta = (gamma if scale else None), (beta if center else None)
    mask = some_mask(rng, *shape[:2]) if masked else None
    stats = (
        {}
        if training
        else dict(mean=rng.standard_normal(shape[-1]), variance=1 + rng.random(shape[-1]))
    )

    def f(xv, gv, bv):
        return impl.batchnorm_forward(xv, gv, bv, epsilon=1e-3, mask=mask, **stats)[0]

    y, cache = impl.batchnorm_forward(x, gamma, beta, epsilon=1e-3, mask=mask, **stats)
    dout = rng.standard_normal(y.shape)
    dx, dgamma, dbeta = impl.batchnorm_backward(dout, cache)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    errors = {"x": rel_error(dx, numerical_grad(lambda v: f(v, gamma, beta), x, dout))}
    if scale:
        errors["gamma"] = rel_error(dgamma, numerical_grad(lambda v: f(x, v, beta), gamma, dout))
    else:
        assert dgamma is None
    if center:
        errors["beta"] = rel_error(dbeta, numerical_grad(lambda v: f(x, gamma, v), beta, dout))
    else:
        assert dbeta is None
    if masked:
        padded = mask == 0
        assert not dx[padded].any() and not y[padded].any()  # output 0, gradient 0
    return errors


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize(
    "shape, training",
    [(s, False) for s in SHAPES] + [(s, True) for s in SHAPES[1:]],  # (1, 1): y = beta
    ids=lambda v: "training" if v is True else "inference" if v is False else None,
)
def test_batchnorm_gradients(rng, impl, shape, training):
    errors = _check_gradients(impl, rng, shape, training=training, masked=False)
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 4, 1), (1, 6, 2)])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_masked_batchnorm_gradients(rng, impl, shape, training):
    errors = _check_gradients(impl, rng, shape, training=training, masked=True)
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("masked", [False, True])
def test_batchnorm_gradients_without_center_or_scale(rng, impl, center, scale, training, masked):
    errors = _check_gradients(
        impl, rng, (3, 4, 2), training=training, masked=masked, center=center, scale=scale
    )
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.ch02_cnn
def test_padded_steps_are_left_out_of_the_statistics(rng):
    """The batch statistics with a mask are those of the real steps alone."""
    x, gamma, beta = inputs(rng, (3, 6, 2))
    mask = some_mask(rng, 3, 6)
    x[mask == 0] = 1e6  # padding holds garbage: it must not matter
    y, cache = ref.batchnorm_forward(x, gamma, beta, mask=mask)
    real = x[mask == 1]  # (M, C)
    np.testing.assert_allclose(cache.mean, real.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cache.variance, real.var(axis=0), rtol=1e-12)
    alone, _ = ref.batchnorm_forward(real, gamma, beta)
    np.testing.assert_allclose(y[mask == 1], alone, rtol=1e-12)
    with pytest.raises(ValueError, match="mask is all 0"):
        ref.batchnorm_forward(x, gamma, beta, mask=np.zeros((3, 6)))
    with pytest.raises(ValueError, match="mask must be shaped"):
        ref.batchnorm_forward(x, gamma, beta, mask=np.ones((3, 5)))


@pytest.mark.ch02_cnn
def test_functional_errors_name_the_problem(rng):
    x, gamma, beta = inputs(rng, (4, 3))
    with pytest.raises(ValueError, match="3 channels, but gamma has shape"):
        ref.batchnorm_forward(x, gamma[:2], beta)
    with pytest.raises(ValueError, match="both mean and variance"):
        ref.batchnorm_forward(x, gamma, beta, mean=np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, \.\.\., C\)"):
        ref.batchnorm_forward(x[0], gamma, beta)


# ---- the layer ---------------------------------------------------------------------------------
@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("shape", [(5,), (4, 3), (3, 2, 2)])
def test_layer_gradients_in_inference_mode(rng, shape):
    layer = built(BatchNormalization(), shape)
    layer.state["moving_mean"][...] = rng.standard_normal(shape[-1])
    layer.state["moving_variance"][...] = 0.5 + rng.random(shape[-1])
    layer.params["gamma"][...] = 1 + 0.3 * rng.standard_normal(shape[-1])
    errors = check_layer(layer, rng.standard_normal((3, *shape)), h=1e-5)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.ch03_gradcheck
def test_layer_gradients_in_training_mode(rng):
    layer = built(BatchNormalization(momentum=0.9), (4, 3))
    layer.params["gamma"][...] = 1 + 0.3 * rng.standard_normal(3)
    x = inputs(rng, (3, 4, 3))[0]

    def run(_):
        y = layer.forward(x, training=True)
        layer._clear_cache()
        return y

    out = layer.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert rel_error(dx, numerical_grad(run, x, dout)) < SINGLE
    for name, p in layer.params.items():
        assert rel_error(grads[name], numerical_grad(run, p, dout)) < SINGLE, name


@pytest.mark.ch04_training
def test_moving_statistics_follow_the_keras_update_rule(rng):
    layer = built(BatchNormalization(momentum=0.8), (5, 2))
    mean, var = layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()
    np.testing.assert_array_equal(mean, 0.0)  # Keras's initial values
    np.testing.assert_array_equal(var, 1.0)
    same_objects = dict(layer.state)
    for _ in range(3):
        x = inputs(rng, (4, 5, 2))[0]
        layer.forward(x, training=True)
        layer._clear_cache()
        mean = 0.8 * mean + 0.2 * x.mean(axis=(0, 1))  # BN-5
        var = 0.8 * var + 0.2 * x.var(axis=(0, 1))  # biased, as Keras
        np.testing.assert_allclose(layer.state["moving_mean"], mean, rtol=1e-12)
        np.testing.assert_allclose(layer.state["moving_variance"], var, rtol=1e-12)
    assert all(layer.state[k] is v for k, v in same_objects.items())  # updated in place
    before = {k: v.copy() for k, v in layer.state.items()}
    y = layer.forward(inputs(rng, (4, 5, 2))[0], training=False)  # inference: no update
    for k, v in before.items():
        np.testing.assert_array_equal(layer.state[k], v)
    assert y.shape == (4, 5, 2)


@pytest.mark.ch04_training
def test_inference_uses_the_moving_statistics(rng):
    layer = built(BatchNormalization(epsilon=1e-2), (3,))
    layer.state["moving_mean"][...] = [1.0, -2.0, 0.5]
    layer.state["moving_variance"][...] = [4.0, 0.25, 1.0]
    layer.params["gamma"][...] = [2.0, 1.0, -1.0]
    layer.params["beta"][...] = [0.0, 1.0, 3.0]
    x = rng.standard_normal((4, 3))
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    want = (x - mean) / np.sqrt(var + 1e-2) * [2.0, 1.0, -1.0] + [0.0, 1.0, 3.0]
    np.testing.assert_allclose(layer.forward(x, training=False), want, rtol=1e-12)


@pytest.mark.ch04_training
def test_layer_with_a_mask_passes_it_on_and_uses_it(rng):
    model = Sequential(
        [
            Masking(0.0, input_shape=(6, 3)),
            BatchNormalization(momentum=0.0),
            GlobalAveragePooling1D(),
            Dense(2),
        ],
        dtype="float64",
    )
    x = inputs(rng, (4, 6, 3))[0]
    x[0, 4:] = 0.0  # padding
    x[2, 2:] = 0.0
    model.forward(x, training=True)
    bn = model.layers[1]
    real = x[np.any(x != 0.0, axis=-1)]
    np.testing.assert_allclose(bn.state["moving_mean"], real.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.state["moving_variance"], real.var(axis=0), rtol=1e-12)
    mask = np.any(x != 0.0, axis=-1)
    np.testing.assert_array_equal(bn.compute_mask(x, mask), mask)


@pytest.mark.ch04_training
def test_axis_other_than_the_last_is_refused_naming_the_layer():
    with pytest.raises(ValueError, match=r"'bn_a' \(BatchNormalization\): only axis=-1"):
        BatchNormalization(axis=0, name="bn_a")
    with pytest.raises(ValueError, match="only axis=-1"):
        BatchNormalization(axis=-2)
    with pytest.raises(ValueError, match=r"'bn_b'.*axis=1 for inputs of rank 4"):
        built(BatchNormalization(axis=1, name="bn_b"), (5, 4, 3))
    layer = built(BatchNormalization(axis=3), (5, 4, 3))  # the last axis by its index
    assert layer.params["gamma"].shape == (3,)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.0)


@pytest.mark.ch04_training
def test_an_input_with_another_channel_count_names_the_layer(rng):
    layer = built(BatchNormalization(name="bn_c"), (7, 4))
    with pytest.raises(
        ValueError, match=r"'bn_c' \(BatchNormalization\) was built for 4 channels, but its input "
    ):
        layer.forward(rng.standard_normal((2, 7, 5)))
    with pytest.raises(ValueError, match=r"'bn_c' \(BatchNormalization\) expects inputs shaped"):
        layer.forward(rng.standard_normal((2, 6, 4)))


@pytest.mark.ch04_training
def test_center_and_scale_off_leave_out_beta_and_gamma(rng):
    layer = built(BatchNormalization(center=False, scale=False), (4,))
    assert layer.params == {} and set(layer.state) == {"moving_mean", "moving_variance"}
    x = inputs(rng, (6, 4))[0]
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-12)
    assert layer.backward(rng.standard_normal(y.shape)).shape == x.shape
    assert layer.grads == {}
    only_gamma = built(BatchNormalization(center=False), (4,))
    assert set(only_gamma.params) == {"gamma"}


@pytest.mark.ch04_training
def test_state_is_cast_by_astype_and_never_seen_by_the_optimizer(rng):
    model = Sequential([Dense(3, input_shape=(4,)), BatchNormalization(), Dense(2)])
    bn = model.layers[1]
    assert bn.state["moving_mean"].dtype == np.float32
    bn.astype("float64")
    assert all(v.dtype == np.float64 for v in bn.state.values())
    bn.astype("float32")
    seen = []
    opt = SGD(0.1)
    real = opt.apply

    def spy(pairs):
        pairs = list(pairs)
        seen.extend(id(p) for p, _ in pairs)
        return real(pairs)

    opt.apply = spy
    model.compile(opt, "mse")
    model.fit(rng.standard_normal((8, 4)), rng.standard_normal((8, 2)), epochs=1, verbose=0)
    assert id(bn.params["gamma"]) in seen
    assert not {id(v) for v in bn.state.values()} & set(seen)
    assert bn.state["moving_mean"].any()  # it moved: training updated it


def bn_cnn(seed=0, dtype="float32"):
    model = Sequential(seed=seed, dtype=dtype)
    model.add(Conv2D(4, (3, 3), input_shape=(10, 6, 1)))
    model.add(BatchNormalization())
    model.add(Flatten())
    model.add(Dense(8, activation="relu"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Dense(3, activation="softmax"))
    model.compile(Adam(0.01), "categorical_crossentropy", ["accuracy"])
    return model


def toy(n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = 3.0 + rng.standard_normal((n, 10, 6, 1))
    for i, k in enumerate(labels):
        x[i, 3 * k : 3 * k + 3, :, 0] += 2.0
    return x.astype(np.float32), np.eye(3, dtype=np.float32)[labels]


@pytest.mark.ch04_training
def test_summary_counts_the_moving_statistics_as_non_trainable_as_keras():
    text = bn_cnn().summary(print_fn=None)
    # conv 3*3*1*4 + 4 = 40; BN(4): 2*4 trainable + 2*4 moving; dense 128*8 + 8 = 1032;
    # BN(8): 16 + 16; dense 8*3 + 3 = 27. Keras: Total 1,147, Trainable 1,123, Non-trainable 24
    assert "batch_normalization (BatchNormalization)" in text and "batch_normalization_1" in text
    assert "Total params: 1,147" in text
    assert "Trainable params: 1,123" in text
    assert "Non-trainable params: 24 (0.09 KB)" in text  # 24 float32 values, 96 bytes
    assert bn_cnn().count_params() == 1147  # as Keras's count_params: both kinds


@pytest.mark.ch04_training
def test_a_model_with_batchnorm_trains_and_reloads_with_its_moving_statistics(tmp_path):
    x, y = toy()
    model = bn_cnn()
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    bn = model.layers[1]
    assert np.all(bn.state["moving_mean"] != 0.0)  # moved towards the inputs' mean
    again = load_model(model.save(tmp_path / "bn.npz"))
    for a, b in zip(model.layers, again.layers, strict=True):
        for k in a.state:
            np.testing.assert_array_equal(a.state[k], b.state[k])
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.summary(print_fn=None) == model.summary(print_fn=None)


@pytest.mark.ch04_training
def test_a_tampered_state_is_refused_with_a_clear_message(tmp_path):
    path = bn_cnn().save(tmp_path / "m.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    assert "state/1/moving_mean" in arrays and "state/4/moving_variance" in arrays
    changed = dict(arrays)
    changed["state/1/moving_mean"] = changed["state/1/moving_mean"] + 1.0  # checksum catches it
    np.savez(tmp_path / "edited.npz", **changed)
    with pytest.raises(ModelFileError, match="do not match their checksum"):
        load_model(tmp_path / "edited.npz")
    arrays["state/1/moving_mean"] = np.zeros(5, np.float32)  # wrong shape, checksum redone
    description = json.loads(str(arrays.pop("__model__")))
    description["weights_sha256"] = _checksum(arrays)
    np.savez(tmp_path / "shape.npz", __model__=np.array(json.dumps(description)), **arrays)
    with pytest.raises(
        ModelFileError,
        match=r"state state/1/moving_mean of layer 'batch_normalization' has shape \(5,\), "
        r"the layer needs \(4,\)",
    ):
        load_model(tmp_path / "shape.npz")
    del arrays["state/4/moving_variance"]
    arrays["state/1/moving_mean"] = np.zeros(4, np.float32)
    description["weights_sha256"] = _checksum(arrays)
    np.savez(tmp_path / "missing.npz", __model__=np.array(json.dumps(description)), **arrays)
    with pytest.raises(ModelFileError, match="state state/4/moving_variance .* is missing"):
        load_model(tmp_path / "missing.npz")


@pytest.mark.ch04_training
def test_early_stopping_restores_the_moving_statistics_with_the_weights():
    x, y = toy(90)
    model = bn_cnn(seed=2)
    model.compile(Adam(0.05), "categorical_crossentropy", ["accuracy"])
    y_val = y[60:][np.random.default_rng(0).permutation(30)]  # noise: val_loss stops improving
    snapshots = []

    class Snapshot(Callback):  # records the state each epoch ended with
        def on_epoch_end(self, epoch, logs):
            snapshots.append(
                [{k: v.copy() for k, v in layer.state.items()} for layer in self.model.layers]
            )

    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = model.fit(
        x[:60],
        y[:60],
        epochs=30,
        batch_size=16,
        validation_data=(x[60:], y_val),
        callbacks=[Snapshot(), stop],
        verbose=0,
    )
    best = int(np.argmin(h.history["val_loss"]))
    assert 0 < best < len(h.epoch) - 1  # the best epoch is not the last one: restoring matters
    for layer, saved in zip(model.layers, snapshots[best], strict=True):
        for k, v in saved.items():
            np.testing.assert_array_equal(layer.state[k], v)
    loss = model.evaluate(x[60:], y_val)[0]
    assert loss == pytest.approx(h.history["val_loss"][best], rel=1e-5)


# ---- AdaBN -------------------------------------------------------------------------------------
def adabn_model(seed=0, dropout=0.0):
    model = Sequential(seed=seed, dtype="float64")
    model.add(Dense(6, activation="tanh", input_shape=(4,)))
    model.add(BatchNormalization(momentum=0.9))
    if dropout:
        model.add(Dropout(dropout))
    model.add(Dense(5, activation="relu"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Dense(3, activation="softmax"))
    return model


def trained_adabn_model(rng, **kwargs):
    model = adabn_model(**kwargs)
    model.compile(Adam(0.01), "sparse_categorical_crossentropy")
    x = rng.standard_normal((64, 4))
    model.fit(x, rng.integers(0, 3, 64), epochs=2, batch_size=16, verbose=0)
    return model


@pytest.mark.ch04_training
@pytest.mark.parametrize("batch_size", [7, 64, 1000])
def test_adabn_equals_training_mode_on_the_whole_set(rng, batch_size):
    model = trained_adabn_model(rng)
    target = 2.0 + 3.0 * rng.standard_normal((50, 4))  # another "speaker": shifted inputs
    before = model.predict(target)
    saved = adapt_batchnorm(model, target, batch_size=batch_size)
    adapted = model.predict(target)
    restore_batchnorm(model, saved)
    np.testing.assert_array_equal(model.predict(target), before)
    one_batch = model.forward(target, training=True)  # every BN on all of target at once
    np.testing.assert_allclose(adapted, one_batch, rtol=1e-10, atol=1e-12)
    assert not np.allclose(adapted, before)


@pytest.mark.ch04_training
def test_adabn_in_one_pass_gives_the_statistics_of_one_pass_per_layer(rng):
    model = trained_adabn_model(rng)
    target = 2.0 + 3.0 * rng.standard_normal((50, 4))
    adapt_batchnorm(model, target, batch_size=50)  # one forward pass
    one = [model.layers[i].state["moving_variance"].copy() for i in (1, 3)]
    adapt_batchnorm(model, target, batch_size=49)  # one pass per BN layer, in chunks
    for i, v in zip((1, 3), one, strict=True):
        np.testing.assert_allclose(model.layers[i].state["moving_variance"], v, rtol=1e-12)


@pytest.mark.ch04_training
def test_adabn_restore_and_the_context_manager(rng):
    model = trained_adabn_model(rng)
    bn_layers = [1, 3]
    original = {i: {k: v.copy() for k, v in model.layers[i].state.items()} for i in bn_layers}
    target = 1.0 + rng.standard_normal((30, 4))
    with adapted_batchnorm(model, target, batch_size=8) as m:
        assert m is model
        inside = {i: {k: v.copy() for k, v in model.layers[i].state.items()} for i in bn_layers}
        mean, var = input_statistics(model, 1, target)
        np.testing.assert_allclose(inside[1]["moving_mean"], mean, rtol=1e-12)
        h = np.tanh(target @ model.layers[0].params["kernel"] + model.layers[0].params["bias"])
        np.testing.assert_allclose(mean, h.mean(axis=0), rtol=1e-12)  # exact, no momentum
        np.testing.assert_allclose(var, h.var(axis=0), rtol=1e-10)
    for i in bn_layers:
        for k, v in original[i].items():
            np.testing.assert_array_equal(model.layers[i].state[k], v)
            assert not np.array_equal(inside[i][k], v)
    with pytest.raises(RuntimeError), adapted_batchnorm(model, target):
        raise RuntimeError("restored even on an error")
    for i in bn_layers:
        for k, v in original[i].items():
            np.testing.assert_array_equal(model.layers[i].state[k], v)


@pytest.mark.ch04_training
def test_adabn_runs_dropout_in_inference_mode(rng):
    model = trained_adabn_model(rng, dropout=0.5)
    target = rng.standard_normal((40, 4))
    first = adapt_batchnorm(model, target, batch_size=16)
    stats = [model.layers[i].state["moving_mean"].copy() for i in (1, 4)]
    restore_batchnorm(model, first)
    adapt_batchnorm(model, target, batch_size=16)
    for i, s in zip((1, 4), stats, strict=True):
        np.testing.assert_array_equal(model.layers[i].state["moving_mean"], s)  # no random mask
    without = adabn_model(dropout=0.0)  # the same model without its Dropout layer
    for src, dst in zip([model.layers[i] for i in (0, 1, 3, 4, 5)], without.layers, strict=True):
        dst.params = {k: v.copy() for k, v in src.params.items()}
        dst.state = {k: v.copy() for k, v in src.state.items()}
    restore_batchnorm(model, first)
    adapt_batchnorm(without, target)
    adapt_batchnorm(model, target)
    np.testing.assert_allclose(model.predict(target), without.predict(target), rtol=1e-12)


@pytest.mark.ch04_training
@pytest.mark.parametrize("batch_size", [4, 64])  # chunked, and all of x in one pass
def test_adabn_with_padded_sequences_uses_the_real_steps(rng, batch_size):
    model = Sequential(
        [Masking(0.0, input_shape=(5, 3)), BatchNormalization(), GlobalAveragePooling1D()],
        dtype="float64",
    )
    x = inputs(rng, (6, 5, 3))[0]
    x[1, 3:] = 0.0
    x[4, 1:] = 0.0
    adapt_batchnorm(model, x, batch_size=batch_size)
    real = x[np.any(x != 0.0, axis=-1)]
    np.testing.assert_allclose(model.layers[1].state["moving_mean"], real.mean(0), rtol=1e-12)
    np.testing.assert_allclose(model.layers[1].state["moving_variance"], real.var(0), rtol=1e-12)
    np.testing.assert_allclose(
        model.predict(x), model.forward(x, training=True), rtol=1e-10, atol=1e-12
    )


@pytest.mark.ch04_training
def test_adabn_needs_a_batchnorm_layer_and_data(rng):
    plain = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="no BatchNormalization layer"):
        adapt_batchnorm(plain, rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="at least one example"):
        adapt_batchnorm(adabn_model(), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="expects x shaped"):
        adapt_batchnorm(adabn_model(), np.zeros((3, 5)))


# ---- PyTorch parity ----------------------------------------------------------------------------
def _torch_bn(torch, x, gamma, beta, eps, training, stats=None):
    """torch.nn.BatchNorm1d/2d on our channels-last x, transposed to channels first.

    Returns (output, input tensor, module, the transpose order, its inverse)."""
    C = x.shape[-1]
    cls = torch.nn.BatchNorm2d if x.ndim == 4 else torch.nn.BatchNorm1d
    bn = cls(C, eps=eps, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
        if stats is not None:
            bn.running_mean.copy_(torch.from_numpy(stats[0]))
            bn.running_var.copy_(torch.from_numpy(stats[1]))
    bn.train(training)
    order = (0, x.ndim - 1, *range(1, x.ndim - 1))  # channels last -> channels first
    back = np.argsort(order)
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(order))).requires_grad_(True)
    ty = bn(tx)
    return ty, tx, bn, order, back


@pytest.mark.parity
@pytest.mark.ch02_cnn
@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize("shape", [(8, 3), (4, 6, 3), (3, 5, 4, 2)])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_matches_torch(rng, impl, shape, training):
    torch = pytest.importorskip("torch")
    x, gamma, beta = inputs(rng, shape)
    stats = (rng.standard_normal(shape[-1]), 0.5 + rng.random(shape[-1]))
    eps = 1e-5  # PyTorch's default, passed to both
    kwargs = {} if training else dict(mean=stats[0], variance=stats[1])
    y, cache = impl.batchnorm_forward(x, gamma, beta, epsilon=eps, **kwargs)
    dout = rng.standard_normal(shape)
    dx, dgamma, dbeta = impl.batchnorm_backward(dout, cache)

    ty, tx, bn, order, back = _torch_bn(torch, x, gamma, beta, eps, training, stats)
    ty.backward(torch.from_numpy(np.ascontiguousarray(dout.transpose(order))))
    np.testing.assert_allclose(y, ty.detach().numpy().transpose(back), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy().transpose(back), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parity
@pytest.mark.ch04_training
def test_convention_torch_momentum_is_one_minus_keras_and_its_running_variance_is_unbiased(rng):
    """Keras momentum m = PyTorch momentum 1 - m; PyTorch's running variance uses the unbiased
    batch variance (M / (M - 1) times the biased one), Keras's and ours the biased one."""
    torch = pytest.importorskip("torch")
    x, gamma, beta = inputs(rng, (6, 5, 3))
    layer = built(BatchNormalization(momentum=0.9, epsilon=1e-5), (5, 3))
    y = layer.forward(x, training=True)
    ty, _, bn, _, back = _torch_bn(torch, x, np.ones(3), np.zeros(3), 1e-5, True)
    np.testing.assert_allclose(y, ty.detach().numpy().transpose(back), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], bn.running_mean.numpy(), rtol=1e-12)
    M = 6 * 5
    biased = x.var(axis=(0, 1))
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 + 0.1 * biased, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * biased * M / (M - 1), rtol=1e-12)


@pytest.mark.ch04_training
def test_the_layer_runs_the_backend_twin(monkeypatch, rng):
    calls = []
    real = backend.ops.normalization.batchnorm_forward

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.ops.normalization, "batchnorm_forward", spy)
    built(BatchNormalization(), (3,)).forward(rng.standard_normal((4, 3)), training=True)
    assert calls == [1]
    assert backend.implementations("numpy").normalization is ref
    assert backend.implementations("numba").normalization is fast

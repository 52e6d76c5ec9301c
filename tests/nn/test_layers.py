"""Every layer passes check_layer in float64; the layer contract (one backward per forward,
accumulating gradients, params read on every call, shape errors that name the layer)."""

import numpy as np
import pytest

from nn.engine import simd
from nn.gradcheck import check_layer
from nn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, MaxPooling2D

pytestmark = [pytest.mark.ch03_gradcheck, pytest.mark.ch04_training]

SINGLE = 1e-7  # one smooth op (measured worst over 280 random checks: 3.5e-8 at h=1e-5)
COMPOSITE = 1e-6  # an op followed by a smooth activation
KINK = 1e-5  # relu, max pooling
LANES = simd.lanes(np.float64)  # these channel counts take the direct convolution kernels


def built(layer, input_shape, seed=0):
    return layer.build(input_shape, np.random.default_rng(seed), dtype="float64")


LINEAR_LAYERS = [
    (lambda: Dense(4), (6,)),
    (lambda: Dense(3, use_bias=False), (5,)),
    (lambda: Conv2D(3, (3, 3)), (6, 5, 2)),
    (lambda: Conv2D(2, (2, 3), strides=(2, 1), padding="same"), (7, 5, 3)),
    (lambda: Conv2D(2 * LANES, (3, 3), padding="same"), (4, 12, LANES)),
    (lambda: AveragePooling2D((2, 2)), (4, 6, 2)),
    (lambda: AveragePooling2D((3, 2), strides=(2, 2), padding="same"), (5, 5, 1)),
    (lambda: Flatten(), (3, 2, 2)),
    (lambda: Dropout(0.5), (7,)),  # inference: the identity
    (lambda: Activation("linear"), (4,)),
]


@pytest.mark.parametrize("make, shape", LINEAR_LAYERS)
def test_linear_layers(rng, make, shape):
    layer = built(make(), shape)
    errors = check_layer(layer, rng.standard_normal((3, *shape)), h=1e-5)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Dense(4, activation="tanh"), (6,)),
        (lambda: Dense(3, activation="sigmoid"), (5,)),
        (lambda: Dense(3, activation="softmax"), (5,)),
        (lambda: Conv2D(3, (3, 3), activation="tanh", padding="same"), (5, 4, 2)),
        (lambda: Activation("softmax"), (6,)),
    ],
)
def test_layers_with_smooth_activations(rng, make, shape):
    layer = built(make(), shape)
    assert max(check_layer(layer, rng.standard_normal((3, *shape)), h=1e-5).values()) < COMPOSITE


def test_relu_layers_with_inputs_away_from_the_kink(rng):
    layer = built(Dense(5, activation="relu"), (4,))
    x = rng.standard_normal((3, 4))
    z = x @ layer.params["kernel"] + layer.params["bias"]
    layer.params["bias"] += np.where(np.abs(z) < 0.05, 0.1, 0.0).max(
        axis=0
    )  # no pre-activation near 0
    z = x @ layer.params["kernel"] + layer.params["bias"]
    assert np.min(np.abs(z)) > 1e-3
    assert max(check_layer(layer, x).values()) < KINK


def test_maxpool_layer_without_ties(rng):
    layer = built(MaxPooling2D((2, 2)), (4, 4, 2))
    x = rng.permutation(64).reshape(2, 4, 4, 2) * 0.1 + rng.uniform(0, 0.01, (2, 4, 4, 2))
    assert max(check_layer(layer, x).values()) < KINK


def test_one_backward_per_forward_and_gradients_accumulate(rng):
    layer = built(Dense(3), (4,))
    x, dout = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    layer.forward(x)
    layer.backward(dout)
    with pytest.raises(RuntimeError, match="backward without a forward"):
        layer.backward(dout)
    once = layer.grads["kernel"].copy()
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["kernel"], 2 * once)  # accumulated, not replaced
    layer.zero_grad()
    assert not layer.grads["kernel"].any()


def test_replacing_a_weight_array_takes_effect(rng):
    layer = built(Dense(2), (3,))
    x = rng.standard_normal((4, 3))
    layer.params["kernel"] = np.zeros((3, 2))
    layer.params["bias"] = np.array([1.0, -1.0])
    np.testing.assert_array_equal(layer.forward(x), np.tile([1.0, -1.0], (4, 1)))


def test_a_shape_that_does_not_fit_names_the_layer_and_both_shapes(rng):
    layer = built(Conv2D(2, (3, 3), name="conv_a"), (8, 5, 1))
    with pytest.raises(
        ValueError,
        match=r"'conv_a' \(Conv2D\) expects inputs shaped \(None, 8, 5, 1\), "
        r"received \(2, 5, 8, 1\)",
    ):
        layer.forward(rng.standard_normal((2, 5, 8, 1)))
    with pytest.raises(ValueError, match="Flatten"):
        built(Dense(3, name="d"), (4, 4))
    with pytest.raises(ValueError, match="does not fit"):
        built(Conv2D(2, (5, 5)), (3, 3, 1))


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Dense(3, activation="gelu")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_dropout_in_training_zeroes_and_scales_and_is_seeded():
    a = Dropout(0.5).build((1000,), np.random.default_rng(7), dtype="float32")
    b = Dropout(0.5).build((1000,), np.random.default_rng(7), dtype="float32")
    x = np.ones((2, 1000), dtype=np.float32)
    ya = a.forward(x, training=True)
    np.testing.assert_array_equal(ya, b.forward(x, training=True))
    assert set(np.unique(ya)) == {0.0, 2.0}
    np.testing.assert_array_equal(a.forward(x, training=False), x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layers_keep_their_dtype(rng, dtype):
    layer = Conv2D(2, 3, activation="relu").build((6, 6, 1), rng, dtype=dtype)
    out = layer.forward(rng.standard_normal((2, 6, 6, 1)).astype(dtype))
    assert out.dtype == dtype and layer.params["kernel"].dtype == dtype
    assert layer.backward(np.ones_like(out)).dtype == dtype and layer.grads["kernel"].dtype == dtype


@pytest.mark.ch03_gradcheck
def test_gradient_reversal_is_the_identity_forward_and_minus_factor_backward(rng):
    """eq. GRL: the backward is -factor times the true derivative of the forward (the
    identity), checked against finite differences of the forward."""
    from nn.gradcheck import numerical_grad, rel_error
    from nn.layers import GradientReversal

    layer = GradientReversal(0.7).build((3, 4), np.random.default_rng(0), "float64")
    x, dout = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    dx = layer.backward(dout)
    true = numerical_grad(lambda v: layer.forward(v), x, dout, h=1e-5)
    assert rel_error(dx, -0.7 * true) < 1e-9
    with pytest.raises(ValueError, match="factor must be a finite number >= 0"):
        GradientReversal(-1.0)

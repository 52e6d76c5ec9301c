"""Float64 gradient checks of every functional op, and the conventions at kinks and ties."""

import numpy as np
import pytest

from nn.functional import activations as A
from nn.functional import losses as L
from nn.functional.conv import conv2d_backward, conv2d_forward, conv_output_size, same_padding
from nn.functional.dense import dense_backward, dense_forward
from nn.functional.dropout import dropout_backward, dropout_forward
from nn.functional.pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from nn.gradcheck import numerical_grad, rel_error

pytestmark = pytest.mark.ch03_gradcheck

SMOOTH = 1e-7  # dense, conv, average pooling, tanh, sigmoid, softmax, losses
KINK = 1e-5  # relu, max pooling, with inputs away from kinks and ties


def away_from_zero(rng, shape, margin=1e-2):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)


def distinct_values(rng, shape):
    """Inputs whose values are all different by at least 1e-3: no ties in any window."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 1e-2 + rng.uniform(0, 1e-3, n)).reshape(shape) - n * 5e-3


@pytest.mark.parametrize("N, D, M", [(1, 1, 1), (2, 3, 4), (5, 7, 3)])
@pytest.mark.ex_GC
def test_dense(rng, N, D, M):
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dy = rng.standard_normal((N, M))
    dx, dW, db = dense_backward(dy, dense_forward(x, W, b)[1])
    assert rel_error(dx, numerical_grad(lambda v: dense_forward(v, W, b)[0], x, dy)) < SMOOTH
    assert rel_error(dW, numerical_grad(lambda v: dense_forward(x, v, b)[0], W, dy)) < SMOOTH
    assert rel_error(db, numerical_grad(lambda v: dense_forward(x, W, v)[0], b, dy)) < SMOOTH


CONV_CASES = [  # N, H, W, C, KH, KW, F, strides, padding
    (1, 3, 3, 1, 3, 3, 1, (1, 1), "valid"),
    (2, 5, 4, 2, 3, 3, 3, (1, 1), "valid"),
    (2, 6, 5, 3, 3, 2, 2, (2, 1), "valid"),
    (1, 5, 5, 2, 3, 3, 2, (1, 1), "same"),
    (2, 7, 6, 1, 2, 3, 3, (2, 2), "same"),
]


@pytest.mark.ch02_cnn
@pytest.mark.parametrize("N, H, W, C, KH, KW, F, strides, padding", CONV_CASES)
@pytest.mark.ex_C1b
def test_conv2d(rng, N, H, W, C, KH, KW, F, strides, padding):
    x = rng.standard_normal((N, H, W, C))
    K, b = rng.standard_normal((KH, KW, C, F)), rng.standard_normal(F)
    out, cache = conv2d_forward(x, K, b, strides=strides, padding=padding)
    assert out.shape == (
        N,
        conv_output_size(H, KH, strides[0], padding),
        conv_output_size(W, KW, strides[1], padding),
        F,
    )
    dout = rng.standard_normal(out.shape)
    dx, dK, db = conv2d_backward(dout, cache)

    def f(x_, K_, b_):
        return conv2d_forward(x_, K_, b_, strides=strides, padding=padding)[0]

    assert rel_error(dx, numerical_grad(lambda v: f(v, K, b), x, dout)) < SMOOTH
    assert rel_error(dK, numerical_grad(lambda v: f(x, v, b), K, dout)) < SMOOTH
    assert rel_error(db, numerical_grad(lambda v: f(x, K, v), b, dout)) < SMOOTH


@pytest.mark.ch02_cnn
@pytest.mark.ex_C1
def test_conv2d_is_the_formula_c1_as_loops(rng):
    x, K, b = (
        rng.standard_normal((2, 5, 4, 3)),
        rng.standard_normal((3, 2, 3, 2)),
        rng.standard_normal(2),
    )
    out, _ = conv2d_forward(x, K, b)
    want = np.zeros_like(out)
    for n in range(2):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                for f in range(2):
                    want[n, i, j, f] = b[f] + sum(
                        x[n, i + p, j + q, c] * K[p, q, c, f]
                        for p in range(3)
                        for q in range(2)
                        for c in range(3)
                    )
    np.testing.assert_allclose(out, want, atol=1e-12)


@pytest.mark.ch02_cnn
@pytest.mark.ex_C1
def test_cross_correlation_versus_convolution(rng):
    """Errata E4: deep-learning 'convolution' does not flip the kernel; flipping it gives the
    true convolution (scipy.signal.convolve2d)."""
    import scipy.signal

    image, kernel = rng.standard_normal((6, 5)), rng.standard_normal((3, 3))
    ours = conv2d_forward(image[None, :, :, None], kernel[:, :, None, None], None)[0][0, :, :, 0]
    np.testing.assert_allclose(ours, scipy.signal.correlate2d(image, kernel, "valid"), atol=1e-12)
    flipped = kernel[::-1, ::-1, None, None]
    conv = conv2d_forward(image[None, :, :, None], flipped, None)[0][0, :, :, 0]
    np.testing.assert_allclose(conv, scipy.signal.convolve2d(image, kernel, "valid"), atol=1e-12)


@pytest.mark.ch02_cnn
def test_same_padding_matches_keras_rule():
    assert same_padding(5, 3, 1) == (1, 1)
    assert same_padding(6, 3, 2) == (0, 1)  # the odd zero goes after, as TensorFlow
    assert conv_output_size(7, 2, 2, "same") == 4 and conv_output_size(7, 2, 2, "valid") == 3


POOL_CASES = [
    ((2, 4, 4, 2), (2, 2), None, "valid"),
    ((1, 5, 7, 3), (2, 3), (1, 2), "valid"),
    ((2, 5, 5, 1), (2, 2), None, "same"),
    ((1, 6, 4, 2), (3, 3), (2, 1), "same"),
]


@pytest.mark.ch02_cnn
@pytest.mark.parametrize("shape, pool, strides, padding", POOL_CASES)
@pytest.mark.ex_C2b
def test_maxpool_gradient_without_ties(rng, shape, pool, strides, padding):
    x = distinct_values(rng, shape)
    out, cache = maxpool2d_forward(x, pool_size=pool, strides=strides, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx = maxpool2d_backward(dout, cache)
    f = lambda v: maxpool2d_forward(v, pool_size=pool, strides=strides, padding=padding)[0]  # noqa: E731
    assert rel_error(dx, numerical_grad(f, x, dout)) < KINK


@pytest.mark.ch02_cnn
@pytest.mark.parametrize("shape, pool, strides, padding", POOL_CASES)
@pytest.mark.ex_C3b
def test_avgpool_gradient(rng, shape, pool, strides, padding):
    x = rng.standard_normal(shape)
    out, cache = avgpool2d_forward(x, pool_size=pool, strides=strides, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx = avgpool2d_backward(dout, cache)
    f = lambda v: avgpool2d_forward(v, pool_size=pool, strides=strides, padding=padding)[0]  # noqa: E731
    assert rel_error(dx, numerical_grad(f, x, dout)) < SMOOTH


@pytest.mark.ch02_cnn
def test_pooling_formulas_c2_c3_on_a_known_input():
    x = np.arange(16, dtype=float).reshape(1, 4, 4, 1)
    mx = maxpool2d_forward(x)[0][0, :, :, 0]
    av = avgpool2d_forward(x)[0][0, :, :, 0]
    np.testing.assert_array_equal(mx, [[5, 7], [13, 15]])
    np.testing.assert_array_equal(av, [[2.5, 4.5], [10.5, 12.5]])
    # same padding: the corner window holds one real input, so its mean is that input
    same = avgpool2d_forward(np.arange(9.0).reshape(1, 3, 3, 1), padding="same")[0][0, :, :, 0]
    np.testing.assert_array_equal(same, [[2.0, 3.5], [6.5, 8.0]])


@pytest.mark.ch02_cnn
@pytest.mark.ex_C2b
def test_maxpool_tie_rule_first_maximum_in_row_major_order_gets_the_gradient():
    x = np.zeros((1, 2, 2, 1))  # four equal values: a four-way tie
    out, cache = maxpool2d_forward(x)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])


@pytest.mark.ch02_cnn
@pytest.mark.ex_C4
def test_relu_gradient_away_from_the_kink_and_its_convention_at_zero(rng):
    x = away_from_zero(rng, (4, 5))
    dout = rng.standard_normal(x.shape)
    out, mask = A.relu_forward(x)
    assert (
        rel_error(
            A.relu_backward(dout, mask), numerical_grad(lambda v: A.relu_forward(v)[0], x, dout)
        )
        < KINK
    )
    _, mask0 = A.relu_forward(np.array([0.0]))
    assert A.relu_backward(np.array([1.0]), mask0)[0] == 0.0  # ReLU'(0) = 0


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("tanh", marks=pytest.mark.ex_ACT),
        pytest.param("sigmoid", marks=pytest.mark.ex_ACT),
        pytest.param("softmax", marks=pytest.mark.ex_SM),
    ],
)
def test_smooth_activations(rng, name):
    forward, backward = A.ACTIVATIONS[name]
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal(x.shape)
    dx = backward(dout, forward(x)[1])
    assert rel_error(dx, numerical_grad(lambda v: forward(v)[0], x, dout)) < SMOOTH


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = A.sigmoid(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(30)), 0.5, 1 / (1 + np.exp(-30)), 1.0])
    assert A.sigmoid(np.array([5.0], dtype=np.float32)).dtype == np.float32


@pytest.mark.ex_SM
def test_softmax_is_stable_and_sums_to_one():
    z = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    s = A.softmax(z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=1), 1.0)


def test_dropout_is_inverted_and_its_gradient_uses_the_same_mask(rng):
    x = rng.standard_normal((200, 50))
    y, mask = dropout_forward(x, rate=0.3, rng=np.random.default_rng(1), training=True)
    zeroed = np.mean(y == 0)
    assert 0.25 < zeroed < 0.35
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    small = rng.standard_normal((3, 4))
    dout = rng.standard_normal(small.shape)
    _, small_mask = dropout_forward(small, rate=0.3, rng=np.random.default_rng(2), training=True)
    f = lambda v: dropout_forward(v, rate=0.3, rng=np.random.default_rng(2), training=True)[0]  # noqa: E731
    dx = dropout_backward(dout, small_mask)
    assert rel_error(dx, numerical_grad(f, small, dout)) < SMOOTH
    same, none = dropout_forward(x, rate=0.3, rng=rng, training=False)
    assert same is x and none is None


def test_cross_entropy_one_hot_and_integer_labels(rng):
    z = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[labels]
    loss, cache = L.softmax_cross_entropy_forward(z, onehot)
    sloss, scache = L.sparse_softmax_cross_entropy_forward(z, labels)
    want = -np.mean(np.log(A.softmax(z))[np.arange(5), labels])
    assert loss == pytest.approx(want) and sloss == pytest.approx(want)
    dz = L.softmax_cross_entropy_backward(1.0, cache)
    f = lambda v: np.array(L.softmax_cross_entropy_forward(v, onehot)[0])  # noqa: E731
    assert rel_error(dz, numerical_grad(f, z, np.array(1.0))) < SMOOTH
    np.testing.assert_allclose(L.sparse_softmax_cross_entropy_backward(1.0, scache), dz)


@pytest.mark.ex_CE
def test_cross_entropy_of_a_confident_wrong_answer_is_finite():
    loss, _ = L.softmax_cross_entropy_forward(np.array([[1000.0, -1000.0]]), np.array([[0.0, 1.0]]))
    assert loss == pytest.approx(2000.0)


def test_mse(rng):
    p, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss, cache = L.mse_forward(p, t)
    assert loss == pytest.approx(np.mean((p - t) ** 2))
    f = lambda v: np.array(L.mse_forward(v, t)[0])  # noqa: E731
    assert rel_error(L.mse_backward(1.0, cache), numerical_grad(f, p, np.array(1.0))) < SMOOTH


@pytest.mark.ex_GC
def test_gradcheck_catches_a_wrong_gradient(rng):
    """The check must fail loudly for a plausible bug: dW = x^T dy forgotten transposed."""
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    dy = rng.standard_normal((4, 3))
    _, dW, _ = dense_backward(dy, dense_forward(x, W, b)[1])
    wrong = dW.T
    numeric = numerical_grad(lambda v: dense_forward(x, v, b)[0], W, dy)
    assert rel_error(dW, numeric) < SMOOTH
    assert rel_error(wrong, numeric) > 1e-2


def test_gradcheck_refuses_float32(rng):
    with pytest.raises(TypeError, match="float64"):
        numerical_grad(lambda v: v, np.ones(3, dtype=np.float32), np.ones(3))

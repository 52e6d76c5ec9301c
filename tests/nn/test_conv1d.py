"""Conv1D (C1-1d): the formula as loops, finite-difference gradients on both backends, Keras's
'same' padding with dilation, shape errors that name the layer, PyTorch parity, and a model
with Conv1D + StatisticsPooling1D + Dense that learns and reloads."""

import numpy as np
import pytest

from nn import backend
from nn.functional import conv as ref
from nn.gradcheck import check_layer, numerical_grad, rel_error
from nn.kernels import conv as fast
from nn.layers import Conv1D, Dense, Masking, StatisticsPooling1D
from nn.models import Sequential, load_model
from nn.optimizers import Adam

pytestmark = [pytest.mark.ch02_cnn, pytest.mark.ch03_gradcheck]

SINGLE = 1e-7  # one smooth op (STYLE.md)
COMPOSITE = 1e-6  # an op followed by a smooth activation
IMPLS = [pytest.param(ref, id="reference"), pytest.param(fast, id="kernel")]


def built(layer, input_shape, seed=0):
    return layer.build(input_shape, np.random.default_rng(seed), dtype="float64")


def conv1d_by_loops(x, W, b, stride, padding, dilation):
    """Eq. C1-1d, element by element, with the TF / Keras 'same' rule written out again."""
    N, T, C = x.shape
    K, _, F = W.shape
    span = (K - 1) * dilation + 1
    if padding == "same":
        T_out = -(-T // stride)
        before = max((T_out - 1) * stride + span - T, 0) // 2
    else:
        T_out, before = (T - span) // stride + 1, 0
    out = np.zeros((N, T_out, F))
    for n in range(N):
        for t in range(T_out):
            for f in range(F):
                total = 0.0 if b is None else b[f]
                for p in range(K):
                    i = t * stride + p * dilation - before  # index into the unpadded x
                    if 0 <= i < T:
                        for c in range(C):
                            total += x[n, i, c] * W[p, c, f]
                out[n, t, f] = total
    return out


CASES = [  # N, T, C, K, F, stride, padding, dilation
    (1, 5, 1, 1, 1, 1, "valid", 1),
    (2, 7, 3, 3, 4, 1, "valid", 1),
    (2, 8, 2, 3, 3, 1, "same", 1),
    (2, 8, 2, 4, 3, 1, "same", 1),  # even kernel: the odd zero goes after
    (3, 9, 2, 3, 2, 2, "valid", 1),
    (2, 9, 3, 3, 2, 2, "same", 1),
    (2, 10, 2, 3, 3, 1, "same", 2),
    (2, 11, 2, 2, 3, 1, "same", 3),  # even span with dilation
    (1, 12, 3, 3, 2, 1, "valid", 2),
    (2, 12, 2, 3, 2, 2, "same", 2),  # stride and dilation together (the functions only)
    (1, 4, 2, 3, 2, 1, "same", 3),  # the dilated kernel spans more than the input
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("N, T, C, K, F, stride, padding, dilation", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_is_the_formula_c1_1d_as_loops(
    rng, impl, N, T, C, K, F, stride, padding, dilation, bias
):
    x, W = rng.standard_normal((N, T, C)), rng.standard_normal((K, C, F))
    b = rng.standard_normal(F) if bias else None
    out, _ = impl.conv1d_forward(x, W, b, stride=stride, padding=padding, dilation=dilation)
    want = conv1d_by_loops(x, W, b, stride, padding, dilation)
    assert out.shape == want.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("N, T, C, K, F, stride, padding, dilation", CASES)
def test_conv1d_reference_gradients(rng, N, T, C, K, F, stride, padding, dilation):
    x, W, b = rng.standard_normal((N, T, C)), rng.standard_normal((K, C, F)), rng.standard_normal(F)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    out, cache = ref.conv1d_forward(x, W, b, **kw)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = ref.conv1d_backward(dout, cache)
    assert (
        rel_error(dx, numerical_grad(lambda v: ref.conv1d_forward(v, W, b, **kw)[0], x, dout))
        < SINGLE
    )
    assert (
        rel_error(dW, numerical_grad(lambda v: ref.conv1d_forward(x, v, b, **kw)[0], W, dout))
        < SINGLE
    )
    assert (
        rel_error(db, numerical_grad(lambda v: ref.conv1d_forward(x, W, v, **kw)[0], b, dout))
        < SINGLE
    )


def test_same_padding_follows_keras_with_dilation():
    """TF / Keras: the padded kernel spans (K - 1) D + 1 steps; the odd zero goes after."""
    assert ref.conv1d_geometry((1, 10, 1), (3, 1, 1), 1, "same", 2) == ((2, 2), 10)
    assert ref.conv1d_geometry((1, 10, 1), (4, 1, 1), 1, "same", 1) == ((1, 2), 10)
    assert ref.conv1d_geometry((1, 10, 1), (2, 1, 1), 1, "same", 3) == ((1, 2), 10)
    assert ref.conv1d_geometry((1, 7, 1), (3, 1, 1), 2, "same", 1) == ((1, 1), 4)
    assert ref.conv1d_geometry((1, 10, 1), (3, 1, 1), 1, "valid", 2) == ((0, 0), 6)


@pytest.fixture(params=["numba", "numpy"])
def each_backend(request, monkeypatch):
    """Run the layer on the kernels and on the references (one gradient-check suite, both)."""
    monkeypatch.setattr(backend, "ops", backend.implementations(request.param))
    return request.param


LAYERS = [  # make, input shape (T, C)
    (lambda: Conv1D(3, 3), (6, 2)),
    (lambda: Conv1D(1, 1), (1, 1)),  # size-1 edges
    (lambda: Conv1D(2, 2, strides=2, padding="same"), (7, 3)),
    (lambda: Conv1D(3, 3, padding="same", dilation_rate=2), (8, 2)),
    (lambda: Conv1D(2, 4, dilation_rate=2, use_bias=False), (9, 2)),
    (lambda: Conv1D(2, 5, padding="same"), (3, 2)),  # kernel longer than the input, 'same'
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_conv1d_layer_gradients_on_both_backends(rng, each_backend, make, shape):
    layer = built(make(), shape)
    errors = check_layer(layer, rng.standard_normal((3, *shape)), h=1e-5)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < SINGLE, errors


def test_conv1d_layer_with_tanh(rng, each_backend):
    layer = built(Conv1D(3, 3, padding="same", activation="tanh"), (5, 2))
    assert max(check_layer(layer, rng.standard_normal((2, 5, 2)), h=1e-5).values()) < COMPOSITE


def test_conv1d_layer_shapes_and_keras_weights():
    layer = Conv1D(16, 5, padding="same", input_shape=(128, 13))
    model = Sequential([layer])
    assert layer.params["kernel"].shape == (5, 13, 16) and layer.params["bias"].shape == (16,)
    assert model.output_shape == (None, 128, 16)
    assert built(Conv1D(4, 3, strides=2), (9, 2)).output_shape == (4, 4)
    assert built(Conv1D(4, 3, dilation_rate=3), (9, 2)).output_shape == (3, 4)
    assert built(Conv1D(4, 3, strides=2, padding="same"), (9, 2)).output_shape == (5, 4)


def test_conv1d_shape_errors_name_the_layer(rng):
    with pytest.raises(ValueError, match=r"'c1' \(Conv1D\): a kernel of 5 taps .* does not fit 3"):
        built(Conv1D(2, 5, name="c1"), (3, 2))
    with pytest.raises(
        ValueError, match=r"'c2' \(Conv1D\): a kernel of 3 taps at dilation 3 spans 7"
    ):
        built(Conv1D(2, 3, dilation_rate=3, name="c2"), (6, 2))
    with pytest.raises(ValueError, match=r"'c3' \(Conv1D\) expects inputs shaped \(None, T, C\)"):
        Sequential([Conv1D(4, 3, input_shape=(10,), name="c3")])  # a 2-D input (N, T)
    layer = built(Conv1D(2, 3, name="c4"), (10, 3))
    expected = r"'c4' \(Conv1D\) expects inputs shaped \(None, 10, 3\), received \(2, 10\)"
    with pytest.raises(ValueError, match=expected):
        layer.forward(rng.standard_normal((2, 10)))
    with pytest.raises(ValueError, match="conv1d: input has 2 channels, kernel expects 3"):
        fast.conv1d_forward(np.zeros((1, 5, 2)), np.zeros((3, 3, 1)), None)


def test_conv1d_bad_arguments():
    with pytest.raises(ValueError, match="padding"):
        Conv1D(3, 3, padding="causal")
    with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
        Conv1D(3, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size must be a positive int"):
        Conv1D(3, 0)
    assert Conv1D(3, (5,)).kernel_size == 5  # Keras also takes 1-tuples


def test_conv1d_refuses_a_time_mask(rng):
    model = Sequential([Masking(input_shape=(6, 2)), Conv1D(3, 3, name="conv")], dtype="float64")
    with pytest.raises(ValueError, match=r"'conv' \(Conv1D\) received a time mask"):
        model.forward(rng.standard_normal((2, 6, 2)))


def test_conv1d_layer_runs_the_backend_twin(monkeypatch, rng):
    calls = []
    real = backend.ops.conv.conv1d_forward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.ops.conv, "conv1d_forward", spy)
    built(Conv1D(2, 3, dilation_rate=2), (8, 2)).forward(rng.standard_normal((2, 8, 2)))
    assert calls == [dict(stride=1, padding="valid", dilation=2)]
    assert backend.implementations("numba").conv is fast


# ---- PyTorch parity ----------------------------------------------------------------------------
@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "stride, padding, dilation",
    [
        (1, "valid", 1),
        (1, "same", 1),
        (2, "same", 1),
        (1, "same", 2),
        (2, "valid", 2),
        (3, "same", 2),
    ],
)
def test_conv1d_matches_torch(rng, impl, stride, padding, dilation):
    """torch.nn.functional.conv1d works on (N, C, T) with weights (F, C, K): both transposed.
    The zeros are padded explicitly with our (TF / Keras) amounts, which PyTorch's own
    padding='same' reproduces for stride 1."""
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x, W, b = (
        rng.standard_normal((3, 13, 4)),
        rng.standard_normal((4, 4, 5)),
        rng.standard_normal(5),
    )
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    out, cache = impl.conv1d_forward(x, W, b, **kw)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = impl.conv1d_backward(dout, cache)

    pads, _ = ref.conv1d_geometry(x.shape, W.shape, stride, padding, dilation)
    tx = torch.from_numpy(x.transpose(0, 2, 1).copy()).requires_grad_(True)
    tW = torch.from_numpy(W.transpose(2, 1, 0).copy()).requires_grad_(True)  # (F, C, K)
    tb = torch.from_numpy(b).requires_grad_(True)
    ty = tF.conv1d(tF.pad(tx, pads), tW, tb, stride=stride, dilation=dilation)
    if stride == 1 and padding == "same":
        same = tF.conv1d(tx, tW, tb, padding="same", dilation=dilation)
        np.testing.assert_allclose(same.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ty.backward(torch.from_numpy(dout.transpose(0, 2, 1).copy()))
    np.testing.assert_allclose(out, ty.detach().numpy().transpose(0, 2, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy().transpose(0, 2, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, tW.grad.numpy().transpose(2, 1, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---- a model that learns and reloads -------------------------------------------------------------
def toy_sequences(n, seed, T=24):
    """Two classes of 3-channel sequences: a fast (period 4) or a slow (period 12) wave in
    channel 0, random phase and amplitude, noise everywhere. A 3-tap convolution sees the
    difference; its statistics over time (the spread of its output) carry it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = np.arange(T)
    x = 0.3 * rng.standard_normal((n, T, 3))
    period = np.where(labels == 1, 4.0, 12.0)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x[:, :, 0] += rng.uniform(0.8, 1.2, (n, 1)) * np.sin(2 * np.pi * t / period + phase)
    return x.astype(np.float32), labels


@pytest.mark.ch04_training
def test_conv1d_statistics_pooling_model_learns_and_reloads(tmp_path):
    x, labels = toy_sequences(240, seed=0)
    xt, lt = toy_sequences(100, seed=1)
    model = Sequential(seed=2)
    model.add(Conv1D(8, 3, padding="same", activation="relu", input_shape=(24, 3)))
    model.add(Conv1D(8, 3, dilation_rate=2, activation="tanh"))
    model.add(StatisticsPooling1D())
    model.add(Dense(2, activation="softmax"))
    model.compile(Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, labels, epochs=15, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(xt, lt)
    assert accuracy > 0.9, (loss, accuracy)
    path = model.save(tmp_path / "conv1d.npz")
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(xt), model.predict(xt))
    assert again.summary(print_fn=None) == model.summary(print_fn=None)
    assert [type(layer).__name__ for layer in again.layers] == [
        "Conv1D",
        "Conv1D",
        "StatisticsPooling1D",
        "Dense",
    ]
    assert again.layers[1].dilation_rate == 2 and again.layers[2].epsilon == 1e-5

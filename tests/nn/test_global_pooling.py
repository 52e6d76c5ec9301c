"""GlobalAveragePooling2D (P-gap2d) and StatisticsPooling1D (P-stat): the formulas as loops,
finite-difference gradients on both implementations (with a mask), padding that changes
nothing, clear errors, and PyTorch parity."""

import math

import numpy as np
import pytest

from nn import backend
from nn.functional import pool as ref_pool
from nn.functional import temporal as ref_temporal
from nn.functional.sequence import lengths_to_mask
from nn.gradcheck import check_layer, numerical_grad, rel_error
from nn.kernels import pool as fast_pool
from nn.kernels import temporal as fast_temporal
from nn.layers import (
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    Masking,
    StatisticsPooling1D,
)
from nn.models import Sequential

SINGLE = 1e-7  # one smooth op (STYLE.md)
POOLS = [pytest.param(ref_pool, id="reference"), pytest.param(fast_pool, id="kernel")]
STATS = [pytest.param(ref_temporal, id="reference"), pytest.param(fast_temporal, id="kernel")]


def built(layer, input_shape, seed=0):
    return layer.build(input_shape, np.random.default_rng(seed), dtype="float64")


@pytest.fixture(params=["numba", "numpy"])
def each_backend(request, monkeypatch):
    monkeypatch.setattr(backend, "ops", backend.implementations(request.param))
    return request.param


def some_mask(rng, N, T):
    mask = (rng.random((N, T)) > 0.4).astype(np.float64)
    mask[:, 0] = 1.0  # every sequence has a real step
    mask[0] = 1.0  # and one has no padding at all
    return mask


# ---- GlobalAveragePooling2D ----------------------------------------------------------------------
@pytest.mark.ch02_cnn
@pytest.mark.parametrize("impl", POOLS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 1, 2)])
def test_global_average_pool2d_is_the_formula_as_a_loop(rng, impl, shape):
    x = rng.standard_normal(shape)
    N, H, W, C = shape
    want = np.zeros((N, C))
    for n in range(N):
        for c in range(C):
            total = 0.0
            for i in range(H):
                for j in range(W):
                    total += x[n, i, j, c]
            want[n, c] = total / (H * W)  # eq. P-gap2d
    y, cache = impl.global_average_pool2d_forward(x)
    assert y.shape == (N, C) and y.dtype == np.float64
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal((N, C))
    dx = impl.global_average_pool2d_backward(dout, cache)
    np.testing.assert_allclose(dx, np.broadcast_to(dout[:, None, None, :] / (H * W), shape))
    assert dx.flags.writeable and dx.flags.c_contiguous  # a real array, not a broadcast view


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 3, 2), (5, 1, 3)])
def test_global_average_pooling2d_layer_gradients(rng, each_backend, shape):
    layer = built(GlobalAveragePooling2D(), shape)
    errors = check_layer(layer, rng.standard_normal((3, *shape)), h=1e-5)
    assert max(errors.values()) < SINGLE, errors


@pytest.mark.ch02_cnn
def test_global_average_pooling2d_in_a_cnn_and_its_errors(rng):
    model = Sequential(
        [
            Conv2D(4, 3, padding="same", input_shape=(8, 5, 1)),
            GlobalAveragePooling2D(name="gap"),
            Dense(3),
        ],
        dtype="float64",
    )
    assert model.layers[1].output_shape == (4,) and model.count_params() == 40 + 15
    out = model.forward(rng.standard_normal((2, 8, 5, 1)), training=True)
    assert model.backward(rng.standard_normal(out.shape)).shape == (2, 8, 5, 1)
    with pytest.raises(ValueError, match=r"'g' \(GlobalAveragePooling2D\) expects inputs shaped "):
        Sequential([GlobalAveragePooling2D(name="g", input_shape=(8, 5))])


@pytest.mark.parity
@pytest.mark.ch02_cnn
@pytest.mark.parametrize("impl", POOLS)
def test_global_average_pool2d_matches_torch_mean(rng, impl):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 7, 4, 5))
    y, cache = impl.global_average_pool2d_forward(x)
    dout = rng.standard_normal(y.shape)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = tx.mean(dim=(1, 2))
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        impl.global_average_pool2d_backward(dout, cache), tx.grad.numpy(), rtol=1e-12
    )


# ---- StatisticsPooling1D -------------------------------------------------------------------------
def statistics_by_loops(x, mask, epsilon):
    """Eq. P-stat over the real steps, with Python floats and math.sqrt."""
    N, T, H = x.shape
    y = np.zeros((N, 2 * H))
    for n in range(N):
        steps = [t for t in range(T) if mask is None or mask[n, t] == 1]
        for h in range(H):
            mean = sum(x[n, t, h] for t in steps) / len(steps)
            var = sum((x[n, t, h] - mean) ** 2 for t in steps) / len(steps)  # biased
            y[n, h], y[n, H + h] = mean, math.sqrt(var + epsilon)
    return y


@pytest.mark.ch05_rnn
@pytest.mark.parametrize("impl", STATS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("epsilon", [1e-5, 0.5])
def test_statistics_pooling_is_the_formula_p_stat_as_loops(rng, impl, masked, epsilon):
    x = 3.0 + 2.0 * rng.standard_normal((4, 7, 3))  # a mean far from 0: the centred form
    mask = some_mask(rng, 4, 7) if masked else None
    y, _ = impl.statistics_pool1d_forward(x, mask, epsilon=epsilon)
    assert y.shape == (4, 6) and y.dtype == np.float64
    np.testing.assert_allclose(y, statistics_by_loops(x, mask, epsilon), rtol=1e-12)


@pytest.mark.ch03_gradcheck
@pytest.mark.parametrize("impl", STATS)
@pytest.mark.parametrize("N, T, H", [(1, 1, 1), (2, 5, 3), (3, 4, 2)])
@pytest.mark.parametrize("masked", [False, True])
def test_statistics_pooling_gradients_with_a_mask(rng, impl, N, T, H, masked):
    x = rng.standard_normal((N, T, H))
    mask = some_mask(rng, N, T) if masked else None
    y, cache = impl.statistics_pool1d_forward(x, mask)
    dout = rng.standard_normal(y.shape)
    dx = impl.statistics_pool1d_backward(dout, cache)
    numeric = numerical_grad(lambda v: impl.statistics_pool1d_forward(v, mask)[0], x, dout, h=1e-5)
    assert rel_error(dx, numeric) < SINGLE
    if masked:
        assert np.all(dx[mask == 0] == 0.0)  # padding: exactly no gradient


@pytest.mark.ch03_gradcheck
@pytest.mark.ch05_rnn
def test_statistics_pooling_layer_gradients(rng, each_backend):
    layer = built(StatisticsPooling1D(), (5, 3))
    errors = check_layer(layer, rng.standard_normal((3, 5, 3)), h=1e-5)
    assert set(errors) == {"x"} and errors["x"] < SINGLE, errors


@pytest.mark.ch05_rnn
def test_padding_is_ignored_by_statistics_pooling_end_to_end(rng):
    """Zero-padded sequences in a batch give the outputs of each sequence's real steps alone,
    and the padded steps get no gradient."""
    model = Sequential(
        [Masking(input_shape=(6, 3)), StatisticsPooling1D(), Dense(2)], seed=1, dtype="float64"
    )
    lengths = [6, 4, 1]
    x = rng.standard_normal((3, 6, 3))
    x[~lengths_to_mask(lengths, 6)] = 0.0
    out = model.forward(x)
    dense = model.layers[2].params
    for n, length in enumerate(lengths):
        alone = statistics_by_loops(x[n : n + 1, :length], None, 1e-5)
        np.testing.assert_allclose(out[n], (alone @ dense["kernel"] + dense["bias"])[0], rtol=1e-10)
    out = model.forward(x, training=True)
    dx = model.backward(rng.standard_normal(out.shape))
    assert np.all(dx[~lengths_to_mask(lengths, 6)] == 0)


@pytest.mark.ch05_rnn
@pytest.mark.parametrize("impl", STATS)
def test_statistics_pooling_errors_and_the_epsilon(rng, impl):
    x = rng.standard_normal((2, 4, 3))
    with pytest.raises(ValueError, match="has no real step"):
        impl.statistics_pool1d_forward(x, np.array([[1, 1, 0, 0], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"must have shape \(N, T\)"):
        impl.statistics_pool1d_forward(x, np.ones((2, 3)))
    constant = np.ones((1, 3, 2))  # no spread: sigma = sqrt(epsilon), and the gradient is finite
    y, cache = impl.statistics_pool1d_forward(constant, None, epsilon=1e-4)
    np.testing.assert_allclose(y, [[1.0, 1.0, 0.01, 0.01]])
    dx = impl.statistics_pool1d_backward(np.ones((1, 4)), cache)
    np.testing.assert_allclose(dx, np.full((1, 3, 2), 1 / 3))
    with pytest.raises(ValueError, match=r"'s' \(StatisticsPooling1D\) expects inputs shaped"):
        Sequential([StatisticsPooling1D(name="s", input_shape=(6,))])
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        StatisticsPooling1D(epsilon=-1.0)


@pytest.mark.ch05_rnn
def test_statistics_pooling_layer_runs_the_backend_twin(monkeypatch, rng):
    calls = []
    real = backend.ops.temporal.statistics_pool1d_forward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.ops.temporal, "statistics_pool1d_forward", spy)
    built(StatisticsPooling1D(epsilon=0.1), (4, 2)).forward(rng.standard_normal((2, 4, 2)))
    assert calls == [dict(epsilon=0.1)]
    assert backend.implementations("numpy").temporal is ref_temporal
    assert backend.implementations("numba").temporal is fast_temporal


@pytest.mark.parity
@pytest.mark.ch05_rnn
@pytest.mark.parametrize("impl", STATS)
def test_statistics_pooling_matches_torch_mean_and_biased_var(rng, impl):
    torch = pytest.importorskip("torch")
    eps = 1e-5
    x = rng.standard_normal((3, 8, 4))
    lengths = [8, 5, 2]
    mask = lengths_to_mask(lengths, 8).astype(np.float64)
    y, cache = impl.statistics_pool1d_forward(x, mask, epsilon=eps)
    dout = rng.standard_normal(y.shape)
    dx = impl.statistics_pool1d_backward(dout, cache)
    for n, length in enumerate(lengths):  # each sequence's real steps alone
        tx = torch.from_numpy(x[n, :length].copy()).requires_grad_(True)
        ty = torch.cat([tx.mean(dim=0), torch.sqrt(tx.var(dim=0, unbiased=False) + eps)])
        ty.backward(torch.from_numpy(dout[n]))
        np.testing.assert_allclose(y[n], ty.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx[n, :length], tx.grad.numpy(), rtol=1e-10, atol=1e-14)
        assert np.all(dx[n, length:] == 0)

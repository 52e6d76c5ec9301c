"""The batch-normalisation twin equals its NumPy reference: forward, the statistics the layer
keeps, and every backward output; float64 at rtol 1e-10, and float32."""

import numpy as np
import pytest

from nn.functional import normalization as ref
from nn.kernels import normalization as fast

pytestmark = [pytest.mark.kernels, pytest.mark.ch02_cnn]

RTOL, ATOL = 1e-10, 1e-12


def same(got, want, rtol=RTOL, atol=ATOL):
    if want is None:
        assert got is None
        return
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


CASES = [
    ((1, 1), False),
    ((5, 3), False),
    ((2, 7, 4), False),
    ((3, 9, 2), True),
    ((2, 3, 4, 5), False),
    ((3, 200, 3), True),  # several blocks of rows, and blocks holding only padding
    ((600, 2), False),  # several blocks, the last one short
]


@pytest.mark.parametrize("shape, masked", CASES)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_batchnorm_twin(rng, shape, masked, training, center, scale):
    C = shape[-1]
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    gamma = 1.0 + 0.5 * rng.standard_normal(C) if scale else None
    beta = rng.standard_normal(C) if center else None
    mask = None
    if masked:
        mask = (rng.random(shape[:2]) > 0.4).astype(np.float64)
        mask[:, 0] = 1.0
        mask[1, 30:] = 0.0  # a long padded run: whole blocks of padding when T is 200
    stats = {} if training else dict(mean=rng.standard_normal(C), variance=0.5 + rng.random(C))
    want, cache_r = ref.batchnorm_forward(x, gamma, beta, epsilon=1e-3, mask=mask, **stats)
    got, cache_k = fast.batchnorm_forward(x, gamma, beta, epsilon=1e-3, mask=mask, **stats)
    same(got, want)
    same(np.asarray(cache_k.mean), np.asarray(cache_r.mean))  # what the layer keeps
    same(np.asarray(cache_k.variance), np.asarray(cache_r.variance))
    assert cache_k.count == cache_r.count and cache_k.batch_statistics == training
    dout = rng.standard_normal(shape)
    for g, w in zip(
        fast.batchnorm_backward(dout, cache_k), ref.batchnorm_backward(dout, cache_r), strict=True
    ):
        same(g, w)


def test_batchnorm_twin_without_the_input_gradient(rng):
    x, gamma, beta = rng.standard_normal((4, 6, 3)), rng.standard_normal(3), rng.standard_normal(3)
    _, cache = fast.batchnorm_forward(x, gamma, beta)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = fast.batchnorm_backward(dout, cache, need_dx=False)
    assert dx is None
    _, want_g, want_b = ref.batchnorm_backward(dout, ref.batchnorm_forward(x, gamma, beta)[1])
    same(dgamma, want_g)
    same(dbeta, want_b)


def test_batchnorm_twin_does_not_cancel_with_a_large_mean(rng):
    """Block means merged with Chan's formula: no E[x^2] - E[x]^2 cancellation."""
    x = 1e6 + rng.standard_normal((4, 300, 2))
    _, cache_r = ref.batchnorm_forward(x, None, None)
    _, cache_k = fast.batchnorm_forward(x, None, None)
    np.testing.assert_allclose(cache_k.variance, cache_r.variance, rtol=1e-8)
    np.testing.assert_allclose(cache_k.variance, x.reshape(-1, 2).var(axis=0), rtol=1e-8)


@pytest.mark.parametrize("shape", [(32, 40, 16), (8, 10, 6, 8)])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_twin_in_float32(rng, shape, training):
    C = shape[-1]
    x = (1.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
    gamma = (1.0 + 0.5 * rng.standard_normal(C)).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    stats = {}
    if not training:
        mean, variance = rng.standard_normal(C), 0.5 + rng.random(C)
        stats = dict(mean=mean.astype(np.float32), variance=variance.astype(np.float32))
    want, cache_r = ref.batchnorm_forward(x, gamma, beta, **stats)
    got, cache_k = fast.batchnorm_forward(x, gamma, beta, **stats)
    same(got, want, rtol=1e-6, atol=1e-6)  # both accumulate in float64 (measured: equal)
    dout = rng.standard_normal(shape).astype(np.float32)
    for g, w in zip(
        fast.batchnorm_backward(dout, cache_k), ref.batchnorm_backward(dout, cache_r), strict=True
    ):
        same(g, w, rtol=1e-5, atol=1e-5)  # the reference rounds xhat to float32 (2e-6 seen)


def test_the_twin_refuses_what_the_reference_refuses(rng):
    x = rng.standard_normal((3, 4, 2))
    with pytest.raises(ValueError, match="2 channels, but beta has shape"):
        fast.batchnorm_forward(x, None, np.zeros(3))
    with pytest.raises(ValueError, match="mask is all 0"):
        fast.batchnorm_forward(x, None, None, mask=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="only 0"):
        fast.batchnorm_forward(x, None, None, mask=np.full((3, 4), 0.5))

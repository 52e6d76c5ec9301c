"""The Numba twins of Conv1D (both paths), GlobalAveragePooling2D and StatisticsPooling1D equal
their NumPy references: forward and every backward output, float64 at rtol 1e-10, float32 to
its precision."""

import numpy as np
import pytest

from nn.functional import conv as ref_conv
from nn.functional import pool as ref_pool
from nn.functional import temporal as ref_temporal
from nn.kernels import conv as fast_conv
from nn.kernels import pool as fast_pool
from nn.kernels import temporal as fast_temporal

pytestmark = [pytest.mark.kernels, pytest.mark.ch02_cnn]

RTOL, ATOL = 1e-10, 1e-12


def same(got, want, rtol=RTOL, atol=ATOL):
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


CONV1D = [  # N, T, C, K, F, stride, padding, dilation
    (1, 5, 1, 1, 1, 1, "valid", 1),
    (2, 9, 3, 3, 4, 1, "valid", 1),
    (2, 9, 3, 5, 4, 1, "same", 1),
    (3, 8, 2, 4, 3, 1, "same", 1),
    (2, 12, 3, 3, 4, 1, "same", 2),
    (2, 12, 2, 3, 3, 1, "valid", 2),
    (2, 3, 2, 3, 2, 1, "same", 2),  # span 5 > T: every window is mostly padding
    (2, 9, 3, 3, 4, 2, "valid", 1),
    (3, 10, 2, 4, 3, 2, "same", 1),
    (2, 13, 3, 3, 2, 2, "same", 2),  # stride and dilation together (the functions only)
    (1, 11, 2, 2, 3, 3, "valid", 2),
]


@pytest.mark.parametrize("N, T, C, K, F, stride, padding, dilation", CONV1D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_twin(rng, N, T, C, K, F, stride, padding, dilation, bias):
    x, W = rng.standard_normal((N, T, C)), rng.standard_normal((K, C, F))
    b = rng.standard_normal(F) if bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    want, cache_r = ref_conv.conv1d_forward(x, W, b, **kw)
    got, cache_k = fast_conv.conv1d_forward(x, W, b, **kw)
    assert cache_k[0] == ("shifted" if stride == 1 else "im2col")
    same(got, want)
    dout = rng.standard_normal(want.shape)
    grads_k = fast_conv.conv1d_backward(dout, cache_k)
    for g, w in zip(grads_k, ref_conv.conv1d_backward(dout, cache_r), strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            same(g, w)
    skipped = fast_conv.conv1d_backward(dout, cache_k, need_dx=False)
    assert skipped[0] is None
    same(skipped[1], grads_k[1])
    assert (skipped[2] is None) == (not bias)
    if bias:
        same(skipped[2], grads_k[2])
    ref_skipped = ref_conv.conv1d_backward(dout, cache_r, need_dx=False)
    assert ref_skipped[0] is None
    same(ref_skipped[1], grads_k[1])


@pytest.mark.parametrize("stride, dilation", [(1, 1), (1, 2), (2, 1)])
def test_conv1d_twin_in_float32(rng, stride, dilation):
    x = rng.standard_normal((3, 20, 8)).astype(np.float32)
    W = rng.standard_normal((3, 8, 16)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    kw = dict(stride=stride, padding="same", dilation=dilation)
    out, cache = fast_conv.conv1d_forward(x, W, b, **kw)
    want, cache_r = ref_conv.conv1d_forward(
        x.astype(np.float64), W.astype(np.float64), b.astype(np.float64), **kw
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    for g, w in zip(
        fast_conv.conv1d_backward(dout, cache),
        ref_conv.conv1d_backward(dout.astype(np.float64), cache_r),
        strict=True,
    ):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-3)
    ref32, _ = ref_conv.conv1d_forward(x, W, b, **kw)
    assert ref32.dtype == np.float32


def test_conv1d_twin_refuses_a_dout_of_the_wrong_shape(rng):
    for stride in (1, 2):
        x, W = rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 4))
        out, cache = fast_conv.conv1d_forward(x, W, None, stride=stride)
        with pytest.raises(ValueError, match=r"dout has shape .*, expected"):
            fast_conv.conv1d_backward(out[:, :-1], cache)


def test_conv1d_twin_reads_non_contiguous_inputs(rng):
    x = rng.standard_normal((2, 10, 6))[:, ::-1, ::2]  # reversed and strided views
    W = rng.standard_normal((3, 4, 3, 2))[:, 1, :, :]
    want, _ = ref_conv.conv1d_forward(x, W, None, padding="same", dilation=2)
    got, _ = fast_conv.conv1d_forward(x, W, None, padding="same", dilation=2)
    same(got, want)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 1, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_global_average_pool2d_twin(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    want, cache_r = ref_pool.global_average_pool2d_forward(x)
    got, cache_k = fast_pool.global_average_pool2d_forward(x)
    tol = dict(rtol=RTOL, atol=ATOL) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    same(got, want, **tol)
    dout = rng.standard_normal(want.shape).astype(dtype)
    same(
        fast_pool.global_average_pool2d_backward(dout, cache_k),
        ref_pool.global_average_pool2d_backward(dout, cache_r),
        **tol,
    )


@pytest.mark.parametrize("N, T, H", [(1, 1, 1), (3, 6, 4), (4, 9, 3)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_statistics_pool1d_twin(rng, N, T, H, masked, dtype):
    x = (2.0 + rng.standard_normal((N, T, H))).astype(dtype)
    mask = None
    if masked:
        mask = (rng.random((N, T)) > 0.4).astype(dtype)
        mask[:, 0] = 1.0
    want, cache_r = ref_temporal.statistics_pool1d_forward(x, mask, epsilon=1e-3)
    got, cache_k = fast_temporal.statistics_pool1d_forward(x, mask, epsilon=1e-3)
    tol = dict(rtol=RTOL, atol=ATOL) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    same(got, want, **tol)
    dout = rng.standard_normal(want.shape).astype(dtype)
    dx_k = fast_temporal.statistics_pool1d_backward(dout, cache_k)
    same(dx_k, ref_temporal.statistics_pool1d_backward(dout, cache_r), **tol)
    if masked:
        assert np.all(dx_k[mask == 0] == 0.0)


def test_statistics_pool1d_twin_refuses_a_dy_of_the_wrong_shape(rng):
    _, cache = fast_temporal.statistics_pool1d_forward(rng.standard_normal((2, 5, 3)))
    with pytest.raises(ValueError, match=r"dy has shape \(2, 3\), expected \(2, 6\)"):
        fast_temporal.statistics_pool1d_backward(np.zeros((2, 3)), cache)

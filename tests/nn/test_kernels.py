"""Every Numba twin equals its NumPy reference in float64: forward and every backward output."""

import numpy as np
import pytest

from nn.engine import direct_conv, simd
from nn.functional import conv as ref_conv
from nn.functional import pool as ref_pool
from nn.kernels import conv as fast_conv
from nn.kernels import pool as fast_pool

pytestmark = [pytest.mark.kernels, pytest.mark.ch02_cnn]

RTOL, ATOL = 1e-10, 1e-12


def same(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "N, H, W, C, KH, KW, F, strides, padding",
    [
        (1, 3, 3, 1, 3, 3, 1, (1, 1), "valid"),
        (2, 7, 6, 3, 3, 3, 4, (1, 1), "same"),
        (3, 8, 5, 2, 2, 3, 5, (2, 1), "valid"),
        (2, 9, 9, 2, 3, 3, 3, (2, 2), "same"),
    ],
)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("whole_bytes", [0, 2**30], ids=["blocks", "whole"])
def test_conv2d_twin(rng, monkeypatch, N, H, W, C, KH, KW, F, strides, padding, bias, whole_bytes):
    monkeypatch.setattr(fast_conv, "_WHOLE_MATRIX_BYTES", whole_bytes)  # both paths
    monkeypatch.setattr(fast_conv, "_BLOCK_ROWS", 40)  # several blocks even for small inputs
    x, K = rng.standard_normal((N, H, W, C)), rng.standard_normal((KH, KW, C, F))
    b = rng.standard_normal(F) if bias else None
    want, cache_r = ref_conv.conv2d_forward(x, K, b, strides=strides, padding=padding)
    got, cache_k = fast_conv.conv2d_forward(x, K, b, strides=strides, padding=padding)
    same(got, want)
    dout = rng.standard_normal(want.shape)
    for g, w in zip(
        fast_conv.conv2d_backward(dout, cache_k),
        ref_conv.conv2d_backward(dout, cache_r),
        strict=True,
    ):
        if w is None:
            assert g is None
        else:
            same(g, w)


POOLS = [
    ((2, 4, 4, 3), (2, 2), None, "valid"),
    ((2, 7, 5, 3), (2, 2), None, "valid"),  # tiled, with rows and columns no window covers
    ((1, 7, 5, 2), (3, 2), (2, 1), "valid"),
    ((2, 5, 5, 1), (2, 2), None, "same"),
    ((1, 6, 7, 2), (3, 3), (2, 2), "same"),
]


@pytest.mark.parametrize("shape, pool, strides, padding", POOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_twins(rng, shape, pool, strides, padding, kind):
    x = rng.standard_normal(shape)
    x[0, 0, :2, 0] = 1.5  # a tie: both must give the gradient to the same (first) element
    kwargs = dict(pool_size=pool, strides=strides, padding=padding)
    fw_r, bw_r = (
        getattr(ref_pool, f"{kind}pool2d_forward"),
        getattr(ref_pool, f"{kind}pool2d_backward"),
    )
    fw_k, bw_k = (
        getattr(fast_pool, f"{kind}pool2d_forward"),
        getattr(fast_pool, f"{kind}pool2d_backward"),
    )
    want, cache_r = fw_r(x, **kwargs)
    got, cache_k = fw_k(x, **kwargs)
    same(got, want)
    dout = rng.standard_normal(want.shape)
    same(bw_k(dout, cache_k), bw_r(dout, cache_r))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_keep_the_dtype_of_their_inputs(rng, dtype):
    x = rng.standard_normal((2, 6, 5, 2)).astype(dtype)
    K, b = rng.standard_normal((3, 3, 2, 4)).astype(dtype), np.zeros(4, dtype)
    out, cache = fast_conv.conv2d_forward(x, K, b, padding="same")
    assert out.dtype == dtype
    dx, dK, db = fast_conv.conv2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dK.dtype == db.dtype == dtype
    pooled, pcache = fast_pool.maxpool2d_forward(out)
    assert pooled.dtype == dtype and fast_pool.maxpool2d_backward(pooled, pcache).dtype == dtype
    ref32, _ = ref_conv.conv2d_forward(x, K, b, padding="same")
    np.testing.assert_allclose(out, ref32, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_twin_equals_the_reference(rng, dtype):
    from nn.functional import activations as ref
    from nn.kernels import activations as fast

    x = rng.standard_normal((3, 5, 4, 2)).astype(dtype)
    x[0, 0, 0, 0] = 0.0  # the kink: mask False, gradient 0
    want, mask_r = ref.relu_forward(x)
    got, mask_k = fast.relu_forward(x)
    same(got, want)
    np.testing.assert_array_equal(mask_k, mask_r)
    assert not np.signbit(got).any()  # +0.0 for negative inputs, never -0.0
    dout = rng.standard_normal(x.shape).astype(dtype)
    same(fast.relu_backward(dout, mask_k), ref.relu_backward(dout, mask_r))


@pytest.mark.parametrize("whole_bytes", [0, 2**30], ids=["blocks", "whole"])
def test_conv2d_without_the_input_gradient_gives_the_same_parameter_gradients(
    rng, monkeypatch, whole_bytes
):
    monkeypatch.setattr(fast_conv, "_WHOLE_MATRIX_BYTES", whole_bytes)
    x, K, b = (
        rng.standard_normal((2, 6, 5, 2)),
        rng.standard_normal((3, 3, 2, 3)),
        rng.standard_normal(3),
    )
    for impl in (ref_conv, fast_conv):
        out, cache = impl.conv2d_forward(x, K, b, padding="same")
        dout = rng.standard_normal(out.shape)
        full = impl.conv2d_backward(dout, cache)
        out, cache = impl.conv2d_forward(x, K, b, padding="same")
        skipped = impl.conv2d_backward(dout, cache, need_dx=False)
        assert skipped[0] is None
        same(skipped[1], full[1])
        same(skipped[2], full[2])


LANES = simd.lanes(np.float64)  # channel counts below are whole vectors on any CPU


@pytest.mark.parametrize(
    "N, H, W, KH, KW, padding",
    [
        (2, 5, 13, 3, 3, "same"),  # one block of PIXELS output pixels and a tail
        (1, 6, 23, 2, 3, "valid"),
        (2, 4, 24, 2, 2, "same"),  # even kernel: one more zero row below than above
        (1, 3, 4, 5, 5, "same"),  # kernel taller than the image: rows clipped, tail only
    ],
)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_twin_direct_path(rng, N, H, W, KH, KW, padding, bias):
    C, F = LANES, 2 * LANES
    assert direct_conv.fits(C, F, (1, 1), np.float64)
    x, K = rng.standard_normal((N, H, W, C)), rng.standard_normal((KH, KW, C, F))
    b = rng.standard_normal(F) if bias else None
    want, cache_r = ref_conv.conv2d_forward(x, K, b, padding=padding)
    got, cache_k = fast_conv.conv2d_forward(x, K, b, padding=padding)
    assert cache_k[0] == "direct"
    same(got, want)
    dout = rng.standard_normal(want.shape)
    grads_k = fast_conv.conv2d_backward(dout, cache_k)
    for g, w in zip(grads_k, ref_conv.conv2d_backward(dout, cache_r), strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            same(g, w)
    _, dK, db = fast_conv.conv2d_backward(dout, cache_k, need_dx=False)
    same(dK, grads_k[1])
    assert (db is None) == (not bias)


@pytest.mark.parametrize("C", [1, 3, 5, 6])  # C % 4 != 0: the one-channel tail of dW
def test_direct_kernels_with_any_input_channel_count(rng, C):
    F = 2 * LANES
    x, K = rng.standard_normal((2, 4, 12, C)), rng.standard_normal((3, 3, C, F))
    b = rng.standard_normal(F)
    want, cache = ref_conv.conv2d_forward(x, K, b, padding="same")
    out = np.empty_like(want)
    direct_conv.correlate(x, K, b, 1, 1, out)
    same(out, want)
    dout = rng.standard_normal(want.shape)
    _, dK_ref, db_ref = ref_conv.conv2d_backward(dout, cache)
    dK, db = direct_conv.weight_gradient(x, dout, 1, 1, (3, 3))
    same(dK, dK_ref)
    same(db, db_ref)


def test_direct_path_is_taken_only_where_it_fits():
    L = simd.lanes(np.float32)
    assert direct_conv.fits(L, 2 * L, (1, 1), np.float32)
    assert not direct_conv.fits(L, 2 * L, (2, 1), np.float32)  # strided: im2col
    assert not direct_conv.fits(1, 2 * L, (1, 1), np.float32)  # the document's first layer
    assert not direct_conv.fits(L, L, (1, 1), np.float32)


def test_direct_path_in_float32(rng):
    L = simd.lanes(np.float32)
    x = rng.standard_normal((2, 6, 21, L)).astype(np.float32)
    K = rng.standard_normal((3, 3, L, 2 * L)).astype(np.float32)
    b = rng.standard_normal(2 * L).astype(np.float32)
    out, cache = fast_conv.conv2d_forward(x, K, b, padding="same")
    assert cache[0] == "direct" and out.dtype == np.float32
    want, cache_r = ref_conv.conv2d_forward(
        x.astype(np.float64), K.astype(np.float64), b, padding="same"
    )
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    for g, w in zip(
        fast_conv.conv2d_backward(dout, cache), ref_conv.conv2d_backward(dout, cache_r), strict=True
    ):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-3)


def test_direct_kernels_refuse_arrays_that_do_not_fit(rng):
    """The compiled loops index without bounds checks: a misfit must stop before them."""
    C, F = LANES, 2 * LANES
    x, K, b = rng.standard_normal((1, 4, 12, C)), rng.standard_normal((3, 3, C, F)), np.zeros(F)
    out = np.zeros((1, 4, 12, F))
    with pytest.raises(ValueError, match="do not fit"):
        direct_conv.correlate(x, rng.standard_normal((3, 3, C + 1, F)), b, 1, 1, out)
    with pytest.raises(ValueError, match="do not fit"):
        direct_conv.correlate(x, K, b, 1, 1, np.zeros((1, 4, 12, F + LANES)))
    with pytest.raises(ValueError, match="float64"):
        direct_conv.correlate(x.astype(np.float32), K, b, 1, 1, out)
    with pytest.raises(ValueError, match="contiguous"):
        direct_conv.correlate(x[:, :, ::-1], K, b, 1, 1, out)
    with pytest.raises(ValueError, match="whole number"):
        direct_conv.weight_gradient(x, np.zeros((1, 4, 12, LANES)), 1, 1, (3, 3))
    with pytest.raises(ValueError, match="different numbers of images"):
        direct_conv.weight_gradient(x, np.zeros((2, 4, 12, F)), 1, 1, (3, 3))
    assert not out.any()  # nothing was written


def test_direct_path_backward_refuses_a_dout_of_the_wrong_shape(rng):
    C, F = LANES, 2 * LANES
    x, K = rng.standard_normal((2, 4, 12, C)), rng.standard_normal((3, 3, C, F))
    out, cache = fast_conv.conv2d_forward(x, K, None, padding="same")
    assert cache[0] == "direct"
    with pytest.raises(ValueError, match=r"dout has shape .*, expected \(2, 4, 12, "):
        fast_conv.conv2d_backward(out[..., :LANES], cache)
    with pytest.raises(ValueError, match="kernel expects"):
        fast_conv.conv2d_forward(x, rng.standard_normal((3, 3, 2 * C, F)), None, padding="same")

"""nn.engine.step_product and nn.engine.sequence_gradients: the register tiles of the
recurrent layers equal plain NumPy products, for every way the LSTM kernels call them."""

import numpy as np
import pytest

from nn.engine import simd, step_product
from nn.engine.sequence_gradients import CHUNK, input_gradient, weight_gradients
from nn.engine.step_product import ROWS, pack_panel, panels, set_rows, tile

pytestmark = [pytest.mark.kernels, pytest.mark.ch05_rnn]

DTYPES = [np.float32, np.float64]


def _tolerance(dtype):
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}


def test_fits_asks_for_whole_vector_pairs():
    L = simd.lanes(np.float32)
    assert step_product.fits(2 * L, np.float32) and step_product.fits(8 * L, np.float32)
    assert not step_product.fits(L, np.float32) and not step_product.fits(2 * L + 1, np.float32)


def test_set_rows_repeats_the_last_row_past_the_end():
    offsets = np.zeros((4, ROWS), np.int64)
    set_rows(offsets, 2, 5, 7, 100, 10)  # rows 5, 6, 7 of an array starting at 100
    assert offsets[2].tolist() == [150, 160, 170] + [170] * (ROWS - 3)
    assert (offsets[[0, 1, 3]] == 0).all()  # the other slots untouched


def test_panels_and_pack_panel_hold_the_vector_pairs_of_each_row(rng):
    L = simd.lanes(np.float64)
    B = rng.standard_normal((5, 6 * L))
    packed = panels(B, L)
    assert packed.shape == (3, 5, 2 * L) and packed.flags.c_contiguous
    panel = np.empty((5, 2 * L))
    for jb in range(3):
        np.testing.assert_array_equal(packed[jb], B[:, 2 * jb * L : 2 * (jb + 1) * L])
        pack_panel(B, 2 * jb * L, L, panel)
        np.testing.assert_array_equal(panel, packed[jb])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("second_sum", [True, False])
def test_tile_is_init_plus_two_row_products(rng, dtype, second_sum):
    """out[r, j:j+2L] = init[r, j:j+2L] + a[r] B[:, j:j+2L] + a2[r] B2[:, j:j+2L], with the
    rows picked by offsets, the last one repeated, and nothing else written."""
    L, rows, K, K2, width, j = simd.lanes(dtype), 5, 7, 3 if second_sum else 0, 4, 2
    C = width * 2 * L
    a, a2 = rng.standard_normal((rows, K)).astype(dtype), rng.standard_normal((rows, K2))
    a2 = a2.astype(dtype)
    B, B2 = rng.standard_normal((K, C)).astype(dtype), rng.standard_normal((K2, C)).astype(dtype)
    init = rng.standard_normal((rows, C)).astype(dtype)
    out = np.full((rows, C), -7.0, dtype)
    cols = slice(2 * L * j, 2 * L * (j + 1))
    offsets = np.empty((4, ROWS), np.int64)
    set_rows(offsets, 0, 0, rows - 1, cols.start, C)
    set_rows(offsets, 1, 0, rows - 1, cols.start, C)
    set_rows(offsets, 2, 0, rows - 1, 0, K)
    set_rows(offsets, 3, 0, rows - 1, 0, K2)
    p, p2 = panels(B, L)[j].reshape(-1), panels(B2, L)[j].reshape(-1)
    tile(out.reshape(-1), init.reshape(-1), a.reshape(-1), p, a2.reshape(-1), p2, offsets, L)
    want = init[:, cols] + a.astype(np.float64) @ B[:, cols] + a2.astype(np.float64) @ B2[:, cols]
    np.testing.assert_allclose(out[:, cols], want, **_tolerance(dtype))
    out[:, cols] = -7.0
    assert (out == -7.0).all()  # no column outside the tile written


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_reads_columns_of_a_with_a_step(rng, dtype):
    """step = row length of a: the tile's rows are columns of a, which gives a^T B."""
    L, R, M = simd.lanes(dtype), 9, 3
    a = rng.standard_normal((R, M)).astype(dtype)
    B = rng.standard_normal((R, 2 * L)).astype(dtype)
    out = np.zeros((M, 2 * L), dtype)
    offsets = np.empty((4, ROWS), np.int64)
    set_rows(offsets, 0, 0, M - 1, 0, 2 * L)
    set_rows(offsets, 1, 0, M - 1, 0, 2 * L)
    set_rows(offsets, 2, 0, M - 1, 0, 1)  # row m of the tile starts at a[0, m]
    set_rows(offsets, 3, 0, 0, 0, 0)
    flat, p = out.reshape(-1), B.reshape(-1)
    tile(flat, flat, a.reshape(-1), p, a.reshape(-1)[:0], p[:0], offsets, L, M)
    np.testing.assert_allclose(out, a.astype(np.float64).T @ B, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_weight_and_input_gradients_equal_numpy_products(rng, dtype, threads):
    """Rows past one CHUNK and not a multiple of it; D and H not multiples of ROWS."""
    L = simd.lanes(dtype)
    R, D, H, G = CHUNK + 37, 3, ROWS + 1, 4 * L
    x, h = rng.standard_normal((R, D)).astype(dtype), rng.standard_normal((R, H)).astype(dtype)
    dA, W = rng.standard_normal((R, G)).astype(dtype), rng.standard_normal((D, G)).astype(dtype)
    dW, dU, db = weight_gradients(x, h, dA, threads)
    f64 = lambda a: a.astype(np.float64)  # noqa: E731
    tol = _tolerance(dtype) if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-3}
    np.testing.assert_allclose(dW, f64(x).T @ f64(dA), **tol)
    np.testing.assert_allclose(dU, f64(h).T @ f64(dA), **tol)
    np.testing.assert_allclose(db, f64(dA).sum(axis=0), **tol)
    dx = input_gradient(dA, W, threads)
    assert dx.shape == (R, D) and dx.dtype == dtype
    np.testing.assert_allclose(dx, f64(dA) @ f64(W).T, **tol)


def test_arrays_that_do_not_fit_are_refused_before_the_unchecked_loops():
    L = simd.lanes(np.float64)
    dA = np.zeros((10, 2 * L))
    with pytest.raises(ValueError, match="same rows"):
        weight_gradients(np.zeros((9, 3)), np.zeros((10, 4)), dA, 1)
    with pytest.raises(ValueError, match="one dtype"):
        weight_gradients(np.zeros((10, 3), np.float32), np.zeros((10, 4)), dA, 1)
    with pytest.raises(ValueError, match="vectors"):
        weight_gradients(np.zeros((10, 3)), np.zeros((10, 4)), np.zeros((10, 2 * L + 1)), 1)
    with pytest.raises(ValueError, match=r"\(D, G\)"):
        input_gradient(dA, np.zeros((3, 2 * L + 2)), 1)

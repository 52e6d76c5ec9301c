"""The vectorisable exp, expm1, sigmoid and tanh (nn/engine/vmath.py) and the row loops
built on them (nn/engine/rows.py), against NumPy in float32 and float64.

Under NUMBA_DISABLE_JIT=1 the same tests check the plain Python bodies the kernels then run.
"""

import numpy as np
import pytest
from numba import njit

from nn.engine import rows, vmath

pytestmark = [pytest.mark.ch05_rnn, pytest.mark.kernels]


@njit(cache=True, error_model="numpy")
def _apply(which, x, out):
    """One compiled loop per function, as the kernels call them."""
    for k in range(x.size):
        v = x[k]
        if which == 0:
            out[k] = vmath.exp(v)
        elif which == 1:
            out[k] = vmath.expm1(v)
        elif which == 2:
            out[k] = vmath.sigmoid(v)
        else:
            out[k] = vmath.tanh(v)


def _sigmoid(x):
    return np.where(
        x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))
    )


FUNCTIONS = {0: np.exp, 1: np.expm1, 2: _sigmoid, 3: np.tanh}
NAMES = {0: "exp", 1: "expm1", 2: "sigmoid", 3: "tanh"}


def _inputs(dtype, which):
    """A dense grid, values near 0 on both sides (where expm1 and tanh lose digits if done
    naively), and the ends of the clamped range."""
    top = 700.0 if dtype == np.float64 else 85.0
    if which == 0:  # exp: stay where the result is a normal number
        lo = -700.0 if dtype == np.float64 else -85.0
        grid = np.linspace(lo, top, 20001)
    else:
        grid = np.linspace(-top, top, 20001)
    small = np.geomspace(np.finfo(dtype).tiny, 1.0, 2000)
    return np.concatenate([grid, small, -small, [0.0, -0.0, 0.5, -0.5]]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", [0, 1, 2, 3], ids=NAMES.get)
def test_within_four_ulp_of_numpy(dtype, which):
    x = _inputs(dtype, which)
    out = np.empty_like(x)
    _apply(which, x, out)
    with np.errstate(over="ignore", under="ignore"):
        exact = FUNCTIONS[which](x.astype(np.float64))
    normal = np.abs(exact) >= np.finfo(dtype).tiny  # ulps of subnormal results mean little
    ulp = np.spacing(np.abs(exact[normal]).astype(dtype)).astype(np.float64)
    error_in_ulp = np.abs(out[normal] - exact[normal]) / ulp
    assert error_in_ulp.max() <= 4.0, f"{NAMES[which]}: {error_in_ulp.max():.1f} ulp"
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturation_signs_and_nan(dtype):
    x = np.array([1e30, -1e30, np.inf, -np.inf, 0.0, -0.0, np.nan], dtype)
    results = {}
    for which in range(4):
        out = np.empty_like(x)
        _apply(which, x, out)
        results[NAMES[which]] = out
    np.testing.assert_array_equal(results["sigmoid"][[0, 2]], [1, 1])
    # e^-x saturates at e^709 (e^88): sigmoid bottoms out below the normal range, not at 0
    assert (results["sigmoid"][[1, 3]] < np.finfo(dtype).tiny).all()
    np.testing.assert_array_equal(results["tanh"][:4], [1, -1, 1, -1])
    np.testing.assert_array_equal(results["expm1"][[1, 3]], [-1, -1])
    assert results["sigmoid"][4] == 0.5
    # tanh keeps the sign of zero, as np.tanh does
    assert np.signbit(results["tanh"][5]) and not np.signbit(results["tanh"][4])
    for name, out in results.items():
        assert np.isnan(out[-1]), f"{name} must keep NaN"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_row_loop_equals_its_formula(dtype, rng):
    n = 37  # not a multiple of any vector width: the loop's remainder is used too
    x, y, z = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    out = np.empty(n, dtype)

    rows.sigmoid_of_sum(x, y, out)
    np.testing.assert_allclose(out, _sigmoid((x + y).astype(np.float64)), **tol)
    rows.sigmoid_of(x, out)
    np.testing.assert_allclose(out, _sigmoid(x.astype(np.float64)), **tol)
    rows.tanh_of_sum(x, y, out)
    np.testing.assert_allclose(out, np.tanh(x + y), **tol)
    rows.tanh_of(x, out)
    np.testing.assert_allclose(out, np.tanh(x), **tol)
    for keep in (dtype(0), dtype(1)):
        rows.carry(keep, x, y, out)
        np.testing.assert_array_equal(out, x if keep else y)
        rows.tanh_gradient(x, keep, y, out)
        np.testing.assert_allclose(out, keep * x * (1 - y * y), **tol)
        rows.sigmoid_gradient(x, keep, y, out)
        np.testing.assert_allclose(out, keep * x * y * (1 - y), **tol)
    rows.product(x, y, out)
    np.testing.assert_array_equal(out, x * y)
    rows.add_scaled(x, dtype(0.5), y, out)
    np.testing.assert_allclose(out, x + dtype(0.5) * y, **tol)
    rows.scaled(dtype(0.5), x, out)
    np.testing.assert_array_equal(out, dtype(0.5) * x)
    acc = x.copy()
    rows.add_into(acc, y)
    np.testing.assert_array_equal(acc, x + y)
    rows.scale(dtype(0), acc)
    np.testing.assert_array_equal(acc, np.zeros(n, dtype))

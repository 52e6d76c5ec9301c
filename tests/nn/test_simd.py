"""nn.engine.simd: each vector operation means what its plain NumPy body says, compiled or not."""

import numpy as np
import pytest
from numba import njit

from nn.engine import simd
from nn.engine.simd import broadcast, fma, load, store

pytestmark = [pytest.mark.kernels, pytest.mark.ch02_cnn]


@njit(cache=True)
def _fma_at(x, y, acc, out, i, j, k):
    """out[k : k + lanes] = x[i] * y[j : j + lanes] + acc[k : k + lanes]."""
    store(out, k, fma(broadcast(x, i), load(y, j), load(acc, k)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
def test_fused_multiply_add_of_a_broadcast_value_and_a_loaded_vector(rng, dtype, compiled):
    L = simd.lanes(dtype)
    assert L * np.dtype(dtype).itemsize == simd.REGISTER_BYTES
    x, y, acc = (rng.standard_normal(3 * L).astype(dtype) for _ in range(3))
    out = np.full(3 * L, -7.0, dtype)
    run = _fma_at if compiled else getattr(_fma_at, "py_func", _fma_at)  # JIT may be off
    run(x, y, acc, out, 5, 3, L)  # unaligned loads, a store in the middle
    want = x[5] * y[3 : 3 + L].astype(np.float64) + acc[L : 2 * L]
    np.testing.assert_allclose(out[L : 2 * L], want, rtol=np.finfo(dtype).eps)
    assert (out[:L] == -7.0).all() and (out[2 * L :] == -7.0).all()  # nothing else written


def test_the_python_bodies_refuse_to_read_or_write_past_the_end():
    a = np.zeros(simd.lanes(np.float64) + 1)
    with pytest.raises(IndexError, match="past the end"):
        load(a, 2)
    with pytest.raises(IndexError, match="past the end"):
        store(a, 2, np.ones(simd.lanes(np.float64)))

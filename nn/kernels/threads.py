"""One helper for the number of threads Numba's parallel loops use."""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["numba_threads"]


@contextmanager
def numba_threads(n: int):
    """Run Numba's parallel loops on ``n`` threads inside the block, then restore the count.

    Used where BLAS already runs on the cores: OpenBLAS's threads spin-wait between calls, and
    Numba's threads would fight them for the same cores (docs/benchmarks.md measures it).
    """
    try:
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(n)
    except Exception:  # no Numba, or JIT disabled: nothing to set
        yield
        return
    try:
        yield
    finally:
        numba.set_num_threads(before)

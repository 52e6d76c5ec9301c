"""Helpers for the number of threads Numba's parallel loops use."""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["numba_threads", "threads_for"]


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


def threads_for(parts: int) -> int:
    """How many threads a kernel whose work splits into ``parts`` independent parts should
    run on: every thread Numba started with (``NUMBA_NUM_THREADS``), at most one per part.

    For kernels that call no BLAS while they run, such as the recurrent time loops, where
    each thread owns some rows of the batch for the whole sequence: nothing competes with
    them for the cores, so they take them all even inside ``backend.model_threads``.
    """
    try:
        import numba

        available = numba.config.NUMBA_NUM_THREADS
    except Exception:  # no Numba
        available = 1
    return max(1, min(available, parts))

"""THE FAST TWINS: Numba versions of ``nn/functional`` with the same names and signatures.

Each kernel is compiled lazily (``cache=True``, nothing at import). ``parallel=True`` only where
each ``prange`` iteration owns its output slice. tests/nn/test_kernels.py proves every twin
equals its reference in float64 (rtol 1e-10), forward and every backward output; CI also runs
those tests with NUMBA_DISABLE_JIT=1.
"""

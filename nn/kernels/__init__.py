"""THE FAST TWINS: Numba versions of ``nn/functional`` with the same names and signatures.

Each kernel is compiled lazily (``cache=True``, nothing at import). ``parallel=True`` only where
each ``prange`` iteration owns its output slice. tests/nn/test_kernels.py proves every twin
equals its reference in float64 (rtol 1e-10), forward and every backward output; CI also runs
those tests with NUMBA_DISABLE_JIT=1.

Only twins live here: ``nn/kernels/X.py`` is the twin of ``nn/functional/X.py``. The machinery
several twins share (SIMD vectors, vector math, register tiles, threads, direct convolution,
time-major loops) is in ``nn/engine`` (see its docstring for which twin uses what).
"""

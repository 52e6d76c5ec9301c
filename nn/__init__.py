"""nn: a from-scratch deep-learning library (NumPy + Numba). It never imports features or ser."""

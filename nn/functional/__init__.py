"""THE TEXTBOOK: pure NumPy forward and backward passes, one file per family.

Every ``op_forward(...)`` returns ``(out, cache)`` and every ``op_backward(dout, cache)``
returns the gradients ``(dx, dparams...)``. Nothing here mutates its inputs. The fast Numba
twins with the same names and signatures live in ``nn/kernels/``.
"""

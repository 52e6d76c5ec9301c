"""One place decides which implementation the layers run: the Numba kernels or the NumPy
references.

    SER_NN_BACKEND=numpy   run the readable references (slow; for reading and debugging)
    SER_NN_BACKEND=numba   the default: the kernels (nn/kernels/)

NUMBA_DISABLE_JIT=1 keeps the kernels but runs them as plain Python, to step through them.
If Numba cannot be imported, the references are used, with one warning.
"""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

from nn.functional import conv as _conv_ref
from nn.functional import pool as _pool_ref

__all__ = ["ops", "name"]


def _select():
    wanted = os.environ.get("SER_NN_BACKEND", "numba").lower()
    if wanted not in ("numba", "numpy"):
        raise ValueError(f"SER_NN_BACKEND must be 'numba' or 'numpy', got {wanted!r}")
    if wanted == "numba":
        try:
            from nn.kernels import conv, pool

            return "numba", SimpleNamespace(conv=conv, pool=pool)
        except ImportError as err:  # numba missing or broken: still usable, only slower
            warnings.warn(f"Numba unavailable ({err}); using the NumPy references", stacklevel=2)
    return "numpy", SimpleNamespace(conv=_conv_ref, pool=_pool_ref)


name, ops = _select()

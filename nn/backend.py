"""One place decides which implementation the layers run: the Numba kernels or the NumPy
references.

    SER_NN_BACKEND=numpy   run the readable references (slow; for reading and debugging)
    SER_NN_BACKEND=numba   the default: the kernels (nn/kernels/)

NUMBA_DISABLE_JIT=1 keeps the kernels but runs them as plain Python, to step through them.
If Numba cannot be imported, the references are used, with one warning.

``keep_freed_memory()`` is called when training starts (``Sequential.train_on_batch``); see its
docstring. SER_NN_KEEP_MEMORY=0 turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import warnings
from contextlib import contextmanager
from functools import lru_cache
from types import SimpleNamespace

from nn.functional import activations as _activations_ref

__all__ = ["ops", "name", "implementations", "keep_freed_memory", "model_threads", "activation"]


_FAMILIES = (
    "conv",
    "pool",
    "activations",
    "rnn",
    "seed_rnn",
    "lstm",
    "gru",
    "normalization",
    "temporal",
    "optim",
)


def implementations(which: str) -> SimpleNamespace:
    """The operations of one implementation, by family: ``ops.conv``, ``ops.lstm``, ...

    "numba": the twins in ``nn/kernels/``; "numpy": the references in ``nn/functional/``
    (the update rules of the optimizers too: ``ops.optim``). Benchmarks assign the result
    to ``nn.backend.ops`` to time one against the other.
    """
    if which not in ("numba", "numpy"):
        raise ValueError(f"the backend must be 'numba' or 'numpy', got {which!r}")
    package = "nn.kernels" if which == "numba" else "nn.functional"
    return SimpleNamespace(**{f: importlib.import_module(f"{package}.{f}") for f in _FAMILIES})


def _select():
    wanted = os.environ.get("SER_NN_BACKEND", "numba").lower()
    if wanted not in ("numba", "numpy"):
        raise ValueError(f"SER_NN_BACKEND must be 'numba' or 'numpy', got {wanted!r}")
    if wanted == "numba":
        try:
            return "numba", implementations("numba")
        except ImportError as err:  # numba missing or broken: still usable, only slower
            warnings.warn(f"Numba unavailable ({err}); using the NumPy references", stacklevel=2)
    return "numpy", implementations("numpy")


name, ops = _select()


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process instead of unmapping it.

    A training step allocates many arrays of a few MB to tens of MB (padded inputs, im2col
    matrices, activations, masks, gradients). By default glibc serves blocks above 128 KB-32
    MB with fresh ``mmap`` pages and unmaps them when they are freed, so every step pays a
    page fault per 4 KB of every such array (about 1,400 for one 5.7 MB array, 10,000 for a
    42 MB one; slow in a virtual machine). Measured: one step of the document's CNN took
    37-50 ms as glibc behaves by default and 10-12 ms with this; a 16->64-channel Conv2D
    forward on 32 x 128 x 40 inputs, 32-94 ms and 26 ms.

    Settings (glibc ``mallopt``): no ``mmap`` for allocations (M_MMAP_MAX = 0), so every block
    comes from the heap and is reused after ``free``; the heap is trimmed back to the system
    only when more than 256 MB at its top are free (M_TRIM_THRESHOLD). The cost is that freed
    memory stays with the process (PyTorch's CPU caching allocator makes the same trade). It
    is process-wide, applied once, only on glibc; SER_NN_KEEP_MEMORY=0 turns it off. Returns
    whether it was applied.
    """
    if os.environ.get("SER_NN_KEEP_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h> constants
    ok_mmap = mallopt(m_mmap_max, 0)
    ok_trim = mallopt(m_trim_threshold, 256 * 2**20)
    return bool(ok_mmap and ok_trim)


@contextmanager
def model_threads():
    """Run the Numba kernels on one thread while a model runs, and BLAS on the cores other
    programs leave free (``nn.engine.threads.cores_to_use``, eq. TH-1); restore after.

    In a network the BLAS products (the im2col GEMM, dense layers) already use both cores,
    and OpenBLAS's threads spin-wait between calls; Numba's own parallel threads then fight
    them for the same two cores. Measured on the document's CNN (forward + backward, batch
    32, with ``keep_freed_memory``): 29 ms with both pools, 11 ms with the kernels serial and
    BLAS parallel. A kernel called on its own (outside a model) still uses every thread.

    On a busy machine a parallel product waits for its slowest thread, which waits behind
    another program: so BLAS drops to the free cores, down to one (docs/benchmarks.md, "A
    shared machine"); ``SER_THREADS=fixed`` keeps every core as before.
    """
    from nn.engine.threads import blas_threads, cores_to_use, numba_threads, set_blas_threads

    before = blas_threads()
    set_blas_threads(cores_to_use())
    try:
        with numba_threads(1):
            yield
    finally:
        if before is not None:
            set_blas_threads(before)


def activation(name):
    """(forward, backward) of an activation: the backend's twin when it has one (relu)."""
    from nn.functional.activations import ACTIVATIONS

    twin = getattr(ops.activations, f"{name}_forward", None) if name else None
    if twin is not None and ops.activations is not _activations_ref:
        return twin, getattr(ops.activations, f"{name}_backward")
    return ACTIVATIONS[name]

"""How many threads the library runs on: Numba's parallel loops and the BLAS under NumPy.

The one place that decides it (docs/benchmarks.md, "A shared machine"). A 2-core laptop also
runs a browser and an editor, a CI machine other jobs. A parallel BLAS product or Numba loop
splits its work between threads and then waits for the slowest; when another program holds a
core, the thread that lands behind it waits a whole scheduler slice (milliseconds) and the
product with it, while OpenBLAS's other threads spin-wait and take CPU time from the threads
doing the work. So the library asks, at most every ``_RECHECK_S`` seconds, how many cores the
*other* programs leave free, and runs on that many threads (at least one):

    free = cores this process may use - runnable threads of other processes          (TH-1)

from Linux's count of runnable threads (/proc/loadavg, 4th field) minus this process's own
runnable threads (/proc/self/task/*/stat). Elsewhere, or with ``SER_THREADS=fixed``, every
core is used, as before; ``SER_THREADS=N`` pins N threads.
"""

from __future__ import annotations

import ctypes
import os
import time
from contextlib import contextmanager
from functools import lru_cache

__all__ = [
    "numba_threads",
    "threads_for",
    "free_cores",
    "usable_cores",
    "blas_threads",
    "set_blas_threads",
    "cores_to_use",
    "free_of",
]

_RECHECK_S = 0.2  # how often the load is read again: ~0.1 ms each, against 10 ms batches


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
    run on: every thread Numba started with (``NUMBA_NUM_THREADS``), at most one per part
    and at most the cores other programs leave free (``cores_to_use``, eq. TH-1).

    For kernels that call no BLAS while they run, such as the recurrent time loops, where
    each thread owns some rows of the batch for the whole sequence: nothing competes with
    them for the cores, so they take them all even inside ``backend.model_threads``.
    """
    try:
        import numba

        available = numba.config.NUMBA_NUM_THREADS
    except Exception:  # no Numba
        available = 1
    return max(1, min(available, parts, cores_to_use()))


# ---- the machine's load (eq. TH-1) -------------------------------------------------------------


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _is_running(stat: bytes) -> bool:
    """Whether a /proc/<pid>/task/<tid>/stat line says the thread is runnable (state R)."""
    # the state follows the command name, which is in parentheses and may hold anything
    close = stat.rfind(b")")
    return close >= 0 and stat[close + 2 : close + 3] == b"R"


def _own_runnable() -> int:
    """Threads of this process that are runnable now, at least the one asking."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                count += _is_running(f.read())
        except OSError:  # the thread ended meanwhile
            continue
    return max(1, count)


def free_of(usable: int, running: int, own: int) -> int:
    """Eq. TH-1: usable cores less the runnable threads that are not ours, at least 1."""
    return max(1, usable - max(0, running - own))


def free_cores() -> int | None:
    """Eq. TH-1 now: the cores other programs leave free, at least 1; None where the system
    does not say (no /proc/loadavg)."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return free_of(usable_cores(), running, _own_runnable())


_last = {"at": -1e9, "readings": []}
_READINGS = 3  # the policy follows the most free of the last readings (0.4-0.6 s)


def cores_to_use() -> int:
    """The threads a model should run on now: ``SER_THREADS`` if it is a number, every usable
    core with ``SER_THREADS=fixed`` or where the load is unknown, else eq. TH-1, read again at
    most every 0.2 s; the most free of the last three readings, because a kernel thread
    that runs for a moment is not a program holding a core (about 1 idle reading in 40 sees
    one), while a busy program is runnable at every reading."""
    setting = os.environ.get("SER_THREADS", "").strip().lower()
    if setting.isdigit() and int(setting) >= 1:
        return int(setting)
    if setting == "fixed":
        return usable_cores()
    now = time.monotonic()
    readings = _last["readings"]
    if now - _last["at"] >= _RECHECK_S or not readings:
        free = free_cores()
        readings.append(usable_cores() if free is None else free)
        del readings[:-_READINGS]
        _last["at"] = now
    return max(readings)


# ---- the BLAS under NumPy and SciPy ------------------------------------------------------------
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")  # fmt: skip
_GETTERS = tuple(name.replace("_set_", "_get_") for name in _SETTERS)


@lru_cache(maxsize=1)
def _openblas() -> tuple:
    """(set, get) function pairs of every OpenBLAS this process has loaded (NumPy's and
    SciPy's are two separate libraries, each with its own threads)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return ()
    pairs = []
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in zip(_SETTERS, _GETTERS, strict=True):
            if hasattr(lib, setter) and hasattr(lib, getter):
                set_fn, get_fn = getattr(lib, setter), getattr(lib, getter)
                set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                pairs.append((set_fn, get_fn))
                break
    return tuple(pairs)


def blas_threads() -> int | None:
    """The threads NumPy's OpenBLAS runs on, or None when it cannot be asked."""
    pairs = _openblas()
    return int(pairs[0][1]()) if pairs else None


def set_blas_threads(n: int) -> None:
    """Run every loaded OpenBLAS on ``n`` threads (a no-op where there is none to ask)."""
    for set_fn, get_fn in _openblas():
        if get_fn() != n:
            set_fn(int(n))

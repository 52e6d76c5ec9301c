"""Conv1D and StatisticsPooling1D, measured against the NumPy references and PyTorch CPU in the
same run.

    python benchmarks/bench_conv1d.py [--repeats 31] [--threads N]

On (32, 128, 64) float32 inputs (batch 32, 128 frames, 64 channels):

(a) Conv1D, 64 filters, kernel 5, "same": forward, and forward + backward
(b) Conv1D, 64 filters, kernel 3, dilation 2, "same": forward, and forward + backward
(c) StatisticsPooling1D (mean and standard deviation over time): forward, and
    forward + backward

Each layer runs alone, as ``Layer.forward`` / ``backward`` (with the input gradient); PyTorch
does the same work (``torch.nn.Conv1d`` on the transposed input, with requires_grad on it;
mean and biased variance for (c)). Goal: Conv1D no slower than PyTorch (ratio <= 1.0).
PyTorch is only compared against, never a dependency: its columns are "n/a" without it.

Threads: by default BLAS and Numba use every core and PyTorch 2 threads (as
benchmarks/bench_cnn.py). ``--threads N`` gives all three N threads. With 1, no thread waits
for another, which is the fair comparison on a machine shared with other work: there, a
multithreaded BLAS product waits at its end for a thread that another process has pushed off
its core (measured on this 2-core machine under load: 6-8 ms per product instead of 0.25 ms,
and the twin's shifted products are K such waits).

The timing rule is that of benchmarks/timing.py (a warm-up, then the median); the fastest run
is shown in brackets. Read the ratios as indicative: on a shared machine the medians move by
tens of percent from run to run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv(argv) -> int | None:
    """--threads N, read before NumPy and Numba start: their thread pools are sized on import
    (OPENBLAS_NUM_THREADS for NumPy's and SciPy's BLAS, NUMBA_NUM_THREADS for Numba)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return None


_THREADS = _threads_from_argv(sys.argv[1:])
if _THREADS is not None:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = str(_THREADS)

import numpy as np  # noqa: E402  (after the thread counts are set)

from nn import backend  # noqa: E402
from nn.layers import Conv1D, StatisticsPooling1D  # noqa: E402

N, T, C = 32, 128, 64


def layers():
    """(key, label, layer factory, PyTorch module factory(torch))."""
    return [
        (
            "a",
            "(a) Conv1D 64->64, kernel 5, same",
            lambda: Conv1D(64, 5, padding="same"),
            lambda torch: torch.nn.Conv1d(C, 64, 5, padding="same"),
        ),
        (
            "b",
            "(b) Conv1D 64->64, kernel 3, dilation 2, same",
            lambda: Conv1D(64, 3, padding="same", dilation_rate=2),
            lambda torch: torch.nn.Conv1d(C, 64, 3, padding="same", dilation=2),
        ),
        ("c", "(c) StatisticsPooling1D", lambda: StatisticsPooling1D(), None),
    ]


def ours(make, x):
    """(forward, forward + backward) of the layer, as functions."""
    layer = make().build((T, C), np.random.default_rng(0))

    def fwd():
        layer.forward(x)
        layer._clear_cache()

    def fwd_bwd():
        out = layer.forward(x)
        layer.backward(np.ones_like(out))
        layer.zero_grad()

    return fwd, fwd_bwd


def theirs(torch, make_module, x):
    """The same two passes in PyTorch, on the (N, C, T) transpose of x."""
    tx = torch.from_numpy(x.transpose(0, 2, 1).copy()).requires_grad_(True)
    if make_module is None:  # statistics pooling: over time, the last axis here

        def op(v):
            return torch.cat([v.mean(dim=2), torch.sqrt(v.var(dim=2, unbiased=False) + 1e-5)], 1)

        params = []
    else:
        module = make_module(torch)
        op, params = module, list(module.parameters())

    def fwd():
        with torch.no_grad():
            op(tx)

    def fwd_bwd():
        for p in params:
            p.grad = None
        tx.grad = None
        op(tx).sum().backward()

    return fwd, fwd_bwd


def timed(setup, fn, repeats):
    """(median, fastest) seconds of ``fn()``: the rule of ``timing.median_time`` (one warm-up
    run, then the median of ``repeats``), with the fastest run too, the least disturbed by
    other work on the machine. Each implementation is timed in a block of its own: taking
    turns run by run made the thread pools of NumPy's BLAS, SciPy's BLAS, Numba and PyTorch
    spin against each other (measured: medians 10-30x longer)."""
    setup()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    time.sleep(0.2)  # let spinning BLAS threads go to sleep before the next block
    return float(np.median(times)), float(np.min(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS, Numba and PyTorch alike (default: every core, PyTorch 2)",
    )
    args = parser.parse_args()
    r = args.repeats
    backend.keep_freed_memory()  # the library's training memory settings, for every row
    x = np.random.default_rng(0).standard_normal((N, T, C)).astype(np.float32)
    impls = {which: backend.implementations(which) for which in ("numba", "numpy")}
    try:
        import torch

        torch.set_num_threads(args.threads or 2)
        torch.manual_seed(0)
    except ImportError:
        torch = None

    def use(which):
        def setup():
            backend.ops = impls[which]

        return setup

    rows = []
    for key, label, make, make_module in layers():
        passes = {which: ours(make, x) for which in impls}
        if torch is not None:
            passes["torch"] = theirs(torch, make_module, x)
        for i, part in enumerate(("forward", "forward+backward")):
            runs = {which: (use(which), passes[which][i]) for which in impls}
            if torch is not None:
                runs["torch"] = (use("numba"), passes["torch"][i])
            rows.append((key, f"{label}, {part}", {k: timed(*v, r) for k, v in runs.items()}))
    backend.ops = impls["numba"]

    threads = f"{args.threads} thread(s) each" if args.threads else "every core (PyTorch 2)"
    print(f"# Conv1D / StatisticsPooling1D benchmark: {os.cpu_count()} cores, {threads}, "
          f"float32, inputs ({N}, {T}, {C}); median (fastest) of {r} runs\n")  # fmt: skip
    print("| workload | project ms | NumPy reference ms | kernel speed-up | PyTorch ms "
          "| project / PyTorch | goal |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, label, t in rows:
        (ours_ms, ours_min), (ref_ms, ref_min) = t["numba"], t["numpy"]
        cells = [label, f"{1e3 * ours_ms:.2f} ({1e3 * ours_min:.2f})"]
        cells += [f"{1e3 * ref_ms:.2f} ({1e3 * ref_min:.2f})", f"{ref_ms / ours_ms:.1f}x"]
        if "torch" in t:
            torch_ms, torch_min = t["torch"]
            cells += [f"{1e3 * torch_ms:.2f} ({1e3 * torch_min:.2f})"]
            cells += [f"{ours_ms / torch_ms:.2f} ({ours_min / torch_min:.2f})"]
        else:
            cells += ["n/a", "n/a"]
        cells.append("<= 1.0" if key in ("a", "b") else "-")
        print("| " + " | ".join(cells) + " |")
    if torch is None:
        print("\nNote: PyTorch is not installed: its columns are empty (pip install torch, CPU).")


if __name__ == "__main__":
    main()

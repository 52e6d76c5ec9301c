"""Batch normalisation: the Numba twin against the NumPy reference and PyTorch CPU, same run.

    python benchmarks/bench_normalization.py [--repeats 21] [--threads 1]

Rows, all float32, training mode (the batch's statistics, as ``fit`` runs it) unless said:
(a) (32, 128, 64): a batch of 128-frame sequences with 64 channels (after a Conv1D)
(b) (32, 64, 6, 32): a batch of 4-D feature maps (after a Conv2D and a pooling)
each as forward, forward + backward, and inference forward (moving statistics).

``--threads`` is the number of threads for the Numba kernels and for PyTorch. The default, 1,
is what a model gets (``nn.backend.model_threads`` runs the kernels on one thread inside
``Sequential``). PyTorch works on its own channels-first layout, transposed once outside the
timing. PyTorch is only compared against, never a dependency: its columns are "n/a" when it is
not installed. On a shared machine the numbers are indicative only.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from timing import median_time  # benchmarks/timing.py, beside this script

from nn.engine.threads import numba_threads
from nn.functional import normalization as reference
from nn.kernels import normalization as twin

SHAPES = {"a": (32, 128, 64), "b": (32, 64, 6, 32)}


def ours(impl, x, gamma, beta, dout, mean, var):
    def forward():
        impl.batchnorm_forward(x, gamma, beta)

    def forward_backward():
        _, cache = impl.batchnorm_forward(x, gamma, beta)
        impl.batchnorm_backward(dout, cache)

    def inference():
        impl.batchnorm_forward(x, gamma, beta, mean=mean, variance=var)

    return {"forward": forward, "forward+backward": forward_backward, "inference": inference}


def theirs(torch, x, gamma, beta, dout, mean, var):
    order = (0, x.ndim - 1, *range(1, x.ndim - 1))  # channels last -> channels first
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(order))).requires_grad_(True)
    tdout = torch.from_numpy(np.ascontiguousarray(dout.transpose(order)))
    w = torch.from_numpy(gamma).requires_grad_(True)
    b = torch.from_numpy(beta).requires_grad_(True)
    rm, rv = torch.from_numpy(mean.copy()), torch.from_numpy(var.copy())
    F = torch.nn.functional

    def forward():
        with torch.no_grad():
            F.batch_norm(tx, rm, rv, w, b, training=True, momentum=0.01, eps=1e-3)

    def forward_backward():
        tx.grad = w.grad = b.grad = None
        F.batch_norm(tx, rm, rv, w, b, training=True, momentum=0.01, eps=1e-3).backward(tdout)

    def inference():
        with torch.no_grad():
            F.batch_norm(tx, rm, rv, w, b, training=False, eps=1e-3)

    return {"forward": forward, "forward+backward": forward_backward, "inference": inference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    r, threads = args.repeats, args.threads
    rng = np.random.default_rng(0)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None

    timings = {}
    for key, shape in SHAPES.items():
        C = shape[-1]
        x = (1.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
        dout = rng.standard_normal(shape).astype(np.float32)
        gamma = (1.0 + 0.1 * rng.standard_normal(C)).astype(np.float32)
        beta = (0.1 * rng.standard_normal(C)).astype(np.float32)
        mean, var = np.ones(C, np.float32), np.full(C, 4.0, np.float32)
        with numba_threads(threads):
            for impl, name in ((twin, "twin"), (reference, "numpy")):
                for what, fn in ours(impl, x, gamma, beta, dout, mean, var).items():
                    timings[(key, what, name)] = median_time(fn, r)
        if torch is not None:
            for what, fn in theirs(torch, x, gamma, beta, dout, mean, var).items():
                timings[(key, what, "torch")] = median_time(fn, r)

    print(
        f"# Batch normalisation: {os.cpu_count()} cores, {threads} thread(s), float32, "
        f"median of {r} runs\n"
    )
    print("| shape | pass | twin ms | NumPy reference ms | twin speed-up | PyTorch ms "
          "| twin / PyTorch |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, shape in SHAPES.items():
        for what in ("forward", "forward+backward", "inference"):
            ours_t, ref_t = timings[(key, what, "twin")], timings[(key, what, "numpy")]
            t = timings.get((key, what, "torch"))
            torch_ms, ratio = (f"{1e3 * t:.2f}", f"{ours_t / t:.2f}") if t else ("n/a", "n/a")
            print(
                f"| ({key}) {shape} | {what} | {1e3 * ours_t:.2f} | {1e3 * ref_t:.2f} "
                f"| {ref_t / ours_t:.1f}x | {torch_ms} | {ratio} |"
            )
    if torch is None:
        print("\nNote: PyTorch is not installed: its columns are empty (pip install torch, CPU).")


if __name__ == "__main__":
    main()

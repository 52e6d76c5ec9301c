"""The recurrent layers' own products (nn/engine/step_product.py, sequence_gradients.py)
against NumPy's BLAS doing the same arithmetic, in one run.

    python benchmarks/bench_step_product.py [--repeats 9]

Shapes of the LSTM in benchmarks/bench_rnn.py (batch 32, 300 steps, 39 inputs, 128 units),
float32. Three rows:

- the weight gradients dW = x^T dA, dU = h^T dA, db = sum dA of all steps;
- the input gradient dx = dA W^T;
- the step product h_{t-1} U of 300 steps, one step after the other (ours: the forward tile
  over the batch's rows on every thread; NumPy: one ``np.dot`` per step).

Each side is timed alone. Inside a layer the difference is larger than this table shows: the
BLAS threads spin after each call and slow the Numba loops beside them (docs/benchmarks.md,
recurrent items 6-7), which is why the layer does not use BLAS at all.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numba import njit, prange
from timing import median_time  # benchmarks/timing.py, beside this script

from nn.engine import simd
from nn.engine.sequence_gradients import input_gradient, weight_gradients
from nn.engine.step_product import ROWS, panels, set_rows, tile
from nn.engine.threads import numba_threads, threads_for

N, T, D, H = 32, 300, 39, 128
G = 4 * H


@njit(cache=True, parallel=True)
def _steps(h, U_panels, out, P, L):
    """out[t] = h[t] U for every t, each thread owning rows of the batch (as the LSTM)."""
    T, N, H = h.shape
    G = out.shape[2]
    hf, of = h.reshape(-1), out.reshape(-1)
    zeros = np.zeros(G, h.dtype)
    for p in prange(P):
        lo, hi = p * N // P, (p + 1) * N // P
        offsets = np.empty((4, ROWS), np.int64)
        for t in range(T):
            for j in range(0, G, 2 * L):
                u = U_panels[j // (2 * L)].reshape(-1)
                for n in range(lo, hi, ROWS):
                    set_rows(offsets, 0, n, hi - 1, t * N * G + j, G)
                    set_rows(offsets, 1, 0, 0, j, 0)
                    set_rows(offsets, 2, n, hi - 1, t * N * H, H)
                    set_rows(offsets, 3, 0, 0, 0, 0)
                    tile(of, zeros, hf, u, hf[:0], u[:0], offsets, L)


def _numpy_steps(h, U, out):
    for t in range(h.shape[0]):
        np.dot(h[t], U, out[t])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    r = parser.parse_args().repeats
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    x, h, dA, W, U = f32(T * N, D), f32(T * N, H), f32(T * N, G), f32(D, G), f32(H, G)
    P, L = threads_for(N), simd.lanes(np.float32)
    out = np.empty((T, N, G), np.float32)
    hs, U_p = h.reshape(T, N, H), panels(U, L)
    ours = {
        "dW, dU, db of all steps": lambda: weight_gradients(x, h, dA, P),
        "dx = dA W^T": lambda: input_gradient(dA, W, P),
        "h_{t-1} U, 300 steps in turn": lambda: _steps(hs, U_p, out, P, L),
    }
    numpy = {
        "dW, dU, db of all steps": lambda: (x.T @ dA, h.T @ dA, dA.sum(axis=0)),
        "dx = dA W^T": lambda: dA @ W.T,
        "h_{t-1} U, 300 steps in turn": lambda: _numpy_steps(hs, U, out),
    }
    # every Numba side first, then every BLAS side, with a pause: spinning threads of one
    # pool would otherwise slow the other's first runs
    with numba_threads(P):
        t_ours = {name: median_time(fn, r) for name, fn in ours.items()}
    time.sleep(1.0)
    t_numpy = {name: median_time(fn, r) for name, fn in numpy.items()}
    rows = [(name, t_ours[name], t_numpy[name]) for name in ours]
    print(f"# Step products: {os.cpu_count()} cores, float32, N={N} T={T} D={D} H={H}, ")
    print(f"median of {r} runs, each side alone\n")
    print("| product | ours ms | NumPy (OpenBLAS) ms | ours / NumPy |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in rows:
        print(f"| {name} | {1e3 * ours:.1f} | {1e3 * theirs:.1f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()

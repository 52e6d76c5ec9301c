"""Training epochs on a machine that other programs keep busy, against idle and PyTorch.

    python benchmarks/bench_shared_machine.py [--busy 2] [--epochs 12] [--samples 300]

For each load (idle, then ``--busy`` processes spinning ``while True: pass``, started before
the measuring process), each workload runs in a fresh process and times ``--epochs`` training
epochs; the first (compilation, first allocations) is reported apart and left out of the
median and the worst:

- the document's CNN (``ser.recipes.seed_cnn``), ``--samples`` inputs of 128 x 13 x 1, Adam,
  batch 32: the project with its thread policy (eq. TH-1, ``nn.engine.threads``), the project
  with ``SER_THREADS=fixed`` (every core whatever the load: the behaviour before the policy),
  and the same network in PyTorch CPU (2 threads) when it is installed;
- the recommended recipe's network (``cnn1d-spk``), 128 frames x 128 features: the same three;
- the LSTM recipe (``ser.recipes.build("lstm", 4)``), whose time loop is a Numba kernel that
  splits the batch between threads (``threads_for``): the project, with and without the policy.

Goals (issue 17), with two busy processes on 2 cores: no epoch after the first slower than
5x idle, the median within 4x idle (the fair share is 3x), and the median no slower than
PyTorch under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
workload, impl, epochs, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(0)
if workload == "cnn":
    shape, k = (128, 13, 1), 3
elif workload == "lstm":
    from ser.recipes import build
    model = build("lstm", 4)
    shape, k = tuple(model.input_shape[1:]), 4
else:
    shape, k = (128, 128), 8
x = rng.standard_normal((n, *shape)).astype(np.float32)
labels = rng.integers(0, k, n)
y = np.eye(k, dtype=np.float32)[labels]
times = []
if impl == "torch" and workload == "lstm":
    raise SystemExit("no PyTorch twin of this workload here")
if impl == "torch":
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    if workload == "cnn":
        from bench_cnn import torch_parts
        _, model = torch_parts()
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    else:
        from bench_recipe import our_model, torch_model
        model = torch_model(torch, our_model())
        xt = torch.from_numpy(x.transpose(0, 2, 1).copy())
    yt = torch.from_numpy(labels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        start = time.perf_counter()
        for s in range(0, n, 32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[s:s + 32]), yt[s:s + 32]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
else:
    if workload == "cnn":
        from ser.recipes import seed_cnn
        model = seed_cnn(k)
    elif workload == "lstm":
        pass  # built above
    else:
        from bench_recipe import our_model
        model = our_model()
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
        times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def busy_processes(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(1.0)  # let them reach the run queue before anything is measured
    return procs


def run(workload: str, impl: str, epochs: int, samples: int) -> list[float] | None:
    env = dict(os.environ)
    if impl == "fixed":
        env["SER_THREADS"] = "fixed"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), workload, impl, str(epochs), str(samples)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        if impl == "torch" and "No module named 'torch'" in done.stderr:
            return None
        if impl == "torch" and "no PyTorch twin" in done.stderr:
            return None
        raise SystemExit(f"{workload}/{impl} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    import numpy as np

    workloads = [("cnn", "document's CNN"), ("recipe", "cnn1d-spk network"),
                 ("lstm", "LSTM recipe (Numba time loop)")]  # fmt: skip
    impls = [("ours", "project"), ("fixed", "project, SER_THREADS=fixed"), ("torch", "PyTorch")]
    results = {}
    for load in (0, args.busy):
        procs = busy_processes(load)
        try:
            for w, _ in workloads:
                for impl, _ in impls:
                    results[(load, w, impl)] = run(w, impl, args.epochs, args.samples)
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    print(f"# {args.samples}-sample epochs on {os.cpu_count()} cores, idle and with "
          f"{args.busy} busy processes ({args.epochs} epochs, the first left out)\n")  # fmt: skip
    print("| workload | implementation | idle median ms | busy median ms | busy worst ms "
          "| median vs idle | worst vs idle | busy median vs PyTorch busy |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for w, w_name in workloads:
        torch_busy = results.get((args.busy, w, "torch"))
        torch_median = float(np.median(torch_busy[1:])) if torch_busy else None
        for impl, i_name in impls:
            idle, busy = results[(0, w, impl)], results[(args.busy, w, impl)]
            if idle is None or busy is None:
                print(f"| {w_name} | {i_name} | not run (not installed, or no twin) | | | | | |")
                continue
            base = float(np.median(idle[1:]))
            med, worst = float(np.median(busy[1:])), float(np.max(busy[1:]))
            vs_torch = f"{med / torch_median:.2f}" if torch_median else "n/a"
            cells = [f"{1e3 * base:.0f}", f"{1e3 * med:.0f}", f"{1e3 * worst:.0f}",
                     f"{med / base:.2f}x", f"{worst / base:.2f}x", vs_torch]  # fmt: skip
            print(f"| {w_name} | {i_name} | {' | '.join(cells)} |")
    print(
        "\nGoals with two busy processes: worst <= 5x idle, median <= 4x idle, "
        "median <= PyTorch's under the same load."
    )


if __name__ == "__main__":
    main()

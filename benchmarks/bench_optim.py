"""The update rules (eqs. O-1..O-3): each Numba twin against its NumPy reference and PyTorch.

One update of 645,699 float32 parameters (the document's CNN), as ``Optimizer.apply`` makes
it, median of ``--repeats``; the same rule in ``torch.optim`` when PyTorch is installed (it is
never a dependency). Ratios in the same run; absolute times only to read them with.

    python benchmarks/bench_optim.py [--repeats 51]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402

from nn.functional import optim as reference  # noqa: E402
from nn.kernels import optim as twin  # noqa: E402

SIZE = 645_699
RULES = {
    "SGD, momentum 0.9": ("sgd_update", {"momentum": 0.9}, "SGD", {"momentum": 0.9}),
    "RMSprop": ("rmsprop_update", {}, "RMSprop", {"alpha": 0.9, "eps": 1e-7}),
    "Adam": ("adam_update", {}, "Adam", {"eps": 1e-7}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=51)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    g = rng.standard_normal(SIZE).astype(np.float32)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    print(f"# Update rules: {SIZE:,} float32 parameters, one thread, median of {args.repeats}\n")
    print("| rule | twin ms | NumPy reference ms | twin speed-up | PyTorch ms | twin / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (name, kwargs, torch_name, torch_kwargs) in RULES.items():
        times = {}
        for which, module in (("twin", twin), ("ref", reference)):
            w, state = rng.standard_normal(SIZE).astype(np.float32), {}
            rule = getattr(module, name)

            def step(rule=rule, w=w, state=state, kwargs=kwargs):
                rule(w, g, state, learning_rate=1e-3, **kwargs)

            times[which] = median_time(step, args.repeats)
        row = f"| {label} | {1e3 * times['twin']:.2f} | {1e3 * times['ref']:.2f} | "
        row += f"{times['ref'] / times['twin']:.1f}x | "
        if torch is not None:
            p = torch.zeros(SIZE, requires_grad=True)
            p.grad = torch.from_numpy(g.copy())
            opt = getattr(torch.optim, torch_name)([p], lr=1e-3, **torch_kwargs)
            t = median_time(opt.step, args.repeats)
            row += f"{1e3 * t:.2f} | {times['twin'] / t:.2f} |"
        else:
            row += "- | - |"
        print(row)


if __name__ == "__main__":
    main()

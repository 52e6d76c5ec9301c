"""The CNN path, measured against the NumPy references and PyTorch CPU in the same run.

    python benchmarks/bench_cnn.py [--repeats 7]

(a) one forward + backward of the document's CNN at batch 32 (float32, 128 x 13 x 1 inputs)
(b) one training epoch of 1000 samples with Adam, batch 32
(c) one Conv2D layer, 16 -> 64 channels, 3 x 3, "same", on 32 x 128 x 40 inputs:
    forward, and forward + backward
(d) no goal, a check that (c) carries into training: one forward + backward of a two-layer
    CNN (1 -> 16 -> 64 channels, 3 x 3 "same", relu, 2 x 2 max pooling, Dense(4)) on the
    inputs of (c), batch 32, inside a model as Sequential runs it

Goals (issue 4): (a) and (b) no slower than PyTorch (ratio <= 1.0); (c) within 1.5x; every
kernel many times faster than its NumPy reference. PyTorch (CPU build, 2 threads) is only
compared against, never a dependency: its rows are skipped with a note when it is missing.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from timing import median_time  # benchmarks/timing.py, beside this script

from nn import backend
from nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from nn.models import Sequential
from nn.training import loss_and_grad
from ser.recipes import seed_cnn


def two_conv_cnn():
    """The model of (d): its second layer is the convolution of (c)."""
    model = Sequential(seed=0)
    model.add(Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=(128, 40, 1)))
    model.add(Conv2D(64, (3, 3), padding="same", activation="relu"))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(4, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def use_references(on: bool):
    """Switch the layers between the Numba kernels and the NumPy references."""
    backend.ops = backend.implementations("numpy" if on else "numba")


def ours_step(model, x, y):
    backend.keep_freed_memory()  # as Sequential.train_on_batch does when training starts
    with backend.model_threads():  # as train_on_batch runs its passes
        out = model.forward(x, training=True)
        _, grad = loss_and_grad(model, out, y)
        model.backward(grad.astype(np.float32), from_preactivation=True, need_input_grad=False)
    for layer in model.layers:
        layer.zero_grad()


def ours_epoch(model, x, y, batch=32):
    for start in range(0, len(x), batch):
        model.train_on_batch(x[start : start + batch], y[start : start + batch])


def torch_parts():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 63 * 5, 64), nn.ReLU(), nn.Linear(64, 3),
    )  # fmt: skip
    return torch, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    r = parser.parse_args().repeats
    backend.keep_freed_memory()  # the library's training memory settings, for every row
    rng = np.random.default_rng(0)
    notes = []

    x32 = rng.standard_normal((32, 128, 13, 1)).astype(np.float32)
    y32 = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    x1k = rng.standard_normal((1000, 128, 13, 1)).astype(np.float32)
    y1k = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 1000)]
    xc = rng.standard_normal((32, 128, 40, 16)).astype(np.float32)
    xd = rng.standard_normal((32, 128, 40, 1)).astype(np.float32)
    yd = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 32)]

    timings = {}
    for impl in ("numba", "numpy"):
        use_references(impl == "numpy")
        model = seed_cnn(3)
        timings[("a", impl)] = median_time(lambda m=model: ours_step(m, x32, y32), r)
        model = seed_cnn(3)
        timings[("b", impl)] = median_time(lambda m=model: ours_epoch(m, x1k, y1k), max(1, r // 3))
        layer = Conv2D(64, (3, 3), padding="same").build((128, 40, 16), np.random.default_rng(0))

        def fwd(layer=layer):
            layer.forward(xc)
            layer._clear_cache()

        def fwd_bwd(layer=layer):
            out = layer.forward(xc)
            layer.backward(np.ones_like(out))
            layer.zero_grad()

        timings[("c-forward", impl)] = median_time(fwd, r)
        timings[("c-forward+backward", impl)] = median_time(fwd_bwd, r)
        model = two_conv_cnn()
        timings[("d", impl)] = median_time(lambda m=model: ours_step(m, xd, yd), r)
    use_references(False)

    torch_bits = torch_parts()
    if torch_bits is None:
        notes.append("PyTorch is not installed: its column is empty (pip install torch, CPU build)")
    else:
        torch, tmodel = torch_bits
        tx32 = torch.from_numpy(x32.transpose(0, 3, 1, 2).copy())
        ty32 = torch.from_numpy(y32.argmax(1))
        loss_fn = torch.nn.CrossEntropyLoss()

        def t_step():
            tmodel.zero_grad()
            loss_fn(tmodel(tx32), ty32).backward()

        timings[("a", "torch")] = median_time(t_step, r)
        tx1k = torch.from_numpy(x1k.transpose(0, 3, 1, 2).copy())
        ty1k = torch.from_numpy(y1k.argmax(1))
        opt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)

        def t_epoch():
            for start in range(0, 1000, 32):
                opt.zero_grad()
                loss_fn(tmodel(tx1k[start : start + 32]), ty1k[start : start + 32]).backward()
                opt.step()

        timings[("b", "torch")] = median_time(t_epoch, max(1, r // 3))
        conv = torch.nn.Conv2d(16, 64, 3, padding="same")
        txc = torch.from_numpy(xc.transpose(0, 3, 1, 2).copy()).requires_grad_(True)

        def t_fwd():
            with torch.no_grad():
                conv(txc)

        def t_fwd_bwd():
            conv.zero_grad()
            txc.grad = None
            conv(txc).sum().backward()

        timings[("c-forward", "torch")] = median_time(t_fwd, r)
        timings[("c-forward+backward", "torch")] = median_time(t_fwd_bwd, r)
        nn = torch.nn
        dmodel = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(),
            nn.Conv2d(16, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * 64 * 20, 4),
        )  # fmt: skip
        txd = torch.from_numpy(xd.transpose(0, 3, 1, 2).copy())
        tyd = torch.from_numpy(yd.argmax(1))

        def t_two_conv():
            dmodel.zero_grad()
            loss_fn(dmodel(txd), tyd).backward()

        timings[("d", "torch")] = median_time(t_two_conv, r)

    labels = {
        "a": "(a) document's CNN, forward+backward, batch 32",
        "b": "(b) one epoch, 1000 samples, Adam, batch 32",
        "c-forward": "(c) Conv2D 16->64 3x3 same, 32x128x40, forward",
        "c-forward+backward": "(c) the same, forward+backward",
        "d": "(d) 1->16->64-channel CNN on (c)'s inputs, forward+backward",
    }
    goals = {"a": "<= 1.0", "b": "<= 1.0", "c-forward": "<= 1.5", "c-forward+backward": "<= 1.5"}
    print(f"# CNN benchmark: {os.cpu_count()} cores, float32, median of {r} runs\n")
    print("| workload | project ms | NumPy reference ms | kernel speed-up | PyTorch ms "
          "| project / PyTorch | goal |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, label in labels.items():
        ours, ref = timings[(key, "numba")], timings[(key, "numpy")]
        t = timings.get((key, "torch"))
        ratio = f"{ours / t:.2f}" if t else "n/a"
        torch_ms = f"{1e3 * t:.1f}" if t else "n/a"
        print(f"| {label} | {1e3 * ours:.1f} | {1e3 * ref:.1f} | {ref / ours:.1f}x | {torch_ms} "
              f"| {ratio} | {goals.get(key, '-')} |")  # fmt: skip
    for note in notes:
        print(f"\nNote: {note}.")


if __name__ == "__main__":
    main()

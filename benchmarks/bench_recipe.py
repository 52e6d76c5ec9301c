"""One training epoch of the real-speech recipe, against the same network in PyTorch CPU.

    python benchmarks/bench_recipe.py [--repeats 5] [--samples 1000]

The network of ``ser.recipes.cnn1d_speaker_bn`` (the recipe ``cnn1d-spk``): Conv1D 5/3/3
(dilation 1, 1, 2) without bias, each followed by BatchNormalization and ReLU, statistics
pooling, BatchNormalization, Dropout(0.5), Dense(8, softmax), on (128 frames, 128) float32
inputs of log-mel + deltas; Adam at 1e-3, batch 32, cross-entropy. Both run one epoch over the
same random inputs from the same weights, in training mode (batch statistics, dropout on), and
the project's epoch is ``Sequential.fit`` itself, with speaker batches as the recipe trains
(ten speakers of 100 utterances). PyTorch (CPU build, 2 threads) is only compared against:
its row is skipped with a note when it is not installed.

Goal (issue 12): ours / PyTorch <= 1.0.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from timing import median_time  # benchmarks/timing.py, beside this script

from ser.recipes import cnn1d_speaker_bn

SHAPE = (128, 128)
K = 8


def our_model():
    model = cnn1d_speaker_bn(K, input_shape=SHAPE, seed=0)
    return model


def torch_model(torch, ours):
    """The same architecture, with our initial weights."""
    nn = torch.nn

    class StatsPool(nn.Module):
        def forward(self, h):  # (N, C, T) -> (N, 2C): mean, sqrt(biased var + 1e-5)
            return torch.cat([h.mean(2), torch.sqrt(h.var(2, unbiased=False) + 1e-5)], 1)

    convs = [layer for layer in ours.layers if type(layer).__name__ == "Conv1D"]
    layers = []
    c_in = SHAPE[1]
    for conv in convs:
        k, d = conv.kernel_size, conv.dilation_rate
        torch_conv = nn.Conv1d(c_in, conv.filters, k, padding=d * (k - 1) // 2, dilation=d,
                               bias=False)  # fmt: skip
        with torch.no_grad():  # ours: (K, C, F); PyTorch: (F, C, K)
            torch_conv.weight.copy_(torch.from_numpy(conv.params["kernel"].transpose(2, 1, 0)))
        layers += [torch_conv, nn.BatchNorm1d(conv.filters, eps=1e-3, momentum=0.1), nn.ReLU()]
        c_in = conv.filters
    dense = ours.layers[-1]
    linear = nn.Linear(2 * c_in, K)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.params["kernel"].T))
        linear.bias.copy_(torch.from_numpy(dense.params["bias"]))
    model = nn.Sequential(
        *layers, StatsPool(), nn.BatchNorm1d(2 * c_in, eps=1e-3, momentum=0.1), nn.Dropout(0.5),
        linear,
    )  # fmt: skip
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.samples
    x = rng.standard_normal((n, *SHAPE)).astype(np.float32)
    labels = rng.integers(0, K, n)
    y = np.eye(K, dtype=np.float32)[labels]
    speakers = np.repeat(np.arange(10), -(-n // 10))[:n]

    ours = our_model()
    rows = []
    t_ours = median_time(
        lambda: ours.fit(x, y, epochs=1, batch_size=32, verbose=0, batch_groups=speakers),
        args.repeats,
    )
    rows.append(("one epoch, speaker batches (Sequential.fit)", t_ours))
    note = ""
    try:
        import torch
    except ImportError:
        torch = None
        note = "PyTorch is not installed: its row is skipped"
    if torch is not None:
        torch.set_num_threads(2)
        torch.manual_seed(0)
        model = torch_model(torch, our_model())
        model.eval()  # the same network? inference from the same weights, before training
        with torch.no_grad():
            theirs = torch.softmax(model(torch.from_numpy(x[:64].transpose(0, 2, 1).copy())), 1)
        agreement = float(np.abs(theirs.numpy() - our_model().predict(x[:64])).max())
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        xt = torch.from_numpy(x.transpose(0, 2, 1).copy())  # (N, C, T)
        yt = torch.from_numpy(labels)
        order = np.argsort(speakers, kind="stable")

        def torch_epoch():
            model.train()
            for start in range(0, n, 32):
                idx = torch.from_numpy(order[start : start + 32])
                loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        t_torch = median_time(torch_epoch, args.repeats)
        rows.append((f"PyTorch {torch.__version__}, 2 threads, the same network", t_torch))
        note = f"before training, the two give the same probabilities to {agreement:.1e}"
    print(f"# The real-speech recipe, one epoch of {n} samples: {os.cpu_count()} cores, "
          f"median of {args.repeats}\n")  # fmt: skip
    print("| workload | ms | ours / PyTorch |\n|---|---:|---:|")
    for name, t in rows:
        ratio = f"{t_ours / rows[1][1]:.2f}" if len(rows) > 1 and t is t_ours else ""
        print(f"| {name} | {1e3 * t:.0f} | {ratio} |")
    if note:
        print(f"\nNote: {note}.")
    print("\nGoal: ours / PyTorch <= 1.0.")


if __name__ == "__main__":
    main()

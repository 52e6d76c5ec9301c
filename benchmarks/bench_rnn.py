"""Recurrent layers, measured against the NumPy references and PyTorch CPU in the same run.

    python benchmarks/bench_rnn.py [--repeats 5] [--cells LSTM GRU ...]

Workload (issue 5): batch 32, 300 steps, 39 inputs, 128 hidden units, many-to-one (the last
state feeds a Dense layer to 4 classes, softmax cross-entropy): the forward pass, and forward
+ backward, for LSTM, GRU and SimpleRNN, in float32; and the document's gated RNN (SeedRNN), against
its NumPy reference only.

PyTorch (CPU build, 2 threads) is timed as it comes and with torch.set_flush_denormal(True):
with the loss on the last of 300 steps the gradient of early steps underflows into subnormal
numbers, which x86 handles tens of times slower. Both libraries start from the same weights
(ours, copied into PyTorch's layout), so they run in the same numeric regime. Our kernels
flush denormals themselves (nn/engine/time_major.py); the row "no flush" turns that off to show
what it saves. Goals: forward + backward no slower than PyTorch with denormals flushed (ratio
<= 1.0); forward within 1.5x.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from timing import median_time  # benchmarks/timing.py, beside this script

from nn import backend
from nn.engine import time_major as kernel_sequence
from nn.layers import GRU, LSTM, Dense, SeedRNN, SimpleRNN
from nn.models import Sequential
from nn.training import loss_and_grad

N, T, D, H, K = 32, 300, 39, 128, 4
CELLS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN, "SeedRNN": SeedRNN}
TORCH_CELLS = ("LSTM", "GRU", "SimpleRNN")  # the document's gated RNN has no PyTorch twin


def use_references(on: bool):
    """Switch the layers between the Numba kernels and the NumPy references."""
    backend.ops = backend.implementations("numpy" if on else "numba")


def build(cell):
    model = Sequential(seed=0)
    model.add(CELLS[cell](H, input_shape=(T, D)))
    model.add(Dense(K, activation="softmax"))
    model.compile("adam")
    return model


def ours(model, x, y, backward):
    backend.keep_freed_memory()
    with backend.model_threads():
        out = model.forward(x, training=backward)
        if backward:
            _, grad = loss_and_grad(model, out, y)
            model.backward(grad.astype(np.float32), from_preactivation=True, need_input_grad=False)
            for layer in model.layers:
                layer.zero_grad()


def torch_model(torch, cell, model):
    """The same network in PyTorch, with our initial weights in PyTorch's layout."""
    rnn_layer, dense = model.layers
    p = {k: v.astype(np.float32) for k, v in rnn_layer.params.items()}
    if cell == "GRU":  # ours: gates z, r, h; PyTorch's: r, z, n
        order = lambda m: np.concatenate([m[..., H : 2 * H], m[..., :H], m[..., 2 * H :]], -1)  # noqa: E731
        W, U, b_in, b_rec = order(p["kernel"]), order(p["recurrent_kernel"]), *order(p["bias"])
    else:
        W, U, b_in = p["kernel"], p["recurrent_kernel"], p["bias"]
        b_rec = np.zeros_like(b_in)
    net = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[cell](
        D, H, batch_first=True
    )
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
        net.bias_ih_l0.copy_(torch.from_numpy(b_in))
        net.bias_hh_l0.copy_(torch.from_numpy(b_rec))
    head = torch.nn.Linear(H, K)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(dense.params["kernel"].T.copy()))
        head.bias.copy_(torch.from_numpy(dense.params["bias"]))
    return net, head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    args = parser.parse_args()
    r = args.repeats
    backend.keep_freed_memory()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    y = np.eye(K, dtype=np.float32)[rng.integers(0, K, N)]
    try:
        import torch

        torch.set_num_threads(2)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
        loss_fn = torch.nn.CrossEntropyLoss()
    except ImportError:
        torch = None

    rows = []
    for cell in args.cells:
        for backward in (False, True):
            model = build(cell)
            use_references(False)
            t_ours = median_time(lambda m=model, b=backward: ours(m, x, y, b), r)
            kernel_sequence.FLUSH_DENORMALS = False
            t_noflush = median_time(lambda m=model, b=backward: ours(m, x, y, b), r)
            kernel_sequence.FLUSH_DENORMALS = True
            use_references(True)
            t_ref = median_time(lambda m=model, b=backward: ours(m, x, y, b), max(1, r // 3))
            use_references(False)
            t_torch = t_ftz = None
            if torch is not None and cell in TORCH_CELLS:
                net, head = torch_model(torch, cell, model)

                def t_step(net=net, head=head, backward=backward):
                    if not backward:
                        with torch.no_grad():
                            head(net(tx)[0][:, -1])
                        return
                    net.zero_grad()
                    head.zero_grad()
                    loss_fn(head(net(tx)[0][:, -1]), ty).backward()

                torch.set_flush_denormal(False)
                t_torch = median_time(t_step, r)
                torch.set_flush_denormal(True)
                t_ftz = median_time(t_step, r)
                torch.set_flush_denormal(False)
            rows.append((cell, backward, t_ours, t_noflush, t_ref, t_torch, t_ftz))

    print(f"# Recurrent benchmark: {os.cpu_count()} cores, float32, N={N} T={T} D={D} H={H}, ")
    print(f"median of {r} runs (references: {max(1, r // 3)})\n")
    print(
        "| cell | pass | project ms | no flush ms | NumPy ref ms | kernel speed-up | "
        "PyTorch ms | PyTorch flushed ms | project / PyTorch flushed | goal |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cell, backward, t_ours, t_noflush, t_ref, t_torch, t_ftz in rows:
        ms = lambda t: "-" if t is None else f"{1e3 * t:.1f}"  # noqa: E731
        ratio = "-" if t_ftz is None else f"{t_ours / t_ftz:.2f}"
        goal = "-" if t_ftz is None else ("<= 1.0" if backward else "<= 1.5")
        print(
            f"| {cell} | {'forward+backward' if backward else 'forward'} | {ms(t_ours)} | "
            f"{ms(t_noflush)} | {ms(t_ref)} | {t_ref / t_ours:.1f}x | {ms(t_torch)} | "
            f"{ms(t_ftz)} | {ratio} | {goal} |"
        )
    if torch is None:
        print("\nNote: PyTorch is not installed: its columns are empty (CPU build only).")


if __name__ == "__main__":
    main()

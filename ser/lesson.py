"""Small helpers the examples share: shape checks, the output folder, comparison lines.

Environment variables (the example smoke test sets both):
    SER_EXAMPLES_OUT   folder for figures and files (default: examples/output/<example>)
    SER_FAST=1         smaller inputs, so every example finishes in a few seconds
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["check_shape", "output_dir", "fast_mode", "compare", "save_figure"]


def fast_mode() -> bool:
    """True when SER_FAST=1: the examples shrink their inputs."""
    return os.environ.get("SER_FAST", "") == "1"


def output_dir(example_file: str) -> Path:
    """The folder an example writes to, created if needed."""
    root = os.environ.get("SER_EXAMPLES_OUT")
    name = Path(example_file).stem
    folder = Path(root) / name if root else Path(example_file).parent / "output" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_shape(name: str, array: np.ndarray, expected: tuple) -> None:
    """Assert a shape and print it: the lesson stops where a shape is not what it says."""
    array = np.asarray(array)
    assert array.shape == tuple(expected), f"{name}: got {array.shape}, expected {expected}"
    print(f"  {name:<22s} {str(array.shape):<14s} {array.dtype}")


def compare(name: str, got, want, *, atol: float = 1e-9, rtol: float = 1e-7) -> float:
    """Print ``name | exact | allclose (at the stated tolerance) | maxdiff``; return maxdiff."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        print(f"  {name:<34s} shapes differ: {got.shape} vs {want.shape}")
        return float("inf")
    maxdiff = float(np.max(np.abs(got - want))) if got.size else 0.0
    exact = bool(np.array_equal(got, want))
    close = bool(np.allclose(got, want, rtol=rtol, atol=atol))
    print(
        f"  {name:<34s} exact={exact!s:<5} allclose={close!s:<5} "
        f"(atol {atol:g}, rtol {rtol:g}) maxdiff={maxdiff:.2e}"
    )
    return maxdiff


def save_figure(fig, folder: Path, filename: str) -> Path:
    """Save a matplotlib figure into the example's folder (atomically) and close it."""
    import matplotlib.pyplot as plt

    from ser.io import atomic_write

    path = Path(folder) / filename
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format=path.suffix[1:] or "png"))
    plt.close(fig)
    print(f"  figure -> {path}")
    return path

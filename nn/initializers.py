"""Weight initializers (Keras names and defaults). Every one takes a numpy Generator.

fan_in / fan_out: Dense (D, M) -> D, M; Conv2D (KH, KW, C, F) -> KH KW C, KH KW F.
"""

from __future__ import annotations

import numpy as np

__all__ = ["glorot_uniform", "he_normal", "zeros", "ones", "orthogonal", "get"]


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape, rng, dtype="float32"):
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out)): Keras's default (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, rng, dtype="float32"):
    """Truncated normal, std sqrt(2 / fan_in), redrawn beyond 2 std (Keras; He et al., 2015)."""
    fan_in, _ = _fans(shape)
    std = np.sqrt(2.0 / fan_in) / 0.87962566103423978  # Keras's correction for the truncation
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (out * std).astype(dtype)


def zeros(shape, rng=None, dtype="float32"):
    return np.zeros(shape, dtype)


def ones(shape, rng=None, dtype="float32"):
    return np.ones(shape, dtype)


def orthogonal(shape, rng, dtype="float32", gain=1.0):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al.)."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).reshape(shape).astype(dtype)


_BY_NAME = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "zeros": zeros,
    "ones": ones,
    "orthogonal": orthogonal,
}


def get(name_or_fn):
    """An initializer by Keras name, or a callable (shape, rng, dtype) -> array as it is."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in _BY_NAME:
        raise ValueError(f"unknown initializer {name_or_fn!r}; choose one of {sorted(_BY_NAME)}")
    return _BY_NAME[name_or_fn]

"""Finite-difference gradient checks: the proof that a backward pass is right.

    numerical_grad(f, x, dout)    centred differences of sum(f(x) * dout) with respect to x
    rel_error(a, b)               max |a - b| / max(1e-8, |a| + |b|)
    check_layer(layer, x)         every input and parameter gradient of a layer object

Only float64: in float32 the rounding error of f is about 1e-7 relative, and centred
differences with h = 1e-6 would measure noise (docs/cnn.md, "Gradient checks").
"""

from __future__ import annotations

import numpy as np

__all__ = ["numerical_grad", "rel_error", "check_layer"]


def rel_error(a, b) -> float:
    """max over elements of |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    # BEGIN SOLUTION ex=GC
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
    # END SOLUTION


def numerical_grad(f, x: np.ndarray, dout, h: float = 1e-6) -> np.ndarray:
    """Centred-difference estimate of d/dx sum(f(x) * dout).

    Math (docs/cnn.md, eq. G-1)::

        g[i] = (sum(f(x + h e_i) * dout) - sum(f(x - h e_i) * dout)) / (2 h)

    The two outputs are subtracted element by element before the weighted sum (the same
    value in exact arithmetic): outputs that x[i] does not affect then cancel exactly, and the
    rounding error no longer grows with the size of the output. ``x`` is perturbed in place
    and restored after each element, so ``f`` must read its argument afresh
    (``lambda v: op(v, W)``, not a closure over a copy). ``dout`` should be a random upstream
    gradient, never all ones, so that every output element is weighted differently.
    Error O(h^2).

    Raises
    ------
    TypeError
        If ``x`` (or the output of ``f``) is not float64.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64, got {x.dtype}")
    # BEGIN SOLUTION ex=GC
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = np.array(_float64(f(x)), copy=True)  # copies: f may return a view of x
        x[ix] = old - h
        minus = np.array(_float64(f(x)), copy=True)
        x[ix] = old
        # the same formula, differenced element-wise before the sum: outputs that x[ix] does
        # not touch cancel exactly, instead of adding their rounding error to the difference
        grad[ix] = np.sum((plus - minus) * dout) / (2.0 * h)  # eq. G-1
    return grad
    # END SOLUTION


def _float64(y):
    y = np.asarray(y)
    if y.dtype != np.float64:
        raise TypeError(f"gradient checks need a float64 output, got {y.dtype}")
    return y


def check_layer(layer, x: np.ndarray, *, seed: int = 0, h: float = 1e-6) -> dict[str, float]:
    """Relative error of every gradient of ``layer`` at input ``x``, float64.

    Runs ``layer.forward(x, training=False)`` once, backpropagates a random ``dout``, and
    compares ``dx`` and every ``layer.grads[name]`` with ``numerical_grad``. The layer's
    gradients are zeroed first and restored to zero after.

    Returns
    -------
    dict
        ``{"x": err, "<param name>": err, ...}``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64, got {x.dtype}")
    for name, p in layer.params.items():
        if p.dtype != np.float64:
            raise TypeError(f"gradient checks need float64 parameters; {name} is {p.dtype}")
    rng = np.random.default_rng(seed)
    layer.zero_grad()
    out = layer.forward(x, training=False)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx, **{k: v.copy() for k, v in layer.grads.items()}}
    layer.zero_grad()

    def run(_):
        y = layer.forward(x, training=False)
        layer._clear_cache()  # a forward without its backward: no cache must linger
        return y

    errors = {"x": rel_error(dx, numerical_grad(run, x, dout, h))}
    for name, param in layer.params.items():
        errors[name] = rel_error(analytic[name], numerical_grad(run, param, dout, h))
    return errors

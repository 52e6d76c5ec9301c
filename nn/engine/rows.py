"""Element-wise operations on one row, written so that LLVM turns each loop into SIMD code.

The recurrent twins call these once per batch row and time step, on 1-D views such as
``gates[t, n, :H]``. Three rules make a compiled loop vectorise, each measured on the LSTM
forward pass of benchmarks/bench_rnn.py (batch 32, 300 steps, 128 units):

- **No calls and no branches in the body.** ``math.exp`` and the stable sigmoid's
  ``if v >= 0`` kept every loop scalar; ``nn.engine.vmath`` replaces them.
- **Indices start at 0 on 1-D views.** ``a[2 * H + k]`` makes Numba add a wrap-around test for
  negative indices, since it cannot know that 2H + k >= 0; that test alone kept the gate loop
  scalar (14 ns per unit instead of 3). Slicing first, ``a[2 * H:3 * H]``, and indexing from 0
  removes it.
- **Few arrays per loop, and outputs separate from inputs.** LLVM vectorises a loop over
  several arrays only after checking at run time that they do not overlap; with too many
  arrays it gives up, and a loop with everything fused in it ran at 12 ns per unit. Small
  loops like these run at 0.5-1 ns per unit.

``error_model="numpy"`` lets a division by zero give inf, as NumPy does, instead of raising
ZeroDivisionError: the check for it was a branch in every loop.
"""

from __future__ import annotations

from numba import njit

from nn.engine import vmath

__all__ = [
    "sigmoid_of",
    "sigmoid_of_sum",
    "tanh_of_sum",
    "tanh_of",
    "carry",
    "product",
    "add_into",
    "add_scaled",
    "scale",
    "scaled",
    "tanh_gradient",
    "sigmoid_gradient",
]


@njit(cache=True, error_model="numpy")
def sigmoid_of_sum(x, y, out):
    """out = sigmoid(x + y), element-wise; 1-D arrays of one length, out separate."""
    for k in range(out.size):
        out[k] = vmath.sigmoid(x[k] + y[k])


@njit(cache=True, error_model="numpy")
def tanh_of_sum(x, y, out):
    """out = tanh(x + y), element-wise; 1-D arrays of one length, out separate."""
    for k in range(out.size):
        out[k] = vmath.tanh(x[k] + y[k])


@njit(cache=True, error_model="numpy")
def tanh_of(x, out):
    """out = tanh(x), element-wise; 1-D arrays of one length, out separate."""
    for k in range(out.size):
        out[k] = vmath.tanh(x[k])


@njit(cache=True, error_model="numpy")
def carry(keep, new, old, out):
    """out = keep new + (1 - keep) old (eq. R-mask): the state moves on at a real step
    (keep = 1) and is carried unchanged over a padded one (keep = 0)."""
    for k in range(out.size):
        out[k] = keep * new[k] + (1.0 - keep) * old[k]


@njit(cache=True, error_model="numpy")
def product(x, y, out):
    """out = x * y, element-wise."""
    for k in range(out.size):
        out[k] = x[k] * y[k]


@njit(cache=True, error_model="numpy")
def add_into(acc, x):
    """acc += x, element-wise, in place."""
    for k in range(acc.size):
        acc[k] += x[k]


@njit(cache=True, error_model="numpy")
def add_scaled(x, s, y, out):
    """out = x + s y, element-wise, s a scalar; out separate."""
    for k in range(out.size):
        out[k] = x[k] + s * y[k]


@njit(cache=True, error_model="numpy")
def sigmoid_of(x, out):
    """out = sigmoid(x), element-wise; out separate."""
    for k in range(out.size):
        out[k] = vmath.sigmoid(x[k])


@njit(cache=True, error_model="numpy")
def scale(s, x):
    """x *= s, in place, s a scalar."""
    for k in range(x.size):
        x[k] *= s


@njit(cache=True, error_model="numpy")
def scaled(s, x, out):
    """out = s x, element-wise, s a scalar; out separate."""
    for k in range(out.size):
        out[k] = s * x[k]


@njit(cache=True, error_model="numpy")
def tanh_gradient(d, keep, y, out):
    """out = keep d (1 - y^2): back through y = tanh(a) at a real step, 0 at a padded one."""
    for k in range(out.size):
        out[k] = keep * d[k] * (1.0 - y[k] * y[k])


@njit(cache=True, error_model="numpy")
def sigmoid_gradient(d, keep, y, out):
    """out = keep d y (1 - y): back through y = sigmoid(a) at a real step, 0 at a padded one."""
    for k in range(out.size):
        out[k] = keep * d[k] * y[k] * (1.0 - y[k])

"""Numba twin of ``nn.optimizers.adam_update``: the same update, one pass per parameter.

See the reference for the formula (eq. O-2) and the state it keeps; only the evaluation
differs: the NumPy version makes about eight full-size temporaries per parameter (measured 3.5
ms per step for the document's CNN's 645,699 parameters), this loop makes none.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["adam_update"]


@njit(cache=True)
def _adam_loop(w, dw, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """All scalars arrive in the parameters' dtype, so a float32 loop never converts and
    the compiler can vectorise it."""
    w1, g1, m1, v1 = w.ravel(), dw.ravel(), m.ravel(), v.ravel()
    for k in range(w1.size):
        g = g1[k]
        m1[k] += one_minus_beta_1 * (g - m1[k])
        v1[k] += one_minus_beta_2 * (g * g - v1[k])
        w1[k] -= alpha * m1[k] / (np.sqrt(v1[k]) + epsilon)  # eq. O-2


def adam_update(w, dw, state, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Same contract as ``nn.optimizers.adam_update`` (w, m, v updated in place)."""
    if "m" not in state:
        state.update(m=np.zeros_like(w), v=np.zeros_like(w), t=0)
    if not (w.flags.c_contiguous and dw.flags.c_contiguous):
        from nn.optimizers import adam_update as reference

        return reference(
            w, dw, state, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
        )
    state["t"] += 1
    t = state["t"]
    alpha = learning_rate * np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    f = w.dtype.type  # every scalar in the parameters' dtype
    grad = dw.astype(w.dtype, copy=False)
    _adam_loop(
        w, grad, state["m"], state["v"], f(alpha), f(1.0 - beta_1), f(1.0 - beta_2), f(epsilon)
    )
    return state

"""Update rules: SGD (momentum, Nesterov), RMSprop and Adam, in Keras's form (eqs. O-1..O-3).

Plain functions, as in CS231n: each takes a parameter array ``w`` (updated in place), its
gradient ``dw`` (same shape), a dict ``state`` that the rule fills on its first call and
updates on every call (velocities, moments, the step count), and the hyper-parameters. The
optimizer classes in ``nn.optimizers`` only hold one state per parameter and call these
(or their Numba twins in ``nn.kernels.optim``, which compute the same numbers).

Shapes: ``w``, ``dw`` and every array in ``state`` have the same shape; every value is
unitless (a learning rate is in the units of ``w`` per unit of gradient).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd_update", "rmsprop_update", "adam_update"]


def sgd_update(w, dw, state, *, learning_rate, momentum=0.0, nesterov=False):
    """Keras SGD, in place on w (eq. O-1)::

    v <- momentum v - lr dw
    w <- w + v                          (plain momentum)
    w <- w + momentum v - lr dw         (Nesterov)

    Without momentum, w <- w - lr dw and the state stays empty.
    """
    if momentum == 0.0:
        w -= learning_rate * dw
        return state
    v = state.get("velocity")
    if v is None:
        v = state["velocity"] = np.zeros_like(w)
    v *= momentum
    v -= learning_rate * dw
    if nesterov:
        w += momentum * v - learning_rate * dw
    else:
        w += v
    return state


def rmsprop_update(
    w, dw, state, *, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False
):
    """Keras RMSprop (Hinton's lecture 6e), in place on w (eq. O-3)::

    s <- rho s + (1 - rho) dw^2                      the mean square of the gradient
    g <- rho g + (1 - rho) dw                        (centered only: its mean)
    d  = s + epsilon          or, centered,  s - g^2 + epsilon
    step = lr dw / sqrt(d)
    w <- w - step                                    (no momentum)
    u <- momentum u + step;  w <- w - u              (momentum)

    As Keras, epsilon is added *inside* the square root (PyTorch adds it outside:
    ``lr dw / (sqrt(s) + eps)``); the two agree when s >> eps^2.
    """
    if "mean_square" not in state:
        state["mean_square"] = np.zeros_like(w)
        if centered:
            state["mean_grad"] = np.zeros_like(w)
        if momentum > 0.0:
            state["momentum"] = np.zeros_like(w)
    s = state["mean_square"]
    s *= rho
    s += (1.0 - rho) * (dw * dw)
    if centered:
        g = state["mean_grad"]
        g *= rho
        g += (1.0 - rho) * dw
        denominator = s - g * g + epsilon
    else:
        denominator = s + epsilon
    step = (learning_rate * dw / np.sqrt(denominator)).astype(w.dtype, copy=False)
    if momentum > 0.0:
        u = state["momentum"]
        u *= momentum
        u += step
        w -= u
    else:
        w -= step
    return state


def adam_update(w, dw, state, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras Adam (Kingma & Ba 2015, the "epsilon hat" form), in place on w (eq. O-2)::

    t <- t + 1
    m <- m + (1 - beta_1) (dw - m)            v <- v + (1 - beta_2) (dw^2 - v)
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    w <- w - alpha m / (sqrt(v) + epsilon)
    """
    # BEGIN SOLUTION ex=ADAM
    if "m" not in state:
        state.update(m=np.zeros_like(w), v=np.zeros_like(w), t=0)
    state["t"] += 1
    t, m, v = state["t"], state["m"], state["v"]
    m += (1.0 - beta_1) * (dw - m)
    v += (1.0 - beta_2) * (dw * dw - v)
    alpha = learning_rate * np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    w -= (alpha * m / (np.sqrt(v) + epsilon)).astype(w.dtype, copy=False)
    return state
    # END SOLUTION

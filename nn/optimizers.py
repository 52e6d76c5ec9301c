"""SGD (momentum, Nesterov) and Adam, with Keras's defaults and gradient clipping.

The update rules are pure functions (``sgd_update``, ``adam_update``), as in CS231n; the
optimizer objects keep one state per parameter, keyed by the parameter *array* (never by its
name), and clip gradients first: ``clipvalue`` clips every element to [-v, v], ``clipnorm``
rescales each gradient whose L2 norm exceeds the value (per tensor, as Keras).

``learning_rate`` is a number or a schedule (``nn.schedules``: ExponentialDecay,
PiecewiseConstantDecay, CosineDecay), as in Keras. A schedule is evaluated once per update
step, at the optimizer's step count ``iterations`` (the updates already made: 0 for the
first), and that one rate is used for every parameter of the step; ``iterations`` then
advances by one per ``apply`` call.

A number given as the learning rate must be finite and >= 0 (0 freezes the weights, which
gradient tests use); NaN, infinity and negative rates are refused where they are set, by the
constructor or by a callback (docs/reliability.md, "Numerics").
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nn import schedules

__all__ = ["SGD", "Adam", "sgd_update", "adam_update", "get"]


def sgd_update(w, dw, state, *, learning_rate, momentum=0.0, nesterov=False):
    """Keras SGD, in place on w (eq. O-1)::

    v <- momentum v - lr dw
    w <- w + v                          (plain momentum)
    w <- w + momentum v - lr dw         (Nesterov)
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


def adam_update(w, dw, state, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras Adam (Kingma & Ba 2015, the "epsilon hat" form), in place on w (eq. O-2)::

    t <- t + 1
    m <- m + (1 - beta_1) (dw - m)            v <- v + (1 - beta_2) (dw^2 - v)
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    w <- w - alpha m / (sqrt(v) + epsilon)
    """
    if "m" not in state:
        state.update(m=np.zeros_like(w), v=np.zeros_like(w), t=0)
    state["t"] += 1
    t, m, v = state["t"], state["m"], state["v"]
    m += (1.0 - beta_1) * (dw - m)
    v += (1.0 - beta_2) * (dw * dw - v)
    alpha = learning_rate * np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    w -= (alpha * m / (np.sqrt(v) + epsilon)).astype(w.dtype, copy=False)
    return state


class Optimizer:
    def __init__(self, learning_rate, *, clipnorm=None, clipvalue=None):
        self._schedule = None
        self.learning_rate = learning_rate
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.iterations = 0  # updates made so far: the step a schedule is evaluated at
        self._state: dict[int, tuple[np.ndarray, dict]] = {}

    @property
    def learning_rate(self) -> float:
        """The rate of the next update: the schedule at ``iterations``, or the constant."""
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        """A number, or a ``nn.schedules.LearningRateSchedule`` (which replaces any before).

        As Keras, an optimizer created with a schedule refuses a plain number later (the
        callbacks ``LearningRateScheduler`` and ``ReduceLROnPlateau`` set one)."""
        if isinstance(value, schedules.LearningRateSchedule):
            self._schedule = value
            return
        if self._schedule is not None:
            raise TypeError(
                f"this optimizer's learning rate is the schedule {self._schedule!r}, so it "
                "cannot be set to a number; create the optimizer with a float learning_rate "
                "to let a callback change it"
            )
        if (
            isinstance(value, dict | bool | np.bool_)
            or callable(value)
            or not isinstance(value, numbers.Real)
        ):
            raise TypeError(
                f"learning_rate must be a number or a nn.schedules schedule, got {value!r}"
            )
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"{type(self).__name__}: learning_rate must be a finite number >= 0, got {value!r}"
            )
        self._learning_rate = float(value)

    def _clip(self, g):
        if self.clipvalue is not None:
            g = np.clip(g, -self.clipvalue, self.clipvalue)
        if self.clipnorm is not None:
            norm = float(np.sqrt(np.sum(g * g)))
            if norm > self.clipnorm:
                g = g * (self.clipnorm / norm)
        return g

    def state_for(self, w: np.ndarray) -> dict:
        """This parameter array's state. A new array (a replaced weight) starts afresh."""
        entry = self._state.get(id(w))
        if entry is None or entry[0] is not w:
            entry = self._state[id(w)] = (w, {})
        return entry[1]

    def apply(self, params_and_grads):
        """One update step of every (parameter, gradient) pair, in place, all with the same
        learning rate (a schedule is evaluated once, at ``iterations``, which then advances)."""
        learning_rate = self.learning_rate
        for w, dw in params_and_grads:
            self._update(w, self._clip(dw), self.state_for(w), learning_rate)
        self.iterations += 1

    def get_config(self):
        """The constructor's arguments; a schedule as {"class": ..., "config": ...}. The step
        count and the per-parameter state (momentum, Adam's moments) are not part of it."""
        return {
            "class": type(self).__name__,
            "learning_rate": (
                schedules.serialize(self._schedule)
                if self._schedule is not None
                else self._learning_rate
            ),
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
        }


class SGD(Optimizer):
    """Stochastic gradient descent; Keras defaults learning_rate=0.01, momentum=0."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **clip):
        super().__init__(learning_rate, **clip)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, w, dw, state, learning_rate):
        sgd_update(
            w,
            dw,
            state,
            learning_rate=learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam; Keras defaults learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **clip):
        super().__init__(learning_rate, **clip)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, w, dw, state, learning_rate):
        from nn import backend  # the Numba twin of adam_update, or this module's rule itself

        backend.ops.optim.adam_update(
            w,
            dw,
            state,
            learning_rate=learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


def get(spec) -> Optimizer:
    """An optimizer object as it is, "adam" / "sgd" with defaults, or a saved config dict
    (``get_config``; its learning_rate may be a saved schedule, {"class": ..., "config": ...})."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in ("adam", "sgd"):
        return Adam() if spec.lower() == "adam" else SGD()
    if isinstance(spec, dict) and spec.get("class") in ("Adam", "SGD"):
        cls = Adam if spec["class"] == "Adam" else SGD
        kwargs = {k: v for k, v in spec.items() if k != "class"}
        if isinstance(kwargs.get("learning_rate"), dict):
            kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
        return cls(**kwargs)
    raise ValueError(f"unknown optimizer {spec!r}; use 'adam', 'sgd', Adam(...) or SGD(...)")

"""SGD (momentum, Nesterov), RMSprop and Adam, with Keras's defaults and gradient clipping.

The update rules are plain functions in ``nn.functional.optim`` (eqs. O-1..O-3), with Numba
twins in ``nn.kernels.optim``; ``nn.backend`` picks one. The optimizer objects here only hold
state: one dict per parameter, keyed by the parameter *array* (never by its name), the step
count, and the settings. They clip gradients first: ``clipvalue`` clips every element to
[-v, v], ``clipnorm`` rescales each gradient whose L2 norm exceeds the value (per tensor, as
Keras).

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

from nn import backend, schedules
from nn.functional.optim import adam_update, rmsprop_update, sgd_update

__all__ = ["SGD", "RMSprop", "Adam", "sgd_update", "rmsprop_update", "adam_update", "get"]


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
        backend.ops.optim.sgd_update(
            w,
            dw,
            state,
            learning_rate=learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop; Keras defaults learning_rate=0.001, rho=0.9, momentum=0, epsilon=1e-7,
    centered=False (eq. O-3: epsilon inside the square root, as Keras)."""

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **clip
    ):
        super().__init__(learning_rate, **clip)
        checks = [
            (0.0 <= float(rho) < 1.0, f"rho must be in [0, 1), got {rho!r}"),
            (0.0 <= float(momentum) < 1.0, f"momentum must be in [0, 1), got {momentum!r}"),
            (float(epsilon) > 0.0, f"epsilon must be > 0, got {epsilon!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"RMSprop: {message}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _update(self, w, dw, state, learning_rate):
        backend.ops.optim.rmsprop_update(
            w,
            dw,
            state,
            learning_rate=learning_rate,
            rho=self.rho,
            momentum=self.momentum,
            epsilon=self.epsilon,
            centered=self.centered,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adam(Optimizer):
    """Adam; Keras defaults learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **clip):
        super().__init__(learning_rate, **clip)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, w, dw, state, learning_rate):
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


_CLASSES = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam}


def get(spec) -> Optimizer:
    """An optimizer object as it is, "adam" / "sgd" / "rmsprop" with defaults, or a saved
    config dict (``get_config``; its learning_rate may be a saved schedule,
    {"class": ..., "config": ...})."""
    if isinstance(spec, Optimizer):
        return spec
    by_lower = {name.lower(): cls for name, cls in _CLASSES.items()}
    if isinstance(spec, str) and spec.lower() in by_lower:
        return by_lower[spec.lower()]()
    if isinstance(spec, dict) and spec.get("class") in _CLASSES:
        kwargs = {k: v for k, v in spec.items() if k != "class"}
        if isinstance(kwargs.get("learning_rate"), dict):
            kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
        return _CLASSES[spec["class"]](**kwargs)
    raise ValueError(
        f"unknown optimizer {spec!r}; use 'adam', 'sgd', 'rmsprop', Adam(...), SGD(...) or "
        "RMSprop(...)"
    )

"""Learning-rate schedules with Keras's names, arguments and formulas (eqs. LR-exp, LR-pw, LR-cos).

A schedule is a function of the optimizer's step count: ``schedule(step) -> learning rate``,
where ``step`` is the number of updates the optimizer has already made (0 for the first
update, as Keras's ``optimizer.iterations``). Pass one as an optimizer's ``learning_rate``::

    lr = CosineDecay(1e-3, decay_steps=1000, warmup_target=1e-2, warmup_steps=100)
    model.compile(optimizer=Adam(learning_rate=lr), loss="categorical_crossentropy")

The optimizer evaluates it once per update step, before the update (docs/training.md,
"Learning-rate schedules"). ``get_config()`` gives the arguments, so that a saved model's
optimizer can be rebuilt (``serialize`` / ``deserialize``).

The epoch-level alternatives are callbacks: ``nn.callbacks.LearningRateScheduler`` and
``ReduceLROnPlateau``.
"""

from __future__ import annotations

import math

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "serialize",
    "deserialize",
]


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _positive_steps(value, what):
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps).

    Math (docs/training.md, eq. LR-exp)::

        p = step / decay_steps            (floor(step / decay_steps) if staircase)
        lr = initial_learning_rate * decay_rate ** p

    Parameters (Keras names)
    ----------
    initial_learning_rate : float
    decay_steps : int > 0, the steps over which the rate is multiplied by decay_rate once
    decay_rate : float
    staircase : bool, decay in steps (every decay_steps updates) instead of continuously
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive_steps(decay_steps, "decay_steps")
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p  # eq. LR-exp

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """The step schedule: a constant rate between boundaries.

    Math (docs/training.md, eq. LR-pw), with boundaries b_0 < b_1 < ... < b_{k-1} and
    values v_0 .. v_k::

        lr = v_0   if step <= b_0
             v_i   if b_{i-1} < step <= b_i
             v_k   if step > b_{k-1}

    (Keras's example: boundaries [100000, 110000], values [1.0, 0.5, 0.1] give 1.0 for the
    first 100001 steps, 0.5 for the next 10000 and 0.1 after.)

    Parameters (Keras names)
    ----------
    boundaries : list of step counts, strictly increasing
    values : list of learning rates, one more than boundaries
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), [float(v) for v in values]
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay needs one value more than boundaries; got "
                f"{len(boundaries)} boundaries {boundaries} and {len(values)} values {values}"
            )
        if any(b >= c for b, c in zip(boundaries, boundaries[1:], strict=False)):
            raise ValueError(f"the boundaries must increase strictly, got {boundaries}")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step) -> float:
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:  # eq. LR-pw
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, SGDR, 2017), after an optional linear warmup.

    Math (docs/training.md, eq. LR-cos), with lr_0 = initial_learning_rate and the decay
    starting from lr_top = warmup_target (or lr_0 without a warmup)::

        warmup (step < warmup_steps):
            lr = lr_0 + (warmup_target - lr_0) step / warmup_steps
        decay, s = min(step - warmup_steps, decay_steps):
            lr = lr_top ((1 - alpha) (1 + cos(pi s / decay_steps)) / 2 + alpha)

    so the rate falls from lr_top to alpha lr_top in decay_steps steps and stays there.

    Parameters (Keras names)
    ----------
    initial_learning_rate : float
    decay_steps : int > 0
    alpha : float, the final rate as a fraction of lr_top
    warmup_target : float or None (no warmup)
    warmup_steps : int, the length of the warmup (used only with a warmup_target)

    Notes
    -----
    Keras's docstring writes the warmup without "+ lr_0"; its code (and this one) adds it,
    so the warmup starts at initial_learning_rate (they agree for the usual lr_0 = 0).
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive_steps(decay_steps, "decay_steps")
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")

    def __call__(self, step) -> float:
        step, lr_0 = float(step), self.initial_learning_rate
        top = lr_0
        if self.warmup_target is not None:
            if step < self.warmup_steps:  # eq. LR-cos, the warmup
                return lr_0 + (self.warmup_target - lr_0) * step / self.warmup_steps
            top, step = self.warmup_target, step - self.warmup_steps
        s = min(step, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return top * ((1.0 - self.alpha) * cosine + self.alpha)  # eq. LR-cos, the decay

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """{"class": "CosineDecay", "config": {...}}: JSON-ready, read back by ``deserialize``."""
    return {"class": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(spec: dict) -> LearningRateSchedule:
    """The schedule a ``serialize`` dict describes."""
    cls = SCHEDULES.get(spec.get("class")) if isinstance(spec, dict) else None
    if cls is None:
        raise ValueError(
            f"unknown learning-rate schedule {spec!r}; a saved schedule looks like "
            f'{{"class": one of {sorted(SCHEDULES)}, "config": {{...}}}}'
        )
    return cls.from_config(dict(spec.get("config", {})))

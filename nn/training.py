"""The trainer: fit, evaluate, predict and train_on_batch for any model, outside the model.

A model (``nn.models.Sequential``) says what it computes: its layers, ``forward`` and
``backward``, and what ``compile`` chose (``optimizer``, ``loss``, ``metrics``). How it is
trained lives here, once:

- the loss table (``LOSSES``): each loss's forward and backward (``nn.functional.losses``) and
  whether it is computed from logits. With a softmax output and a cross-entropy loss the two
  are fused: the loss comes from the logits through log-softmax, and the gradient
  (softmax(z) - y) / N enters the last layer's pre-activation directly (docs/training.md);
- one step (``train_on_batch``): forward, loss, backward, penalties, the optimizer's update;
- the epoch loop (``fit``), with batches of one group (``batch_groups``), callbacks, the
  progress bar (``nn.callbacks.ProgbarLogger``, one callback among the others), validation;
- evaluation and prediction batch by batch.

Numerics are guarded (docs/reliability.md, "Numerics"): ``fit`` refuses empty data, NaN or
infinite inputs and targets, fractional class labels, and epochs or batch sizes below 1; a
non-finite training loss, or weights that became non-finite, stop training with a
``TrainingDivergedError`` that names the epoch and the batch. A loss that stays finite but
ends an epoch more than ``DIVERGENCE_FACTOR`` times above the first batch's is warned about
(a RuntimeWarning, once per fit): Adam at a learning rate of 10^6 climbs to 10^12 that way.

Training is deterministic from the model's seed: shuffling uses ``model.rng``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from nn import backend
from nn.callbacks import ProgbarLogger
from nn.functional import losses as L

__all__ = [
    "LOSSES",
    "History",
    "TrainingDivergedError",
    "DIVERGENCE_FACTOR",
    "Trainer",
    "loss_and_grad",
]

LOSSES = {
    # name: (forward(prediction, y) -> (loss, cache), backward(1.0, cache), from logits)
    "categorical_crossentropy": (
        L.softmax_cross_entropy_forward,
        L.softmax_cross_entropy_backward,
        True,
    ),
    "sparse_categorical_crossentropy": (
        L.sparse_softmax_cross_entropy_forward,
        L.sparse_softmax_cross_entropy_backward,
        True,
    ),
    "mse": (L.mse_forward, L.mse_backward, False),
}
"""The losses ``compile`` accepts. A cross-entropy is computed from logits: the last layer's
pre-activation when it is a softmax (fused), else its output taken as logits."""

DIVERGENCE_FACTOR = 1e3
"""An epoch's mean training loss this many times the first batch's gets a warning."""


class TrainingDivergedError(ValueError):
    """Training produced a NaN or infinite loss or weights, and stopped.

    ``epoch`` and ``batch`` (both counted from 1) say where; ``history`` holds the epochs
    completed before it. The model's weights are left as they were then: not usable.
    """

    def __init__(self, message, *, epoch, batch, history):
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history


class History:
    """What ``fit`` returns: ``history`` maps "loss", "accuracy", "val_loss", ... to lists."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))


def fused(model) -> bool:
    """Whether the loss is computed from the last layer's pre-activation (softmax + CE)."""
    return LOSSES[model.loss][2] and model.layers[-1].activation == "softmax"


def loss_and_grad(model, out, y):
    """(loss, gradient with respect to the last layer's output, or its pre-activation when
    ``fused(model)``), for the outputs ``out`` of the last forward pass and targets ``y``."""
    forward, backward, _ = LOSSES[model.loss]
    prediction = model.layers[-1].preactivation if fused(model) else out
    loss, cache = forward(prediction, y)
    return loss, backward(1.0, cache)


def at_least_one(value, what):
    """An int >= 1 (an integral float is accepted); bools, fractions and the rest refused."""
    ok = not isinstance(value, bool | np.bool_) and (
        isinstance(value, numbers.Integral)
        or (isinstance(value, numbers.Real) and math.isfinite(value) and value == int(value))
    )
    if not ok or int(value) < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {value!r}")
    return int(value)


def require_finite(a, what):
    """Refuse NaN or infinite values in a float array, naming the first one."""
    if a.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what} hold {int(bad.sum())} NaN or infinite value(s), the first at index "
            f"{first}; remove or repair those examples first"
        )


class Trainer:
    """Trains, evaluates and runs one model. ``Sequential.fit`` and the others delegate here.

    The model must provide ``layers``, ``forward(x, training)``, ``backward(d, ...)``,
    ``prepare(x, what)`` (check and cast an input batch), ``train_on_batch`` (``fit`` calls
    the model's, so a model may change its step), ``rng``, ``dtype`` and what ``compile``
    set: ``optimizer``, ``loss``, ``metrics``.
    """

    def __init__(self, model):
        self.model = model

    # ---- one step -----------------------------------------------------------------------
    def train_on_batch(self, x, y) -> tuple[float, np.ndarray]:
        """One optimizer step; returns (loss including penalties, the batch's outputs)."""
        backend.keep_freed_memory()  # once per process: see its docstring (a 3-4x speed-up)
        with backend.model_threads():
            return self._step(x, y)

    def _step(self, x, y):
        model = self.model
        out = model.forward(x, training=True)
        loss, grad = loss_and_grad(model, out, y)
        model.backward(
            grad.astype(model.dtype, copy=False),
            from_preactivation=fused(model),
            need_input_grad=False,
        )
        penalty = 0.0
        for layer in model.layers:
            penalty += layer.regularization_loss()
            layer.add_regularization_grads()
        model.optimizer.apply(
            (layer.params[k], layer.grads[k]) for layer in model.layers for k in layer.params
        )
        for layer in model.layers:
            layer.zero_grad()
        return loss + penalty, out

    # ---- targets and checks ---------------------------------------------------------------
    def require_compiled(self):
        if self.model.loss is None:
            raise RuntimeError("compile() the model first: it needs an optimizer and a loss")

    def targets(self, y, n):
        """``y`` checked against the loss and the model's outputs: int labels or floats."""
        model = self.model
        y = np.asarray(y)
        if y.shape[0] != n:
            raise ValueError(f"got {n} inputs but {y.shape[0]} targets")
        k = model.layers[-1].output_shape[-1]
        if model.loss == "sparse_categorical_crossentropy":
            return self._labels(y, k)
        if y.shape[1:] != (k,):
            raise ValueError(f"{model.loss} needs targets shaped (N, {k}), got {y.shape}")
        y = y.astype(model.dtype)
        require_finite(y, "the targets")
        return y

    @staticmethod
    def _labels(y, k):
        if y.ndim != 1:
            raise ValueError(
                f"sparse_categorical_crossentropy needs integer labels (N,), got {y.shape}"
            )
        if y.dtype.kind not in "iuf":
            raise ValueError(
                f"sparse_categorical_crossentropy needs integer class labels, got an array of "
                f"{y.dtype}"
            )
        if y.dtype.kind == "f":  # 1.0 is class 1; 1.5 is no class (never truncated)
            fractional = ~np.isfinite(y) | (y != np.round(y))
            if fractional.any():
                raise ValueError(
                    "sparse_categorical_crossentropy needs integer class labels, got "
                    f"{float(y[fractional][0])} at index {int(np.flatnonzero(fractional)[0])}"
                )
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(
                f"class labels must be in 0 .. {k - 1} (the model has {k} outputs), got "
                f"{labels.min()} .. {labels.max()}"
            )
        return labels

    @staticmethod
    def correct(out, y) -> int:
        truth = y if y.ndim == 1 else y.argmax(axis=1)
        return int(np.sum(out.argmax(axis=1) == truth))

    def _logs(self, loss, accuracy):
        logs = {"loss": float(loss)}
        if self.model.metrics:
            logs["accuracy"] = float(accuracy)
        return logs

    # ---- fit ----------------------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        batch_size=32,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        *,
        batch_groups=None,
    ) -> History:
        """See ``Sequential.fit``."""
        model = self.model
        self.require_compiled()
        epochs = at_least_one(epochs, "fit: epochs")
        batch_size = at_least_one(batch_size, "fit: batch_size")
        sampler = x if callable(x) else None
        x0 = model.prepare(sampler(0, model.rng) if sampler else x)
        if x0.shape[0] == 0:
            raise ValueError(f"fit needs at least one training example, got inputs {x0.shape}")
        require_finite(x0, "the training inputs")
        y = self.targets(y, x0.shape[0])
        groups = _batch_groups(batch_groups, x0.shape[0])
        if validation_split and validation_data is None:
            if sampler:
                raise ValueError("validation_split needs an array x; pass validation_data instead")
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            cut = int(round(x0.shape[0] * (1.0 - validation_split)))
            if not 0 < cut < x0.shape[0]:
                raise ValueError(
                    f"validation_split={validation_split} of {x0.shape[0]} examples leaves "
                    f"{cut} for training and {x0.shape[0] - cut} for validation; both need one"
                )
            validation_data = (x0[cut:], y[cut:])
            x0, y = x0[:cut], y[:cut]
            groups = None if groups is None else groups[:cut]
        validation = None
        if validation_data is not None:
            vx = model.prepare(validation_data[0], "validation inputs")
            if vx.shape[0] == 0:
                raise ValueError("validation_data holds no examples")
            require_finite(vx, "the validation inputs")
            validation = (vx, self.targets(validation_data[1], vx.shape[0]))
        verbose = 1 if verbose == "auto" else int(verbose)
        callbacks = list(callbacks or [])
        if verbose:  # last, as Keras: the epoch line shows what the other callbacks added
            callbacks.append(ProgbarLogger())
        n = x0.shape[0]
        steps = -(-n // batch_size) if groups is None else None
        self._params = {"epochs": epochs, "steps": steps, "verbose": verbose, "samples": n}
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params(self._params)
            cb.on_train_begin()
        history = History()
        model.stop_training = False
        self._first_loss, self._warned = None, False
        for epoch in range(epochs):
            logs = self._epoch(epoch, epochs, x0, y, sampler, groups, batch_size, shuffle,
                               callbacks, history)  # fmt: skip
            if validation is not None:
                val = self.evaluate(*validation, batch_size=batch_size, verbose=0)
                val = val if isinstance(val, list) else [val]
                logs["val_loss"] = val[0]
                if model.metrics:
                    logs["val_accuracy"] = val[1]
            for cb in callbacks:  # in list order; each may add entries to logs (a val UAR)
                cb.on_epoch_end(epoch, logs)
            history.append(epoch, logs)  # with what the callbacks added
            if model.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        model.history = history  # as Keras: the last fit's History stays on the model
        return history

    def _epoch(self, epoch, epochs, x0, y, sampler, groups, batch_size, shuffle, callbacks,
               history):  # fmt: skip
        model = self.model
        if epoch == 0 or sampler is None:
            xe = x0
        else:
            xe = model.prepare(sampler(epoch, model.rng))
            require_finite(xe, f"the training inputs of epoch {epoch + 1}")
        n = xe.shape[0]
        if groups is None:
            order = model.rng.permutation(n) if shuffle else np.arange(n)
            batches = [order[s : s + batch_size] for s in range(0, n, batch_size)]
        else:
            batches = _group_batches(groups, batch_size, shuffle, model.rng)
        self._params["steps"] = len(batches)  # with batch_groups, known only now
        for cb in callbacks:  # LearningRateScheduler sets the epoch's rate here
            cb.on_epoch_begin(epoch, {})
        total_loss, correct, seen = 0.0, 0, 0
        for step, idx in enumerate(batches):
            loss, out = model.train_on_batch(
                xe[idx], y[idx]
            )  # the model's: a subclass may override
            if not math.isfinite(loss):
                self._diverged(f"the loss is {loss}", epoch, epochs, step, batches, history)
            self._first_loss = loss if self._first_loss is None else self._first_loss
            total_loss += loss * len(idx)
            correct += self.correct(out, y[idx])
            seen += len(idx)
            batch_logs = self._logs(total_loss / seen, correct / seen)
            for cb in callbacks:
                cb.on_batch_end(step, batch_logs)
        logs = self._logs(total_loss / n, correct / n)
        bad = _non_finite_weight(model)
        if bad:  # the last update of the epoch made them so; the next loss would be NaN
            self._diverged(bad, epoch, epochs, len(batches) - 1, batches, history)
        first = self._first_loss
        if not self._warned and first > 0 and logs["loss"] > DIVERGENCE_FACTOR * first:
            self._warned = True
            warnings.warn(
                f"the training loss grew from {first:.4g} (epoch 1, batch 1) to "
                f"{logs['loss']:.4g} (epoch {epoch + 1}): training is diverging; lower "
                f"the learning rate (this one is {model.optimizer.learning_rate:g})",
                RuntimeWarning,
                stacklevel=4,
            )
        return logs

    def _diverged(self, what, epoch, epochs, step, batches, history):
        self.model.history = history
        rate = self.model.optimizer.learning_rate
        raise TrainingDivergedError(
            f"training diverged at epoch {epoch + 1}/{epochs}, batch {step + 1}/{len(batches)}: "
            f"{what}. The weights are no longer usable; train again with a lower learning "
            f"rate (this one is {rate:g}) or with gradient clipping (clipnorm=1.0)",
            epoch=epoch + 1,
            batch=step + 1,
            history=history,
        )

    # ---- evaluate / predict -----------------------------------------------------------------
    def evaluate(self, x, y, batch_size=32, verbose=0):
        """Mean loss (and accuracy) on (x, y), without training; a list when metrics are set."""
        model = self.model
        self.require_compiled()
        batch_size = at_least_one(batch_size, "evaluate: batch_size")
        x = model.prepare(x)
        if x.shape[0] == 0:
            raise ValueError(f"evaluate needs at least one example, got inputs {x.shape}")
        require_finite(x, "the inputs")
        y = self.targets(y, x.shape[0])
        total, correct = 0.0, 0
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            with backend.model_threads():
                out = model.forward(xb, training=False)
            loss, _ = loss_and_grad(model, out, yb)
            for layer in model.layers:
                layer._clear_cache()
            total += loss * len(xb)
            correct += self.correct(out, yb)
        penalty = sum(layer.regularization_loss() for layer in model.layers)
        loss = total / x.shape[0] + penalty
        result = [float(loss), correct / x.shape[0]] if model.metrics else float(loss)
        if verbose:
            names = ["loss", "accuracy"][: np.size(result)]
            values = np.atleast_1d(result)
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(names, values, strict=True)))
        return result

    def predict(self, x, batch_size=32, verbose=0) -> np.ndarray:
        """The model's outputs, batch by batch; an empty batch gives (0,) + the output shape."""
        model = self.model
        batch_size = at_least_one(batch_size, "predict: batch_size")
        x = model.prepare(x)
        if x.shape[0] == 0:
            return np.empty((0, *model.layers[-1].output_shape), dtype=model.dtype)
        outs = []
        for start in range(0, x.shape[0], batch_size):
            with backend.model_threads():
                outs.append(model.forward(x[start : start + batch_size], training=False))
            for layer in model.layers:
                layer._clear_cache()
        return np.concatenate(outs, axis=0)


def _non_finite_weight(model) -> str | None:
    """'weight <name> of layer <layer> ...' for the first non-finite parameter, or None."""
    for layer in model.layers:
        for name, p in layer.params.items():
            if not np.isfinite(p).all():
                return f"weight {name!r} of layer {layer.name!r} holds NaN or infinite values"
    return None


def _batch_groups(batch_groups, n):
    if batch_groups is None:
        return None
    groups = np.asarray(batch_groups)
    if groups.ndim != 1 or groups.shape[0] != n:
        raise ValueError(
            f"batch_groups must give one group id per example, shape ({n},); "
            f"got shape {groups.shape}"
        )
    return groups


def _group_batches(groups, batch_size, shuffle, rng):
    """The epoch's batches, each from one group (see ``Sequential.fit``, ``batch_groups``)."""
    _, which = np.unique(groups, return_inverse=True)
    batches = []
    for g in range(which.max() + 1):
        idx = np.flatnonzero(which == g)
        if shuffle:
            idx = rng.permutation(idx)
        batches.extend(np.array_split(idx, max(1, round(len(idx) / batch_size))))
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches

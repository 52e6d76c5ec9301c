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
    "Head",
    "trainer_of",
    "loss_and_grad",
]

LOSSES = {
    # name: (forward(prediction, y) -> (loss, cache), backward(1.0, cache), the output
    #        activation it is fused with: computed from that layer's pre-activation)
    "categorical_crossentropy": (
        L.softmax_cross_entropy_forward,
        L.softmax_cross_entropy_backward,
        "softmax",
    ),
    "sparse_categorical_crossentropy": (
        L.sparse_softmax_cross_entropy_forward,
        L.sparse_softmax_cross_entropy_backward,
        "softmax",
    ),
    "binary_crossentropy": (
        L.sigmoid_cross_entropy_forward,
        L.sigmoid_cross_entropy_backward,
        "sigmoid",
    ),
    "mse": (L.mse_forward, L.mse_backward, None),
}
"""The losses ``compile`` accepts. A cross-entropy is computed from logits: the output
layer's pre-activation when its activation is the one named here (fused: a softmax for the
categorical losses, a sigmoid for the binary one), else its output taken as logits."""

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


class Head:
    """One output of a model and how it is trained: the layer that gives it, its loss (a key
    of ``LOSSES``), the weight of that loss in the total, and whether accuracy is logged.
    ``Sequential`` has one head; a functional ``Model`` one per output."""

    def __init__(self, name, layer, loss, weight=1.0, accuracy=False, *, fusable=True):
        if loss is not None and loss not in LOSSES:  # None: not compiled (predict only)
            raise ValueError(
                f"unknown loss {loss!r} for output {name!r}; choose one of {tuple(LOSSES)}"
            )
        self.name, self.layer, self.loss = name, layer, loss
        self.weight, self.accuracy = float(weight), bool(accuracy)
        self.fusable = fusable  # False when the output also feeds another layer

    @property
    def fused(self) -> bool:
        """Whether the loss is computed from the head's pre-activation (softmax + CE,
        sigmoid + BCE)."""
        return (
            self.fusable
            and self.loss is not None
            and LOSSES[self.loss][2] is not None
            and self.layer.activation == LOSSES[self.loss][2]
        )


def fused(model) -> bool:
    """Whether the (single) loss is computed from the last layer's pre-activation."""
    return model.heads()[0].fused


def loss_and_grad(model, out, y, head=0, sample_weight=None):
    """(loss, gradient with respect to the output, or the pre-activation when the head is
    fused), for output ``head`` of the last forward pass and its targets ``y``.

    ``sample_weight`` (N,): each example's weight (eq. SW: L = (1/N) sum_n w_n l_n, as Keras
    reduces a weighted loss); the gradient's row n is then scaled by w_n.
    """
    h = model.heads()[head]
    forward, backward, _ = LOSSES[h.loss]
    prediction = model.output_preactivation(head) if h.fused else out
    loss, cache = forward(prediction, y)
    grad = backward(1.0, cache)
    if sample_weight is None:
        return loss, grad
    w = np.asarray(sample_weight, dtype=np.float64)
    loss = float(np.mean(w * L.per_example(h.loss, prediction, y)))  # eq. SW
    return loss, grad * w.reshape(-1, *([1] * (grad.ndim - 1))).astype(grad.dtype)


def _listed(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _count(x) -> int:
    return _listed(x)[0].shape[0]


def _take(x, idx):
    """Rows ``idx`` of an input or target: an array, or a list of them (several inputs)."""
    return [a[idx] for a in x] if isinstance(x, list) else x[idx]


def _require_finite_all(x, what):
    for a in _listed(x):
        require_finite(a, what)


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


def trainer_of(model) -> Trainer:
    """The model's trainer, made on first use and kept with the model (``fit`` reads what
    the model's ``train_on_batch`` recorded on it: each head's loss)."""
    trainer = model.__dict__.get("_trainer")
    if trainer is None:
        trainer = model.__dict__["_trainer"] = Trainer(model)
    return trainer


class Trainer:
    """Trains, evaluates and runs one model. ``Sequential.fit`` and the others delegate here.

    The model must provide ``layers``, ``forward(x, training)``, ``backward(d, ...)``,
    ``prepare(x, what)`` (check and cast an input batch), ``train_on_batch`` (``fit`` calls
    the model's, so a model may change its step), ``rng``, ``dtype`` and what ``compile``
    set: ``optimizer``, ``loss``, ``metrics``.
    """

    def __init__(self, model):
        self.model = model
        self.head_losses: list[float] = []

    # ---- one step -----------------------------------------------------------------------
    def train_on_batch(self, x, y, sample_weight=None) -> tuple[float, np.ndarray]:
        """One optimizer step; returns (loss including penalties, the batch's outputs).
        ``sample_weight`` (N,) weights each example's loss (eq. SW)."""
        backend.keep_freed_memory()  # once per process: see its docstring (a 3-4x speed-up)
        with backend.model_threads():
            return self._step(x, y, sample_weight)

    def _step(self, x, y, sample_weight=None):
        model = self.model
        heads = model.heads()
        ys = _listed(y) if len(heads) > 1 else [y]
        outs = model.forward(x, training=True)
        outs = _listed(outs) if len(heads) > 1 else [outs]
        total, grads, self.head_losses = 0.0, [], []
        for k, head in enumerate(heads):
            loss, grad = loss_and_grad(model, outs[k], ys[k], head=k, sample_weight=sample_weight)
            self.head_losses.append(loss)  # unweighted, as Keras logs "<output>_loss"
            if head.weight != 1.0:
                loss, grad = head.weight * loss, head.weight * grad
            total += loss
            grads.append(grad.astype(model.dtype, copy=False))
        model.backward_heads(grads, [h.fused for h in heads])
        penalty = 0.0
        for layer in model.layers:
            penalty += layer.regularization_loss()
            layer.add_regularization_grads()
        model.optimizer.apply(
            (layer.params[k], layer.grads[k]) for layer in model.layers for k in layer.params
        )
        for layer in model.layers:
            layer.zero_grad()
        return total + penalty, (outs if len(heads) > 1 else outs[0])

    # ---- targets and checks ---------------------------------------------------------------
    def require_compiled(self):
        if self.model.loss is None:
            raise RuntimeError("compile() the model first: it needs an optimizer and a loss")

    def targets(self, y, n):
        """``y`` checked against each head's loss and outputs: one array for one head; for
        several, a list in output order or a dict by output name (returned as a list)."""
        heads = self.model.heads()
        if len(heads) == 1:
            return self._head_targets(heads[0], y, n)
        if isinstance(y, dict):
            unknown = sorted(set(y) - {h.name for h in heads})
            missing = [h.name for h in heads if h.name not in y]
            if unknown or missing:
                raise ValueError(
                    f"the targets are a dict by output name; outputs {[h.name for h in heads]}"
                    + (f", missing {missing}" if missing else "")
                    + (f", unknown {unknown}" if unknown else "")
                )
            y = [y[h.name] for h in heads]
        if not isinstance(y, list | tuple) or len(y) != len(heads):
            raise ValueError(
                f"the model has {len(heads)} outputs {[h.name for h in heads]}: give the "
                "targets as a list in that order or a dict by output name"
            )
        return [self._head_targets(h, t, n) for h, t in zip(heads, y, strict=True)]

    def _head_targets(self, head, y, n):
        model = self.model
        y = np.asarray(y)
        where = "" if len(model.heads()) == 1 else f"output {head.name!r}: "
        if y.shape[0] != n:
            raise ValueError(f"{where}got {n} inputs but {y.shape[0]} targets")
        k = head.layer.output_shape[-1]
        if head.loss == "sparse_categorical_crossentropy":
            return self._labels(y, k)
        if y.shape[1:] != (k,):
            raise ValueError(f"{where}{head.loss} needs targets shaped (N, {k}), got {y.shape}")
        y = y.astype(model.dtype)
        require_finite(y, "the targets")
        if head.loss == "binary_crossentropy" and y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{where}binary_crossentropy needs targets in [0, 1], got {y.min()} .. {y.max()}"
            )
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
    def correct(out, y, loss=None) -> float:
        """Examples predicted right: the arg-max class; for binary_crossentropy, the share of
        the K outputs on the right side of 0.5 (Keras's binary accuracy), summed over rows."""
        if loss == "binary_crossentropy":
            return float(np.mean((out > 0.5) == (y > 0.5), axis=1).sum())
        truth = y if y.ndim == 1 else y.argmax(axis=1)
        return int(np.sum(out.argmax(axis=1) == truth))

    def _logs(self, losses, corrects, seen, total, penalty=0.0):
        """Epoch or running logs: "loss" (the weighted total) and "accuracy" for one head;
        for several, also "<output>_loss" and "<output>_accuracy" per head (Keras's names)."""
        heads = self.model.heads()
        logs = {"loss": float(total / seen + penalty)}
        if len(heads) == 1:
            if heads[0].accuracy:
                logs["accuracy"] = float(corrects[0] / seen)
            return logs
        for h, loss in zip(heads, losses, strict=True):
            logs[f"{h.name}_loss"] = float(loss / seen)
        for h, c in zip(heads, corrects, strict=True):
            if h.accuracy:
                logs[f"{h.name}_accuracy"] = float(c / seen)
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
        class_weight=None,
        sample_weight=None,
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
        if _count(x0) == 0:
            raise ValueError(
                f"fit needs at least one training example, got inputs {_shapes_of(x0)}"
            )
        _require_finite_all(x0, "the training inputs")
        n = _count(x0)
        y = self.targets(y, n)
        weights = self._example_weights(y, n, class_weight, sample_weight)
        groups = _batch_groups(batch_groups, n)
        if validation_split and validation_data is None:
            if sampler:
                raise ValueError("validation_split needs an array x; pass validation_data instead")
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            cut = int(round(n * (1.0 - validation_split)))
            if not 0 < cut < n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} examples leaves "
                    f"{cut} for training and {n - cut} for validation; both need one"
                )
            validation_data = (_take(x0, slice(cut, None)), _take(y, slice(cut, None)))
            x0, y = _take(x0, slice(None, cut)), _take(y, slice(None, cut))
            groups = None if groups is None else groups[:cut]
            weights = None if weights is None else weights[:cut]
            n = cut
        validation = None
        if validation_data is not None:
            vx = model.prepare(validation_data[0], "validation inputs")
            if _count(vx) == 0:
                raise ValueError("validation_data holds no examples")
            _require_finite_all(vx, "the validation inputs")
            validation = (vx, self.targets(validation_data[1], _count(vx)))
        verbose = 1 if verbose == "auto" else int(verbose)
        callbacks = list(callbacks or [])
        if verbose:  # last, as Keras: the epoch line shows what the other callbacks added
            callbacks.append(ProgbarLogger())
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
                               callbacks, history, weights)  # fmt: skip
            if validation is not None:
                val = self.evaluate(*validation, batch_size=batch_size, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
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
               history, weights=None):  # fmt: skip
        model = self.model
        heads = model.heads()
        if epoch == 0 or sampler is None:
            xe = x0
        else:
            xe = model.prepare(sampler(epoch, model.rng))
            _require_finite_all(xe, f"the training inputs of epoch {epoch + 1}")
        n = _count(xe)
        if groups is None:
            order = model.rng.permutation(n) if shuffle else np.arange(n)
            batches = [order[s : s + batch_size] for s in range(0, n, batch_size)]
        else:
            batches = _group_batches(groups, batch_size, shuffle, model.rng)
        self._params["steps"] = len(batches)  # with batch_groups, known only now
        for cb in callbacks:  # LearningRateScheduler sets the epoch's rate here
            cb.on_epoch_begin(epoch, {})
        total_loss, seen = 0.0, 0
        losses, corrects = [0.0] * len(heads), [0] * len(heads)
        for step, idx in enumerate(batches):
            yb = _take(y, idx)
            xb = _take(xe, idx)
            if weights is None:  # the model's step: a subclass may override it
                loss, out = model.train_on_batch(xb, yb)
            else:
                loss, out = model.train_on_batch(xb, yb, sample_weight=weights[idx])
            if not math.isfinite(loss):
                self._diverged(f"the loss is {loss}", epoch, epochs, step, batches, history)
            self._first_loss = loss if self._first_loss is None else self._first_loss
            total_loss += loss * len(idx)
            outs, ys = (out, yb) if len(heads) > 1 else ([out], [yb])
            head_losses = self.head_losses
            for k in range(len(heads)):
                corrects[k] += self.correct(outs[k], ys[k], heads[k].loss)
                losses[k] += head_losses[k] * len(idx) if len(heads) > 1 else 0.0
            seen += len(idx)
            batch_logs = self._logs(losses, corrects, seen, total_loss)
            for cb in callbacks:
                cb.on_batch_end(step, batch_logs)
        logs = self._logs(losses, corrects, n, total_loss)
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

    def _example_weights(self, y, n, class_weight, sample_weight):
        """Each training example's weight (eq. SW), (N,), or None: ``sample_weight`` times
        the weight ``class_weight`` gives the example's class (one head only, as Keras)."""
        if class_weight is None and sample_weight is None:
            return None
        w = np.ones(n)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.shape != (n,) or not np.all(np.isfinite(sw)) or (sw < 0).any():
                raise ValueError(
                    f"sample_weight must be {n} finite numbers >= 0 (one per example), "
                    f"got shape {sw.shape}"
                )
            w *= sw
        if class_weight is not None:
            heads = self.model.heads()
            if len(heads) > 1:
                raise ValueError(
                    "class_weight is for a model with one output; weight the examples with "
                    "sample_weight instead"
                )
            k = heads[0].layer.output_shape[-1]
            if not isinstance(class_weight, dict) or not all(
                isinstance(c, int | np.integer) and 0 <= c < k and np.isfinite(v) and v >= 0
                for c, v in class_weight.items()
            ):
                raise ValueError(
                    f"class_weight must map class indices 0 .. {k - 1} to weights >= 0, "
                    f"got {class_weight!r}"
                )
            labels = y if y.ndim == 1 else y.argmax(axis=1)
            w *= np.array([float(class_weight.get(int(c), 1.0)) for c in labels])
        return w

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
    def evaluate(self, x, y, batch_size=32, verbose=0, *, return_dict=False):
        """Mean loss (and accuracy) on (x, y), without training.

        One head: the loss, or [loss, accuracy] with metrics (as before). Several: Keras's
        list [total loss, each output's loss, each output's accuracy]. ``return_dict``: the
        logs by name instead ("loss", "accuracy", "<output>_loss", ...).
        """
        model = self.model
        heads = model.heads()
        self.require_compiled()
        batch_size = at_least_one(batch_size, "evaluate: batch_size")
        x = model.prepare(x)
        n = _count(x)
        if n == 0:
            raise ValueError(f"evaluate needs at least one example, got inputs {_shapes_of(x)}")
        _require_finite_all(x, "the inputs")
        y = self.targets(y, n)
        total = 0.0
        losses, corrects = [0.0] * len(heads), [0] * len(heads)
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            xb, yb = _take(x, rows), _take(y, rows)
            with backend.model_threads():
                out = model.forward(xb, training=False)
            outs, ys = (_listed(out), yb) if len(heads) > 1 else ([out], [yb])
            size = _count(xb)
            for k, h in enumerate(heads):
                loss, _ = loss_and_grad(model, outs[k], ys[k], head=k)
                losses[k] += loss * size
                total += h.weight * loss * size
                corrects[k] += self.correct(outs[k], ys[k], heads[k].loss)
            for layer in model.layers:
                layer._clear_cache()
        penalty = sum(layer.regularization_loss() for layer in model.layers)
        logs = self._logs(losses, corrects, n, total, penalty)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values if len(values) > 1 else values[0]

    def predict(self, x, batch_size=32, verbose=0):
        """The model's outputs, batch by batch (a list of arrays for several outputs); an
        empty batch gives (0,) + the output shape."""
        model = self.model
        heads = model.heads()
        batch_size = at_least_one(batch_size, "predict: batch_size")
        x = model.prepare(x)
        n = _count(x)
        if n == 0:
            empty = [np.empty((0, *h.layer.output_shape), dtype=model.dtype) for h in heads]
            return empty if len(heads) > 1 else empty[0]
        outs = []
        for start in range(0, n, batch_size):
            with backend.model_threads():
                out = model.forward(_take(x, slice(start, start + batch_size)), training=False)
            outs.append(_listed(out) if len(heads) > 1 else [out])
            for layer in model.layers:
                layer._clear_cache()
        joined = [np.concatenate([o[k] for o in outs], axis=0) for k in range(len(heads))]
        return joined if len(heads) > 1 else joined[0]


def _shapes_of(x):
    return [a.shape for a in x] if isinstance(x, list) else x.shape


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

"""Sequential: a Keras-like model, so the source document's §5.2 code runs as written (P2).

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(128, 13, 1)))
    ...
    model.compile(optimizer=Adam(), loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(x, y, epochs=10, batch_size=32, validation_data=(x_val, y_val))
    loss, acc = model.evaluate(x_test, y_test)

Training is deterministic from ``Sequential(seed=...)``: weights, shuffling and dropout masks
all come from it. With a softmax output and a cross-entropy loss the two are fused: the loss is
computed from the logits through log-softmax, and the gradient (softmax(z) - y) / N enters the
last layer directly (docs/training.md).

Numerics are guarded (docs/reliability.md, "Numerics"): ``fit`` refuses empty data, NaN or
infinite inputs and targets, fractional class labels, and epochs or batch sizes below 1; a
non-finite training loss, or weights that became non-finite, stop training with a
``TrainingDivergedError`` that names the epoch and the batch. A loss that stays finite but
ends an epoch more than ``DIVERGENCE_FACTOR`` times above the first batch's is warned about
(a RuntimeWarning, once per fit): Adam at a learning rate of 10^6 climbs to 10^12 that way.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings

import numpy as np

from nn import backend, optimizers
from nn.functional import losses as L
from nn.layers.base import Layer
from nn.registry import register_model

__all__ = ["Sequential", "History", "TrainingDivergedError", "load_model"]

_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "mse")

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


def _at_least_one(value, what):
    """An int >= 1 (an integral float is accepted); bools, fractions and the rest refused."""
    ok = not isinstance(value, bool | np.bool_) and (
        isinstance(value, numbers.Integral)
        or (isinstance(value, numbers.Real) and math.isfinite(value) and value == int(value))
    )
    if not ok or int(value) < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {value!r}")
    return int(value)


def _require_finite(a, what):
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


class History:
    """What ``fit`` returns: ``history`` maps "loss", "accuracy", "val_loss", ... to lists."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))


@register_model
class Sequential:
    """A stack of layers trained end to end.

    Parameters
    ----------
    layers : list of Layer, optional
    seed : int
        Weights, shuffling and dropout all follow from it (Keras would need
        ``keras.utils.set_random_seed``; here the default is already reproducible).
    dtype : str
        "float32" for training speed (the default), "float64" for gradient checks.
    name : str
    """

    def __init__(self, layers=None, *, seed: int = 0, dtype="float32", name="sequential"):
        self.layers: list[Layer] = []
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.rng = np.random.default_rng(self.seed)
        self.optimizer = None
        self.loss = None
        self.metrics: list[str] = []
        self.metadata: dict = {}
        self.history = None
        self.stop_training = False
        self.source_path = None  # the file load_model read it from, if any
        self._counts: dict[str, int] = {}
        for layer in layers or []:
            self.add(layer)

    # ---- building ------------------------------------------------------------------------
    def add(self, layer: Layer):
        """Append a layer; it is built now if the shapes before it are known (as Keras)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {type(layer).__name__}")
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"{type(layer).__name__}(return_state=True) returns several arrays; a "
                "Sequential model passes one array from layer to layer"
            )
        if layer.name is None:
            n = self._counts.get(layer.kind, 0)
            self._counts[layer.kind] = n + 1
            layer.name = layer.kind if n == 0 else f"{layer.kind}_{n}"
        if any(other.name == layer.name for other in self.layers):
            raise ValueError(f"a layer named {layer.name!r} is already in the model")
        self.layers.append(layer)
        if len(self.layers) == 1:
            if layer.input_shape is not None:
                self._build_from(0, layer.input_shape)
        elif self.layers[-2].built:
            self._build_from(len(self.layers) - 1, self.layers[-2].output_shape)

    def _build_from(self, start: int, input_shape):
        shape = tuple(input_shape)
        for i in range(start, len(self.layers)):
            layer = self.layers[i]
            if not layer.built:
                layer.build(shape, self._layer_rng(i), dtype=self.dtype)
            shape = layer.output_shape

    def _layer_rng(self, i: int) -> np.random.Generator:
        """Layer i's own random stream (its initial weights, its dropout masks)."""
        return np.random.default_rng([self.seed, i])

    def build(self, input_shape):
        """Build every layer for inputs shaped (None,) + input_shape."""
        if not self.layers:
            raise ValueError("the model has no layers")
        self._build_from(0, input_shape)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_shape(self):
        return (None, *self.layers[0].input_shape) if self.built else None

    @property
    def output_shape(self):
        return (None, *self.layers[-1].output_shape) if self.built else None

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    # ---- compile -------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None):
        """Choose the optimizer (object or "adam" / "sgd"), the loss and the metrics."""
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {_LOSSES}")
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"unknown metric {m!r}; 'accuracy' is supported")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self.metrics = ["accuracy" for _ in metrics]

    # ---- the passes ------------------------------------------------------------------------
    def _prepare(self, x, what="x"):
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        expected = self.layers[0].input_shape
        if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"model {self.name!r} expects {what} shaped "
                f"(None, {', '.join(map(str, expected))}), received {x.shape}"
            )
        return x.astype(self.dtype, copy=False)

    def forward(self, x, training=False):
        mask = None  # a Masking layer starts a time mask; recurrent and pooling layers use it
        for layer in self.layers:
            out = layer.forward(x, training=training, mask=mask)
            mask = layer.compute_mask(x, mask)
            x = out
        return x

    def _fused(self) -> bool:
        return self.layers[-1].activation == "softmax" and self.loss != "mse"

    def _loss_and_grad(self, out, y):
        """(loss, gradient with respect to the last layer's output or pre-activation)."""
        if self._fused():
            z = self.layers[-1].preactivation
            if self.loss == "categorical_crossentropy":
                loss, cache = L.softmax_cross_entropy_forward(z, y)
                return loss, L.softmax_cross_entropy_backward(1.0, cache)
            loss, cache = L.sparse_softmax_cross_entropy_forward(z, y)
            return loss, L.sparse_softmax_cross_entropy_backward(1.0, cache)
        if self.loss == "mse":
            loss, cache = L.mse_forward(out, y)
            return loss, L.mse_backward(1.0, cache)
        # cross-entropy on an output that is not a softmax: treat the output as logits
        if self.loss == "categorical_crossentropy":
            loss, cache = L.softmax_cross_entropy_forward(out, y)
            return loss, L.softmax_cross_entropy_backward(1.0, cache)
        loss, cache = L.sparse_softmax_cross_entropy_forward(out, y)
        return loss, L.sparse_softmax_cross_entropy_backward(1.0, cache)

    def backward(self, dout, *, from_preactivation=False, need_input_grad=True):
        """Backpropagate through every layer; returns dL/d(input), or None when
        ``need_input_grad`` is False (training: the input is data, so the first layer skips
        its input gradient, as PyTorch does for inputs that do not require gradients)."""
        n = len(self.layers)
        d = dout
        for k in range(n - 1, -1, -1):
            layer = self.layers[k]
            wanted = need_input_grad or k > 0
            if k == n - 1 and from_preactivation:
                d = layer.backward_preactivation(d, need_input_grad=wanted)
            else:
                d = layer.backward(d, need_input_grad=wanted)
        return d

    def train_on_batch(self, x, y) -> tuple[float, np.ndarray]:
        """One optimizer step; returns (loss including penalties, the batch's outputs)."""
        backend.keep_freed_memory()  # once per process: see its docstring (a 3-4x speed-up)
        with backend.model_threads():
            return self._train_step(x, y)

    def _train_step(self, x, y):
        out = self.forward(x, training=True)
        loss, grad = self._loss_and_grad(out, y)
        self.backward(
            grad.astype(self.dtype, copy=False),
            from_preactivation=self._fused(),
            need_input_grad=False,
        )
        penalty = 0.0
        for layer in self.layers:
            penalty += layer.regularization_loss()
            layer.add_regularization_grads()
        self.optimizer.apply(
            (layer.params[k], layer.grads[k]) for layer in self.layers for k in layer.params
        )
        for layer in self.layers:
            layer.zero_grad()
        return loss + penalty, out

    def _targets(self, y, n):
        y = np.asarray(y)
        if y.shape[0] != n:
            raise ValueError(f"got {n} inputs but {y.shape[0]} targets")
        k = self.layers[-1].output_shape[-1]
        if self.loss == "sparse_categorical_crossentropy":
            if y.ndim != 1:
                raise ValueError(
                    f"sparse_categorical_crossentropy needs integer labels (N,), got {y.shape}"
                )
            if y.dtype.kind not in "iuf":
                raise ValueError(
                    "sparse_categorical_crossentropy needs integer class labels, got an "
                    f"array of {y.dtype}"
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
        if y.shape[1:] != (k,):
            raise ValueError(f"{self.loss} needs targets shaped (N, {k}), got {y.shape}")
        y = y.astype(self.dtype)
        _require_finite(y, "the targets")
        return y

    def _correct(self, out, y) -> int:
        truth = y if y.ndim == 1 else y.argmax(axis=1)
        return int(np.sum(out.argmax(axis=1) == truth))

    def _require_compiled(self):
        if self.loss is None:
            raise RuntimeError("compile() the model first: it needs an optimizer and a loss")

    # ---- fit / evaluate / predict ------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        *,
        epochs=1,
        batch_size=32,
        validation_data=None,
        validation_split=0.0,
        shuffle=True,
        batch_groups=None,
        callbacks=None,
        verbose="auto",
    ) -> History:
        """Train for ``epochs`` passes over (x, y).

        Parameters
        ----------
        x : ndarray (N, ...), or a callable ``x(epoch, rng) -> ndarray (N, ...)`` that returns
            fresh inputs every epoch (random crops, the document's Q3 augmentation).
        y : ndarray, one-hot (N, K) or integer labels (N,) as the loss needs
        epochs, batch_size : int
        validation_data : (x_val, y_val), optional
            Scored after every epoch ("val_loss", "val_accuracy"); callbacks watch these.
        validation_split : float
            Hold out the last fraction of (x, y) for validation instead (as Keras; only with
            an array x, and only without validation_data).
        shuffle : bool
            Reshuffle every epoch, from the model's seed.
        batch_groups : array (N,), optional
            A group id per example (the speaker of each utterance). Every batch then holds
            examples of one group only: each epoch, each group's indices are shuffled and
            split into max(1, round(n_g / batch_size)) nearly equal batches
            (``np.array_split``; so a batch can hold up to about 1.5 batch_size examples),
            and the order of all batches is shuffled, all from the model's seed. Why:
            BatchNormalization then normalises with one group's statistics in training,
            which is what AdaBN (``nn.adaptation``) does for a new speaker at test time
            (docs/cnn.md, "AdaBN"). Without it (the default), batches and the random stream
            are exactly as before.
        callbacks : list of nn.callbacks objects
            Called in list order at the end of every epoch with the same ``logs`` dict; a
            callback may add entries (a validation UAR) that later callbacks, the History
            and the printed epoch line all see.
        verbose : 0 silent, 1 progress bar (one line per epoch when not on a terminal),
            2 one line per epoch, "auto" = 1.

        Returns
        -------
        History
        """
        self._require_compiled()
        epochs = _at_least_one(epochs, "fit: epochs")
        batch_size = _at_least_one(batch_size, "fit: batch_size")
        sampler = x if callable(x) else None
        x0 = sampler(0, self.rng) if sampler else x
        x0 = self._prepare(x0)
        if x0.shape[0] == 0:
            raise ValueError(f"fit needs at least one training example, got inputs {x0.shape}")
        _require_finite(x0, "the training inputs")
        y = self._targets(y, x0.shape[0])
        groups = self._batch_groups(batch_groups, x0.shape[0])
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
        if validation_data is not None:
            vx = self._prepare(validation_data[0], "validation inputs")
            if vx.shape[0] == 0:
                raise ValueError("validation_data holds no examples")
            _require_finite(vx, "the validation inputs")
            vy = self._targets(validation_data[1], vx.shape[0])
        history = History()
        callbacks = list(callbacks or [])
        for cb in callbacks:
            cb.set_model(self)
            cb.on_train_begin()
        verbose = 1 if verbose == "auto" else int(verbose)
        self.stop_training = False
        n = x0.shape[0]
        steps = -(-n // batch_size)
        first_loss, warned = None, False
        for epoch in range(epochs):
            for cb in callbacks:  # LearningRateScheduler sets the epoch's rate here
                cb.on_epoch_begin(epoch, {})
            if epoch == 0 or sampler is None:
                xe = x0
            else:
                xe = self._prepare(sampler(epoch, self.rng))
                _require_finite(xe, f"the training inputs of epoch {epoch + 1}")
            if groups is None:
                order = self.rng.permutation(n) if shuffle else np.arange(n)
                batches = [order[s * batch_size : (s + 1) * batch_size] for s in range(steps)]
            else:
                batches = self._group_batches(groups, batch_size, shuffle)
            bar = _Progress(epoch, epochs, len(batches), verbose)
            total_loss, correct, seen = 0.0, 0, 0
            for step, idx in enumerate(batches):
                loss, out = self.train_on_batch(xe[idx], y[idx])
                if not math.isfinite(loss):
                    self._diverged(f"the loss is {loss}", epoch, epochs, step, batches, history)
                first_loss = loss if first_loss is None else first_loss
                total_loss += loss * len(idx)
                correct += self._correct(out, y[idx])
                seen += len(idx)
                batch_logs = self._logs(total_loss / seen, correct / seen)
                bar.update(step + 1, batch_logs)
                for cb in callbacks:
                    cb.on_batch_end(step, batch_logs)
            logs = self._logs(total_loss / n, correct / n)
            bad = self._non_finite_weight()
            if bad:  # the last update of the epoch made them so; the next loss would be NaN
                self._diverged(bad, epoch, epochs, len(batches) - 1, batches, history)
            if not warned and first_loss > 0 and logs["loss"] > DIVERGENCE_FACTOR * first_loss:
                warned = True
                warnings.warn(
                    f"the training loss grew from {first_loss:.4g} (epoch 1, batch 1) to "
                    f"{logs['loss']:.4g} (epoch {epoch + 1}): training is diverging; lower "
                    f"the learning rate (this one is {self.optimizer.learning_rate:g})",
                    RuntimeWarning,
                    stacklevel=2,
                )
            if validation_data is not None:
                val = self.evaluate(vx, vy, batch_size=batch_size, verbose=0)
                val = val if isinstance(val, list) else [val]
                logs["val_loss"] = val[0]
                if self.metrics:
                    logs["val_accuracy"] = val[1]
            for cb in callbacks:  # in list order; each may add entries to logs (a val UAR)
                cb.on_epoch_end(epoch, logs)
            bar.finish(logs)  # after the callbacks, as Keras: their entries are printed
            history.append(epoch, logs)  # and recorded
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        self.history = history  # as Keras: the last fit's History stays on the model
        return history

    def _non_finite_weight(self) -> str | None:
        """'weight <name> of layer <layer> ...' for the first non-finite parameter, or None."""
        for layer in self.layers:
            for name, p in layer.params.items():
                if not np.isfinite(p).all():
                    return f"weight {name!r} of layer {layer.name!r} holds NaN or infinite values"
        return None

    def _diverged(self, what, epoch, epochs, step, batches, history):
        self.history = history
        rate = self.optimizer.learning_rate
        raise TrainingDivergedError(
            f"training diverged at epoch {epoch + 1}/{epochs}, batch {step + 1}/{len(batches)}: "
            f"{what}. The weights are no longer usable; train again with a lower learning "
            f"rate (this one is {rate:g}) or with gradient clipping (clipnorm=1.0)",
            epoch=epoch + 1,
            batch=step + 1,
            history=history,
        )

    @staticmethod
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

    def _group_batches(self, groups, batch_size, shuffle):
        """The epoch's batches, each from one group (see ``fit``, ``batch_groups``)."""
        _, which = np.unique(groups, return_inverse=True)
        batches = []
        for g in range(which.max() + 1):
            idx = np.flatnonzero(which == g)
            if shuffle:
                idx = self.rng.permutation(idx)
            batches.extend(np.array_split(idx, max(1, round(len(idx) / batch_size))))
        if shuffle:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        return batches

    def _logs(self, loss, accuracy):
        logs = {"loss": float(loss)}
        if self.metrics:
            logs["accuracy"] = float(accuracy)
        return logs

    def evaluate(self, x, y, *, batch_size=32, verbose=0):
        """Mean loss (and accuracy) on (x, y), without training; a list when metrics are set."""
        self._require_compiled()
        batch_size = _at_least_one(batch_size, "evaluate: batch_size")
        x = self._prepare(x)
        if x.shape[0] == 0:
            raise ValueError(f"evaluate needs at least one example, got inputs {x.shape}")
        _require_finite(x, "the inputs")
        y = self._targets(y, x.shape[0])
        total, correct = 0.0, 0
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            with backend.model_threads():
                out = self.forward(xb, training=False)
            loss, _ = self._loss_and_grad(out, yb)
            for layer in self.layers:
                layer._clear_cache()
            total += loss * len(xb)
            correct += self._correct(out, yb)
        penalty = sum(layer.regularization_loss() for layer in self.layers)
        loss = total / x.shape[0] + penalty
        result = [float(loss), correct / x.shape[0]] if self.metrics else float(loss)
        if verbose:
            print(
                " - ".join(
                    f"{k}: {v:.4f}"
                    for k, v in zip(["loss", "accuracy"], np.atleast_1d(result), strict=False)
                )
            )
        return result

    def predict(self, x, *, batch_size=32, verbose=0) -> np.ndarray:
        """The model's outputs (class probabilities for a softmax model), batch by batch;
        an empty batch gives an empty array, (0,) + the output shape."""
        batch_size = _at_least_one(batch_size, "predict: batch_size")
        x = self._prepare(x)
        if x.shape[0] == 0:
            return np.empty((0, *self.layers[-1].output_shape), dtype=self.dtype)
        outs = []
        for start in range(0, x.shape[0], batch_size):
            with backend.model_threads():
                outs.append(self.forward(x[start : start + batch_size], training=False))
            for layer in self.layers:
                layer._clear_cache()
        return np.concatenate(outs, axis=0)

    # ---- description ---------------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        """The layer table as Keras prints it: name (type), output shape, parameter count."""
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str((None, *layer.output_shape)) if layer.built else "?",
                f"{layer.count_params():,}" if layer.built else "?",
            )
            for layer in self.layers
        ]
        widths = [max(28, *(len(r[0]) + 2 for r in rows)), 26, 12]
        line = "─" * sum(widths)
        head = (
            "Layer (type)".ljust(widths[0])
            + "Output Shape".ljust(widths[1])
            + "Param #".rjust(widths[2])
        )
        body = [r[0].ljust(widths[0]) + r[1].ljust(widths[1]) + r[2].rjust(widths[2]) for r in rows]
        built = self.built
        trainable = sum(layer.count_trainable_params() for layer in self.layers) if built else 0
        fixed = sum(layer.count_non_trainable_params() for layer in self.layers) if built else 0
        t_bytes = sum(p.nbytes for layer in self.layers for p in layer.params.values())
        f_bytes = sum(s.nbytes for layer in self.layers for s in layer.state.values())

        def size(nbytes):
            return f"{nbytes / 1024:.2f} KB" if nbytes else "0.00 B"

        text = "\n".join(
            [
                f'Model: "{self.name}"',
                line,
                head,
                line,
                *body,
                line,
                f" Total params: {trainable + fixed:,} ({size(t_bytes + f_bytes)})",
                f" Trainable params: {trainable:,} ({size(t_bytes)})",
                f" Non-trainable params: {fixed:,} ({size(f_bytes)})",  # BN moving statistics
            ]
        )
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict:
        return {
            "class": "Sequential",
            "name": self.name,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "input_shape": list(self.layers[0].input_shape) if self.built else None,
            "layers": [
                {"class": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    def save(self, path):
        """Write weights and description to one .npz file, atomically (nn.serialization)."""
        from nn.serialization import save_model

        return save_model(self, path)


def load_model(path) -> Sequential:
    """Read a model written by ``Sequential.save``, checking it thoroughly (nn.serialization)."""
    from nn.serialization import load_model as _load

    return _load(path)


class _Progress:
    """A Keras-like progress line: 'Epoch 3/10', then 'k/steps ━━━━ ETA ... - loss: ...'."""

    def __init__(self, epoch, epochs, steps, verbose):
        self.steps, self.verbose = steps, verbose
        self.live = verbose == 1 and sys.stdout.isatty()
        self.start = time.perf_counter()
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}")
        self.prefix = f"Epoch {epoch + 1}/{epochs} - " if verbose == 2 else ""

    def _metrics(self, logs):
        return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())

    def update(self, step, logs):
        if not self.live:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / step * (self.steps - step)
        filled = int(20 * step / self.steps)
        bar = "━" * filled + " " * (20 - filled)
        print(
            f"\r{step}/{self.steps} {bar} ETA {eta:.0f}s - {self._metrics(logs)}",
            end="",
            flush=True,
        )

    def finish(self, logs):
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per_step = 1000.0 * elapsed / self.steps
        bar = f"{self.steps}/{self.steps} {'━' * 20}"
        text = f"{bar} {elapsed:.0f}s {per_step:.0f}ms/step - {self._metrics(logs)}"
        print(("\r" if self.live else "") + self.prefix + text, flush=True)

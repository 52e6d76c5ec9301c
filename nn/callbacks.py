"""Callbacks for ``Sequential.fit``: EarlyStopping, ModelCheckpoint, LearningRateScheduler and
ReduceLROnPlateau.

Both watch a quantity of the epoch logs, by default "val_loss": validation data, never test
data (``fit`` is never given the test set). Watching a "val_" quantity without validation data
is an error, not a silent no-op.

The epoch logs are one dict, handed to every callback's ``on_epoch_end`` in list order. A
callback may add entries to it (a validation UAR, say); the callbacks after it in the list see
them, and so do the History and the printed epoch line, which come after all callbacks (as in
Keras). So put the callback that computes a quantity before the one that monitors it.
"""

from __future__ import annotations

import sys
import time

import numpy as np

__all__ = [
    "Callback",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
]


class Callback:
    """The base class: every hook does nothing. ``fit`` calls ``set_model`` and
    ``set_params`` first; ``params`` holds "epochs", "steps" (batches in the current epoch),
    "samples" and "verbose"."""

    def set_model(self, model):
        self.model = model

    def set_params(self, params: dict):
        self.params = params

    def on_train_begin(self):
        pass

    def on_epoch_begin(self, epoch: int, logs: dict):
        pass

    def on_batch_end(self, batch: int, logs: dict):
        """After each training step; ``logs`` holds the epoch's running loss (and accuracy)."""

    def on_epoch_end(self, epoch: int, logs: dict):
        pass

    def on_train_end(self):
        pass


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.sign = 1.0 if mode == "min" else -1.0
        self.min_delta = abs(min_delta)

    def _value(self, logs):
        if self.monitor not in logs:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, but the epoch logs only "
                f"have {sorted(logs)}; pass validation_data to fit(), or put the callback "
                "that adds it before this one in the list"
            )
        return float(logs[self.monitor])

    def _improved(self, value, best):
        return best is None or self.sign * (best - value) > self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally restore the
    best weights seen (``params`` and the non-trainable ``state``, such as the moving
    statistics of BatchNormalization, from the same epoch)."""

    def __init__(
        self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto", restore_best_weights=False
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self):
        self.best, self.wait, self.stopped_epoch, self.best_weights = None, 0, None, None

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = [
                    (
                        {k: v.copy() for k, v in layer.params.items()},
                        {k: v.copy() for k, v in layer.state.items()},
                    )
                    for layer in self.model.layers
                ]
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self):
        if self.restore_best_weights and self.best_weights is not None:
            for layer, (params, state) in zip(self.model.layers, self.best_weights, strict=True):
                for k, v in params.items():
                    layer.params[k][...] = v  # in place: the optimizer's state stays attached
                for k, v in state.items():
                    layer.state[k][...] = v


class ModelCheckpoint(_Monitor):
    """Save the model after every epoch, or only when ``monitor`` improves."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor, mode)
        self.filepath = str(filepath)
        self.save_best_only = save_best_only

    def on_train_begin(self):
        self.best = None

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value, self.best):
                return
            self.best = value
        self.model.save(
            self.filepath.format(epoch=epoch + 1, **{k: np.round(v, 4) for k, v in logs.items()})
        )


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch (Keras's callback).

    ``schedule(epoch, lr) -> new lr``, with epoch counted from 0 and lr the current rate. The
    optimizer needs a number as its learning rate, not a schedule (``nn.schedules``, which
    changes it every step instead). The rate of the epoch is added to its logs as
    "learning_rate", as Keras does.
    """

    def __init__(self, schedule, verbose=0):
        self.schedule = schedule
        self.verbose = int(verbose)

    def on_epoch_begin(self, epoch, logs):
        lr = self.schedule(epoch, float(self.model.optimizer.learning_rate))
        if isinstance(lr, bool) or not isinstance(lr, int | float | np.integer | np.floating):
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a number, got {lr!r} "
                f"at epoch {epoch}"
            )
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs):
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (Keras's rule).

    After ``patience`` epochs in a row without an improvement of more than ``min_delta``,
    lr <- max(lr * factor, min_lr); then ``cooldown`` epochs pass before epochs without an
    improvement are counted again. Nothing happens once lr is at min_lr. The rate used in
    the epoch is added to its logs as "learning_rate", as Keras does.

    As in Keras, the cooldown counter runs down before each epoch is judged, so the last
    cooldown epoch already counts: ``cooldown=c`` leaves c - 1 epochs uncounted
    (tests/nn/test_schedules.py pins it).
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau needs 0 < factor < 1, got {factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = float(factor), int(patience), int(verbose)
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs):
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        value = self._value(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.learning_rate > self.min_lr:
                optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
                if self.verbose:
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                        f"{optimizer.learning_rate}."
                    )
                self.cooldown_counter, self.wait = self.cooldown, 0


class ProgbarLogger(Callback):
    """The progress line ``fit`` prints (``verbose`` 1 or 2), as a callback: Keras's.

    verbose 1 on a terminal: "Epoch 3/10", then "k/steps ━━━━ ETA ... - loss: ..." updated in
    place after every batch; not on a terminal, or verbose 2: one line per epoch with its
    time, time per step and every entry of the epoch logs. ``fit`` adds it last, so the
    line shows what the other callbacks added to the logs.
    """

    def on_epoch_begin(self, epoch, logs):
        verbose = self.params.get("verbose", 1)
        self.steps, self.verbose = self.params.get("steps") or 1, verbose
        self.live = verbose == 1 and sys.stdout.isatty()
        self.start = time.perf_counter()
        epochs = self.params.get("epochs", epoch + 1)
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}")
        self.prefix = f"Epoch {epoch + 1}/{epochs} - " if verbose == 2 else ""

    @staticmethod
    def _metrics(logs):
        return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())

    def on_batch_end(self, batch, logs):
        if not self.live:
            return
        step = batch + 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / step * (self.steps - step)
        filled = int(20 * step / self.steps)
        bar = "━" * filled + " " * (20 - filled)
        print(
            f"\r{step}/{self.steps} {bar} ETA {eta:.0f}s - {self._metrics(logs)}",
            end="",
            flush=True,
        )

    def on_epoch_end(self, epoch, logs):
        elapsed = time.perf_counter() - self.start
        per_step = 1000.0 * elapsed / self.steps
        bar = f"{self.steps}/{self.steps} {'━' * 20}"
        text = f"{bar} {elapsed:.0f}s {per_step:.0f}ms/step - {self._metrics(logs)}"
        print(("\r" if self.live else "") + self.prefix + text, flush=True)

"""Callbacks for ``Sequential.fit``: EarlyStopping and ModelCheckpoint.

Both watch a quantity of the epoch logs, by default "val_loss": validation data, never test
data (``fit`` is never given the test set). Watching a "val_" quantity without validation data
is an error, not a silent no-op.

The epoch logs are one dict, handed to every callback's ``on_epoch_end`` in list order. A
callback may add entries to it (a validation UAR, say); the callbacks after it in the list see
them, and so do the History and the printed epoch line, which come after all callbacks (as in
Keras). So put the callback that computes a quantity before the one that monitors it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]


class Callback:
    def set_model(self, model):
        self.model = model

    def on_train_begin(self):
        pass

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

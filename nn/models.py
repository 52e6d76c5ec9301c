"""Sequential: a Keras-like model, so the source document's §5.2 code runs as written (P2).

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(128, 13, 1)))
    ...
    model.compile(optimizer=Adam(), loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(x, y, epochs=10, batch_size=32, validation_data=(x_val, y_val))
    loss, acc = model.evaluate(x_test, y_test)

The model holds its layers and what ``compile`` chose, and runs the passes (``forward``,
``backward``). How it is trained, the loss table, the epoch loop, the progress bar, the
guards on the numbers, is ``nn.training`` (``fit``, ``evaluate``, ``predict`` and
``train_on_batch`` here hand over to its ``Trainer``). Training is deterministic from
``Sequential(seed=...)``: weights, shuffling and dropout masks all come from it.
"""

from __future__ import annotations

import numpy as np

from nn import optimizers
from nn.graph import shape_fits
from nn.layers.base import Layer
from nn.registry import register_model
from nn.training import (
    DIVERGENCE_FACTOR,
    LOSSES,
    Head,
    History,
    TrainingDivergedError,
    trainer_of,
)
from nn.weights import KerasModelMethods

__all__ = ["Sequential", "History", "TrainingDivergedError", "load_model", "DIVERGENCE_FACTOR"]


@register_model
class Sequential(KerasModelMethods):
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
        """Choose the optimizer (object or "adam" / "sgd" / "rmsprop"), the loss (a key of
        ``nn.training.LOSSES``) and the metrics."""
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {tuple(LOSSES)}")
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"unknown metric {m!r}; 'accuracy' is supported")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self.metrics = ["accuracy" for _ in metrics]

    # ---- the passes ------------------------------------------------------------------------
    def prepare(self, x, what="x"):
        """``x`` as the first layer takes it, in the model's dtype; the model is built from
        its shape if it is not yet. A ValueError names the shape expected."""
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        expected = self.layers[0].input_shape
        if x.ndim != len(expected) + 1 or not shape_fits(x.shape[1:], expected):
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

    # ---- what the trainer asks of a model (nn.training) -------------------------------------
    def heads(self) -> list[Head]:
        """One head: the last layer, with the compiled loss and metrics."""
        return [Head(self.layers[-1].name, self.layers[-1], self.loss, 1.0, bool(self.metrics))]

    def output_preactivation(self, k=0):
        """The last layer's pre-activation in the last forward pass (a fused loss reads it)."""
        return self.layers[-1].preactivation

    def backward_heads(self, grads, fused):
        """The training backward from the one head's gradient; no input gradient (data)."""
        self.backward(grads[0], from_preactivation=fused[0], need_input_grad=False)

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

    # ---- training: nn.training ----------------------------------------------------------------
    def train_on_batch(self, x, y, sample_weight=None) -> tuple[float, np.ndarray]:
        """One optimizer step; returns (loss including penalties, the batch's outputs)."""
        return trainer_of(self).train_on_batch(x, y, sample_weight)

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
        """Train for ``epochs`` passes over (x, y). The positional order is Keras's.

        Parameters
        ----------
        x : ndarray (N, ...), or a callable ``x(epoch, rng) -> ndarray (N, ...)`` that returns
            fresh inputs every epoch (random crops, the document's Q3 augmentation).
        y : ndarray, one-hot (N, K) or integer labels (N,) as the loss needs
        batch_size, epochs : int
        verbose : 0 silent, 1 progress bar (one line per epoch when not on a terminal),
            2 one line per epoch, "auto" = 1 (``nn.callbacks.ProgbarLogger``).
        callbacks : list of nn.callbacks objects
            Called in list order at the end of every epoch with the same ``logs`` dict; a
            callback may add entries (a validation UAR) that later callbacks, the History
            and the printed epoch line all see.
        validation_split : float
            Hold out the last fraction of (x, y) for validation instead (as Keras; only with
            an array x, and only without validation_data).
        validation_data : (x_val, y_val), optional
            Scored after every epoch ("val_loss", "val_accuracy"); callbacks watch these.
        shuffle : bool
            Reshuffle every epoch, from the model's seed.
        class_weight : dict class index -> weight, optional
            Each example's loss is weighted by its class's weight (eq. SW), as Keras.
        sample_weight : array (N,), optional
            Each example's loss is weighted by its own weight (times its class's).
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

        Returns
        -------
        History
        """
        return trainer_of(self).fit(
            x,
            y,
            batch_size,
            epochs,
            verbose,
            callbacks,
            validation_split,
            validation_data,
            shuffle,
            class_weight,
            sample_weight,
            batch_groups=batch_groups,
        )

    def evaluate(self, x, y, batch_size=32, verbose=0, *, return_dict=False):
        """Mean loss (and accuracy) on (x, y), without training; a list when metrics are set,
        a dict by name with ``return_dict=True`` (as Keras)."""
        return trainer_of(self).evaluate(x, y, batch_size, verbose, return_dict=return_dict)

    def predict(self, x, batch_size=32, verbose=0) -> np.ndarray:
        """The model's outputs (class probabilities for a softmax model), batch by batch;
        an empty batch gives an empty array, (0,) + the output shape."""
        return trainer_of(self).predict(x, batch_size, verbose)

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


def load_model(path) -> Sequential:
    """Read a model written by ``Sequential.save``, checking it thoroughly (nn.serialization)."""
    from nn.serialization import load_model as _load

    return _load(path)

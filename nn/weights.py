"""A model's weights without its architecture, as Keras's get_weights / save_weights.

``get_weights(model)`` lists every layer's arrays (``Layer.get_weights``: trainable weights,
then non-trainable state) in layer order; ``set_weights`` takes the same list back.
``save_weights(model, path)`` writes them to one ``.npz`` file, each under
``<layer name>/<weight name>``, atomically (a temporary file in the same folder, flushed,
then renamed); ``load_weights`` reads it with ``allow_pickle=False`` and checks that every
name and shape matches the model before it changes anything. To keep the architecture and
the training settings too, use ``model.save`` (``nn.serialization``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nn.atomic import write_atomically

__all__ = [
    "get_weights",
    "set_weights",
    "save_weights",
    "load_weights",
    "KerasModelMethods",
]


def get_weights(model) -> list[np.ndarray]:
    return [w for layer in model.layers for w in layer.get_weights()]


def set_weights(model, weights) -> None:
    weights = list(weights)
    sizes = [len(layer.params) + len(layer.state) for layer in model.layers]
    if len(weights) != sum(sizes):
        raise ValueError(f"model {model.name!r} has {sum(sizes)} weight arrays; got {len(weights)}")
    start = 0
    for layer, n in zip(model.layers, sizes, strict=True):
        layer.set_weights(weights[start : start + n])
        start += n


def _named(model) -> dict[str, np.ndarray]:
    return {
        f"{layer.name}/{key}": array
        for layer in model.layers
        for key, array in (*layer.params.items(), *layer.state.items())
    }


def save_weights(model, path) -> Path:
    """Write every weight to ``path`` (.npz added if missing), atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    return write_atomically(path, lambda f: np.savez(f, **_named(model)))


def load_weights(model, path) -> None:
    """Read weights written by ``save_weights``; nothing changes unless all of them fit."""
    path = Path(path)
    if (
        not path.exists()
        and path.suffix != ".npz"
        and path.with_suffix(path.suffix + ".npz").exists()
    ):
        path = path.with_suffix(path.suffix + ".npz")
    expected = _named(model)
    try:
        with np.load(path, allow_pickle=False) as stored:
            names = set(stored.files)
            missing, unknown = sorted(set(expected) - names), sorted(names - set(expected))
            if missing or unknown:
                raise ValueError(
                    f"{path}: the weights do not belong to this model"
                    + (f"; missing {missing[:5]}" if missing else "")
                    + (f"; unknown {unknown[:5]}" if unknown else "")
                )
            arrays = {name: stored[name] for name in expected}
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable weights file ({err})") from err
    for name, array in arrays.items():
        if array.shape != expected[name].shape or not np.isfinite(array).all():
            raise ValueError(
                f"{path}: {name} is shaped {array.shape} (the model needs "
                f"{expected[name].shape}) or holds NaN or infinite values"
            )
    for name, array in arrays.items():
        expected[name][...] = array


class KerasModelMethods:
    """What ``Sequential`` and ``Model`` share as Keras spells it: ``model(x)``, the weights
    without the architecture, and ``save``. A model class provides ``layers``, ``prepare``
    and ``forward``."""

    def __call__(self, x, training=False):
        """``model(x)``: the outputs for the arrays ``x`` now, as ``predict`` in one batch."""
        from nn.graph import is_symbolic

        if is_symbolic(x):
            raise TypeError(
                f"model {self.name!r} is called on symbolic tensors: a model inside a model "
                "is not supported; call its layers on the tensors instead"
            )
        out = self.forward(self.prepare(x), training=training)
        for layer in self.layers:
            layer._clear_cache()
        return out

    def get_weights(self):
        """Every layer's arrays, in layer order (each layer's weights, then its state)."""
        return get_weights(self)

    def set_weights(self, arrays):
        """The arrays of ``get_weights``, back into the model (shapes checked)."""
        set_weights(self, arrays)

    def save_weights(self, path):
        """The weights alone to one .npz file by layer and weight name, atomically."""
        return save_weights(self, path)

    def load_weights(self, path):
        """Weights written by ``save_weights``, every name and shape checked first."""
        load_weights(self, path)

    def save(self, path):
        """Weights, architecture and settings to one .npz file, atomically (nn.serialization)."""
        from nn.serialization import save_model

        return save_model(self, path)

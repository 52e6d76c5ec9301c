"""The base of every layer: parameters, gradients, the last cache, one backward per forward.

A layer holds ``params`` and ``grads`` dicts (Keras weight names: ``kernel``, ``bias``), reads
its weights from ``params`` on every call (so replacing an array takes effect), and *adds* its
gradients into ``grads`` (the optimizer's step and ``zero_grad`` reset them). After a backward
the cache is cleared, so a second backward without a new forward raises.

``state`` holds a layer's non-trainable arrays (Keras's non-trainable weights: the moving
mean and variance of BatchNormalization). The optimizer never sees them (it iterates
``params``); the model file saves them, and ``count_params`` counts them, as Keras does.

Every parameter and state array is created through ``Layer._init``, so one place can bound
what building a layer allocates: inside ``parameter_budget(n)`` a layer may create at most
``n`` values in all, and a larger request raises ``ParameterBudgetError`` *before* the array
exists. ``nn.serialization.load_model`` builds each layer of a model file under a budget of
the values the file stores for it, so a description claiming a Dense of 10^12 units costs
nothing (docs/reliability.md, "Model files").
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading

import numpy as np

from nn import backend, initializers
from nn.functional.activations import ACTIVATIONS
from nn.graph import is_symbolic, layer_name, symbolic_call, weight_rng

__all__ = ["Layer", "ParameterBudgetError", "parameter_budget", "positive_int"]

_budget = threading.local()  # .left: values layers may still create, or None (no limit)


class ParameterBudgetError(ValueError):
    """A layer asked for more parameter values than ``parameter_budget`` allows.

    ``shape`` and ``values`` describe the array it asked for, ``left`` what the budget had.
    """

    def __init__(self, message, *, shape, values, left):
        super().__init__(message)
        self.shape, self.values, self.left = shape, values, left


@contextlib.contextmanager
def parameter_budget(values: int):
    """Inside, layers built may create at most ``values`` parameter and state values in all.

    A request beyond it raises ``ParameterBudgetError`` before anything is allocated. The
    budgets do not nest: an inner one replaces the outer one until it ends.
    """
    previous = getattr(_budget, "left", None)
    _budget.left = int(values)
    try:
        yield
    finally:
        _budget.left = previous


def positive_int(value, layer: str, argument: str, name=None) -> int:
    """``value`` as an int >= 1, or a ValueError naming the layer (its class ``layer`` and its
    ``name`` when it has one) and the ``argument``.

    Integers (Python or NumPy) and floats with an integral value (64.0) are accepted; bools,
    strings and fractions (2.5, which ``int`` would silently truncate) are not.
    """
    what = f"{layer} {name!r} {argument}" if name else f"{layer} {argument}"
    number = None
    if isinstance(value, bool | np.bool_):
        pass
    elif isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        number = int(value)
    if number is None or number < 1:
        raise ValueError(f"{what} must be >= 1 (a whole number), got {value!r}")
    return number


class Layer:
    """Base class. Subclasses implement ``_build``, ``_output_shape``, ``_forward`` and
    ``_backward``; the activation, the shape checks and the bookkeeping live here."""

    kind = "layer"  # the Keras-style base name: "dense", "conv2d", ...
    supports_masking = False  # True: takes a (N, T) time mask (docs/rnn.md, "Masks")
    any_length = False  # True: takes (T, C) inputs with T None (sequences of any length)

    def __init__(self, *, activation=None, input_shape=None, name=None, dtype=None):
        if not isinstance(activation, str | None) or activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of "
                f"{sorted(a for a in ACTIVATIONS if a)}"
            )
        self.activation = activation
        self.name = name
        self.input_shape = None if input_shape is None else self._shape(input_shape)
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.params: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}  # non-trainable: saved, never optimised
        self.grads: dict[str, np.ndarray] = {}
        self.regularizers: dict[str, object] = {}
        self.output_shape = None
        self.built = False
        self._cache = None
        self._act_cache = None
        self._need_dx = True
        self._mask = None
        self.preactivation = None

    # ---- building ---------------------------------------------------------------------
    def build(self, input_shape, rng: np.random.Generator, dtype="float32"):
        """Create the parameters for inputs of shape (None,) + input_shape."""
        self.dtype = np.dtype(self.dtype or dtype)
        self.input_shape = self._shape(input_shape)
        self._check_dimensions(self.input_shape, "inputs")
        self.output_shape = self._output_shape(self.input_shape)
        self._check_dimensions(self.output_shape, "outputs")
        self._build(self.input_shape, rng)
        self.zero_grad()
        self.built = True
        return self

    def _shape(self, shape) -> tuple:
        """``shape`` as ints, with None allowed for the time axis (the first of (T, C)) of a
        layer that takes sequences of any length (``any_length``)."""
        dims = tuple(shape)
        if any(d is None for d in dims):
            if not (self.any_length and len(dims) == 2 and dims[0] is None and dims[1] is not None):
                raise ValueError(
                    f"{type(self).__name__}{f' {self.name!r}' if self.name else ''}: input shape "
                    f"{dims}: a length of "
                    "None (sequences of any length) is for the time axis of (T, C) inputs of "
                    "sequence layers (recurrent, Conv1D, 1-D pooling, BatchNormalization, "
                    "Masking, Dropout); give this layer a fixed length, or pool over time first"
                )
        return tuple(None if d is None else int(d) for d in dims)

    def _check_dimensions(self, shape, what):
        """Every dimension of a layer's inputs and outputs is at least 1 (no empty axes)."""
        if any(d is not None and d < 1 for d in shape):
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) would have {what} shaped "
                f"(None, {', '.join(map(str, shape))}); every dimension must be at least 1"
            )

    def _build(self, input_shape, rng):
        pass

    def _init(self, initializer, shape, rng):
        """A new parameter (or state) array; the one place layers allocate them, so that
        ``parameter_budget`` is checked before the array exists."""
        left = getattr(_budget, "left", None)
        if left is not None:
            shape = tuple(int(d) for d in shape)
            values = math.prod(shape)
            if values > left:
                raise ParameterBudgetError(
                    f"layer {self.name!r} ({type(self).__name__}) would create an array of "
                    f"shape {shape} ({values:,} values), more than the {left:,} values allowed",
                    shape=shape,
                    values=values,
                    left=left,
                )
            _budget.left = left - values
        return initializers.get(initializer)(shape, rng, dtype=self.dtype)

    def count_params(self) -> int:
        """Trainable and non-trainable (``state``) values together, as Keras counts them."""
        return self.count_trainable_params() + self.count_non_trainable_params()

    def count_trainable_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def count_non_trainable_params(self) -> int:
        return int(sum(s.size for s in self.state.values()))

    def zero_grad(self):
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def astype(self, dtype):
        """Cast parameters, gradients and state to ``dtype``: float64 for gradient checks."""
        self.dtype = np.dtype(dtype)
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.state = {k: v.astype(dtype) for k, v in self.state.items()}
        self.zero_grad()
        return self

    # ---- calling a layer, as Keras ----------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        """``layer(tensor)`` records a call in a functional model (``nn.graph``);
        ``layer(array)`` runs the layer on the array now (``forward``). Either way the layer
        is built on its first call, from the shape of what it is called on: the initial
        weights then follow from the layer's name, so the same program builds the same
        weights (give ``Sequential(seed=...)`` or ``Model`` layers their names to choose).
        """
        if is_symbolic(inputs):
            if args or kwargs:
                raise TypeError(
                    f"layer {self.name!r}: arguments {sorted(kwargs) or args} are given when "
                    "the model runs (model.fit / predict), not when it is built"
                )
            return symbolic_call(self, inputs)
        x = np.asarray(inputs)
        if not self.built:
            self._build_for(x, x.shape[1:])
        return self.forward(x.astype(self.dtype, copy=False), *args, **kwargs)

    def _build_for(self, x, input_shape=None):
        """Build from ``input_shape`` (or the one given to the constructor) with weights that
        follow from the layer's name; float64 data gives a float64 layer, else float32."""
        if self.name is None:
            self.name = layer_name(self)
        dtype = x.dtype if np.asarray(x).dtype == np.float64 else np.dtype("float32")
        rng = weight_rng(self.name)
        self.build(self.input_shape if input_shape is None else input_shape, rng, dtype)

    # ---- weights, as Keras ----------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of the trainable weights, then the non-trainable state (Keras's order)."""
        return [p.copy() for p in self.params.values()] + [s.copy() for s in self.state.values()]

    def set_weights(self, weights) -> None:
        """Replace the weights with arrays of the same shapes, in ``get_weights``'s order."""
        weights = list(weights)
        targets = [*self.params.items(), *self.state.items()]
        if len(weights) != len(targets):
            raise ValueError(
                f"layer {self.name!r} has {len(targets)} weight arrays "
                f"({', '.join(k for k, _ in targets)}); got {len(weights)}"
            )
        for (key, current), new in zip(targets, weights, strict=True):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(
                    f"layer {self.name!r}: weight {key!r} is shaped {current.shape}, "
                    f"got {new.shape}"
                )
            current[...] = new

    # ---- forward and backward -----------------------------------------------------------
    def _check_input(self, x):
        if not self.built:
            raise RuntimeError(
                f"layer {self.name!r} ({type(self).__name__}) is not built: call it on the "
                "data, layer(x), which builds it from x's shape; or build(input_shape, rng) it; "
                "or add it to a model"
            )
        if x.ndim != len(self.input_shape) + 1 or any(
            want is not None and got != want
            for got, want in zip(x.shape[1:], self.input_shape, strict=True)
        ):
            expected = "(None, " + ", ".join(map(str, self.input_shape)) + ")"
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects inputs shaped {expected}, "
                f"received {tuple(x.shape)}"
            )

    def forward(self, x: np.ndarray, training: bool = False, mask=None, **inputs) -> np.ndarray:
        """The layer's output for a batch x shaped (N,) + input_shape.

        ``mask`` (N, T) marks the real steps of a padded batch of sequences (1) and the
        padding (0); only layers with ``supports_masking`` accept one. ``inputs`` are the
        further arguments a layer's ``_forward`` takes (a recurrent layer's
        ``initial_state``), passed as arguments, never kept on the object.
        """
        if not self.built and self.input_shape is not None:  # Keras builds on first use
            self._build_for(x)
        self._check_input(x)
        self._mask = self._accept_mask(x, mask)
        z, self._cache = self._forward(x, training, **inputs)
        forward, _ = backend.activation(self.activation)
        out, self._act_cache = forward(z)
        self.preactivation = z if self.activation is not None else None
        return out

    def backward(self, dout: np.ndarray, *, need_input_grad: bool = True, **output_grads):
        """dL/dx from dL/d(output); adds the parameter gradients into ``grads``.

        ``need_input_grad=False`` skips dL/dx (returns None): a network's first layer, whose
        input is data, not a parameter. The parameter gradients are computed either way.
        """
        self._require_cache()
        _, backward = backend.activation(self.activation)
        dz = backward(dout, self._act_cache)
        return self.backward_preactivation(dz, need_input_grad=need_input_grad, **output_grads)

    def backward_preactivation(
        self, dz: np.ndarray, *, need_input_grad: bool = True, **output_grads
    ):
        """As ``backward``, starting from dL/d(pre-activation): the fused softmax
        cross-entropy of ``Sequential`` gives (softmax(z) - y) / N here directly.
        ``output_grads`` are the gradients of a layer's further outputs (a recurrent layer's
        final states), passed on to its ``_backward`` as arguments."""
        self._require_cache()
        self._need_dx = need_input_grad
        dx, dparams = self._backward(dz, self._cache, **output_grads)
        for name, g in dparams.items():
            self.grads[name] += g
        self._clear_cache()
        return dx

    def _accept_mask(self, x, mask):
        if mask is None:
            return None
        if not self.supports_masking:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) received a time mask but cannot "
                "use one; put a pooling layer or a recurrent layer with "
                "return_sequences=False before it"
            )
        mask = np.asarray(mask)
        if mask.shape != x.shape[:2]:
            raise ValueError(
                f"layer {self.name!r}: the mask must be shaped (N, T) = {x.shape[:2]}, "
                f"got {mask.shape}"
            )
        return mask

    def compute_mask(self, x, mask):
        """The time mask of this layer's output: passed on unchanged by layers that support
        masking (element-wise ones), consumed (None) by the others."""
        return mask if self.supports_masking else None

    def _require_cache(self):
        if self._cache is None:
            raise RuntimeError(
                f"layer {self.name!r}: backward without a forward (one backward per forward)"
            )

    def _clear_cache(self):
        self._cache = self._act_cache = self.preactivation = self._mask = None

    # ---- regularisation ------------------------------------------------------------------
    def regularization_loss(self) -> float:
        return float(sum(r(self.params[k]) for k, r in self.regularizers.items() if r))

    def add_regularization_grads(self):
        for k, r in self.regularizers.items():
            if r:
                self.grads[k] += r.gradient(self.params[k]).astype(self.grads[k].dtype)

    # ---- description -----------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, output_shape={self.output_shape})"


class _NoCache:
    """A non-None placeholder cache for layers whose backward needs nothing."""


NO_CACHE = _NoCache()

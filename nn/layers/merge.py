"""Layers that join several tensors: Concatenate and Add (a join in a functional model).

A merge layer takes a list of K inputs and gives one output; its backward returns the list
of the K input gradients. With ``x_k`` the inputs and ``y`` the output:

    Concatenate (eq. G-cat):  y = [x_1 | x_2 | ... | x_K] along ``axis``
                              dL/dx_k = the slice of dL/dy that x_k filled
    Add         (eq. G-add):  y = x_1 + x_2 + ... + x_K   (every input the same shape)
                              dL/dx_k = dL/dy for every k

Neither has parameters. Their backward is where a join splits the gradient; the fork, where
one tensor feeds several layers, is the model's to handle (it sums: docs/graphs.md).
"""

from __future__ import annotations

import numpy as np

from nn.layers.base import Layer

__all__ = ["Concatenate", "Add"]


class _Merge(Layer):
    takes_several_inputs = True

    def build(self, input_shapes, rng: np.random.Generator, dtype="float32"):
        """Build for inputs shaped (None,) + each of ``input_shapes`` (a list, K >= 2)."""
        shapes = [tuple(int(d) for d in s) for s in input_shapes]
        if len(shapes) < 2:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) joins at least two inputs, "
                f"got {len(shapes)}"
            )
        self.input_shapes = shapes
        self.dtype = np.dtype(self.dtype or dtype)
        self.input_shape = shapes[0]
        self.output_shape = self._joined_shape(shapes)
        self.zero_grad()
        self.built = True
        return self

    def forward(self, xs, training=False, mask=None):
        """The joined output of the list ``xs``, one array per input."""
        if not self.built:
            raise RuntimeError(f"layer {self.name!r} is not built: call it on a list of tensors")
        xs = list(xs)
        shapes = [tuple(x.shape[1:]) for x in xs]
        if shapes != self.input_shapes or len({x.shape[0] for x in xs}) != 1:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects inputs shaped "
                f"{self.input_shapes} with one batch size, received "
                f"{[tuple(x.shape) for x in xs]}"
            )
        self._mask = None
        out, self._cache = self._join(xs)
        self._act_cache = None
        self.preactivation = None
        return out

    def backward(self, dout, *, need_input_grad=True):
        """The list of dL/dx_k, one per input."""
        self._require_cache()
        grads = self._split(dout, self._cache)
        self._clear_cache()
        return grads

    def backward_preactivation(self, dz, *, need_input_grad=True):
        return self.backward(dz, need_input_grad=need_input_grad)


class Concatenate(_Merge):
    """Join inputs along ``axis`` (default the last, as Keras); the other axes must agree."""

    kind = "concatenate"

    def __init__(self, axis=-1, *, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(axis, int | np.integer) or axis == 0:
            raise ValueError(
                f"Concatenate: axis must be a non-zero int (0 is the batch), got {axis!r}"
            )
        self.axis = int(axis)

    def _joined_shape(self, shapes):
        rank = len(shapes[0])
        axis = self.axis if self.axis > 0 else rank + 1 + self.axis
        if not 1 <= axis <= rank or any(len(s) != rank for s in shapes):
            raise ValueError(
                f"layer {self.name!r} (Concatenate, axis={self.axis}): inputs shaped "
                f"{shapes} have no common axis {self.axis}"
            )
        others = {s[: axis - 1] + s[axis:] for s in shapes}
        if len(others) != 1:
            raise ValueError(
                f"layer {self.name!r} (Concatenate, axis={self.axis}): inputs shaped {shapes} "
                "differ on an axis other than the one joined"
            )
        self._axis = axis
        joined = list(shapes[0])
        joined[axis - 1] = sum(s[axis - 1] for s in shapes)
        return tuple(joined)

    def _join(self, xs):
        sizes = [x.shape[self._axis] for x in xs]
        return np.concatenate(xs, axis=self._axis), np.cumsum(sizes)[:-1]  # eq. G-cat

    def _split(self, dout, cuts):
        return [np.ascontiguousarray(g) for g in np.split(dout, cuts, axis=self._axis)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(_Merge):
    """The element-wise sum of inputs of one shape."""

    kind = "add"

    def _joined_shape(self, shapes):
        if len(set(shapes)) != 1:
            raise ValueError(f"layer {self.name!r} (Add): inputs must have one shape, got {shapes}")
        return shapes[0]

    def _join(self, xs):
        out = xs[0].copy()
        for x in xs[1:]:
            out += x  # eq. G-add
        return out, len(xs)

    def _split(self, dout, k):
        return [dout.copy() for _ in range(k)]  # each input gets all of dL/dy

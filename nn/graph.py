"""Symbolic tensors and the graph of layer calls: what ``Input`` and ``layer(tensor)`` build.

    x = Input((128, 64))                    # a SymbolicTensor: shape (None, 128, 64), no data
    h = Conv1D(32, 5)(x)                    # a Node: the layer, its input tensors, its output
    a, b = Dense(4)(h2), Dense(2)(h2)       # a fork: h2 feeds two layers
    model = Model(x, [a, b])                # nn.functional_model: runs the nodes in order

A ``SymbolicTensor`` knows its shape (``None`` for the batch), its dtype and the ``Node``
that produced it (none for an ``Input``). Calling a layer on symbolic tensors builds the
layer on its first call (from the input shapes) and records a new ``Node``; a layer called
twice (a shared layer) has two nodes and one set of weights. ``topological_nodes`` orders
the nodes so that every node comes after the nodes that produce its inputs: the forward
pass runs them in that order, the backward pass in reverse (the sum rule at a fork,
docs/graphs.md).
"""

from __future__ import annotations

import contextlib
import itertools
import zlib

import numpy as np

__all__ = [
    "SymbolicTensor",
    "Node",
    "Input",
    "is_symbolic",
    "symbolic_call",
    "layer_name",
    "shape_fits",
    "initial_seed",
    "weight_rng",
    "topological_nodes",
]

_names = itertools.count()  # "input", "input_1", ...: names of inputs made without one
_seed: list[int] = []  # the seed of the innermost ``initial_seed`` block, if any


@contextlib.contextmanager
def initial_seed(seed: int):
    """Inside, a layer built by its first call takes its initial weights from
    (seed, its name) instead of its name alone: the same graph built with another seed
    starts from other weights, as ``Sequential(seed=...)`` does."""
    _seed.append(int(seed))
    try:
        yield
    finally:
        _seed.pop()


def weight_rng(name: str) -> np.random.Generator:
    """The generator of a layer's initial weights: from its name (and the current seed)."""
    key = zlib.crc32(name.encode())
    return np.random.default_rng([_seed[-1], key] if _seed else key)


class SymbolicTensor:
    """A placeholder for a batch of arrays shaped ``shape`` (its first entry None: the batch)."""

    def __init__(self, shape, dtype, node=None, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.node = node  # the Node that computes it; None for an Input
        self.name = name

    def __repr__(self):
        source = f"from {self.node.layer.name!r}" if self.node else "an input"
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype.name} {source}>"


class Node:
    """One call of ``layer`` on ``inputs`` (SymbolicTensors), giving ``output``."""

    def __init__(self, layer, inputs, output_shape, dtype):
        self.layer = layer
        self.inputs = list(inputs)
        self.output = SymbolicTensor((None, *output_shape), dtype, node=self)


def Input(shape, *, name=None, dtype="float32") -> SymbolicTensor:  # noqa: N802 (Keras's name)
    """The input of a functional model: a symbolic batch of arrays shaped (None,) + shape.

    Every dimension is a whole number >= 1, except the time axis of sequences (T, C), which
    may be None: sequences of any length, as Keras's ``Input((None, 13))``. Each batch still
    has one length (pad within a batch and mask: docs/rnn.md, "Masks"); the sequence layers
    (recurrent, Conv1D, 1-D pooling, BatchNormalization, Masking) take it, and a layer that
    needs a fixed length says so.
    """
    dims = tuple(shape) if np.iterable(shape) else (shape,)
    if any(d is None for k, d in enumerate(dims) if not (k == 0 and len(dims) == 2)):
        raise ValueError(
            f"Input(shape={tuple(dims)}): only the time axis of (T, C) sequences may be None"
        )
    if not all(d is None or (isinstance(d, int | np.integer) and d >= 1) for d in dims):
        raise ValueError(f"Input(shape={tuple(dims)}): every dimension must be an int >= 1")
    if name is None:
        n = next(_names)
        name = "input" if n == 0 else f"input_{n}"
    return SymbolicTensor((None, *(None if d is None else int(d) for d in dims)), dtype, name=name)


def shape_fits(shape, expected) -> bool:
    """Whether an array's shape (without the batch) fits ``expected`` (None: any length)."""
    return len(shape) == len(expected) and all(
        e is None or int(s) == e for s, e in zip(shape, expected, strict=True)
    )


def is_symbolic(inputs) -> bool:
    """Whether ``inputs`` is a SymbolicTensor or a non-empty list of them."""
    if isinstance(inputs, SymbolicTensor):
        return True
    return (
        isinstance(inputs, list | tuple)
        and len(inputs) > 0
        and all(isinstance(t, SymbolicTensor) for t in inputs)
    )


_layer_counts: dict[str, int] = {}


def layer_name(layer) -> str:
    """A name for a layer called without one: its kind, numbered as Keras numbers them
    ("dense", "dense_1", ...) in the order of the program's calls."""
    n = _layer_counts.get(layer.kind, 0)
    _layer_counts[layer.kind] = n + 1
    return layer.kind if n == 0 else f"{layer.kind}_{n}"


def symbolic_call(layer, inputs) -> SymbolicTensor:
    """Record ``layer(inputs)``: build the layer on its first call, check the shapes of a
    later call against the first, and return the new node's output tensor."""
    tensors = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    merge = getattr(layer, "takes_several_inputs", False)
    if not merge and len(tensors) != 1:
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) takes one input, got "
            f"{len(tensors)}; merge them first (Concatenate, Add)"
        )
    if layer.name is None:
        layer.name = layer_name(layer)
    shapes = [t.shape[1:] for t in tensors]
    dtype = tensors[0].dtype
    if not layer.built:
        # the initial weights follow from the layer's name: the same program, the same model
        layer.build(shapes if merge else shapes[0], weight_rng(layer.name), dtype=dtype)
    else:
        expected = layer.input_shapes if merge else [layer.input_shape]
        if [tuple(s) for s in shapes] != [tuple(s) for s in expected]:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) was built for inputs shaped "
                f"{_shapes(expected)}; this call gives {_shapes(shapes)}"
            )
    return Node(layer, tensors, layer.output_shape, dtype).output


def _shapes(shapes):
    return ", ".join("(None, " + ", ".join(map(str, s)) + ")" for s in shapes)


def topological_nodes(outputs) -> list[Node]:
    """Every node the ``outputs`` depend on, each after the nodes that produce its inputs."""
    order, done, active = [], set(), set()

    def visit(tensor):
        node = tensor.node
        if node is None or id(node) in done:
            return
        if id(node) in active:  # impossible by construction: a tensor is made after its inputs
            raise ValueError("the graph has a cycle")
        active.add(id(node))
        for t in node.inputs:
            visit(t)
        active.discard(id(node))
        done.add(id(node))
        order.append(node)

    for t in outputs:
        visit(t)
    return order

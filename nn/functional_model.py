"""Model: Keras's functional API, a graph of layer calls with several inputs and outputs.

    x = Input((128, 64))
    h = Conv1D(32, 5, activation="relu")(x)
    h = StatisticsPooling1D()(h)
    emotion = Dense(8, activation="softmax", name="emotion")(h)
    gender = Dense(2, activation="softmax", name="gender")(h)
    model = Model(x, [emotion, gender])
    model.compile("adam", loss={"emotion": "categorical_crossentropy",
                                "gender": "categorical_crossentropy"},
                  loss_weights={"emotion": 1.0, "gender": 0.3}, metrics=["accuracy"])
    model.fit(x_train, {"emotion": y_emotion, "gender": y_gender}, epochs=10)

The forward pass runs the nodes (``nn.graph``) in topological order. The backward pass runs
them in reverse, and where a tensor feeds several layers (a fork, or a layer used twice) the
gradients that come back from each of them are **summed** (the multivariable chain rule:
dL/dh = sum over the consumers c of dL/dh through c; eq. G-fork, docs/graphs.md). A layer
used twice keeps one set of weights; its two calls each keep their own cache here, and its
weight gradients add up over both calls. The training loop is ``nn.training``'s, the same
as ``Sequential``'s: one head per output.
"""

from __future__ import annotations

import numpy as np

from nn import optimizers
from nn.graph import SymbolicTensor, shape_fits, topological_nodes
from nn.registry import register_model
from nn.training import LOSSES, Head, History, trainer_of
from nn.weights import KerasModelMethods

__all__ = ["Model"]


def _listed(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _layer_states(layer):
    """The per-call state of a layer (and of the layers it wraps): what a second call of a
    shared layer would overwrite before the first call's backward has run."""
    layers = [layer] + [getattr(layer, a) for a in ("forward_layer", "backward_layer", "layer")
                        if hasattr(layer, a)]  # fmt: skip
    return [(sub, (sub._cache, sub._act_cache, sub.preactivation, sub._mask)) for sub in layers]


def _restore(states):
    for sub, (cache, act, pre, mask) in states:
        sub._cache, sub._act_cache, sub.preactivation, sub._mask = cache, act, pre, mask


@register_model
class Model(KerasModelMethods):
    """A graph of layers from ``inputs`` (``Input`` tensors) to ``outputs``.

    Parameters
    ----------
    inputs : SymbolicTensor or list of them, each made by ``nn.Input``
    outputs : SymbolicTensor or list of them, made by calling layers
    name : str
    seed : int
        The shuffling of ``fit`` follows from it. The initial weights were made when each
        layer was first called, from the layer's name (``nn.layers.base.Layer.__call__``).
    """

    def __init__(self, inputs, outputs, *, name="model", seed=0):
        self._single_input = not isinstance(inputs, list | tuple)
        self._single_output = not isinstance(outputs, list | tuple)
        self.inputs, self.outputs = _listed(inputs), _listed(outputs)
        for t in (*self.inputs, *self.outputs):
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"Model(inputs, outputs) takes tensors made by Input and by calling layers, "
                    f"got {type(t).__name__}"
                )
        for t in self.inputs:
            if t.node is not None:
                raise ValueError(f"Model inputs must be Input tensors; {t!r} is a layer's output")
        self.nodes = topological_nodes(self.outputs)
        known = {id(t) for t in self.inputs}
        for node in self.nodes:
            for t in node.inputs:
                if t.node is None and id(t) not in known:
                    raise ValueError(
                        f"layer {node.layer.name!r} is called on the input {t.name!r}, which is "
                        f"not one of the model's inputs {[i.name for i in self.inputs]}"
                    )
        if not self.nodes:
            raise ValueError("the model's outputs are its inputs: call at least one layer")
        self.layers = list(dict.fromkeys(node.layer for node in self.nodes))
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two different layers are named {duplicates}; give unique names")
        dtypes = {t.dtype for t in self.inputs}
        if len(dtypes) != 1:
            raise ValueError(f"the inputs have different dtypes {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        self.name, self.seed = name, int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.output_names = self._output_names()
        consumed = {id(t) for node in self.nodes for t in node.inputs}
        self._fusable = [id(t) not in consumed for t in self.outputs]
        self.optimizer, self.loss, self.metrics = None, None, []
        self.loss_weights: dict[str, float] = {}
        self.metadata: dict = {}
        self.history: History | None = None
        self.stop_training = False
        self.source_path = None
        self._states: dict[int, list] = {}

    def _output_names(self):
        names = []
        for t in self.outputs:
            name = t.node.layer.name
            names.append(name if name not in names else f"{name}_{names.count(name)}")
        return names

    # ---- shapes --------------------------------------------------------------------------
    built = True  # every layer was built when it was called

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if self._single_output else shapes

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    # ---- compile -------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None,
                loss_weights=None):  # fmt: skip
        """The optimizer; a loss for each output (one name for all, a list in output order,
        or a dict by output name); the weight of each output's loss in the total (default
        1.0 each); the metrics ("accuracy"), for all outputs or a dict by output name."""
        self.loss = self._per_output(loss, "loss")
        for name, value in self.loss.items():
            if value not in LOSSES:
                raise ValueError(
                    f"unknown loss {value!r} for output {name!r}; choose one of {tuple(LOSSES)}"
                )
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, "loss_weights")
        for name, w in weights.items():
            if not (isinstance(w, int | float) and np.isfinite(w) and w >= 0):
                raise ValueError(f"the loss weight of output {name!r} must be >= 0, got {w!r}")
        self.loss_weights = {k: float(v) for k, v in weights.items()}
        if isinstance(metrics, dict):
            per = self._per_output(metrics, "metrics")
        else:
            per = {n: list(metrics or []) for n in self.output_names}
        for name, ms in per.items():
            for m in _listed(ms):
                if m not in ("accuracy", "acc"):
                    raise ValueError(
                        f"unknown metric {m!r} (output {name!r}); 'accuracy' is supported"
                    )
        self.metrics = {n: ["accuracy" for _ in _listed(ms)] for n, ms in per.items()}
        self.optimizer = optimizers.get(optimizer)

    def _per_output(self, value, what):
        names = self.output_names
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            missing = [n for n in names if n not in value]
            if unknown or missing:
                raise ValueError(
                    f"{what} by output name: the outputs are {names}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; no output named {unknown}" if unknown else "")
                )
            return dict(value)
        if isinstance(value, list | tuple):
            if len(value) != len(names):
                raise ValueError(
                    f"{what}: {len(value)} values for the {len(names)} outputs {names}"
                )
            return dict(zip(names, value, strict=True))
        return {n: value for n in names}

    # ---- what the trainer asks of a model (nn.training) -----------------------------------
    def heads(self) -> list[Head]:
        loss = self.loss or {}
        return [
            Head(
                name,
                t.node.layer,
                loss.get(name),
                self.loss_weights.get(name, 1.0),
                bool(self.metrics and self.metrics.get(name)),
                fusable=fusable,
            )
            for name, t, fusable in zip(self.output_names, self.outputs, self._fusable, strict=True)
        ]

    def output_preactivation(self, k=0):
        """Output k's pre-activation in the last forward pass (a fused loss reads it)."""
        states = self._states[id(self.outputs[k].node)]
        return states[0][1][2]

    def backward_heads(self, grads, fused):
        self.backward(grads, from_preactivation=fused, need_input_grad=False)

    def prepare(self, x, what="inputs"):
        """The model's inputs as a list of arrays in the model's dtype (one array for one
        input): a list in input order, or a dict by input name; each shape is checked."""
        if isinstance(x, dict):
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing:
                raise ValueError(f"{what}: no array for the input(s) {missing}")
            x = [x[t.name] for t in self.inputs]
        xs = _listed(x) if not self._single_input or isinstance(x, list | tuple) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"model {self.name!r} has {len(self.inputs)} inputs "
                f"{[t.name for t in self.inputs]}; {what} gave {len(xs)}"
            )
        out = []
        for t, a in zip(self.inputs, xs, strict=True):
            a = np.asarray(a)
            if a.ndim != len(t.shape) or not shape_fits(a.shape[1:], t.shape[1:]):
                raise ValueError(
                    f"model {self.name!r} expects {what} {t.name!r} shaped "
                    f"(None, {', '.join(map(str, t.shape[1:]))}), received {a.shape}"
                )
            out.append(a.astype(self.dtype, copy=False))
        if len({a.shape[0] for a in out}) != 1:
            raise ValueError(f"{what}: the inputs hold different numbers of examples")
        return out[0] if self._single_input else out

    # ---- the passes ------------------------------------------------------------------------
    def forward(self, x, training=False):
        """The outputs for the inputs ``x`` (as ``prepare`` returns them): one array, or a
        list in output order."""
        values = {id(t): a for t, a in zip(self.inputs, _listed(x), strict=True)}
        masks: dict[int, object] = {}
        self._states = {}
        for node in self.nodes:
            layer = node.layer
            ins = [values[id(t)] for t in node.inputs]
            if getattr(layer, "takes_several_inputs", False):
                out = layer.forward(ins, training=training)
            else:
                mask = masks.get(id(node.inputs[0]))
                out = layer.forward(ins[0], training=training, mask=mask)
                masks[id(node.output)] = layer.compute_mask(ins[0], mask)
            values[id(node.output)] = out
            self._states[id(node)] = _layer_states(layer)
        outs = [values[id(t)] for t in self.outputs]
        return outs[0] if self._single_output else outs

    def backward(self, grads, *, from_preactivation=False, need_input_grad=True):
        """Backpropagate dL/d(each output) through the graph in reverse topological order.

        ``grads``: one array per output (a list, or an array for one output);
        ``from_preactivation``: per output, whether its gradient is with respect to the
        output layer's pre-activation (a fused softmax cross-entropy). Where a tensor feeds
        several layers the gradients are summed (eq. G-fork). Returns dL/d(each input), or
        None when ``need_input_grad`` is False.
        """
        grads = _listed(grads)
        flags = _listed(from_preactivation)
        flags = flags * len(self.outputs) if len(flags) == 1 else flags
        pending: dict[int, np.ndarray] = {}
        preact: set[int] = set()
        for t, g, fused in zip(self.outputs, grads, flags, strict=True):
            if fused:
                preact.add(id(t))
            pending[id(t)] = pending[id(t)] + g if id(t) in pending else g
        inputs = {id(t) for t in self.inputs}
        for node in reversed(self.nodes):
            d = pending.pop(id(node.output), None)
            if d is None:  # nothing of the loss depends on this call
                continue
            layer = node.layer
            _restore(self._states[id(node)])
            wanted = need_input_grad or any(id(t) not in inputs for t in node.inputs)
            if getattr(layer, "takes_several_inputs", False):
                dxs = layer.backward(d, need_input_grad=wanted)
            elif id(node.output) in preact:
                dxs = [layer.backward_preactivation(d, need_input_grad=wanted)]
            else:
                dxs = [layer.backward(d, need_input_grad=wanted)]
            for t, dx in zip(node.inputs, dxs, strict=True):
                if dx is None or (id(t) in inputs and not need_input_grad):
                    continue
                pending[id(t)] = pending[id(t)] + dx if id(t) in pending else dx  # eq. G-fork
        self._states = {}
        if not need_input_grad:
            return None
        dx = [pending.get(id(t)) for t in self.inputs]
        return dx[0] if self._single_input else dx

    # ---- training: nn.training ------------------------------------------------------------
    def train_on_batch(self, x, y, sample_weight=None):
        """One optimizer step; returns (total loss including penalties, the outputs)."""
        return trainer_of(self).train_on_batch(x, y, sample_weight)

    def fit(self, x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, *, batch_groups=None) -> History:  # fmt: skip
        """As ``Sequential.fit``; ``y`` is one array per output: a list in output order or a
        dict by output name (one array for a single output)."""
        return trainer_of(self).fit(
            x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
            shuffle, class_weight, sample_weight, batch_groups=batch_groups,
        )  # fmt: skip

    def evaluate(self, x, y, batch_size=32, verbose=0, *, return_dict=False):
        """[total loss, each output's loss, each output's accuracy] (Keras's order), or the
        logs by name with ``return_dict=True``."""
        return trainer_of(self).evaluate(x, y, batch_size, verbose, return_dict=return_dict)

    def predict(self, x, batch_size=32, verbose=0):
        """The outputs: one array, or a list in output order."""
        return trainer_of(self).predict(x, batch_size, verbose)

    # ---- description ---------------------------------------------------------------------
    def _source(self, tensor) -> str:
        """How a tensor is named in the summary: the input's name, or layer[call]."""
        if tensor.node is None:
            return tensor.name
        layer = tensor.node.layer
        calls = [n for n in self.nodes if n.layer is layer]
        return f"{layer.name}[{calls.index(tensor.node)}]"

    def summary(self, print_fn=print) -> str:
        """The layer table with each layer's inputs ("Connected to"), as Keras prints it."""
        rows = [(f"{t.name} (InputLayer)", str(t.shape), "0", "-") for t in self.inputs]
        for layer in self.layers:
            calls = [n for n in self.nodes if n.layer is layer]
            sources = "; ".join(", ".join(self._source(t) for t in n.inputs) for n in calls)
            rows.append((f"{layer.name} ({type(layer).__name__})", str((None, *layer.output_shape)),
                         f"{layer.count_params():,}", sources))  # fmt: skip
        widths = [max(28, *(len(r[0]) + 2 for r in rows)), 22, 12]
        head = "Layer (type)".ljust(widths[0]) + "Output Shape".ljust(widths[1])
        head += "Param #".rjust(widths[2]) + "   Connected to"
        body = [
            r[0].ljust(widths[0]) + r[1].ljust(widths[1]) + r[2].rjust(widths[2]) + "   " + r[3]
            for r in rows
        ]
        line = "─" * max(len(head), *(len(b) for b in body))
        trainable = sum(layer.count_trainable_params() for layer in self.layers)
        fixed = sum(layer.count_non_trainable_params() for layer in self.layers)
        text = "\n".join([
            f'Model: "{self.name}"', line, head, line, *body, line,
            f" Total params: {trainable + fixed:,}",
            f" Trainable params: {trainable:,}",
            f" Non-trainable params: {fixed:,}",
            f" Outputs: {', '.join(self.output_names)}",
        ])  # fmt: skip
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict:
        """The graph as JSON: the inputs, each layer once, each call (node) with the tensors it
        takes (["input", k] or ["node", j]), and the outputs."""
        index = {id(n): j for j, n in enumerate(self.nodes)}
        position = {id(t): k for k, t in enumerate(self.inputs)}
        layer_index = {id(layer): i for i, layer in enumerate(self.layers)}

        def ref(t):
            return ["input", position[id(t)]] if t.node is None else ["node", index[id(t.node)]]

        return {
            "class": "Model",
            "name": self.name,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "inputs": [{"name": t.name, "shape": list(t.shape[1:])} for t in self.inputs],
            "layers": [
                {"class": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
            "nodes": [
                {"layer": layer_index[id(n.layer)], "inputs": [ref(t) for t in n.inputs]}
                for n in self.nodes
            ],
            "outputs": [ref(t) for t in self.outputs],
            "single_input": self._single_input,
            "single_output": self._single_output,
        }

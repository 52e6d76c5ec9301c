"""Bidirectional: one recurrent layer reads the sequence forwards, a copy reads it backwards."""

from __future__ import annotations

import numpy as np

from nn.layers.base import Layer
from nn.layers.recurrent import Recurrent

__all__ = ["Bidirectional"]

MERGE_MODES = ("concat", "sum", "ave", "mul")


class Bidirectional(Layer):
    """Wraps a recurrent layer; the output merges both directions (Schuster & Paliwal, 1997).

    Math (docs/rnn.md, eq. BI)::

        forward:  h->_t from x_1 .. x_t          backward: h<-_t from x_T .. x_t
        concat: [h->_t, h<-_t] (2H)    sum: h-> + h<-    ave: (h-> + h<-) / 2    mul: h-> * h<-

    With return_sequences the backward layer's output is reversed back into time order
    before merging, so step t of the output sees the whole sequence. The weights of both
    layers live in ``params`` as ``forward/<name>`` and ``backward/<name>``.
    """

    any_length = True  # (T, C) inputs with T None

    kind = "bidirectional"
    supports_masking = True

    def __init__(self, layer, merge_mode="concat", *, input_shape=None, name=None, dtype=None):
        if isinstance(layer, dict):  # from a saved model's description
            from nn.layers import LAYER_CLASSES

            name = layer.get("class")
            cls = LAYER_CLASSES.get(name)
            if cls is None:
                raise ValueError(f"Bidirectional wraps an unknown layer class {name!r}")
            layer = cls(**layer.get("config", {}))
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps a recurrent layer, got {type(layer).__name__}")
        if layer.return_state:
            raise ValueError("Bidirectional does not pass on return_state")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        super().__init__(
            input_shape=input_shape or layer.input_shape, name=name, dtype=dtype or layer.dtype
        )
        config = {k: v for k, v in layer.get_config().items() if k != "input_shape"}
        self.forward_layer = layer
        self.backward_layer = type(layer)(**{**config, "go_backwards": not layer.go_backwards})
        self.merge_mode = merge_mode
        self.forward_layer.name = f"forward_{layer.name or layer.kind}"
        self.backward_layer.name = f"backward_{layer.name or layer.kind}"

    @property
    def return_sequences(self):
        return self.forward_layer.return_sequences

    def _output_shape(self, input_shape):
        shape = self.forward_layer._output_shape(input_shape)
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def _build(self, input_shape, rng):
        self.forward_layer.build(input_shape, rng, dtype=self.dtype)
        self.backward_layer.build(input_shape, rng, dtype=self.dtype)
        self.params = {
            **{f"forward/{k}": v for k, v in self.forward_layer.params.items()},
            **{f"backward/{k}": v for k, v in self.backward_layer.params.items()},
        }
        self.regularizers = {
            f"{d}/{k}": r
            for d, sub in (("forward", self.forward_layer), ("backward", self.backward_layer))
            for k, r in sub.regularizers.items()
        }

    def _sync(self):
        """Hand ``params`` to the two layers (an array replaced here takes effect there)."""
        for d, sub in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            sub.params = {k: self.params[f"{d}/{k}"] for k in sub.params}

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def _forward(self, x, training):
        self._sync()
        fwd = self.forward_layer.forward(x, training=training, mask=self._mask)
        bwd = self.backward_layer.forward(x, training=training, mask=self._mask)
        if self.return_sequences:
            bwd = bwd[:, ::-1]  # back into time order
        if self.merge_mode == "concat":
            out = np.concatenate([fwd, bwd], axis=-1)
        elif self.merge_mode == "sum":
            out = fwd + bwd
        elif self.merge_mode == "ave":
            out = 0.5 * (fwd + bwd)
        else:
            out = fwd * bwd
        return out, (fwd, bwd)

    def _backward(self, dz, cache):
        fwd, bwd = cache
        if self.merge_mode == "concat":
            H = fwd.shape[-1]
            d_fwd, d_bwd = dz[..., :H], dz[..., H:]
        elif self.merge_mode == "sum":
            d_fwd = d_bwd = dz
        elif self.merge_mode == "ave":
            d_fwd = d_bwd = 0.5 * dz
        else:
            d_fwd, d_bwd = dz * bwd, dz * fwd
        if self.return_sequences:
            d_bwd = d_bwd[:, ::-1]
        need = self._need_dx
        dx_f = self.forward_layer.backward(np.ascontiguousarray(d_fwd), need_input_grad=need)
        dx_b = self.backward_layer.backward(np.ascontiguousarray(d_bwd), need_input_grad=need)
        grads = {}
        for d, sub in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            for k, g in sub.grads.items():
                grads[f"{d}/{k}"] = g.copy()
            sub.zero_grad()
        return (dx_f + dx_b if need else None), grads

    def get_config(self):
        inner = self.forward_layer.get_config()
        inner.pop("name", None)
        return {
            **super().get_config(),
            "layer": {"class": type(self.forward_layer).__name__, "config": inner},
            "merge_mode": self.merge_mode,
        }

"""Recurrent layers: SimpleRNN (R0), SeedRNN (the document's R1-R4), LSTM (L1-L5), GRU.

Inputs are batch first, (N, T, D). Each layer runs its cell over the whole sequence through
``nn.backend`` (the Numba twins by default, the readable references with
SER_NN_BACKEND=numpy) and back-propagates through time in one call.
"""

from __future__ import annotations

import numpy as np

from nn import backend, regularizers
from nn.layers.base import Layer, positive_int

__all__ = ["Recurrent", "SimpleRNN", "SeedRNN", "LSTM", "GRU"]


class Recurrent(Layer):
    """What every recurrent layer shares: arguments, shapes, masks, direction, dropout.

    Parameters (Keras names)
    ------------------------
    units : int
        H, the size of the hidden state.
    return_sequences : bool
        False (default): output the last state, (N, H). True: every step, (N, T, H).
    return_state : bool
        Also return the final states: ``forward`` gives ``(output, h_T)`` (LSTM: ``(output,
        h_T, c_T)``) and ``backward`` takes a gradient for each. For use outside
        ``Sequential``, whose layers pass one array on.
    go_backwards : bool
        Read the sequence from its end; the sequence output is in reading order, reversed
        (as Keras). ``Bidirectional`` uses it.
    use_bias : bool
    kernel_initializer, recurrent_initializer, bias_initializer : str
        Defaults "glorot_uniform", "orthogonal", "zeros" (as Keras).
    kernel_regularizer : L1, L2, "l1", "l2" or None
    dropout : float
        Input dropout rate: one mask per sequence, the same at every step (Gal & Ghahramani,
        2016), inverted scaling. ``recurrent_dropout`` is not provided: done properly it
        needs a mask inside the compiled time loop.

    After a backward, ``initial_state_grads`` holds dL/dh0 (and dL/dc0), shaped (N, H).
    """

    any_length = True  # (T, C) inputs with T None

    kind = "rnn"
    supports_masking = True
    state_names = ("h",)
    gate_count = 1
    input_weight = "kernel"  # the weight kernel_regularizer applies to

    def __init__(
        self,
        units,
        *,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        units = positive_int(units, type(self).__name__, "units", name)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if recurrent_dropout:
            raise NotImplementedError(
                "recurrent_dropout is not provided (it needs a mask inside the compiled time "
                "loop); use dropout= (on the inputs) or a Dropout layer after this one"
            )
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.regularizers = {self.input_weight: regularizers.get(kernel_regularizer)}
        self.dropout = float(dropout)
        self.rng = np.random.default_rng(0)
        self.initial_state_grads = None

    # ---- shapes and weights -------------------------------------------------------------------
    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects sequences shaped "
                f"(None, T, D), got (None, {', '.join(map(str, input_shape))})"
            )
        T = input_shape[0]
        return (T, self.units) if self.return_sequences else (self.units,)

    def _build(self, input_shape, rng):
        D, H, G = input_shape[1], self.units, self.gate_count
        self.rng = np.random.default_rng(rng.integers(2**63))
        recurrent = np.concatenate(
            [self._init(self.recurrent_initializer, (H, H), rng) for _ in range(G)], axis=1
        )  # each gate's block orthogonal on its own, as Keras
        self.params = {
            "kernel": self._init(self.kernel_initializer, (D, G * H), rng),
            "recurrent_kernel": recurrent,
        }
        if self.use_bias:
            self.params["bias"] = self._initial_bias(rng)

    def _initial_bias(self, rng):
        return self._init(self.bias_initializer, (self.gate_count * self.units,), rng)

    # ---- the passes ---------------------------------------------------------------------------
    def compute_mask(self, x, mask):
        if mask is None or not self.return_sequences:
            return None
        return mask[:, ::-1] if self.go_backwards else mask

    def initial_states(self, N):
        """Zeros, (N, H) for each state: the default initial state."""
        return [np.zeros((N, self.units), dtype=self.dtype) for _ in self.state_names]

    def forward(self, x, training=False, mask=None, initial_state=None):
        """The output for x (N, T, D): (N, H), or (N, T, H) with return_sequences.

        ``initial_state`` : list of (N, H) arrays (h0, and c0 for the LSTM); zeros if None.
        """
        out = super().forward(x, training=training, mask=mask, initial_state=initial_state)
        if self.return_state:
            return (out, *self._cache[2])  # the final states, kept with this call's cache
        return out

    def _forward(self, x, training, initial_state=None):
        N = x.shape[0]
        states = initial_state or self.initial_states(N)
        if len(states) != len(self.state_names):
            raise ValueError(
                f"layer {self.name!r} needs {len(self.state_names)} initial state(s) "
                f"({', '.join(self.state_names)}), got {len(states)}"
            )
        for s in states:
            if np.shape(s) != (N, self.units):
                raise ValueError(
                    f"layer {self.name!r}: initial states must be shaped (N, H) = "
                    f"{(N, self.units)}, got {np.shape(s)}"
                )
        drop = None
        if training and self.dropout > 0:
            keep = 1.0 - self.dropout
            drop = (self.rng.random((N, 1, x.shape[2])) < keep).astype(x.dtype) / keep
            x = x * drop
        mask = self._mask
        if self.go_backwards:
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        (hs, *final), cell_cache = self._cell_forward(x, states, mask)
        out = hs if self.return_sequences else final[0]
        return out, (cell_cache, drop, final, x.shape[1])  # T: the layer may take any

    def backward(self, dout, *, need_input_grad=True):
        """dL/dx from dL/d(output); with return_state, ``dout`` is (d output, dh_T[, dc_T])."""
        if not self.return_state:
            return super().backward(dout, need_input_grad=need_input_grad)
        dout, *dfinal = dout
        return super().backward(dout, need_input_grad=need_input_grad, final_state_grads=dfinal)

    def _backward(self, dz, cache, final_state_grads=None):
        cell_cache, drop, _, T = cache
        N, H = dz.shape[0], self.units
        if final_state_grads:  # return_state: the final states have gradients of their own
            dfinal = [np.array(d, dtype=dz.dtype) for d in final_state_grads]
        else:
            dfinal = [np.zeros((N, H), dz.dtype) for _ in self.state_names]
        if self.return_sequences:
            dhs = dz
        else:
            dhs = np.zeros((N, T, H), dz.dtype)
            dfinal[0] = dfinal[0] + dz
        dx, dparams, dstates = self._cell_backward(
            np.ascontiguousarray(dhs), dfinal, cell_cache, self._need_dx
        )
        self.initial_state_grads = dstates
        if not self._need_dx:
            return None, dparams
        if self.go_backwards:
            dx = dx[:, ::-1]
        if drop is not None:
            dx = dx * drop
        return np.ascontiguousarray(dx), dparams

    def get_config(self):
        reg = self.regularizers[self.input_weight]
        return {
            **super().get_config(),
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "kernel_regularizer": reg.get_config() if reg else None,
        }

    # ---- what each cell defines ---------------------------------------------------------------
    def _cell_forward(self, x, states, mask):
        raise NotImplementedError

    def _cell_backward(self, dhs, dfinal, cache, need_dx):
        """(dx, param grads, initial-state grads); a cell may return dx None when not need_dx."""
        raise NotImplementedError


def _bias_grads(db):
    return {} if db is None else {"bias": db}


class SimpleRNN(Recurrent):
    """The Elman RNN, h_t = tanh(x_t W + h_{t-1} U + b) (R0; nn.functional.rnn)."""

    kind = "simple_rnn"

    def _cell_forward(self, x, states, mask):
        p = self.params
        return backend.ops.rnn.rnn_forward(
            x, p["kernel"], p["recurrent_kernel"], p.get("bias"), states[0], mask=mask
        )

    def _cell_backward(self, dhs, dfinal, cache, need_dx):
        dx, dW, dU, db, dh0 = backend.ops.rnn.rnn_backward(dhs, dfinal[0], cache)
        return dx, {"kernel": dW, "recurrent_kernel": dU, **_bias_grads(db)}, [dh0]


class LSTM(Recurrent):
    """The LSTM (L1-L5; nn.functional.lstm), gate order i, f, g, o.

    ``use_bias=False`` is the document's cell exactly. With biases, ``unit_forget_bias=True``
    (the default, as Keras) starts the forget-gate bias at 1: the cell then keeps most of its
    state at the start of training and gradients can reach early steps (Jozefowicz et al.,
    2015; docs/lstm.md).
    """

    kind = "lstm"
    state_names = ("h", "c")
    gate_count = 4

    def __init__(self, units, *, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _initial_bias(self, rng):
        b = super()._initial_bias(rng)
        if self.unit_forget_bias:
            b[self.units : 2 * self.units] = 1.0
        return b

    def _cell_forward(self, x, states, mask):
        p = self.params
        return backend.ops.lstm.lstm_forward(
            x, p["kernel"], p["recurrent_kernel"], p.get("bias"), *states, mask=mask
        )

    def _cell_backward(self, dhs, dfinal, cache, need_dx):
        dx, dW, dU, db, dh0, dc0 = backend.ops.lstm.lstm_backward(
            dhs, *dfinal, cache, need_input_grad=need_dx
        )
        return dx, {"kernel": dW, "recurrent_kernel": dU, **_bias_grads(db)}, [dh0, dc0]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(Recurrent):
    """The GRU (G1-G4; nn.functional.gru), gate order z, r, h.

    ``reset_after=True`` (default, as Keras and PyTorch): bias shaped (2, 3H), input and
    recurrent; ``reset_after=False``: Cho et al. (2014), bias (3H,).
    """

    kind = "gru"
    gate_count = 3

    def __init__(self, units, *, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _initial_bias(self, rng):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self._init(self.bias_initializer, shape, rng)

    def _cell_forward(self, x, states, mask):
        p = self.params
        return backend.ops.gru.gru_forward(
            x,
            p["kernel"],
            p["recurrent_kernel"],
            p.get("bias"),
            states[0],
            mask=mask,
            reset_after=self.reset_after,
        )

    def _cell_backward(self, dhs, dfinal, cache, need_dx):
        dx, dW, dU, db, dh0 = backend.ops.gru.gru_backward(dhs, dfinal[0], cache)
        return dx, {"kernel": dW, "recurrent_kernel": dU, **_bias_grads(db)}, [dh0]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class SeedRNN(Recurrent):
    """The source document's gated RNN exactly as written (R1-R4; nn.functional.seed_rnn).

    Weights keep the document's names: W_i (H + D, H), W_f (H, H), W_o (H, H),
    W_h (H + D, H), no biases. W_i and W_o never receive gradient (docs/errata.md, E7); they
    are kept so that the model is the document's and the zero gradients can be seen.
    """

    kind = "seed_rnn"
    input_weight = "W_h"

    def __init__(self, units, **kwargs):
        if kwargs.pop("use_bias", False):
            raise ValueError("SeedRNN has no biases: R1-R4 are written without them")
        super().__init__(units, use_bias=False, **kwargs)

    def _build(self, input_shape, rng):
        D, H = input_shape[1], self.units
        self.rng = np.random.default_rng(rng.integers(2**63))

        # each of [h; x]'s two row blocks initialised as its own matrix, as in SimpleRNN
        def hx():
            return np.concatenate(
                [
                    self._init(self.recurrent_initializer, (H, H), rng),
                    self._init(self.kernel_initializer, (D, H), rng),
                ]
            )

        self.params = {
            "W_i": hx(),
            "W_f": self._init(self.recurrent_initializer, (H, H), rng),
            "W_o": self._init(self.recurrent_initializer, (H, H), rng),
            "W_h": hx(),
        }

    def _cell_forward(self, x, states, mask):
        p = self.params
        return backend.ops.seed_rnn.seed_rnn_forward(
            x, p["W_i"], p["W_f"], p["W_o"], p["W_h"], states[0], mask=mask
        )

    def _cell_backward(self, dhs, dfinal, cache, need_dx):
        dx, dW_i, dW_f, dW_o, dW_h, dh0 = backend.ops.seed_rnn.seed_rnn_backward(
            dhs, dfinal[0], cache
        )
        return dx, {"W_i": dW_i, "W_f": dW_f, "W_o": dW_o, "W_h": dW_h}, [dh0]

    def get_config(self):
        config = super().get_config()
        config.pop("use_bias")
        return config

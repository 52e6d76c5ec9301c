"""Conv2D and Conv1D: channels-last convolutions (C1, C1-1d; math in ``nn.functional.conv``)."""

from __future__ import annotations

from nn import backend, regularizers
from nn.functional.conv import conv_output_size
from nn.layers.base import Layer, positive_int

__all__ = ["Conv2D", "Conv1D"]


def _pair(v, what):
    pair = (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{what} must be a positive int or a pair of them, got {v!r}")
    return pair


class Conv2D(Layer):
    """2-D convolution on (N, H, W, C) -> (N, H_out, W_out, filters).

    Parameters (Keras names): filters, kernel_size, strides, padding ("valid" | "same"),
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    input_shape, name. Weights: kernel (KH, KW, C, filters), bias (filters,).
    """

    kind = "conv2d"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        activation=None,
        *,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(activation=activation, input_shape=input_shape, name=name, dtype=dtype)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = positive_int(filters, "Conv2D", "filters", name)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.regularizers = {"kernel": regularizers.get(kernel_regularizer)}

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"layer {self.name!r} (Conv2D) expects inputs shaped (None, H, W, C), "
                f"got (None, {', '.join(map(str, input_shape))})"
            )
        H, W, _ = input_shape
        (KH, KW), (SH, SW) = self.kernel_size, self.strides
        out = (conv_output_size(H, KH, SH, self.padding), conv_output_size(W, KW, SW, self.padding))
        if min(out) < 1:
            raise ValueError(
                f"layer {self.name!r} (Conv2D): a {KH}x{KW} kernel does not fit "
                f"a {H}x{W} input with padding={self.padding!r}"
            )
        return (*out, self.filters)

    def _build(self, input_shape, rng):
        shape = (*self.kernel_size, input_shape[2], self.filters)
        self.params = {"kernel": self._init(self.kernel_initializer, shape, rng)}
        if self.use_bias:
            self.params["bias"] = self._init(self.bias_initializer, (self.filters,), rng)

    def _forward(self, x, training):
        return backend.ops.conv.conv2d_forward(
            x,
            self.params["kernel"],
            self.params.get("bias"),
            strides=self.strides,
            padding=self.padding,
        )

    def _backward(self, dz, cache):
        dx, dW, db = backend.ops.conv.conv2d_backward(dz, cache, need_dx=self._need_dx)
        return dx, ({"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW})

    def get_config(self):
        reg = self.regularizers["kernel"]
        return {
            **super().get_config(),
            "activation": self.activation,
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "use_bias": self.use_bias,
            "kernel_regularizer": reg.get_config() if reg else None,
        }


def _positive_int(v, what):
    if isinstance(v, list | tuple):  # Keras also accepts a 1-tuple
        if len(v) != 1:
            raise ValueError(f"{what} must be a positive int or a 1-tuple, got {v!r}")
        v = v[0]
    if int(v) != v or int(v) < 1:
        raise ValueError(f"{what} must be a positive int, got {v!r}")
    return int(v)


class Conv1D(Layer):
    """1-D convolution over time on (N, T, C) -> (N, T_out, filters) (eq. C1-1d).

    Parameters (Keras names): filters, kernel_size, strides, padding ("valid" | "same"),
    dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
    kernel_regularizer, input_shape, name, dtype. Weights: kernel (K, C, filters), bias
    (filters,). As Keras, strides > 1 together with dilation_rate > 1 is refused (the
    functional ops compute it, as PyTorch does). Like Conv2D it takes no time mask (a mask
    from ``Masking`` is a clear error): a window that straddles real steps and padding would
    mix them, so pad with care or crop to a fixed length (docs/cnn.md, "C1-1d").
    """

    any_length = True  # (T, C) inputs with T None

    kind = "conv1d"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        dilation_rate=1,
        activation=None,
        *,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(activation=activation, input_shape=input_shape, name=name, dtype=dtype)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = _positive_int(kernel_size, "kernel_size")
        self.strides = _positive_int(strides, "strides")
        self.dilation_rate = _positive_int(dilation_rate, "dilation_rate")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(
                "Conv1D: strides > 1 together with dilation_rate > 1 is not supported (as "
                f"Keras); got strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.regularizers = {"kernel": regularizers.get(kernel_regularizer)}

    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"layer {self.name!r} (Conv1D) expects inputs shaped (None, T, C), "
                f"got (None, {', '.join(map(str, input_shape))})"
            )
        T, _ = input_shape
        K, D = self.kernel_size, self.dilation_rate
        span = (K - 1) * D + 1  # eq. C1-1d-size
        if T is None:  # any length: the output's too (a call with too short a one is refused)
            return (None, self.filters)
        T_out = conv_output_size(T, span, self.strides, self.padding)
        if T_out < 1:
            raise ValueError(
                f"layer {self.name!r} (Conv1D): a kernel of {K} taps at dilation {D} spans "
                f"{span} steps and does not fit {T} steps with padding={self.padding!r}"
            )
        return (T_out, self.filters)

    def _build(self, input_shape, rng):
        shape = (self.kernel_size, input_shape[1], self.filters)
        self.params = {"kernel": self._init(self.kernel_initializer, shape, rng)}
        if self.use_bias:
            self.params["bias"] = self._init(self.bias_initializer, (self.filters,), rng)

    def _forward(self, x, training):
        return backend.ops.conv.conv1d_forward(
            x,
            self.params["kernel"],
            self.params.get("bias"),
            stride=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
        )

    def _backward(self, dz, cache):
        dx, dW, db = backend.ops.conv.conv1d_backward(dz, cache, need_dx=self._need_dx)
        return dx, ({"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW})

    def get_config(self):
        reg = self.regularizers["kernel"]
        return {
            **super().get_config(),
            "activation": self.activation,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "kernel_regularizer": reg.get_config() if reg else None,
        }

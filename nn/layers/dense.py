"""Dense: y = activation(x W + b) (eq. D-1; math in ``nn.functional.dense``)."""

from __future__ import annotations

from nn import regularizers
from nn.functional.dense import dense_backward, dense_forward
from nn.layers.base import Layer, positive_int

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected layer on inputs shaped (N, D) -> (N, units).

    Parameters (Keras names): units, activation, use_bias, kernel_initializer,
    bias_initializer, kernel_regularizer, input_shape, name.
    """

    kind = "dense"

    def __init__(
        self,
        units,
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
        self.units = positive_int(units, "Dense", "units", name)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.regularizers = {"kernel": regularizers.get(kernel_regularizer)}

    def _output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"layer {self.name!r} (Dense) expects inputs shaped (None, features), got "
                f"(None, {', '.join(map(str, input_shape))}); add a Flatten() before it"
            )
        return (self.units,)

    def _build(self, input_shape, rng):
        self.params = {
            "kernel": self._init(self.kernel_initializer, (input_shape[0], self.units), rng)
        }
        if self.use_bias:
            self.params["bias"] = self._init(self.bias_initializer, (self.units,), rng)

    def _forward(self, x, training):
        return dense_forward(x, self.params["kernel"], self.params.get("bias"))

    def _backward(self, dz, cache):
        dx, dW, db = dense_backward(dz, cache, need_dx=self._need_dx)
        return dx, ({"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW})

    def get_config(self):
        reg = self.regularizers["kernel"]
        return {
            **super().get_config(),
            "activation": self.activation,
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_regularizer": reg.get_config() if reg else None,
        }

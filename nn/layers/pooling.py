"""MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D (C2, C3, P-gap2d; math in
``nn.functional.pool``)."""

from __future__ import annotations

from nn import backend
from nn.functional.conv import conv_output_size
from nn.layers.base import Layer
from nn.layers.conv import _pair

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"]


class _Pooling2D(Layer):
    _op = ""

    def __init__(
        self,
        pool_size=(2, 2),
        strides=None,
        padding="valid",
        *,
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = padding

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects inputs shaped "
                f"(None, H, W, C), got (None, {', '.join(map(str, input_shape))})"
            )
        H, W, C = input_shape
        out = tuple(
            conv_output_size(n, k, s, self.padding)
            for n, k, s in zip((H, W), self.pool_size, self.strides, strict=True)
        )
        if min(out) < 1:
            raise ValueError(f"layer {self.name!r}: a {self.pool_size} pool does not fit {H}x{W}")
        return (*out, C)

    def _forward(self, x, training):
        fw = getattr(backend.ops.pool, f"{self._op}pool2d_forward")
        return fw(x, pool_size=self.pool_size, strides=self.strides, padding=self.padding)

    def _backward(self, dz, cache):
        return getattr(backend.ops.pool, f"{self._op}pool2d_backward")(dz, cache), {}

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class MaxPooling2D(_Pooling2D):
    """Maximum over each window (C2); ties send the gradient to the first maximum."""

    kind = "max_pooling2d"
    _op = "max"


class AveragePooling2D(_Pooling2D):
    """Mean over each window (C3)."""

    kind = "average_pooling2d"
    _op = "avg"


class GlobalAveragePooling2D(Layer):
    """(N, H, W, C) -> (N, C): the mean of each channel over the image (eq. P-gap2d).

    After the convolutions of a CNN on an MFCC "image" it replaces Flatten + a large Dense
    layer: one number per channel, whatever H (the number of frames) was.
    """

    kind = "global_average_pooling2d"

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"layer {self.name!r} (GlobalAveragePooling2D) expects inputs shaped "
                f"(None, H, W, C), got (None, {', '.join(map(str, input_shape))})"
            )
        return (input_shape[2],)

    def _forward(self, x, training):
        return backend.ops.pool.global_average_pool2d_forward(x)

    def _backward(self, dz, x_shape):
        return backend.ops.pool.global_average_pool2d_backward(dz, x_shape), {}

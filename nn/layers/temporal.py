"""Layers for padded sequences: Masking, GlobalAveragePooling1D, StatisticsPooling1D,
AttentionPooling1D."""

from __future__ import annotations

import numpy as np

from nn import backend
from nn.functional import temporal as F
from nn.layers.base import Layer, positive_int

__all__ = ["Masking", "GlobalAveragePooling1D", "StatisticsPooling1D", "AttentionPooling1D"]


class Masking(Layer):
    """Marks padded steps: a step whose features all equal ``mask_value`` is padding.

    The output is the input with padded steps set to 0; the mask (N, T) travels with it to
    the next layers (recurrent layers keep their state there, pooling ignores those steps).
    """

    any_length = True  # (T, C) inputs with T None

    kind = "masking"
    supports_masking = True

    def __init__(self, mask_value=0.0, *, input_shape=None, name=None, dtype=None):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        self.mask_value = float(mask_value)

    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Masking expects sequences (None, T, D), got {input_shape}")
        return input_shape

    def compute_mask(self, x, mask):
        real = np.any(x != self.mask_value, axis=-1)
        return real if mask is None else real & (np.asarray(mask) > 0)

    def _forward(self, x, training):
        keep = self.compute_mask(x, self._mask)[:, :, None].astype(x.dtype)
        return x * keep, keep

    def _backward(self, dz, keep):
        return dz * keep, {}

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class GlobalAveragePooling1D(Layer):
    """(N, T, H) -> (N, H): the mean over the real steps (eq. P-avg)."""

    any_length = True  # (T, C) inputs with T None

    kind = "global_average_pooling1d"
    supports_masking = True

    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"GlobalAveragePooling1D expects (None, T, H), got {input_shape}")
        return (input_shape[1],)

    def compute_mask(self, x, mask):
        return None

    def _forward(self, x, training):
        return F.global_average_pool1d_forward(x, self._mask)

    def _backward(self, dz, weights):
        return F.global_average_pool1d_backward(dz, weights), {}


class StatisticsPooling1D(Layer):
    """(N, T, H) -> (N, 2H): [mean, standard deviation] over the real steps (eq. P-stat).

    The "statistics pooling" of x-vectors (Snyder et al., 2018), common in speech emotion
    recognition: the spread of a feature over an utterance (how much the pitch or the
    energy moves) carries as much as its mean. ``epsilon`` (1e-5) is added to the biased
    variance before the square root. Uses the time mask as GlobalAveragePooling1D does.
    """

    any_length = True  # (T, C) inputs with T None

    kind = "statistics_pooling1d"
    supports_masking = True

    def __init__(self, epsilon=1e-5, *, input_shape=None, name=None, dtype=None):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        if not float(epsilon) >= 0.0:
            raise ValueError(f"StatisticsPooling1D epsilon must be >= 0, got {epsilon}")
        self.epsilon = float(epsilon)

    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"layer {self.name!r} (StatisticsPooling1D) expects inputs shaped "
                f"(None, T, H), got (None, {', '.join(map(str, input_shape))})"
            )
        return (2 * input_shape[1],)

    def compute_mask(self, x, mask):
        return None

    def _forward(self, x, training):
        return backend.ops.temporal.statistics_pool1d_forward(x, self._mask, epsilon=self.epsilon)

    def _backward(self, dz, cache):
        return backend.ops.temporal.statistics_pool1d_backward(dz, cache), {}

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


class AttentionPooling1D(Layer):
    """(N, T, H) -> (N, H): y = sum_t softmax_t(v . tanh(W h_t)) h_t (eqs. P-att1..3).

    Parameters: ``units`` A, the size of the scoring layer (default 64);
    ``kernel_initializer`` for W (H, A) and v (A,).
    """

    any_length = True  # (T, C) inputs with T None

    kind = "attention_pooling1d"
    supports_masking = True

    def __init__(
        self,
        units=64,
        *,
        kernel_initializer="glorot_uniform",
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        self.units = positive_int(units, "AttentionPooling1D", "units", name)
        self.kernel_initializer = kernel_initializer
        self.attention_weights = None  # alpha (N, T) of the last forward, for plots

    def _output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"AttentionPooling1D expects (None, T, H), got {input_shape}")
        return (input_shape[1],)

    def _build(self, input_shape, rng):
        H, A = input_shape[1], self.units
        self.params = {
            "kernel": self._init(self.kernel_initializer, (H, A), rng),
            "context": self._init(self.kernel_initializer, (A, 1), rng)[:, 0].copy(),
        }

    def compute_mask(self, x, mask):
        return None

    def _forward(self, x, training):
        y, cache = F.attention_pool_forward(
            x, self.params["kernel"], self.params["context"], self._mask
        )
        self.attention_weights = cache[4]
        return y, cache

    def _backward(self, dz, cache):
        dx, dW, dv = F.attention_pool_backward(dz, cache)
        return dx, {"kernel": dW, "context": dv}

    def get_config(self):
        return {**super().get_config(), "units": self.units}

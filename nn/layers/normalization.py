"""BatchNormalization: normalise each channel with batch statistics in training and moving
statistics at inference (BN-1 .. BN-7; math in ``nn.functional.normalization``)."""

from __future__ import annotations

import numpy as np

from nn import backend
from nn.layers.base import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch normalisation over the last (channel) axis, with Keras's semantics.

    Inputs (N, C), (N, T, C) or (N, H, W, C); the output has the input's shape.

    - **Training** (``forward(x, training=True)``, as ``fit`` runs it): normalise with the
      batch's own mean and (biased) variance per channel (BN-1 .. BN-4), and update the
      moving statistics in ``state`` (eq. BN-5)::

          moving_mean     = momentum * moving_mean     + (1 - momentum) * batch_mean
          moving_variance = momentum * moving_variance + (1 - momentum) * batch_variance

    - **Inference** (``predict``, ``evaluate``): normalise with ``state["moving_mean"]`` and
      ``state["moving_variance"]``; the layer is then a fixed affine map.

    Parameters (Keras names and defaults)
    -------------------------------------
    axis : int
        Only the last axis, -1 (channels last), is supported; its positive index (e.g. 3
        for (N, H, W, C)) is accepted too. Anything else is a ValueError naming the layer.
    momentum : float in [0, 1)
        Weight of the old moving statistics in BN-5 (Keras 0.99).
    epsilon : float
        Added to the variance (Keras 1e-3).
    center, scale : bool
        Learn beta (a shift) and gamma (a scale) per channel; False leaves them out.
    beta_initializer, gamma_initializer, moving_mean_initializer,
    moving_variance_initializer : initializer names or callables (zeros, ones, zeros, ones)

    Weights: ``params`` gamma (C,) and beta (C,) (trainable); ``state`` moving_mean (C,)
    and moving_variance (C,) (non-trainable: never seen by the optimizer, saved with the
    model, counted as "Non-trainable params" as Keras does).

    Masks: ``supports_masking``. With a time mask (N, T) on (N, T, C) inputs the padded
    steps are left out of the batch statistics, output 0 and get no gradient; the mask is
    passed on. (Keras also leaves them out of the statistics, but normalises their values.)

    Notes
    -----
    PyTorch (``torch.nn.BatchNorm1d/2d``) writes the same update as
    ``running = (1 - momentum) * running + momentum * batch``, so its default momentum 0.1 is
    Keras's 0.99 = 1 - 0.1 only up to the name: the equivalent of Keras ``momentum=m`` is
    PyTorch ``momentum=1 - m``. Its running variance is updated with the *unbiased* batch
    variance (divide by M - 1), Keras's and this layer's with the biased one (divide by M);
    both normalise the batch itself with the biased one. PyTorch's epsilon is 1e-5, Keras's
    1e-3 (docs/cnn.md, "Keras and PyTorch").

    References
    ----------
    S. Ioffe and C. Szegedy, "Batch normalization: accelerating deep network training by
    reducing internal covariate shift", ICML 2015.

    See Also
    --------
    nn.functional.normalization.batchnorm_forward : the math, shapes and cache.
    nn.adaptation.adapt_batchnorm : AdaBN, moving statistics from a new domain.
    """

    any_length = True  # (T, C) inputs with T None

    kind = "batch_normalization"
    supports_masking = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        *,
        input_shape=None,
        name=None,
        dtype=None,
    ):
        super().__init__(input_shape=input_shape, name=name, dtype=dtype)
        if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or int(axis) < -1:
            raise ValueError(self._axis_message(axis))
        if int(axis) == 0:
            raise ValueError(self._axis_message(axis))
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"BatchNormalization momentum must be in [0, 1), got {momentum}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"BatchNormalization epsilon must be > 0, got {epsilon}")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def _axis_message(self, axis, rank=None):
        where = "" if rank is None else f" for inputs of rank {rank}"
        return (
            f"layer {self.name!r} (BatchNormalization): only axis=-1 (the last, channel "
            f"axis: channels last) is supported, got axis={axis!r}{where}; move the "
            "normalised axis to the end (np.moveaxis) first"
        )

    def _output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(
                f"layer {self.name!r} (BatchNormalization) expects inputs (None, ..., C) "
                "of rank 2 or more"
            )
        if self.axis not in (-1, len(input_shape)):
            raise ValueError(self._axis_message(self.axis, len(input_shape) + 1))
        return input_shape

    def _build(self, input_shape, rng):
        C = input_shape[-1]
        self.params = {}
        if self.scale:
            self.params["gamma"] = self._init(self.gamma_initializer, (C,), rng)
        if self.center:
            self.params["beta"] = self._init(self.beta_initializer, (C,), rng)
        self.state = {
            "moving_mean": self._init(self.moving_mean_initializer, (C,), rng),
            "moving_variance": self._init(self.moving_variance_initializer, (C,), rng),
        }

    def _check_input(self, x):
        if self.built and x.ndim >= 2 and x.shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"layer {self.name!r} (BatchNormalization) was built for "
                f"{self.input_shape[-1]} channels, but its input has {x.shape[-1]} "
                f"(shape {tuple(x.shape)})"
            )
        super()._check_input(x)

    def _forward(self, x, training):
        ops = backend.ops.normalization
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        if training:
            out, cache = ops.batchnorm_forward(
                x, gamma, beta, epsilon=self.epsilon, mask=self._mask
            )
            self._update_moving_statistics(cache.mean, cache.variance)
            return out, cache
        return ops.batchnorm_forward(
            x,
            gamma,
            beta,
            epsilon=self.epsilon,
            mean=self.state["moving_mean"],
            variance=self.state["moving_variance"],
            mask=self._mask,
        )

    def _update_moving_statistics(self, mean, variance):
        """eq. BN-5, in place (so the arrays ``state`` holds stay the same objects)."""
        m = self.momentum
        for key, batch in (("moving_mean", mean), ("moving_variance", variance)):
            moving = self.state[key]
            moving[...] = m * moving + (1.0 - m) * np.asarray(batch, dtype=np.float64)  # BN-5

    def _backward(self, dz, cache):
        dx, dgamma, dbeta = backend.ops.normalization.batchnorm_backward(
            dz, cache, need_dx=self._need_dx
        )
        grads = {}
        if self.scale:
            grads["gamma"] = dgamma
        if self.center:
            grads["beta"] = dbeta
        return dx, grads

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }

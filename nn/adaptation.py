"""AdaBN: re-estimate the moving statistics of every BatchNormalization layer on new data.

A network trained with batch normalisation carries the training data's statistics in its
moving means and variances. Li et al. (2016) observed that a new domain (here: a new speaker,
a new microphone, a new corpus) shifts those statistics, and that replacing them by the
statistics of the new domain's own data adapts the network without any labels and without
changing a weight (eq. BN-8, docs/cnn.md, "AdaBN")::

    for each BN layer k, in order:   moving_mean_k, moving_variance_k <- mean, var of its
                                     inputs on the target data, the BN layers before k
                                     already using their adapted statistics

    saved = adapt_batchnorm(model, x_speaker)   # statistics of this speaker's utterances
    probabilities = model.predict(x_speaker)
    restore_batchnorm(model, saved)             # back to the training statistics

    with adapted_batchnorm(model, x_speaker):   # the same, as a context manager
        probabilities = model.predict(x_speaker)

The statistics are exact (no momentum): the mean and biased variance over all of x, as a
BatchNormalization layer in training mode would compute on x as one batch. The data is read
in chunks of ``batch_size``, so memory does not grow with len(x); each BN layer takes one pass
over x through the layers before it, run in inference mode (Dropout off).

References
----------
Y. Li, N. Wang, J. Shi, J. Liu and X. Hou, "Revisiting batch normalization for practical
domain adaptation", ICLR workshop 2017 (arXiv:1603.04779, 2016), Algorithm 1.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from nn import backend
from nn.layers.normalization import BatchNormalization

__all__ = ["adapt_batchnorm", "restore_batchnorm", "adapted_batchnorm", "input_statistics"]


def _require_chain(model) -> None:
    """AdaBN runs the layers one after the other: a functional model must be a chain (each
    layer called once, on the output of the one before; a two-head model's emotion part is)."""
    nodes = getattr(model, "nodes", None)
    if nodes is None:
        return
    chain = len(nodes) == len(model.layers) and all(
        len(node.inputs) == 1
        and (node.inputs[0].node is None if k == 0 else node.inputs[0].node is nodes[k - 1])
        for k, node in enumerate(nodes)
    )
    if not chain:
        raise ValueError(
            f"model {model.name!r} is not a chain of layers: adapt_batchnorm runs the layers in "
            "order; adapt the chain that holds the BatchNormalization layers (e.g. a "
            "Model(inputs, one_output) over the same layers)"
        )


def _batchnorm_layers(model) -> list[int]:
    _require_chain(model)
    found = [i for i, layer in enumerate(model.layers) if isinstance(layer, BatchNormalization)]
    if not found:
        raise ValueError(
            f"model {getattr(model, 'name', '')!r} has no BatchNormalization layer: "
            "there is nothing to adapt"
        )
    return found


def _prepare(model, x):
    prepare = getattr(model, "prepare", None)  # Sequential: checks the shape, casts the dtype
    x = prepare(x) if prepare is not None else np.asarray(x)
    if x.shape[0] == 0:
        raise ValueError("adapt_batchnorm needs at least one example")
    return x


def _input_of(model, k, x):
    """The input and time mask that layer k receives for the batch x, in inference mode."""
    mask = None
    for layer in model.layers[:k]:
        out = layer.forward(x, training=False, mask=mask)
        mask = layer.compute_mask(x, mask)
        layer._clear_cache()  # a forward without a backward: no cache must linger
        x = out
    return x, mask


class _Moments:
    """Mean and biased variance per channel, accumulated chunk by chunk in float64 as sums of
    (v - s) and (v - s)^2, with s the first chunk's mean: shifting by a value near the mean
    keeps the sum-of-squares formula var = E[(v-s)^2] - (E[v-s])^2 free of cancellation."""

    def __init__(self):
        self.count, self.shift, self.s1, self.s2 = 0.0, None, 0.0, 0.0

    def add(self, v, mask):
        v = v.reshape(-1, v.shape[-1]).astype(np.float64)
        if mask is not None:
            v = v[np.asarray(mask).reshape(-1) > 0]  # real steps only
        if v.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = v.mean(axis=0)
        d = v - self.shift
        self.count += v.shape[0]
        self.s1 = self.s1 + d.sum(axis=0)
        self.s2 = self.s2 + (d * d).sum(axis=0)

    def result(self, k):
        if self.shift is None:
            raise ValueError(f"layer {k} received no real position (every step is padding)")
        mean_d = self.s1 / self.count
        return self.shift + mean_d, np.maximum(self.s2 / self.count - mean_d**2, 0.0)


def input_statistics(model, k, x, *, batch_size=64):
    """Mean and biased variance per channel (float64, (C,)) of the inputs of layer k on x.

    Real positions only when a time mask reaches layer k; accumulated chunk by chunk
    (``_Moments``), so memory does not grow with len(x).
    """
    x = _prepare(model, x)
    moments = _Moments()
    with backend.model_threads():
        for start in range(0, x.shape[0], int(batch_size)):
            moments.add(*_input_of(model, k, x[start : start + batch_size]))
    return moments.result(k)


def _adapt_in_one_pass(model, layers, x):
    """x in one chunk: one forward pass, each BN layer adapted on its input as it is reached,
    so the layers after it see its adapted output (the same statistics as one pass per BN
    layer, at the cost of one forward instead of one per BN layer)."""
    wanted = set(layers)
    mask = None
    with backend.model_threads():
        for k, layer in enumerate(model.layers[: max(layers) + 1]):
            if k in wanted:
                moments = _Moments()
                moments.add(x, mask)
                mean, variance = moments.result(k)
                layer.state["moving_mean"][...] = mean  # eq. BN-8: no momentum
                layer.state["moving_variance"][...] = variance
            out = layer.forward(x, training=False, mask=mask)
            mask = layer.compute_mask(x, mask)
            layer._clear_cache()
            x = out


def adapt_batchnorm(model, x, *, batch_size=64) -> dict[int, dict[str, np.ndarray]]:
    """Set every BatchNormalization layer's moving statistics to those of x (AdaBN).

    Parameters
    ----------
    model : Sequential (anything with ``layers``; built)
    x : ndarray (N, ...), the target domain's inputs (no labels needed)
    batch_size : int
        Chunk size: how many examples go through the network at once. When all of x fits in
        one chunk, one forward pass adapts every layer; otherwise each BN layer takes one
        pass over x through the layers before it.

    Returns
    -------
    saved : dict layer index -> {"moving_mean": ..., "moving_variance": ...}
        Copies of the statistics before adaptation, for ``restore_batchnorm``.

    Notes
    -----
    Layer k's statistics are measured after layers 0 .. k-1 are adapted, as when the whole
    of x passes through the network in training mode as one batch; the predictions after
    adapting equal exactly that (``test_adabn_equals_training_mode_on_the_whole_set``).
    """
    layers = _batchnorm_layers(model)
    x = _prepare(model, x)
    saved = {i: {k: v.copy() for k, v in model.layers[i].state.items()} for i in layers}
    try:
        if x.shape[0] <= int(batch_size):
            _adapt_in_one_pass(model, layers, x)
            return saved
        for i in layers:
            mean, variance = input_statistics(model, i, x, batch_size=batch_size)
            model.layers[i].state["moving_mean"][...] = mean  # eq. BN-8: no momentum
            model.layers[i].state["moving_variance"][...] = variance
    except BaseException:
        restore_batchnorm(model, saved)  # no half-adapted model
        raise
    return saved


def restore_batchnorm(model, saved) -> None:
    """Put back the statistics ``adapt_batchnorm`` returned (in place)."""
    for i, state in saved.items():
        layer = model.layers[i]
        if not isinstance(layer, BatchNormalization):
            raise ValueError(f"layer {i} ({layer.name!r}) of the model is not BatchNormalization")
        for k, v in state.items():
            layer.state[k][...] = v


@contextmanager
def adapted_batchnorm(model, x, batch_size=64):
    """``with adapted_batchnorm(model, x): model.predict(x)``: adapt, then restore on exit."""
    saved = adapt_batchnorm(model, x, batch_size=batch_size)
    try:
        yield model
    finally:
        restore_batchnorm(model, saved)

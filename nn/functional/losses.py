"""Losses, each returning (mean loss, cache) and its gradient with respect to the input.

Shape letters: N batch, K classes.

Cross-entropy is computed from *logits* through log-softmax, never as log(softmax(z)), which
underflows to log(0) = -inf for a confident wrong answer.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "log_softmax",
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward",
    "sparse_softmax_cross_entropy_forward",
    "sparse_softmax_cross_entropy_backward",
    "mse_forward",
    "mse_backward",
    "sigmoid_cross_entropy_forward",
    "sigmoid_cross_entropy_backward",
    "per_example",
]


def log_softmax(z):
    """log softmax(z)_k = z_k - max z - log sum_j exp(z_j - max z)."""
    # BEGIN SOLUTION ex=CE
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    # END SOLUTION


def softmax_cross_entropy_forward(logits, y_onehot):
    """L = -(1/N) sum_n sum_k y[n, k] log softmax(z[n])_k   (eq. CE).

    Parameters: logits (N, K); y_onehot (N, K), rows summing to 1 (soft labels allowed).
    Returns: (L, cache (softmax(z), y)); N is the rows of z (the backward reads it from p).
    """
    if logits.shape != y_onehot.shape:
        raise ValueError(f"logits {logits.shape} and one-hot labels {y_onehot.shape} differ")
    # BEGIN SOLUTION ex=CE
    logp = log_softmax(logits)
    loss = -np.sum(y_onehot * logp) / logits.shape[0]  # eq. CE
    return float(loss), (np.exp(logp), y_onehot)
    # END SOLUTION


def softmax_cross_entropy_backward(dloss, cache):
    """dL/dz = (softmax(z) - y) / N, times the upstream scalar dloss (eq. CE-b)."""
    # BEGIN SOLUTION ex=CE
    p, y = cache
    return dloss * (p - y) / p.shape[0]
    # END SOLUTION


def sparse_softmax_cross_entropy_forward(logits, labels):
    """As ``softmax_cross_entropy_forward`` with integer labels (N,) in 0 .. K-1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"expected integer labels shaped ({logits.shape[0]},), got {labels.shape}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must be in 0 .. {logits.shape[1] - 1}")
    logp = log_softmax(logits)
    loss = -np.mean(logp[np.arange(len(labels)), labels])
    return float(loss), (np.exp(logp), labels)


def sparse_softmax_cross_entropy_backward(dloss, cache):
    """dL/dz = (softmax(z) - onehot(labels)) / N."""
    p, labels = cache
    d = p.copy()
    d[np.arange(len(labels)), labels] -= 1.0
    return dloss * d / p.shape[0]


def mse_forward(pred, target):
    """L = mean over every element of (pred - target)^2   (as Keras "mse")."""
    if pred.shape != target.shape:
        raise ValueError(f"predictions {pred.shape} and targets {target.shape} differ")
    diff = pred - target
    return float(np.mean(diff * diff)), diff


def mse_backward(dloss, diff):
    """dL/dpred = 2 (pred - target) / (number of elements)."""
    return dloss * 2.0 * diff / diff.size


def sigmoid_cross_entropy_forward(logits, target):
    """Binary cross-entropy from logits, averaged over every element (as Keras
    "binary_crossentropy": the mean over the K outputs, then over the batch)::

        L = mean over n, k of  -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]
          = mean of  max(z, 0) - z y + log(1 + exp(-|z|))          (eq. BCE)

    The second form never takes the log of 0 (a confident wrong answer gives a large finite
    loss). Parameters: logits (N, K); target (N, K) in [0, 1]. Returns (L, cache).
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits {logits.shape} and targets {target.shape} differ")
    loss = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    p = 0.5 * (1.0 + np.tanh(0.5 * logits))  # sigmoid(z), without overflow
    return float(np.mean(loss)), (p, target)


def sigmoid_cross_entropy_backward(dloss, cache):
    """dL/dz = (sigmoid(z) - y) / (number of elements)   (eq. BCE-b)."""
    p, y = cache
    return dloss * (p - y) / p.size


def per_example(loss: str, prediction, target) -> np.ndarray:
    """Each example's own loss, (N,): the numbers whose mean the forward functions return.

    ``fit(sample_weight=...)`` weights them (eq. SW): L = (1/N) sum_n w_n l_n, whose gradient
    is row n of the unweighted gradient times w_n (each row depends on its own example only).
    """
    if loss == "categorical_crossentropy":
        return -np.sum(target * log_softmax(prediction), axis=1)
    if loss == "sparse_categorical_crossentropy":
        labels = np.asarray(target)
        return -log_softmax(prediction)[np.arange(len(labels)), labels]
    if loss == "binary_crossentropy":
        z = prediction
        terms = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        return terms.reshape(len(z), -1).mean(axis=1)
    if loss == "mse":
        diff = prediction - target
        return (diff * diff).reshape(len(diff), -1).mean(axis=1)
    raise ValueError(f"unknown loss {loss!r}")

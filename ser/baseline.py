"""A simple baseline the networks must beat: utterance statistics and a linear classifier.

Each utterance becomes one vector, the mean and standard deviation over frames of each MFCC
and delta (78 numbers for 13 MFCCs + 13 deltas), standardised with training statistics, and a
multinomial logistic regression (softmax of a linear map, L2-regularised, trained by full-batch
gradient descent) classifies it. No time structure is used: whatever a CNN or an LSTM scores
above this comes from the order of the frames.
"""

from __future__ import annotations

import numpy as np

from features import deltas

__all__ = ["utterance_statistics", "SoftmaxRegression"]


def utterance_statistics(mfccs: np.ndarray) -> np.ndarray:
    """[mean_t c, std_t c, mean_t d, std_t d] of one utterance: (T, C) -> (4C,)."""
    d = deltas(mfccs)
    return np.concatenate([mfccs.mean(0), mfccs.std(0), d.mean(0), d.std(0)])


class SoftmaxRegression:
    """p(k | x) = softmax(x W + b)_k, fitted by gradient descent on cross-entropy + (l2/2)|W|^2.

    Inputs are standardised with the training mean and std inside ``fit``.
    """

    def __init__(self, *, l2: float = 1e-2, lr: float = 0.5, epochs: int = 500):
        self.l2, self.lr, self.epochs = l2, lr, epochs

    def fit(self, x: np.ndarray, y: np.ndarray, *, n_classes: int | None = None):
        x = np.asarray(x, float)
        y = np.asarray(y, int)
        k = int(y.max() + 1) if n_classes is None else n_classes
        self.mean_, self.std_ = x.mean(0), np.maximum(x.std(0), 1e-8)
        z = (x - self.mean_) / self.std_
        onehot = np.eye(k)[y]
        self.W_ = np.zeros((z.shape[1], k))
        self.b_ = np.zeros(k)
        for _ in range(self.epochs):  # convex: zero start, fixed steps, deterministic
            p = self._softmax(z @ self.W_ + self.b_)
            g = (p - onehot) / len(z)
            self.W_ -= self.lr * (z.T @ g + self.l2 * self.W_)
            self.b_ -= self.lr * g.sum(0)
        return self

    @staticmethod
    def _softmax(logits):
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self._softmax(((np.asarray(x, float) - self.mean_) / self.std_) @ self.W_ + self.b_)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)

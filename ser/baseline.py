"""The classic baseline the networks must beat: utterance statistics, normalised per speaker,
and a kernel classifier.

Each utterance becomes one vector, the mean and standard deviation over frames of each MFCC
and delta (52 numbers for 13 MFCCs + 13 deltas). Each speaker's vectors are then standardised
over that speaker's own utterances (eq. B-1), which removes most of what makes one voice differ
from another (pitch range, vocal tract, microphone, loudness) and keeps how an utterance differs
from the speaker's usual self: the emotion. A test speaker's statistics come from their own
unlabelled utterances, so nothing of the test labels is used. An RBF kernel ridge classifier
(eq. B-2) then classifies the vectors. No time structure is used: whatever a CNN or an LSTM
scores above this comes from the order of the frames.

Measured on the development copy of RAVDESS (8 emotions, six folds of four actors,
docs/evaluation.md): 0.43 UAR without the per-speaker step, 0.53 with it; softmax regression
(below) in place of the kernel classifier scores 0.52. The field's RBF SVM on the same
statistics scores 0.50.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from features import deltas

__all__ = [
    "utterance_statistics",
    "standardise_per_speaker",
    "KernelRidgeClassifier",
    "SoftmaxRegression",
]

_STD_FLOOR = 1e-8  # a statistic constant over a speaker's utterances (one utterance) stays 0


def utterance_statistics(mfccs: np.ndarray) -> np.ndarray:
    """[mean_t c, std_t c, mean_t d, std_t d] of one utterance: (T, C) -> (4C,)."""
    d = deltas(mfccs)
    return np.concatenate([mfccs.mean(0), mfccs.std(0), d.mean(0), d.std(0)])


def standardise_per_speaker(x: np.ndarray, speakers: Sequence[Hashable]) -> np.ndarray:
    """Standardise each speaker's vectors over that speaker's own utterances.

    Math (docs/evaluation.md, eq. B-1)::

        z_i = (x_i - mean_{j in S(i)} x_j) / max(std_{j in S(i)} x_j, 1e-8)

    where S(i) is the set of utterances of the speaker of utterance i. No label is used.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    speakers : sequence of N speaker ids

    Returns
    -------
    ndarray, shape (N, D), float64
    """
    x = np.asarray(x, dtype=np.float64)
    speakers = np.asarray(speakers)
    if x.ndim != 2 or speakers.shape != (x.shape[0],):
        raise ValueError(f"need x (N, D) and N speaker ids, got {x.shape} and {speakers.shape}")
    z = np.empty_like(x)
    for s in np.unique(speakers):
        rows = speakers == s
        z[rows] = (x[rows] - x[rows].mean(0)) / np.maximum(x[rows].std(0), _STD_FLOOR)  # eq. B-1
    return z


class KernelRidgeClassifier:
    """One-vs-rest kernel ridge regression with an RBF kernel, on standardised inputs.

    Math (docs/evaluation.md, eq. B-2)::

        z = (x - mu) / sigma                      (training mean and std)
        K[i, j] = exp(-gamma |z_i - z_j|^2),      gamma = 1 / D by default
        Y[i, k] = +1 if y_i = k else -1
        A = (K + alpha I)^-1 Y                    (N, K)
        score(x) = k(x, Z) A,   class = argmax_k score_k

    The closed-form cousin of the RBF support-vector machine (the squared loss in place of the
    hinge): no iterations, no random start, one linear solve of the N x N system.

    Parameters
    ----------
    alpha : float
        The ridge (> 0).
    gamma : float, optional
        The kernel's inverse squared width; default 1 / D.
    """

    def __init__(self, *, alpha: float = 1.0, gamma: float | None = None):
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.alpha, self.gamma = float(alpha), gamma

    def _kernel(self, a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-self.gamma_ * np.maximum(d2, 0.0))

    def fit(self, x: np.ndarray, y: np.ndarray, *, n_classes: int | None = None):
        x = np.asarray(x, float)
        y = np.asarray(y, int)
        k = int(y.max() + 1) if n_classes is None else n_classes
        self.mean_, self.std_ = x.mean(0), np.maximum(x.std(0), _STD_FLOOR)
        self.z_ = (x - self.mean_) / self.std_
        self.gamma_ = 1.0 / x.shape[1] if self.gamma is None else float(self.gamma)
        targets = 2.0 * np.eye(k)[y] - 1.0
        gram = self._kernel(self.z_, self.z_)
        self.coef_ = np.linalg.solve(gram + self.alpha * np.eye(len(gram)), targets)  # eq. B-2
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Scores (N, K); the predicted class has the largest."""
        z = (np.asarray(x, float) - self.mean_) / self.std_
        return self._kernel(z, self.z_) @ self.coef_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.decision_function(x).argmax(axis=1)


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
        self.mean_, self.std_ = x.mean(0), np.maximum(x.std(0), _STD_FLOOR)
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

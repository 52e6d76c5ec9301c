"""Classification metrics: accuracy, unweighted average recall (UAR), macro F1, confusion.

Shape letters (docs/conventions.md): N examples, K classes. Labels are integers 0 .. K-1.

UAR, the mean of the per-class recalls, is the headline metric of speech emotion recognition:
unlike accuracy it does not reward a model for favouring the most frequent class.
"""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "accuracy", "per_class_recall", "uar", "macro_f1"]


def _labels(y_true, y_pred, n_classes):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D shapes"
        )
    if y_true.size == 0:
        raise ValueError("metrics need at least one example")
    k = int(max(y_true.max(), y_pred.max()) + 1) if n_classes is None else int(n_classes)
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"labels must be integers in 0 .. {k - 1}")
    return y_true.astype(np.int64), y_pred.astype(np.int64), k


def confusion_matrix(y_true, y_pred, *, n_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of examples of true class i predicted as class j; shape (K, K), int64."""
    y_true, y_pred, k = _labels(y_true, y_pred, n_classes)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def accuracy(y_true, y_pred) -> float:
    """Fraction of examples predicted correctly: sum_i C[i, i] / N."""
    y_true, y_pred, _ = _labels(y_true, y_pred, None)
    return float(np.mean(y_true == y_pred))


def per_class_recall(y_true, y_pred, *, n_classes: int | None = None) -> np.ndarray:
    """recall_i = C[i, i] / sum_j C[i, j], shape (K,); NaN for a class with no examples."""
    # BEGIN SOLUTION ex=UAR
    c = confusion_matrix(y_true, y_pred, n_classes=n_classes)
    support = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(c) / support, np.nan)
    # END SOLUTION


def uar(y_true, y_pred, *, n_classes: int | None = None) -> float:
    """Unweighted average recall: the mean of recall_i over the classes present in y_true."""
    # BEGIN SOLUTION ex=UAR
    return float(np.nanmean(per_class_recall(y_true, y_pred, n_classes=n_classes)))
    # END SOLUTION


def macro_f1(y_true, y_pred, *, n_classes: int | None = None) -> float:
    """Mean over the classes in y_true of F1_i = 2 P_i R_i / (P_i + R_i), 0 where P_i + R_i = 0."""
    c = confusion_matrix(y_true, y_pred, n_classes=n_classes).astype(float)
    tp, support, predicted = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[support > 0].mean())

"""Accuracy, UAR, macro F1, per-class recall and the confusion matrix, checked by hand."""

import numpy as np
import pytest

from nn.metrics import accuracy, confusion_matrix, macro_f1, per_class_recall, uar

Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2]
Y_PRED = [0, 0, 0, 1, 1, 2, 2, 2]


def test_confusion_matrix_counts():
    np.testing.assert_array_equal(
        confusion_matrix(Y_TRUE, Y_PRED), [[3, 1, 0], [0, 1, 1], [0, 0, 2]]
    )


@pytest.mark.ex_UAR
def test_accuracy_recall_uar_f1_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(6 / 8)
    np.testing.assert_allclose(per_class_recall(Y_TRUE, Y_PRED), [3 / 4, 1 / 2, 1.0])
    assert uar(Y_TRUE, Y_PRED) == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    p = np.array([3 / 3, 1 / 2, 2 / 3])
    r = np.array([3 / 4, 1 / 2, 1.0])
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(np.mean(2 * p * r / (p + r)))


@pytest.mark.ex_UAR
def test_uar_is_not_fooled_by_the_majority_class():
    y_true = [0] * 90 + [1] * 10
    always_zero = [0] * 100
    assert accuracy(y_true, always_zero) == 0.9
    assert uar(y_true, always_zero) == 0.5


@pytest.mark.ex_UAR
def test_absent_class_is_nan_recall_and_left_out_of_uar():
    recall = per_class_recall([0, 0], [0, 1], n_classes=3)
    assert recall[0] == 0.5 and np.isnan(recall[1]) and np.isnan(recall[2])
    assert uar([0, 0], [0, 1], n_classes=3) == 0.5


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="0 .. 1"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="at least one"):
        uar([], [])

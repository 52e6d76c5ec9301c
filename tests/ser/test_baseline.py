"""The baseline: utterance statistics and softmax regression."""

import numpy as np
import pytest

from ser.baseline import SoftmaxRegression, utterance_statistics

pytestmark = pytest.mark.ch00_corpus


def test_utterance_statistics_shape_and_values(rng):
    m = rng.standard_normal((50, 13))
    s = utterance_statistics(m)
    assert s.shape == (52,)
    np.testing.assert_allclose(s[:13], m.mean(0))
    np.testing.assert_allclose(s[13:26], m.std(0))


def test_softmax_regression_separates_separable_classes(rng):
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + 0.5 * rng.standard_normal((120, 2))
    clf = SoftmaxRegression().fit(x, y)
    assert np.mean(clf.predict(x) == y) > 0.97
    p = clf.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_array_equal(clf.predict(x), SoftmaxRegression().fit(x, y).predict(x))


def test_per_speaker_standardisation_is_formula_b1_speaker_by_speaker(rng):
    from ser.baseline import standardise_per_speaker

    x = rng.standard_normal((9, 3)) * [1.0, 5.0, 0.1] + [0.0, 2.0, -1.0]
    speakers = ["a", "b", "a", "c", "b", "a", "c", "b", "c"]
    z = standardise_per_speaker(x, speakers)
    for s in "abc":
        rows = [i for i, t in enumerate(speakers) if t == s]
        want = (x[rows] - x[rows].mean(0)) / x[rows].std(0)
        np.testing.assert_allclose(z[rows], want, rtol=1e-12)
    shifted = x + np.where(np.array(speakers)[:, None] == "b", 7.0, 0.0)  # one voice moved
    np.testing.assert_allclose(standardise_per_speaker(shifted, speakers), z, atol=1e-12)
    with pytest.raises(ValueError, match="N speaker ids"):
        standardise_per_speaker(x, speakers[:-1])


def test_kernel_ridge_is_formula_b2_solved_by_hand(rng):
    from ser.baseline import KernelRidgeClassifier

    x = rng.standard_normal((12, 2))
    y = np.arange(12) % 3
    clf = KernelRidgeClassifier(alpha=0.5, gamma=0.7).fit(x, y)
    z = (x - x.mean(0)) / x.std(0)
    K = np.array([[np.exp(-0.7 * np.sum((a - b) ** 2)) for b in z] for a in z])
    A = np.linalg.solve(K + 0.5 * np.eye(12), 2.0 * np.eye(3)[y] - 1.0)
    xt = rng.standard_normal((4, 2))
    zt = (xt - x.mean(0)) / x.std(0)
    Kt = np.array([[np.exp(-0.7 * np.sum((a - b) ** 2)) for b in z] for a in zt])
    np.testing.assert_allclose(clf.decision_function(xt), Kt @ A, rtol=1e-10)


def test_kernel_ridge_separates_classes_a_line_cannot(rng):
    from ser.baseline import KernelRidgeClassifier

    r = np.r_[rng.uniform(0, 1, 100), rng.uniform(2, 3, 100)]  # a disc inside a ring
    t = rng.uniform(0, 2 * np.pi, 200)
    x = np.c_[r * np.cos(t), r * np.sin(t)]
    y = (r > 1.5).astype(int)
    assert np.mean(KernelRidgeClassifier().fit(x, y).predict(x) == y) > 0.97
    assert np.mean(SoftmaxRegression().fit(x, y).predict(x) == y) < 0.8  # linear: no ring
    with pytest.raises(ValueError, match="alpha must be > 0"):
        KernelRidgeClassifier(alpha=0.0)

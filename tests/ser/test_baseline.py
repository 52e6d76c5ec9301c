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

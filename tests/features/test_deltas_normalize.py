"""M9 regression deltas and M10 CMVN."""

import numpy as np
import pytest

from features import (
    CMVNStats,
    add_deltas,
    apply_cmvn_per_speaker,
    cmvn,
    deltas,
    fit_cmvn,
    fit_cmvn_per_speaker,
)

pytestmark = pytest.mark.ch01_mfcc


@pytest.mark.ex_M9
def test_deltas_formula_m9_as_a_loop_with_edge_replication(rng):
    c = rng.standard_normal((9, 3))
    N, T = 2, 9
    want = np.zeros_like(c)
    for t in range(T):
        for n in range(1, N + 1):
            ahead, behind = c[min(t + n, T - 1)], c[max(t - n, 0)]
            want[t] += n * (ahead - behind)
    want /= 2 * sum(n * n for n in range(1, N + 1))
    np.testing.assert_allclose(deltas(c, width=N), want, atol=1e-14)


@pytest.mark.ex_M9
def test_deltas_of_a_linear_ramp_equal_its_slope_in_the_interior():
    t = np.arange(20, dtype=float)[:, None]
    c = 0.7 * t + np.array([[1.0, -2.0]])
    d = deltas(c, width=2)
    np.testing.assert_allclose(d[2:-2], 0.7, atol=1e-13)


def test_deltas_match_python_speech_features():
    psf = pytest.importorskip("python_speech_features")
    c = np.random.default_rng(3).standard_normal((30, 13))
    np.testing.assert_allclose(deltas(c, width=2), psf.delta(c, 2), atol=1e-14)


def test_deltas_equal_librosa_savgol_in_the_interior_only():
    """Named convention test: librosa.feature.delta differs at the first and last N frames."""
    librosa = pytest.importorskip("librosa")
    c = np.random.default_rng(4).standard_normal((30, 5))
    theirs = librosa.feature.delta(c.T, width=5).T
    np.testing.assert_allclose(deltas(c, width=2)[2:-2], theirs[2:-2], atol=1e-12)


@pytest.mark.ex_M9
def test_add_deltas_stacks_39_features():
    out = add_deltas(np.ones((10, 13)))
    assert out.shape == (10, 39)
    np.testing.assert_array_equal(out[:, 13:], 0.0)  # a constant has no change


def test_deltas_reject_bad_input():
    with pytest.raises(ValueError, match="width"):
        deltas(np.ones((5, 2)), width=0)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        deltas(np.ones(5))


@pytest.mark.ex_M10
def test_cmvn_formula_m10(rng):
    x = 3.0 + 2.0 * rng.standard_normal((200, 4))
    y = cmvn(x)
    np.testing.assert_allclose(y, (x - x.mean(0)) / x.std(0), atol=1e-12)
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(0), 1.0, atol=1e-12)
    np.testing.assert_allclose(cmvn(x, variance=False), x - x.mean(0), atol=1e-12)


@pytest.mark.ex_M10
def test_cmvn_of_a_constant_coefficient_stays_finite():
    y = cmvn(np.ones((10, 3)))
    assert np.all(np.isfinite(y)) and np.all(y == 0.0)


@pytest.mark.ex_M10
def test_fitted_statistics_come_from_training_data_only(rng):
    train = [rng.standard_normal((50, 3)) + 5.0 for _ in range(4)]
    test = rng.standard_normal((50, 3)) - 5.0
    stats = fit_cmvn(train)
    pooled = np.concatenate(train)
    np.testing.assert_allclose(stats.mean, pooled.mean(0))
    assert stats.n_frames == 200
    # the test utterance is moved by the training mean, not centred on its own
    assert stats.apply(test).mean() < -5.0


def test_stats_round_trip_through_plain_arrays(rng):
    stats = fit_cmvn([rng.standard_normal((20, 3))])
    again = CMVNStats.from_dict(dict(stats.to_dict()))
    np.testing.assert_array_equal(again.mean, stats.mean)
    assert again.n_frames == stats.n_frames


@pytest.mark.ex_M10
def test_per_speaker_statistics_and_unknown_speaker(rng):
    feats = [rng.standard_normal((30, 2)) + s for s in (0.0, 0.0, 10.0)]
    stats = fit_cmvn_per_speaker(feats, ["a", "a", "b"])
    assert set(stats) == {"a", "b"}
    assert abs(apply_cmvn_per_speaker(feats[2], "b", stats).mean()) < 1e-12
    with pytest.raises(KeyError, match="no CMVN statistics for speaker 'c'"):
        apply_cmvn_per_speaker(feats[0], "c", stats)
    with pytest.raises(ValueError, match="3 utterances but 2 speaker labels"):
        fit_cmvn_per_speaker(feats, ["a", "b"])


def test_coefficient_count_mismatch_is_named(rng):
    stats = fit_cmvn([rng.standard_normal((5, 13))])
    with pytest.raises(ValueError, match="13 coefficients, features have 39"):
        stats.apply(np.ones((4, 39)))

"""Noise at a target SNR (eq. SNR)."""

import numpy as np
import pytest

from features import AudioError
from features.augment import add_noise, snr_db

pytestmark = pytest.mark.ch01_mfcc


def test_snr_formula_evaluated_by_hand():
    s, v = np.array([3.0, 4.0]), np.array([0.5, 0.0])
    assert snr_db(s, v) == pytest.approx(10 * np.log10(25 / 0.25))


@pytest.mark.parametrize("target", [-5.0, 0.0, 10.0, 30.0])
def test_added_noise_has_the_requested_snr(rng, target):
    y = np.sin(np.arange(8000) / 7.0)
    noisy = add_noise(y, snr=target, rng=rng)
    assert snr_db(y, noisy - y) == pytest.approx(target, abs=1e-9)


def test_a_short_noise_recording_is_looped_and_the_input_is_untouched(rng):
    y = np.sin(np.arange(5000) / 5.0)
    before = y.copy()
    noisy = add_noise(y, snr=6.0, rng=rng, noise=rng.standard_normal(700))
    assert noisy.shape == y.shape
    assert snr_db(y, noisy - y) == pytest.approx(6.0, abs=1e-9)
    np.testing.assert_array_equal(y, before)


def test_same_generator_state_same_noise():
    y = np.ones(100)
    a = add_noise(y, snr=3.0, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, add_noise(y, snr=3.0, rng=np.random.default_rng(5)))


def test_silence_cannot_have_an_snr(rng):
    with pytest.raises(AudioError, match="silent"):
        add_noise(np.zeros(100), snr=10.0, rng=rng)

"""The synthetic voice: deterministic, finite, the f0 it was asked for, emotions that differ."""

import numpy as np
import pytest

from features import mfcc
from ser.corpus.synth import EMOTIONS, synthesize_utterance
from ser.corpus.voice import SpeakerVoice

pytestmark = pytest.mark.ch00_corpus


def test_same_seed_same_samples_other_seed_other_samples():
    a = synthesize_utterance(seed=3, duration=0.8)
    np.testing.assert_array_equal(a, synthesize_utterance(seed=3, duration=0.8))
    assert not np.array_equal(a, synthesize_utterance(seed=4, duration=0.8))


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_every_emotion_is_finite_below_full_scale_and_has_mfccs(emotion):
    y = synthesize_utterance(emotion=emotion, seed=0, duration=1.0, variation=0.2)
    assert y.shape == (16000,) and np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1.0
    assert np.all(np.isfinite(mfcc(y, sr=16000)))


def test_voiced_f0_follows_the_speaker_and_the_emotion():
    low = SpeakerVoice(f0_hz=100.0)
    high = SpeakerVoice(f0_hz=200.0, formant_scale=1.15)
    _, f0_low = synthesize_utterance(speaker=low, seed=1, return_f0=True)
    _, f0_high = synthesize_utterance(speaker=high, seed=1, return_f0=True)
    assert 85 < np.median(f0_low[f0_low > 0]) < 120
    assert 170 < np.median(f0_high[f0_high > 0]) < 240
    _, f0_fear = synthesize_utterance(emotion="fearful", speaker=low, seed=1, return_f0=True)
    assert np.median(f0_fear[f0_fear > 0]) > 1.3 * np.median(f0_low[f0_low > 0])


def test_the_measured_pitch_is_the_f0_that_was_synthesised():
    """Autocorrelation of a voiced stretch peaks at the glottal period 1 / f0."""
    sr = 16000
    y, f0 = synthesize_utterance(speaker=SpeakerVoice(f0_hz=150.0), seed=2, return_f0=True)
    fully_voiced = np.convolve(f0 > 0, np.ones(640), "valid") == 640  # 40 ms all voiced
    start = int(np.flatnonzero(fully_voiced)[0])
    seg = y[start : start + 640]
    ac = np.correlate(seg, seg, "full")[len(seg) - 1 :]
    lag = 40 + np.argmax(ac[40:320])  # search 50 .. 400 Hz
    assert sr / lag == pytest.approx(np.median(f0[start : start + 640]), rel=0.1)


def test_angry_is_louder_than_sad():
    rms = {
        e: np.sqrt(np.mean(synthesize_utterance(emotion=e, seed=5) ** 2)) for e in ("angry", "sad")
    }
    assert 20 * np.log10(rms["angry"] / rms["sad"]) > 6.0


def test_unknown_emotion_is_named():
    with pytest.raises(ValueError, match="unknown emotion 'bored'"):
        synthesize_utterance(emotion="bored")


def test_v3_resonator_peaks_at_its_centre_frequency_with_unit_gain_at_zero_hz():
    from ser.corpus.voice import _formant_cascade

    sr, n = 16000, 8192
    impulse = np.zeros(n)
    impulse[0] = 1.0
    for centre in (500.0, 1500.0, 3000.0):
        freqs = np.full((n, 1), centre)
        h = _formant_cascade(impulse, freqs, np.full((n, 1), 80.0), float(sr))
        spectrum = np.abs(np.fft.rfft(h))
        peak_hz = np.argmax(spectrum) * sr / n
        assert peak_hz == pytest.approx(centre, abs=15.0)
        assert spectrum[0] == pytest.approx(1.0, rel=1e-6)  # g = 1 - 2 r cos(theta) + r^2


def test_v4_formant_targets_scale_with_the_tract_and_undershoot_towards_schwa():
    from ser.corpus.voice import VOWELS, vowel_formants

    np.testing.assert_allclose(vowel_formants("i"), VOWELS["i"])
    np.testing.assert_allclose(
        vowel_formants("i", formant_scale=1.15), 1.15 * np.array(VOWELS["i"])
    )
    np.testing.assert_allclose(vowel_formants("i", articulation=0.0), VOWELS["er"])
    half = vowel_formants("a", articulation=0.5)
    np.testing.assert_allclose(half, (np.array(VOWELS["a"]) + VOWELS["er"]) / 2)


@pytest.mark.kernels
def test_v3_cascade_kernel_equals_scipy_lfilter_for_fixed_formants(rng):
    """The Numba cascade against an independent reference: with constant coefficients each
    resonator is lfilter([g], [1, -2 r cos(theta), r^2])."""
    from scipy.signal import lfilter

    from ser.corpus.voice import _formant_cascade

    sr, n = 16000, 2000
    x = rng.standard_normal(n)
    centres, widths = np.array([500.0, 1500.0, 2500.0]), np.array([80.0, 100.0, 140.0])
    got = _formant_cascade(x, np.tile(centres, (n, 1)), np.tile(widths, (n, 1)), float(sr))
    want = x.copy()
    for f, bw in zip(centres, widths, strict=True):
        r, c = np.exp(-np.pi * bw / sr), 2 * np.exp(-np.pi * bw / sr) * np.cos(2 * np.pi * f / sr)
        want = lfilter([1 - c + r * r], [1.0, -c, r * r], want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)

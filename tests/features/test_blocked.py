"""The blocked, threaded twin of M1-M5 equals the readable full-matrix path."""

import numpy as np
import pytest

import features.blocked as blocked
from features import log_mel, mfcc

pytestmark = [pytest.mark.ch01_mfcc, pytest.mark.kernels]


@pytest.mark.parametrize("preset", ["default", "librosa", "python_speech_features"])
@pytest.mark.parametrize("seconds", [0.3, 1.0, 7.0])  # < 1 block, 1 block, several blocks
def test_fast_path_equals_the_steps_path(preset, seconds, rng):
    y = 0.1 * rng.standard_normal(int(16000 * seconds))
    fast = mfcc(y, sr=16000, preset=preset)
    readable, steps = mfcc(y, sr=16000, preset=preset, return_steps=True)
    assert fast.shape == readable.shape and fast.dtype == np.float64
    np.testing.assert_allclose(fast, readable, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_mel(y, sr=16000, preset=preset), steps.log_mel, atol=1e-10)


def test_magnitude_spectrum_path(rng):
    y = 0.1 * rng.standard_normal(16000)
    fast = mfcc(y, sr=16000, spectrum="magnitude")
    readable, _ = mfcc(y, sr=16000, spectrum="magnitude", return_steps=True)
    np.testing.assert_allclose(fast, readable, rtol=1e-10, atol=1e-10)


def test_the_result_does_not_depend_on_the_number_of_threads(rng, monkeypatch):
    y = 0.1 * rng.standard_normal(16000 * 8)
    two = mfcc(y, sr=16000)
    monkeypatch.setattr(blocked, "_n_threads", lambda: 1)
    np.testing.assert_array_equal(mfcc(y, sr=16000), two)


def test_n_fft_below_frame_length_is_refused(rng):
    with pytest.raises(ValueError, match="silently crop"):
        blocked.mel_energies_blocked(
            rng.standard_normal((4, 400)), np.ones(400), np.ones((3, 129)), n_fft=256
        )


def test_blocked_dct_equals_the_matrix_dct(rng):
    from features import dct, dct_matrix

    L = rng.standard_normal((200, 40))
    got = blocked.dct_blocked(L, dct_matrix(40, n_out=13))
    np.testing.assert_allclose(got, dct(L, n_out=13), rtol=1e-12, atol=1e-12)


def test_mfcc_batch_equals_mfcc_clip_by_clip(rng):
    from features import mfcc_batch

    clips = [0.1 * rng.standard_normal(n) for n in (4000, 16000, 48000, 9000)]
    batch = mfcc_batch(clips, sr=16000, preset="librosa")
    assert len(batch) == len(clips)
    for got, y in zip(batch, clips, strict=True):
        np.testing.assert_allclose(got, mfcc(y, sr=16000, preset="librosa"), rtol=1e-12, atol=1e-12)


def test_mfcc_batch_names_the_bad_signal():
    from features import AudioError, mfcc_batch

    with pytest.raises(AudioError, match="signal 1: signal: 100 samples is shorter"):
        mfcc_batch([np.ones(16000), np.ones(100)], sr=16000)


def test_log_mel_batch_equals_log_mel_clip_by_clip(rng):
    from features import AudioError, log_mel, log_mel_batch

    clips = [0.1 * rng.standard_normal(n) for n in (4000, 16000, 9000)]
    batch = log_mel_batch(clips, sr=16000, n_mels=64)
    assert [b.shape for b in batch] == [log_mel(y, sr=16000, n_mels=64).shape for y in clips]
    for got, y in zip(batch, clips, strict=True):
        np.testing.assert_allclose(got, log_mel(y, sr=16000, n_mels=64), rtol=1e-12, atol=1e-12)
    with pytest.raises(AudioError, match="signal 1: "):
        log_mel_batch([np.ones(16000), np.ones(100)], sr=16000)

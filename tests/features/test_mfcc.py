"""The MFCC pipeline (M1-M8): config, presets, steps, bad input, parity with the references."""

import numpy as np
import pytest
import scipy.fft

from features import (
    AudioError,
    MFCCConfig,
    dct,
    frame_signal,
    get_window,
    lifter,
    log_mel,
    mel_filterbank,
    mfcc,
    preemphasis,
    preset_config,
    spectrogram,
)

pytestmark = pytest.mark.ch01_mfcc


def test_default_preset_is_the_documented_course_convention():
    c = preset_config("default", sr=16000)
    assert c == MFCCConfig()
    assert (c.win_length, c.hop_length, c.n_fft) == (400, 160, 512)  # 25 ms, 10 ms at 16 kHz
    assert (c.window, c.window_periodic, c.preemphasis) == ("hamming", False, 0.97)
    assert (c.n_mels, c.mel_scale, c.mel_norm, c.log) == (40, "htk", None, "ln")
    assert (c.dct_norm, c.n_mfcc, c.lifter, c.center) == ("ortho", 13, 22.0, False)


def test_default_preset_at_another_rate_keeps_25_ms_and_10_ms():
    c = preset_config("default", sr=22050)
    assert (c.win_length, c.hop_length, c.n_fft) == (551, 220, 1024)


def test_mfcc_equals_the_pipeline_written_out_step_by_step(speechlike):
    """Each step evaluated independently, in the order of the formulas M1-M8."""
    sr = 16000
    e = preemphasis(speechlike, coeff=0.97)  # M1
    frames = frame_signal(e, win_length=400, hop_length=160) * get_window("hamming", 400)  # M2
    P = np.abs(np.fft.rfft(frames, n=512)) ** 2 / 512  # M3
    E = P @ mel_filterbank(sr=sr, n_fft=512, n_mels=40).T  # M5
    G = np.log(np.maximum(E, 1e-10))  # M6
    c = scipy.fft.dct(G, type=2, norm="ortho", axis=1)[:, :13]  # M7
    want = c * (1 + 11 * np.sin(np.pi * np.arange(13) / 22))  # M8
    np.testing.assert_allclose(mfcc(speechlike, sr=sr), want, rtol=1e-10, atol=1e-10)


def test_shapes_and_dtype(speechlike):
    feats = mfcc(speechlike, sr=16000)
    assert feats.shape == (1 + (16000 - 400) // 160, 13) and feats.dtype == np.float64
    assert log_mel(speechlike, sr=16000).shape == (feats.shape[0], 40)
    assert spectrogram(speechlike, sr=16000).shape == (feats.shape[0], 257)


def test_return_steps_gives_every_intermediate_array(speechlike):
    feats, steps = mfcc(speechlike, sr=16000, return_steps=True)
    T = feats.shape[0]
    assert steps.signal.shape == steps.emphasized.shape == (16000,)
    assert steps.frames.shape == steps.windowed.shape == (T, 400)
    assert steps.window.shape == (400,)
    assert steps.spectrum.shape == (T, 257) and steps.filterbank.shape == (40, 257)
    assert steps.mel_energies.shape == steps.log_mel.shape == (T, 40)
    assert steps.cepstra.shape == (T, 13)
    np.testing.assert_array_equal(steps.mfcc, feats)
    np.testing.assert_allclose(steps.windowed, steps.frames * steps.window)
    np.testing.assert_allclose(steps.mel_energies, steps.spectrum @ steps.filterbank.T)
    np.testing.assert_allclose(steps.cepstra, dct(steps.log_mel, n_out=13))
    np.testing.assert_allclose(feats, lifter(steps.cepstra, lifter=22))


def test_overrides_change_one_field(speechlike):
    assert mfcc(speechlike, sr=16000, n_mfcc=20, n_mels=26).shape[1] == 20
    with pytest.raises(TypeError, match="no field"):
        mfcc(speechlike, sr=16000, n_mfccs=20)


def test_silence_gives_finite_features_never_nan():
    for preset in ("default", "librosa", "python_speech_features"):
        feats = mfcc(np.zeros(16000), sr=16000, preset=preset)
        assert np.all(np.isfinite(feats)), preset


def test_bad_signals_give_clear_errors():
    with pytest.raises(AudioError, match="zero samples"):
        mfcc(np.zeros(0), sr=16000)
    with pytest.raises(AudioError, match="NaN or Inf"):
        mfcc(np.full(16000, np.inf), sr=16000)
    with pytest.raises(AudioError, match=r"one channel .* down-mix"):
        mfcc(np.zeros((16000, 2)), sr=16000)
    with pytest.raises(AudioError, match="shorter than one analysis frame of 400 samples"):
        mfcc(np.ones(399), sr=16000)


def test_wrong_sample_rate_for_an_explicit_config_is_refused(speechlike):
    with pytest.raises(AudioError, match="sample rate 8000 Hz does not match .* 16000 Hz"):
        mfcc(speechlike, sr=8000, config=MFCCConfig())


def test_config_is_frozen_validated_and_round_trips():
    c = MFCCConfig()
    with pytest.raises(AttributeError):
        c.n_mfcc = 20
    with pytest.raises(ValueError, match=r"n_fft \(256\) is smaller than win_length \(400\)"):
        MFCCConfig(n_fft=256)
    with pytest.raises(ValueError, match="top_db needs log='db'"):
        MFCCConfig(top_db=80.0)
    assert MFCCConfig.from_dict(preset_config("librosa").to_dict()) == preset_config("librosa")
    with pytest.raises(TypeError, match="no field"):
        MFCCConfig.from_dict({"n_mfccs": 3})


def test_unknown_preset_and_both_config_and_preset():
    with pytest.raises(ValueError, match="unknown MFCC preset 'htk'"):
        preset_config("htk")
    with pytest.raises(ValueError, match="either config= or preset="):
        mfcc(np.ones(1000), sr=16000, config=MFCCConfig(), preset="default")


def test_python_speech_features_preset_refuses_its_silent_crop_at_22050_hz():
    """psf's 551-sample window does not fit its 512-point FFT at 22.05 kHz; psf crops it."""
    with pytest.raises(ValueError, match=r"n_fft \(512\) is smaller than win_length \(551\)"):
        mfcc(np.ones(22050), sr=22050, preset="python_speech_features")
    assert (
        mfcc(np.ones(22050), sr=22050, preset="python_speech_features", n_fft=1024).shape[1] == 13
    )


# ---- named convention tests: what makes the libraries differ, one test each -----------------


def test_convention_center_padding_adds_frames(speechlike):
    plain = mfcc(speechlike, sr=16000)
    centred = mfcc(speechlike, sr=16000, center=True)
    assert plain.shape[0] == 98 and centred.shape[0] == 101  # 1 + 15600 // 160 vs 1 + 16000 // 160


def test_convention_periodic_window_changes_the_features(speechlike):
    sym = mfcc(speechlike, sr=16000)
    per = mfcc(speechlike, sr=16000, window_periodic=True)
    assert 1e-6 < np.max(np.abs(sym - per)) < 1.0  # a small but real difference


def test_convention_filter_normalisation_shifts_log_mel_by_a_per_band_constant(speechlike):
    a = log_mel(speechlike, sr=16000)
    b = log_mel(speechlike, sr=16000, mel_norm="slaney")
    shift = b - a  # ln(area weight) of each band, the same in every frame
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-9)
    assert np.ptp(shift[0]) > 0.5


def test_convention_db_instead_of_ln_scales_cepstra_by_10_over_ln10(speechlike):
    ln = mfcc(speechlike, sr=16000, lifter=0)
    db = mfcc(speechlike, sr=16000, lifter=0, log="db")
    np.testing.assert_allclose(db, 10 / np.log(10) * ln, rtol=1e-9, atol=1e-9)


def test_convention_librosa_80_db_floor_is_relative_to_the_peak():
    t = np.arange(16000) / 16000
    y = np.where(t < 0.5, 0.5 * np.sin(2 * np.pi * 300 * t), 1e-7 * np.sin(2 * np.pi * 300 * t))
    L = log_mel(y, sr=16000, preset="librosa")
    assert L.min() == pytest.approx(L.max() - 80.0)


def test_convention_energy_c0_replaces_c0_with_log_frame_energy(speechlike):
    feats, steps = mfcc(speechlike, sr=16000, energy_c0=True, return_steps=True)
    np.testing.assert_allclose(feats[:, 0], np.log(steps.spectrum.sum(axis=1)))


# ---- parity with the reference libraries (skipped when they are not installed) -------------


@pytest.mark.parity
@pytest.mark.parametrize("sr", [16000, 22050])
def test_librosa_preset_matches_librosa_mfcc(speechlike, sr):
    librosa = pytest.importorskip("librosa")
    theirs = librosa.feature.mfcc(y=speechlike, sr=sr).T
    mine = mfcc(speechlike, sr=sr, preset="librosa")
    assert mine.shape == theirs.shape
    assert np.max(np.abs(mine - theirs)) <= 1e-3


@pytest.mark.parity
def test_python_speech_features_preset_matches_psf_mfcc(speechlike):
    psf = pytest.importorskip("python_speech_features")
    theirs = psf.mfcc(speechlike, samplerate=16000)
    mine = mfcc(speechlike, sr=16000, preset="python_speech_features")
    assert mine.shape == theirs.shape
    rel = np.max(np.abs(mine - theirs) / np.maximum(np.abs(theirs), 1e-12))
    assert rel <= 1e-8


@pytest.mark.parity
def test_default_preset_matches_librosa_with_every_convention_aligned(speechlike):
    """The course default, rebuilt from librosa parts with each convention set explicitly."""
    librosa = pytest.importorskip("librosa")
    # librosa centres the 400-sample window inside each 512-sample frame, so its frame m reads
    # samples 56 .. 455 of y[m H:]; 56 leading zeros make that our frame m, samples 0 .. 399.
    y = np.concatenate([np.zeros(56), preemphasis(speechlike, coeff=0.97)])
    S = (
        librosa.feature.melspectrogram(
            y=y,
            sr=16000,
            n_fft=512,
            hop_length=160,
            win_length=400,
            center=False,
            window=np.hamming(400),
            power=2.0,
            n_mels=40,
            htk=True,
            norm=None,
            dtype=np.float64,
        )
        / 512
    )
    M = scipy.fft.dct(np.log(np.maximum(S, 1e-10)), type=2, norm="ortho", axis=0)[:13]
    want = (M * (1 + 11 * np.sin(np.pi * np.arange(13) / 22))[:, None]).T
    np.testing.assert_allclose(mfcc(speechlike, sr=16000), want, rtol=1e-9, atol=1e-9)

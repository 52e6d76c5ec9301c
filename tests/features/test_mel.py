"""M4 mel scales and M5 the triangular filterbank."""

import numpy as np
import pytest

from features import hz_to_mel, mel_filterbank, mel_to_hz

pytestmark = pytest.mark.ch01_mfcc


@pytest.mark.ex_M4
def test_htk_mel_formula_pointwise():
    for f in (0.0, 300.0, 1000.0, 7999.0):
        assert hz_to_mel(f) == pytest.approx(2595.0 * np.log10(1.0 + f / 700.0), rel=1e-15)
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.05)  # the scale's anchor point


@pytest.mark.ex_M4
def test_slaney_mel_is_linear_below_1khz_and_logarithmic_above():
    assert hz_to_mel(600.0, scale="slaney") == pytest.approx(600.0 * 3 / 200)
    assert hz_to_mel(1000.0, scale="slaney") == pytest.approx(15.0)
    # 27 mel steps per factor 6.4 above the break
    assert hz_to_mel(6400.0, scale="slaney") == pytest.approx(15.0 + 27.0)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
@pytest.mark.ex_M4
def test_mel_to_hz_inverts_hz_to_mel(scale):
    f = np.linspace(0.0, 11025.0, 97)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f, scale=scale), scale=scale), f, atol=1e-8)


@pytest.mark.ex_M5
def test_filterbank_shape_non_negative_and_htk_peak_one():
    fb = mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    assert fb.shape == (40, 257)
    assert fb.min() >= 0.0
    assert fb.max() <= 1.0 + 1e-12
    assert np.all(fb.max(axis=1) > 0.5)  # every triangle reaches near its peak on some bin


@pytest.mark.ex_M5
def test_filterbank_formula_m5_evaluated_for_one_bin():
    sr, n_fft, n_mels = 16000, 512, 10
    fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    j, k = 4, 40  # filter j (0-based) is the triangle e_j, e_{j+1}, e_{j+2}
    f = k * sr / n_fft
    lo, c, hi = edges[j], edges[j + 1], edges[j + 2]
    want = (f - lo) / (c - lo) if f <= c else (hi - f) / (hi - c)
    assert fb[j, k] == pytest.approx(max(0.0, want), abs=1e-14)


@pytest.mark.ex_M5
def test_neighbouring_triangles_sum_to_one_between_first_and_last_centre():
    sr, n_fft, n_mels = 16000, 1024, 20
    fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    bin_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    inside = (bin_hz >= edges[1]) & (bin_hz <= edges[-2])
    np.testing.assert_allclose(fb[:, inside].sum(axis=0), 1.0, atol=1e-12)


@pytest.mark.ex_M5
def test_a_tone_lands_in_the_band_whose_centre_is_nearest():
    sr, n_fft, n_mels = 16000, 512, 26
    fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    tone_hz = 1000.0
    bin_k = int(round(tone_hz * n_fft / sr))
    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))[1:-1]
    assert np.argmax(fb[:, bin_k]) == np.argmin(np.abs(centres - tone_hz))


@pytest.mark.ex_M5
def test_slaney_norm_gives_each_triangle_unit_area_in_hz():
    sr, n_fft = 16000, 4096
    fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=20, scale="slaney", norm="slaney")
    area = fb.sum(axis=1) * sr / n_fft  # Riemann sum over bins of width sr / n_fft
    np.testing.assert_allclose(area, 1.0, rtol=0.02)


def test_too_many_mels_fails_loudly_instead_of_returning_empty_filters():
    with pytest.raises(ValueError, match="cover no FFT bin"):
        mel_filterbank(sr=16000, n_fft=128, n_mels=80)


def test_snapped_filters_fail_loudly_where_python_speech_features_returns_zeros():
    # psf's get_filterbanks(nfilt=64, nfft=256) has empty low rows; here that is an error
    with pytest.raises(ValueError, match="cover no FFT bin"):
        mel_filterbank(sr=16000, n_fft=256, n_mels=64, snap_to_bins=True)


def test_snap_to_bins_puts_every_edge_on_an_fft_bin():
    """Named convention test: python_speech_features draws triangles on integer bin indices."""
    sr, n_fft, n_mels = 16000, 512, 26
    fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, snap_to_bins=True)
    edges = np.floor((n_fft + 1) * mel_to_hz(np.linspace(0, hz_to_mel(sr / 2), n_mels + 2)) / sr)
    for j in range(n_mels):
        assert fb[j, int(edges[j + 1])] == 1.0  # the peak sits exactly on the centre bin
        assert fb[j, int(edges[j])] == 0.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(sr=16000, n_fft=512, n_mels=10, fmax=9000.0)
    with pytest.raises(ValueError, match="unknown mel scale"):
        mel_filterbank(sr=16000, n_fft=512, n_mels=10, scale="bark")
    with pytest.raises(ValueError, match="norm"):
        mel_filterbank(sr=16000, n_fft=512, n_mels=10, norm="l2")


def test_filterbank_is_cached_and_read_only():
    fb = mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    assert fb is mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    with pytest.raises(ValueError):
        fb[0, 0] = 1.0


def test_matches_librosa_htk_unnormalised():
    librosa = pytest.importorskip("librosa")
    mine = mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    theirs = librosa.filters.mel(
        sr=16000, n_fft=512, n_mels=40, htk=True, norm=None, dtype=np.float64
    )
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_matches_librosa_default_slaney_scale_and_norm():
    librosa = pytest.importorskip("librosa")
    mine = mel_filterbank(sr=22050, n_fft=2048, n_mels=128, scale="slaney", norm="slaney")
    theirs = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128, dtype=np.float64)
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_matches_python_speech_features_snapped_filterbank():
    psf = pytest.importorskip("python_speech_features")
    mine = mel_filterbank(sr=16000, n_fft=512, n_mels=26, snap_to_bins=True)
    np.testing.assert_allclose(mine, psf.get_filterbanks(26, 512, 16000), rtol=0, atol=0)

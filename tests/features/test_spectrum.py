"""M3: DFT by definition, the radix-2 FFT teaching twin, STFT and power spectrum."""

import numpy as np
import pytest

from features import dft, dft_matrix, fft_radix2, magnitude_spectrum, power_spectrum, stft

pytestmark = pytest.mark.ch01_mfcc


def test_dft_matrix_is_the_definition_evaluated_entry_by_entry():
    n = 8
    F = dft_matrix(n)
    for k in range(n):
        for m in range(n):
            assert F[k, m] == pytest.approx(np.exp(-2j * np.pi * k * m / n), abs=1e-14)


@pytest.mark.parametrize("n", [1, 2, 7, 16, 30])
def test_dft_equals_numpy_fft(rng, n):
    x = rng.standard_normal((3, n)) + 1j * rng.standard_normal((3, n))
    np.testing.assert_allclose(dft(x), np.fft.fft(x, axis=-1), atol=1e-12)


@pytest.mark.kernels
@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 512])
def test_radix2_fft_twin_equals_numpy_fft(rng, n):
    x = rng.standard_normal((4, n))
    got = fft_radix2(x)
    want = np.fft.fft(x, axis=-1)
    assert got.shape == want.shape and got.dtype == np.complex128
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.kernels
def test_radix2_fft_of_complex_input_and_of_an_impulse(rng):
    z = rng.standard_normal(32) + 1j * rng.standard_normal(32)
    np.testing.assert_allclose(fft_radix2(z), np.fft.fft(z), rtol=1e-10, atol=1e-10)
    impulse = np.zeros(16)
    impulse[0] = 1.0
    np.testing.assert_allclose(fft_radix2(impulse), np.ones(16), atol=1e-15)


@pytest.mark.kernels
def test_radix2_fft_does_not_mutate_and_rejects_other_lengths(rng):
    x = rng.standard_normal(8) + 0j
    before = x.copy()
    fft_radix2(x)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(ValueError, match="power-of-two length, got 12"):
        fft_radix2(np.ones(12))


def test_stft_zero_pads_frames_to_n_fft(rng):
    frames = rng.standard_normal((5, 400))
    got = stft(frames, n_fft=512)
    assert got.shape == (5, 257)
    np.testing.assert_allclose(got, np.fft.rfft(frames, n=512, axis=-1), atol=1e-11)


def test_n_fft_smaller_than_the_frame_is_an_error_not_a_silent_crop(rng):
    with pytest.raises(ValueError, match=r"n_fft \(256\) is smaller than the frame length \(400\)"):
        stft(rng.standard_normal((2, 400)), n_fft=256)


@pytest.mark.ex_M3
def test_power_spectrum_scales(rng):
    frames = rng.standard_normal((3, 64))
    raw = np.abs(np.fft.rfft(frames, n=128)) ** 2
    np.testing.assert_allclose(power_spectrum(frames, n_fft=128, scale="none"), raw, rtol=1e-12)
    np.testing.assert_allclose(power_spectrum(frames, n_fft=128), raw / 128, rtol=1e-12)
    np.testing.assert_allclose(magnitude_spectrum(frames, n_fft=128), np.sqrt(raw), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown spectrum scale"):
        power_spectrum(frames, n_fft=128, scale="db")


@pytest.mark.ex_M3
def test_a_tone_on_a_bin_puts_its_power_in_that_bin():
    n_fft, k0 = 256, 20
    frame = np.cos(2 * np.pi * k0 * np.arange(n_fft) / n_fft)[None, :]
    p = power_spectrum(frame, n_fft=n_fft, scale="none")[0]
    assert np.argmax(p) == k0
    assert p[k0] == pytest.approx((n_fft / 2) ** 2)  # |X[k0]| = N/2 for a unit cosine

"""M1 pre-emphasis, M2 framing and windows."""

import numpy as np
import pytest
import scipy.signal

from features import AudioError, frame_signal, get_window, n_frames, preemphasis

pytestmark = pytest.mark.ch01_mfcc


@pytest.mark.ex_M1
def test_preemphasis_matches_the_formula_as_a_loop(rng):
    x = rng.standard_normal(50)
    want = np.empty_like(x)
    want[0] = x[0]
    for n in range(1, len(x)):  # eq. M1, one sample at a time
        want[n] = x[n] - 0.97 * x[n - 1]
    np.testing.assert_allclose(preemphasis(x, coeff=0.97), want, rtol=0, atol=1e-15)


@pytest.mark.ex_M1
def test_preemphasis_equals_scipy_lfilter(rng):
    x = rng.standard_normal(200)
    want = scipy.signal.lfilter([1.0, -0.95], [1.0], x)
    np.testing.assert_allclose(preemphasis(x, coeff=0.95), want, atol=1e-14)


@pytest.mark.ex_M1
def test_preemphasis_does_not_mutate_input(rng):
    x = rng.standard_normal(10)
    before = x.copy()
    preemphasis(x, coeff=0.97)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "n_samples, win, hop", [(400, 400, 160), (16000, 400, 160), (999, 256, 100)]
)
@pytest.mark.ex_M2
def test_frame_count_formula_and_frame_contents(n_samples, win, hop):
    y = np.arange(n_samples, dtype=float)
    frames = frame_signal(y, win_length=win, hop_length=hop)
    assert frames.shape == (1 + (n_samples - win) // hop, win)  # eq. M2-count
    assert frames.shape[0] == n_frames(n_samples, win_length=win, hop_length=hop)
    for m in (0, frames.shape[0] - 1):
        np.testing.assert_array_equal(frames[m], y[m * hop : m * hop + win])  # eq. M2


@pytest.mark.ex_M2
def test_pad_end_keeps_the_partial_last_frame_zero_padded():
    y = np.ones(1000)
    frames = frame_signal(y, win_length=400, hop_length=160, pad_end=True)
    assert frames.shape[0] == 1 + int(np.ceil((1000 - 400) / 160))  # 5, psf's count
    assert frames[-1, -1] == 0.0 and frames[-1, 0] == 1.0


@pytest.mark.ex_M2
def test_center_pads_half_a_window_so_frame_m_is_centred_on_sample_m_hop():
    y = np.arange(1000, dtype=float)
    frames = frame_signal(y, win_length=400, hop_length=160, center=True)
    assert frames.shape[0] == 1 + 1000 // 160  # librosa's count for center=True
    assert frames[0, 200] == y[0]  # the centre of frame 0 is sample 0
    assert frames[3, 200] == y[3 * 160]


def test_clip_shorter_than_one_frame_names_both_lengths():
    with pytest.raises(AudioError, match=r"300 samples .* 400 samples \(25 ms at 16000 Hz\)"):
        frame_signal(np.ones(300), win_length=400, hop_length=160, sr=16000)


@pytest.mark.ex_M2
def test_frames_are_a_copy_not_a_view():
    y = np.zeros(1000)
    frames = frame_signal(y, win_length=400, hop_length=160)
    frames[0, 0] = 1.0
    assert y[0] == 0.0


@pytest.mark.parametrize("name, numpy_fn", [("hamming", np.hamming), ("hann", np.hanning)])
@pytest.mark.ex_M2
def test_symmetric_windows_equal_numpy(name, numpy_fn):
    np.testing.assert_allclose(get_window(name, 400), numpy_fn(400), atol=1e-15)


@pytest.mark.parametrize("name", ["hamming", "hann"])
@pytest.mark.ex_M2
def test_periodic_windows_equal_scipy_fftbins(name):
    want = scipy.signal.get_window(name, 512, fftbins=True)
    np.testing.assert_allclose(get_window(name, 512, periodic=True), want, atol=1e-15)


@pytest.mark.ex_M2
def test_periodic_window_is_the_symmetric_one_of_length_plus_one_without_its_last_sample():
    np.testing.assert_allclose(
        get_window("hann", 64, periodic=True), get_window("hann", 65)[:-1], atol=1e-15
    )


@pytest.mark.ex_M2
def test_hamming_formula_m2_evaluated_pointwise():
    L = 25
    w = get_window("hamming", L)
    for n in range(L):
        assert w[n] == pytest.approx(0.54 - 0.46 * np.cos(2 * np.pi * n / (L - 1)), abs=1e-15)


def test_rectangular_window_and_unknown_name():
    np.testing.assert_array_equal(get_window("rectangular", 7), np.ones(7))
    with pytest.raises(ValueError, match="unknown window 'blackman'"):
        get_window("blackman", 7)

"""Noise at a target SNR (eq. SNR), speed, gain, random SNR and SpecAugment (AUG-1..AUG-4)."""

import numpy as np
import pytest

from features import AudioError
from features.augment import (
    add_noise,
    add_noise_random_snr,
    babble_noise,
    gain,
    loop_to_length,
    mix_at_snr,
    pink_noise,
    random_gain,
    snr_db,
    spec_augment,
    speed_perturb,
    white_noise,
)

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


# --- speed perturbation (AUG-1) ---------------------------------------------------------------


def peak_hz(y, sr=16000):
    """The frequency of the largest peak of a Hann-windowed, heavily zero-padded spectrum."""
    n_fft = 1 << 20
    return np.argmax(np.abs(np.fft.rfft(y * np.hanning(y.size), n=n_fft))) * sr / n_fft


@pytest.mark.parametrize("factor", [1.1, 0.9, 1.05])
def test_speed_perturb_moves_a_tone_by_the_factor_and_shortens_it(factor):
    y = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)  # 1 s of 200 Hz
    out = speed_perturb(y, factor=factor)
    assert abs(out.size - round(16000 / factor)) <= 1  # S_out = ceil(S q / p)
    assert peak_hz(out) == pytest.approx(200 * factor, abs=0.1)


def test_speed_perturb_aug1_reads_the_signal_at_n_times_the_factor():
    """eq. AUG-1: out[n] = y_c(n f), y_c the band-limited signal; for a tone it is known exactly."""
    sr, f0, factor = 16000, 300.0, 1.1
    y = np.sin(2 * np.pi * f0 * np.arange(sr) / sr)
    out = speed_perturb(y, factor=factor)
    n = np.arange(out.size)
    want = np.sin(2 * np.pi * f0 * (n * factor) / sr)  # y_c(t) = sin(2 pi f0 t / sr)
    inner = slice(500, out.size - 500)  # away from the filter's edge transients
    np.testing.assert_allclose(out[inner], want[inner], atol=2e-3)  # Kaiser passband ripple


def test_speed_factor_one_returns_a_copy_and_the_input_is_untouched(rng):
    y = rng.standard_normal(1000)
    before = y.copy()
    out = speed_perturb(y, factor=1.0)
    np.testing.assert_array_equal(out, y)
    assert out is not y
    speed_perturb(y, factor=0.9)
    np.testing.assert_array_equal(y, before)


def test_speed_perturb_of_two_channels_resamples_each(rng):
    y = rng.standard_normal((3000, 2))
    out = speed_perturb(y, factor=1.1)
    np.testing.assert_allclose(out[:, 1], speed_perturb(y[:, 1], factor=1.1), atol=1e-15)


@pytest.mark.parametrize(
    "factor, match",
    [
        (0.0, "finite number > 0"),
        (-1.1, "finite number > 0"),
        (np.nan, "finite number > 0"),
        (np.inf, "finite number > 0"),
        (0.5, r"outside \(0.5, 2\]"),
        (2.5, r"outside \(0.5, 2\]"),
    ],
)
def test_speed_factors_that_are_not_a_perturbation_are_refused(factor, match):
    with pytest.raises(ValueError, match=match):
        speed_perturb(np.ones(100), factor=factor)


def test_speed_factor_two_is_the_largest_accepted():
    assert speed_perturb(np.ones(1000), factor=2.0).size == 500


def test_speed_perturb_rejects_bad_signals():
    with pytest.raises(AudioError, match="zero samples"):
        speed_perturb(np.array([]), factor=1.1)
    with pytest.raises(AudioError, match="NaN or Inf"):
        speed_perturb(np.array([0.0, np.nan]), factor=1.1)


# --- gain (AUG-2) -----------------------------------------------------------------------------


def test_gain_aug2_by_hand(rng):
    y = rng.standard_normal(50)
    np.testing.assert_allclose(gain(y, db=20.0), 10.0 * y, rtol=1e-15)
    np.testing.assert_allclose(gain(y, db=-20 * np.log10(2)), y / 2, rtol=1e-15)
    np.testing.assert_array_equal(gain(y, db=0.0), y)
    with pytest.raises(ValueError, match="finite"):
        gain(y, db=np.inf)


def test_random_gain_is_one_uniform_draw_in_db():
    y = np.linspace(-0.5, 0.5, 101)
    db = np.random.default_rng(7).uniform(-6.0, 6.0)  # the draw random_gain makes
    out = random_gain(y, rng=np.random.default_rng(7))
    np.testing.assert_allclose(out, y * 10 ** (db / 20), rtol=1e-15)
    ratios = [random_gain(y, rng=np.random.default_rng(s))[0] / y[0] for s in range(200)]
    assert 10 ** (-6 / 20) <= min(ratios) and max(ratios) <= 10 ** (6 / 20)
    with pytest.raises(ValueError, match="low <= high"):
        random_gain(y, rng=np.random.default_rng(0), low_db=3.0, high_db=-3.0)


# --- noise at a random SNR (AUG-3) ------------------------------------------------------------


@pytest.mark.parametrize("with_recording", [False, True], ids=["white", "recording"])
def test_add_noise_random_snr_draws_the_snr_uniformly_then_adds_noise(with_recording):
    y = np.sin(np.arange(4000) / 9.0)
    recording = np.random.default_rng(99).standard_normal(900) if with_recording else None
    for seed in range(20):
        snr = np.random.default_rng(seed).uniform(10.0, 40.0)  # the first draw (eq. AUG-3)
        noisy = add_noise_random_snr(y, rng=np.random.default_rng(seed), noise=recording)
        assert 10.0 <= snr_db(y, noisy - y) < 40.0
        assert snr_db(y, noisy - y) == pytest.approx(snr, abs=1e-9)
        again = add_noise_random_snr(y, rng=np.random.default_rng(seed), noise=recording)
        np.testing.assert_array_equal(noisy, again)


def test_add_noise_random_snr_with_equal_bounds_is_add_noise():
    y = np.sin(np.arange(1000) / 3.0)
    got = add_noise_random_snr(y, rng=np.random.default_rng(3), low_db=12.0, high_db=12.0)
    rng = np.random.default_rng(3)
    rng.uniform(12.0, 12.0)  # the SNR draw comes first
    np.testing.assert_array_equal(got, add_noise(y, snr=12.0, rng=rng))
    with pytest.raises(ValueError, match="low <= high"):
        add_noise_random_snr(y, rng=rng, low_db=30.0, high_db=10.0)


# --- SpecAugment masks (AUG-4) ----------------------------------------------------------------


def spec_augment_by_loops(x, seed, time_masks, max_time, freq_masks, max_freq, value):
    """eq. AUG-4 one mask at a time, drawing in the documented order."""
    rng = np.random.default_rng(seed)
    out = np.array(x, dtype=float)
    N, T, C = out.shape
    t_width = np.minimum(rng.integers(0, max_time + 1, size=(N, time_masks)), T)
    t_start = rng.integers(0, T - t_width + 1)
    f_width = np.minimum(rng.integers(0, max_freq + 1, size=(N, freq_masks)), C)
    f_start = rng.integers(0, C - f_width + 1)
    for n in range(N):
        for k in range(time_masks):
            out[n, t_start[n, k] : t_start[n, k] + t_width[n, k], :] = value
        for k in range(freq_masks):
            out[n, :, f_start[n, k] : f_start[n, k] + f_width[n, k]] = value
    return out


@pytest.mark.parametrize(
    "shape, masks",
    [((4, 50, 13), (2, 20, 2, 8)), ((3, 10, 5), (3, 30, 1, 9)), ((1, 128, 64), (0, 20, 4, 8))],
)
def test_spec_augment_aug4_equals_the_masks_applied_one_by_one(shape, masks):
    x = np.random.default_rng(0).standard_normal(shape)
    time_masks, max_time, freq_masks, max_freq = masks
    got = spec_augment(
        x,
        rng=np.random.default_rng(42),
        time_masks=time_masks,
        max_time=max_time,
        freq_masks=freq_masks,
        max_freq=max_freq,
        value=-7.0,
    )
    want = spec_augment_by_loops(x, 42, time_masks, max_time, freq_masks, max_freq, -7.0)
    np.testing.assert_array_equal(got, want)


def runs(mask):
    """Lengths of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], mask.astype(int), [0])))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_spec_augment_masks_only_whole_frames_and_bands_within_the_limits():
    x = np.random.default_rng(1).standard_normal((300, 60, 20))  # no entry equals the value
    out = spec_augment(x, rng=np.random.default_rng(2), max_time=9, max_freq=4, value=-99.0)
    masked = out == -99.0
    np.testing.assert_array_equal(out[~masked], x[~masked])  # the rest is the input
    for example in masked:
        frames, bands = example.all(axis=1), example.all(axis=0)  # fully masked rows, columns
        np.testing.assert_array_equal(example, frames[:, None] | bands[None, :])
        # two masks of at most 9 frames: at most 2 stretches, at most 18 frames together
        assert (
            runs(frames).size <= 2 and frames.sum() <= 2 * 9 and runs(frames).max(initial=0) <= 18
        )
        assert runs(bands).size <= 2 and bands.sum() <= 2 * 4
    assert masked.any(axis=(1, 2)).mean() > 0.9  # masks of width 0 are rare, not the rule


def test_spec_augment_single_mask_width_is_uniform_up_to_its_limit():
    x = np.ones((2000, 40, 10))
    out = spec_augment(x, rng=np.random.default_rng(3), time_masks=1, max_time=5, freq_masks=0)
    widths = (out == 0.0).all(axis=2).sum(axis=1)
    counts = np.bincount(widths, minlength=6)
    assert counts.size == 6  # widths 0..5, never more
    assert counts.min() > 2000 / 6 * 0.8  # each width about equally often


def test_spec_augment_clips_masks_wider_than_the_axis():
    x = np.ones((50, 5, 3))
    out = spec_augment(x, rng=np.random.default_rng(4), time_masks=1, max_time=1000, freq_masks=0)
    assert out.shape == x.shape
    assert (out == 0.0).all(axis=(1, 2)).mean() > 0.9  # width min(w, T) = T: all 5 frames


def test_spec_augment_is_deterministic_pure_and_differs_between_examples():
    x = np.tile(np.random.default_rng(5).standard_normal((1, 40, 12)), (20, 1, 1))
    before = x.copy()
    a = spec_augment(x, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a, spec_augment(x, rng=np.random.default_rng(6)))
    np.testing.assert_array_equal(x, before)  # input untouched
    masks = a == 0.0
    assert len({m.tobytes() for m in masks}) > 15  # 20 identical inputs, different masks


def test_spec_augment_of_one_example_draws_as_a_batch_of_one():
    x = np.random.default_rng(8).standard_normal((30, 13))
    one = spec_augment(x, rng=np.random.default_rng(9))
    assert one.shape == (30, 13)
    np.testing.assert_array_equal(one, spec_augment(x[None], rng=np.random.default_rng(9))[0])


def test_spec_augment_keeps_float32_and_copies_without_masks():
    x = np.random.default_rng(10).standard_normal((2, 8, 4)).astype(np.float32)
    assert spec_augment(x, rng=np.random.default_rng(0)).dtype == np.float32
    out = spec_augment(x, rng=np.random.default_rng(0), time_masks=0, freq_masks=0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize(
    "features, kwargs, match",
    [
        (np.ones(10), {}, r"\(T, C\) or \(N, T, C\)"),
        (np.ones((2, 3, 4, 5)), {}, r"\(T, C\) or \(N, T, C\)"),
        (np.ones((5, 4)), dict(time_masks=-1), "time_masks must be an integer >= 0"),
        (np.ones((5, 4)), dict(max_freq=2.5), "max_freq must be an integer >= 0"),
    ],
)
def test_spec_augment_bad_arguments(features, kwargs, match):
    with pytest.raises(ValueError, match=match):
        spec_augment(features, rng=np.random.default_rng(0), **kwargs)


# --- noise for robustness tests: exact SNR, pink, babble, a looped recording (NOISE-1..3) -----


@pytest.mark.parametrize("target", [-5.0, 0.0, 10.0, 30.0])
def test_mix_at_snr_sets_the_snr_of_the_whole_signal_exactly(rng, target):
    y = np.sin(np.arange(8000) / 7.0) * np.r_[np.zeros(2000), np.ones(6000)]  # with a pause
    v = rng.standard_normal(8000) * 3.0
    x = mix_at_snr(y, v, snr=target)
    # eq. SNR measured back over every sample, the pause included
    measured = 10 * np.log10(np.sum(y**2) / np.sum((x - y) ** 2))
    assert abs(measured - target) <= 1e-9
    np.testing.assert_allclose((x - y) / v, (x - y)[0] / v[0])  # only a gain: the same noise


def test_add_noise_is_mix_at_snr_of_its_noise_bit_for_bit():
    y = np.sin(np.arange(3000) / 3.0)
    v = np.random.default_rng(7).standard_normal(3000)
    a = add_noise(y, snr=12.0, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, mix_at_snr(y, v, snr=12.0))


def test_mix_at_snr_refuses_silence_other_lengths_and_an_snr_that_is_not_a_number():
    with pytest.raises(AudioError, match="silent"):
        mix_at_snr(np.ones(10), np.zeros(10), snr=0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        mix_at_snr(np.ones(10), np.ones(9), snr=0.0)
    with pytest.raises(ValueError, match="finite"):
        mix_at_snr(np.ones(10), np.ones(10), snr=float("nan"))


def test_loop_to_length_noise3_as_a_loop():
    r = np.arange(7.0) + 1
    for n, start in [(3, 0), (7, 2), (20, 5), (1, 13)]:
        want = [r[(start + i) % 7] for i in range(n)]  # eq. NOISE-3 written out
        np.testing.assert_array_equal(loop_to_length(r, n, start=start), want)
    with pytest.raises(ValueError, match="n must be"):
        loop_to_length(r, 0)


def _slope_db_per_decade(v, sr=16000, low=50.0, high=5000.0):
    """The slope of 10 log10 of a Welch power spectrum against log10 f, dB per decade."""
    from scipy.signal import welch

    f, p = welch(v, fs=sr, nperseg=4096)
    keep = (f >= low) & (f <= high)
    return np.polyfit(np.log10(f[keep]), 10 * np.log10(p[keep]), 1)[0]


def test_pink_noise1_falls_10_db_per_decade_and_white_noise_is_flat():
    pink = pink_noise(2**18, rng=np.random.default_rng(0))
    white = white_noise(2**18, rng=np.random.default_rng(0))
    assert _slope_db_per_decade(pink) == pytest.approx(-10.0, abs=0.5)
    assert _slope_db_per_decade(white) == pytest.approx(0.0, abs=0.5)
    assert pink.shape == (2**18,) and np.sqrt(np.mean(pink**2)) == pytest.approx(1.0)
    assert abs(pink.mean()) < 1e-12  # no DC bin


def test_pink_noise1_is_the_shaped_spectrum_of_its_white_draw():
    n = 1000
    w = np.random.default_rng(3).standard_normal(n)
    W = np.fft.rfft(w)
    V = np.array([0.0] + [W[k] / np.sqrt(k) for k in range(1, W.size)])  # eq. NOISE-1
    v = np.fft.irfft(V, n)
    np.testing.assert_allclose(pink_noise(n, rng=np.random.default_rng(3)),
                               v / np.sqrt(np.mean(v**2)), rtol=1e-12, atol=1e-12)  # fmt: skip


def test_babble_noise2_sums_the_talkers_at_equal_power():
    talkers = [np.sin(np.arange(500) / (k + 2.0)) * (k + 1) for k in range(3)]
    rng = np.random.default_rng(4)
    draws = np.random.default_rng(4)
    starts = [int(draws.integers(0, 500)) for _ in talkers]  # the draws babble makes, in order
    want = sum(
        loop_to_length(t, 1200, start=s) / np.sqrt(np.mean(loop_to_length(t, 1200, start=s) ** 2))
        for t, s in zip(talkers, starts, strict=True)
    )  # eq. NOISE-2 written out
    np.testing.assert_allclose(babble_noise(talkers, 1200, rng=rng), want, rtol=1e-12)
    with pytest.raises(AudioError, match="talker 1"):
        babble_noise([talkers[0], np.zeros(50)], 100, rng=rng)
    with pytest.raises(ValueError, match="at least one"):
        babble_noise([], 100, rng=rng)

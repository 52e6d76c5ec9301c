"""Voice activity: frame energy (VAD-1), the two thresholds (VAD-2), the smoothing (VAD-3)."""

import itertools

import numpy as np
import pytest

from features import (
    AudioError,
    MFCCConfig,
    activity_from_energy,
    frame_energy_db,
    get_window,
    mfcc,
    preset_config,
    speech_bounds,
    trim_to_speech,
    voice_activity,
)

pytestmark = pytest.mark.ch01_mfcc

SR = 16000
# One frame per block of 160 samples, no overlap, no taper: a pattern of loud and silent frames
# becomes a signal whose frame energies are known exactly.
BLOCKS = MFCCConfig(win_length=160, hop_length=160, n_fft=256, window="rectangular")


def padded_with_silence(speech, *, seconds=0.5, noise=0.0, seed=0):
    """silence + speech + silence; the silence is digital zeros or white noise of RMS ``noise``."""
    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    return np.concatenate([noise * rng.standard_normal(n), speech, noise * rng.standard_normal(n)])


def from_pattern(pattern):
    """One 160-sample block per frame of BLOCKS: a -9 dBFS tone where True, zeros where False."""
    tone = 0.5 * np.sin(2 * np.pi * 500 * np.arange(160) / SR)
    return np.concatenate([tone if p else np.zeros(160) for p in pattern])


def test_frame_energy_vad1_evaluated_by_hand_for_one_frame(rng):
    y = 0.3 * rng.standard_normal(4000)
    e = frame_energy_db(y, sr=SR)
    L, H, t = 400, 160, 7
    w = np.hamming(400)  # the default config's symmetric Hamming window
    frame = y[t * H : t * H + L]  # raw samples: no pre-emphasis
    energy = sum((w[n] * frame[n]) ** 2 for n in range(L)) / sum(w[n] ** 2 for n in range(L))
    assert e[t] == pytest.approx(10 * np.log10(energy), abs=1e-12)  # eq. VAD-1


def test_a_full_scale_sine_reads_minus_3_dbfs_and_digital_silence_minus_100():
    t = np.arange(SR) / SR
    np.testing.assert_allclose(
        frame_energy_db(np.sin(2 * np.pi * 440 * t), sr=SR), -3.0103, atol=2e-3
    )
    square = np.where(np.sin(2 * np.pi * 400 * t + 0.1) >= 0, 1.0, -1.0)
    np.testing.assert_allclose(frame_energy_db(square, sr=SR), 0.0, atol=1e-12)
    np.testing.assert_array_equal(frame_energy_db(np.zeros(1000), sr=SR), -100.0)


@pytest.mark.parametrize(
    "config",
    [
        MFCCConfig(),
        MFCCConfig(center=True),
        MFCCConfig(pad_end=True),
        MFCCConfig(center=True, pad_end=True, hop_length=100),
        preset_config("librosa", sr=SR),
        preset_config("python_speech_features", sr=SR),
        preset_config("default", sr=22050),
    ],
    ids=["default", "center", "pad_end", "center+pad_end", "librosa", "psf", "22050"],
)
def test_energy_frame_t_is_mfcc_row_t(config, speechlike):
    y = np.concatenate([speechlike, speechlike[:1234]])  # a length that leaves a partial frame
    sr = config.sample_rate
    e = frame_energy_db(y, config=config)
    assert e.shape == (mfcc(y, sr=sr, config=config).shape[0],)
    assert voice_activity(y, sr=sr, config=config).shape == e.shape
    # the first frame by hand, with the same padding the MFCC's framing does
    L = config.win_length
    padded = np.pad(y, (L // 2, L // 2)) if config.center else y
    w = get_window(config.window, L, periodic=config.window_periodic)
    want = 10 * np.log10(np.sum((w * padded[:L]) ** 2) / np.sum(w**2))
    assert e[0] == pytest.approx(want, abs=1e-10)


def test_sr_and_config_are_resolved_as_mfcc_resolves_them(speechlike):
    y = speechlike[:8000]
    at_22k = frame_energy_db(y, sr=22050)  # the default preset at 22.05 kHz: 551 / 220 samples
    assert at_22k.shape == (1 + (8000 - 551) // 220,)
    np.testing.assert_array_equal(
        frame_energy_db(y, sr=SR), frame_energy_db(y, config=MFCCConfig())
    )
    with pytest.raises(AudioError, match="does not match"):
        frame_energy_db(y, sr=22050, config=MFCCConfig())
    with pytest.raises(ValueError, match="pass sr="):
        frame_energy_db(y)


def test_vad2_threshold_is_the_peak_minus_top_db_or_the_floor(speechlike, rng):
    y = padded_with_silence(speechlike * np.linspace(0.02, 1.0, speechlike.size), noise=1e-3)
    e = frame_energy_db(y, sr=SR)
    for top_db, floor_db in [(40.0, -60.0), (10.0, -60.0), (40.0, -30.0), (80.0, -100.0)]:
        got = voice_activity(
            y, sr=SR, top_db=top_db, floor_db=floor_db, min_speech_frames=0, min_silence_frames=0
        )
        theta = max(max(e) - top_db, floor_db)  # eq. VAD-2
        np.testing.assert_array_equal(got, [e_t > theta for e_t in e])


@pytest.mark.parametrize("noise", [0.0, 1e-4], ids=["digital-silence", "noise-at-minus-80-dB"])
def test_silence_speech_silence_finds_the_frames_that_overlap_the_speech(speechlike, noise):
    y = padded_with_silence(speechlike, noise=noise)
    activity = voice_activity(y, sr=SR)
    # speech is samples 8000 .. 24000; frame t covers 160 t .. 160 t + 400
    first = -(-(8000 - 400 + 1) // 160)  # the first frame reaching sample 8000: 48
    last = (24000 - 1) // 160  # the last frame starting before sample 24000: 149
    start, stop = speech_bounds(activity)
    assert abs(start - first) <= 2 and abs(stop - (last + 1)) <= 2
    assert activity[start:stop].all()  # the syllable envelope never dips 40 dB: no holes
    assert not activity[: first - 2].any() and not activity[last + 3 :].any()


def test_decisions_from_cached_energies_equal_those_from_the_signal(speechlike):
    y = padded_with_silence(speechlike, noise=1e-4)
    energies = frame_energy_db(y, sr=SR)
    for top_db in (20.0, 40.0):
        np.testing.assert_array_equal(
            activity_from_energy(energies, top_db=top_db), voice_activity(y, sr=SR, top_db=top_db)
        )
    with pytest.raises(ValueError, match="non-empty 1-D"):
        activity_from_energy(np.zeros((2, 3)))


@pytest.mark.parametrize("scale", [0.1, 0.5, 3.0])
def test_a_gain_change_does_not_change_the_decisions(speechlike, scale):
    y = padded_with_silence(speechlike, noise=1e-4)
    want = voice_activity(y, sr=SR)
    np.testing.assert_array_equal(voice_activity(scale * y, sr=SR), want)


def test_the_absolute_floor_rejects_a_recording_that_is_all_quiet(speechlike):
    y = padded_with_silence(speechlike, noise=1e-4)
    quiet = y * 10 ** (-70 / 20) / np.abs(y).max()  # peak at -70 dBFS: below the -60 dB floor
    assert not voice_activity(quiet, sr=SR).any()
    assert voice_activity(quiet, sr=SR, floor_db=-100.0).any()  # relative threshold only


@pytest.mark.parametrize("top_db", [0.0, 40.0, 1000.0])
def test_digital_silence_is_never_speech(top_db):
    assert not voice_activity(np.zeros(SR), sr=SR, top_db=top_db, floor_db=-100.0).any()


def reference_smoothing(raw, min_speech, min_silence):
    """eq. VAD-3 as a plain walk over the runs (itertools.groupby)."""
    runs = [[value, len(list(group))] for value, group in itertools.groupby(raw)]
    for i in range(1, len(runs) - 1):  # step 1: pauses with speech on both sides
        if not runs[i][0] and runs[i][1] < min_silence:
            runs[i][0] = True
    merged = []
    for value, group in itertools.groupby(runs, key=lambda run: run[0]):
        merged.append([value, sum(run[1] for run in group)])
    out = []
    for value, length in merged:  # step 2: short speech runs
        out += [value and length >= min_speech] * length
    return np.array(out)


def test_smoothing_vad3_fills_short_pauses_and_drops_short_blips():
    pattern = [0] * 5 + [1] * 10 + [0] * 4 + [1] * 10 + [0] * 30 + [1] * 2 + [0] * 10
    got = voice_activity(from_pattern(pattern), sr=SR, config=BLOCKS)
    want = np.zeros(len(pattern), bool)
    want[5:29] = True  # the 4-frame pause is bridged; the 30-frame one is not; the blip goes
    np.testing.assert_array_equal(got, want)
    # the leading 5 frames are short too, but not a pause between speech: they stay silence


def test_the_hangover_comes_first_so_close_blips_merge_into_speech():
    pattern = [0] * 10 + [1, 1, 0, 1, 1] + [0] * 10
    got = voice_activity(from_pattern(pattern), sr=SR, config=BLOCKS, min_speech_frames=3)
    np.testing.assert_array_equal(got, np.array([0] * 10 + [1] * 5 + [0] * 10, bool))


@pytest.mark.parametrize("min_speech, min_silence", [(3, 20), (1, 0), (5, 3), (0, 50)])
def test_smoothing_vad3_equals_a_walk_over_the_runs(min_speech, min_silence):
    rng = np.random.default_rng(min_speech * 100 + min_silence)
    raw = np.repeat(rng.random(60) < 0.5, rng.integers(1, 12, 60))  # runs of 1..11 frames
    raw[0] = True  # a loud first frame, so the peak is the tone whatever the pattern
    got = voice_activity(
        from_pattern(raw),
        sr=SR,
        config=BLOCKS,
        min_speech_frames=min_speech,
        min_silence_frames=min_silence,
    )
    np.testing.assert_array_equal(got, reference_smoothing(raw, min_speech, min_silence))


def test_speech_bounds_by_hand():
    assert speech_bounds(np.array([0, 0, 1, 0, 1, 1, 0], bool)) == (2, 6)
    assert speech_bounds(np.ones(4, bool)) == (0, 4)
    assert speech_bounds(np.zeros(4, bool)) == (0, 0)
    with pytest.raises(ValueError, match=r"shaped \(T,\)"):
        speech_bounds(np.zeros((2, 3), bool))


def test_trim_to_speech_keeps_the_rows_between_the_bounds_as_a_copy(rng):
    feats = rng.standard_normal((7, 3))
    activity = np.array([0, 0, 1, 0, 1, 1, 0], bool)
    trimmed = trim_to_speech(feats, activity)
    np.testing.assert_array_equal(trimmed, feats[2:6])
    trimmed[0, 0] = 99.0
    assert feats[2, 0] != 99.0


def test_trim_to_speech_without_speech_returns_the_features_unchanged(rng):
    feats = rng.standard_normal((5, 2))
    np.testing.assert_array_equal(trim_to_speech(feats, np.zeros(5, bool)), feats)


def test_trim_to_speech_of_an_utterance_drops_the_silent_mfcc_rows(speechlike):
    y = padded_with_silence(speechlike, noise=1e-4)
    feats, activity = mfcc(y, sr=SR), voice_activity(y, sr=SR)
    start, stop = speech_bounds(activity)
    np.testing.assert_array_equal(trim_to_speech(feats, activity), feats[start:stop])


def test_trim_to_speech_refuses_features_of_another_length(rng):
    with pytest.raises(ValueError, match=r"\(6, 2\) and activity \(5,\).*same MFCCConfig"):
        trim_to_speech(rng.standard_normal((6, 2)), np.ones(5, bool))


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([]), "zero samples"),
        (np.array([0.1, np.nan] * 400), "NaN or Inf"),
        (np.zeros((1600, 2)), "one channel.*down-mix"),
        (np.zeros(300), "300 samples is shorter than one analysis frame of 400 samples"),
    ],
    ids=["empty", "nan", "stereo", "shorter-than-a-frame"],
)
def test_bad_signals_raise_audio_errors(y, match):
    with pytest.raises(AudioError, match=match):
        frame_energy_db(y, sr=SR)
    with pytest.raises(AudioError, match=match):
        voice_activity(y, sr=SR)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(top_db=-1.0), "top_db must be >= 0"),
        (dict(floor_db=-120.0), "floor_db must be >= -100"),
        (dict(min_speech_frames=-1), "min_speech_frames must be an integer >= 0"),
        (dict(min_silence_frames=2.5), "min_silence_frames must be an integer >= 0"),
    ],
)
def test_bad_parameters_raise_value_errors(kwargs, match, speechlike):
    with pytest.raises(ValueError, match=match):
        voice_activity(speechlike, sr=SR, **kwargs)

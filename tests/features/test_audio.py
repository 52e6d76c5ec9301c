"""load_audio / save_audio: every bad file gives one clear AudioError naming it."""

import numpy as np
import pytest
import soundfile as sf

from features import AudioError, load_audio, save_audio

pytestmark = pytest.mark.ch01_mfcc


@pytest.fixture
def tone():
    t = np.arange(16000) / 16000
    return 0.5 * np.sin(2 * np.pi * 220 * t)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_round_trip_formats(tmp_path, tone, ext):
    path = save_audio(tmp_path / f"a.{ext}", tone, 16000)
    y, sr = load_audio(path)
    assert sr == 16000 and y.dtype == np.float64 and y.shape == tone.shape
    tol = 0.05 if ext == "ogg" else 1e-4  # ogg is lossy; PCM_16 quantises to 3e-5
    assert np.max(np.abs(y - tone)) < tol


def test_integer_pcm_is_scaled_to_full_scale(tmp_path):
    ints = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    sf.write(tmp_path / "i.wav", ints, 8000, subtype="PCM_16")
    y, _ = load_audio(tmp_path / "i.wav", sr=None)
    np.testing.assert_allclose(y, ints / 32768.0)


def test_stereo_is_down_mixed_by_averaging(tmp_path, tone):
    stereo = np.stack([tone, np.zeros_like(tone)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 16000, subtype="FLOAT")
    y, _ = load_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(y, tone / 2, atol=1e-7)
    both, _ = load_audio(tmp_path / "s.wav", mono=False)
    assert both.shape == (16000, 2)


def test_resampling_to_the_requested_rate(tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "r.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 44100, subtype="FLOAT")
    y, sr = load_audio(tmp_path / "r.wav", sr=16000)
    assert sr == 16000 and y.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 440  # 1 s at 16 kHz: bin k is k Hz


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"e\.wav: is empty \(0 bytes\)"):
        load_audio(tmp_path / "e.wav")


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my lecture notes, not a recording\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.wav: not a readable audio file"):
        load_audio(tmp_path / "notes.wav")


def test_truncated_wav_is_caught_although_libsndfile_would_shorten_it(tmp_path, tone):
    full = save_audio(tmp_path / "full.wav", tone, 16000).read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated: the WAV header promises 32000"):
        load_audio(tmp_path / "cut.wav")


def test_truncated_flac(tmp_path, tone):
    full = save_audio(tmp_path / "full.flac", tone, 16000).read_bytes()
    (tmp_path / "cut.flac").write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac: (truncated|corrupt)"):
        load_audio(tmp_path / "cut.flac")


def test_zero_samples(tmp_path):
    sf.write(tmp_path / "z.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match=r"z\.wav: has zero samples"):
        load_audio(tmp_path / "z.wav")


def test_nan_samples_in_a_float_file(tmp_path, tone):
    bad = tone.copy()
    bad[100] = np.nan
    sf.write(tmp_path / "n.wav", bad, 16000, subtype="FLOAT")
    with pytest.raises(
        AudioError, match=r"n\.wav: has 1 NaN or Inf samples \(the first at sample 100\)"
    ):
        load_audio(tmp_path / "n.wav")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)


def test_audio_error_is_a_value_error():
    assert issubclass(AudioError, ValueError)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, tone):
    save_audio(tmp_path / "a.wav", tone, 16000)
    save_audio(tmp_path / "a.wav", tone / 2, 16000)  # overwrite in one step
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_save_refuses_to_clip_and_keeps_the_old_file(tmp_path, tone):
    save_audio(tmp_path / "a.wav", tone, 16000)
    before = (tmp_path / "a.wav").read_bytes()
    with pytest.raises(AudioError, match=r"peak 2\.000 exceeds full scale"):
        save_audio(tmp_path / "a.wav", 4 * tone, 16000)
    assert (tmp_path / "a.wav").read_bytes() == before
    save_audio(tmp_path / "f.wav", 4 * tone, 16000, subtype="FLOAT")  # float keeps it


def test_save_rejects_nan_and_unknown_format(tmp_path, tone):
    with pytest.raises(AudioError, match="NaN"):
        save_audio(tmp_path / "x.wav", np.full(10, np.nan), 16000)
    with pytest.raises(AudioError, match="unknown audio format '.mp9'"):
        save_audio(tmp_path / "x.mp9", tone, 16000)
    assert list(tmp_path.iterdir()) == []

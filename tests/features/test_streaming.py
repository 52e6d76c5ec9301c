"""The streaming front end (eqs. ST-1, ST-2): for every chunking, the frames of a stream equal
the offline features of the whole signal, and the resampled stream equals features.resample;
read_blocks reads a file in blocks with load_audio's checks."""

import numpy as np
import pytest
import soundfile as sf

from features import (
    AudioError,
    MFCCConfig,
    frame_energy_db,
    load_audio,
    log_mel,
    mfcc,
    preemphasis,
    preset_config,
    resample,
)
from features.streaming import StreamingFeatures, StreamingResampler, read_blocks

pytestmark = pytest.mark.ch01_mfcc

TOL = 1e-10  # float64; the FFT and DCT batches differ from the offline ones, nothing else
KINDS = ("mfcc", "logmel", "energy")


def offline(kind, y, config):
    """What ser.pipeline.compute_features gives for one signal."""
    if kind == "mfcc":
        return mfcc(y, sr=config.sample_rate, config=config)
    if kind == "logmel":
        return log_mel(y, sr=config.sample_rate, config=config)
    return frame_energy_db(y, config=config)


def random_chunks(rng, total, hop, win):
    """Chunk sizes summing to ``total``: zeros, single samples, less than a hop, several
    frames at once, drawn in random order."""
    sizes, done = [], 0
    while done < total:
        pick = rng.integers(4)
        n = [0, 1, int(rng.integers(1, hop)), int(rng.integers(1, 3 * win))][pick]
        n = min(n, total - done)
        sizes.append(n)
        done += n
    return sizes


def streamed(stream, y, sizes):
    """Push ``y`` in chunks of ``sizes``, then finish: the concatenated frames of each kind."""
    parts = {k: [] for k in stream.kinds}
    at = 0
    for n in sizes:
        new = stream.push(y[at : at + n])
        at += n
        counts = {len(a) for a in new.values()}
        assert len(counts) == 1  # every kind gets the same frames
        for k in stream.kinds:
            parts[k].append(new[k])
    assert at == len(y)
    for k, a in stream.finish().items():
        parts[k].append(a)
    return {k: np.concatenate(v) for k, v in parts.items()}


def assert_stream_equals_offline(config, y, sizes, kinds=KINDS):
    stream = StreamingFeatures(config, kinds)
    got = streamed(stream, y, sizes)
    for kind in kinds:
        want = offline(kind, y, config)
        assert got[kind].shape == want.shape and got[kind].dtype == np.float64, kind
        np.testing.assert_allclose(got[kind], want, rtol=0, atol=TOL, err_msg=kind)
    assert stream.frames_emitted == len(want) and stream.samples_seen == len(y)


CONFIGS = {
    "default": MFCCConfig(),
    # librosa's own numbers except its top_db, which no stream can know (see the refusal test)
    "librosa": preset_config("librosa", sr=16000, top_db=None),
    "python_speech_features": preset_config("python_speech_features", sr=16000),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_stream_st1_equals_the_offline_features_for_random_chunkings(name):
    config = CONFIGS[name]
    rng = np.random.default_rng(14)
    L, H = config.win_length, config.hop_length
    for _ in range(4):
        y = 0.3 * rng.standard_normal(int(rng.integers(L, 3 * L + 8 * H)))
        assert_stream_equals_offline(config, y, random_chunks(rng, len(y), H, L))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_sample_at_a_time_equals_offline(name):
    config = CONFIGS[name]
    rng = np.random.default_rng(1)
    y = 0.3 * rng.standard_normal(config.win_length + 3 * config.hop_length + 7)
    assert_stream_equals_offline(config, y, [1] * len(y))


def test_one_chunk_and_chunks_shorter_than_a_hop():
    config = MFCCConfig()
    y = 0.3 * np.random.default_rng(2).standard_normal(5000)
    assert_stream_equals_offline(config, y, [len(y)])
    assert_stream_equals_offline(config, y, [97] * (len(y) // 97) + [len(y) % 97])  # 97 < 160


def test_a_hop_longer_than_the_window_with_centre_and_end_padding():
    """H > L leaves samples no frame reads; the stream drops them as they come."""
    config = MFCCConfig(win_length=100, hop_length=170, n_fft=128, n_mels=20, center=True,
                        pad_end=True)  # fmt: skip
    rng = np.random.default_rng(3)
    for _ in range(3):
        y = 0.3 * rng.standard_normal(int(rng.integers(100, 2000)))
        assert_stream_equals_offline(config, y, random_chunks(rng, len(y), 170, 100))


def test_preemphasis_m1_carries_the_last_sample_of_the_previous_chunk():
    """y'[n] = y[n] - alpha y[n-1] at every chunk boundary: split one frame's samples in two
    at every position and compare the emphasised buffer with eq. M1 on the whole signal."""
    config = MFCCConfig(win_length=16, hop_length=4, n_fft=16, n_mels=4, n_mfcc=4)
    y = np.random.default_rng(4).standard_normal(16)
    whole = np.empty(16)  # eq. M1 written out
    whole[0] = y[0]
    for n in range(1, 16):
        whole[n] = y[n] - 0.97 * y[n - 1]
    np.testing.assert_allclose(preemphasis(y, coeff=0.97), whole, rtol=0, atol=1e-15)
    for cut in range(1, 16):
        stream = StreamingFeatures(config, ("mfcc",))
        stream.push(y[:cut])
        emphasised = stream._emph.copy()  # the samples not yet framed: all of them
        frame = stream.push(y[cut:])["mfcc"]  # the one frame, made whole by this chunk
        np.testing.assert_array_equal(emphasised, whole[:cut])
        np.testing.assert_allclose(frame, mfcc(y, sr=16000, config=config), rtol=0, atol=TOL)


def test_memory_stays_bounded_by_a_frame_and_a_hop():
    config = MFCCConfig()
    stream = StreamingFeatures(config, ("mfcc", "energy"))
    rng = np.random.default_rng(5)
    limit = config.win_length + config.hop_length
    total = 0
    for _ in range(300):  # 10 s in chunks of up to 1000 samples
        n = int(rng.integers(0, 1000))
        new = stream.push(0.1 * rng.standard_normal(n))
        total += len(new["mfcc"])
        assert stream._buf.size < limit and stream._emph.size < limit
    assert total == stream.frames_emitted == 1 + (stream.samples_seen - 400) // 160


def test_frame_time_is_the_start_of_the_frame_in_seconds():
    plain = StreamingFeatures(MFCCConfig(), ("energy",))
    assert plain.frame_time(0) == 0.0 and plain.frame_time(3) == pytest.approx(0.03)
    np.testing.assert_allclose(plain.frame_time(np.arange(3)), [0.0, 0.01, 0.02])
    centred = StreamingFeatures(CONFIGS["librosa"], ("energy",))
    assert centred.frame_time(2) == pytest.approx((2 * 512 - 1024) / 16000)  # 0: centred on 1024
    assert plain.frame_seconds == pytest.approx(0.01)


def test_top_db_is_refused_because_no_stream_knows_the_peak():
    with pytest.raises(ValueError, match="peak of a stream is not known until it ends"):
        StreamingFeatures(preset_config("librosa", sr=16000), ("logmel",))


def test_bad_kinds_and_configs_are_refused():
    for kinds in [("mfccs",), (), ("mfcc", "mfcc")]:
        with pytest.raises(ValueError, match="kinds must be distinct names"):
            StreamingFeatures(MFCCConfig(), kinds)
    with pytest.raises(TypeError, match="MFCCConfig"):
        StreamingFeatures({"sample_rate": 16000})


def test_a_stream_shorter_than_a_frame_or_empty_fails_as_offline():
    config = MFCCConfig()
    short = StreamingFeatures(config, ("mfcc",))
    assert len(short.push(np.zeros(399))["mfcc"]) == 0
    with pytest.raises(AudioError, match="399 samples is shorter than one analysis frame") as s:
        short.finish()
    with pytest.raises(AudioError) as o:
        mfcc(np.zeros(399), sr=16000)
    assert str(s.value) == str(o.value)
    with pytest.raises(AudioError, match="has zero samples"):
        StreamingFeatures(config).finish()


def test_push_after_finish_nan_and_two_channels_are_refused():
    stream = StreamingFeatures(MFCCConfig(), ("energy",))
    stream.push(np.zeros(500))
    bad = np.zeros(10)
    bad[3] = np.nan
    with pytest.raises(AudioError, match=r"1 NaN or Inf samples \(the first at sample 503\)"):
        stream.push(bad)
    assert stream.samples_seen == 500  # a refused chunk changes nothing
    with pytest.raises(AudioError, match="one channel"):
        stream.push(np.zeros((10, 2)))
    stream.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        stream.push(np.zeros(10))
    with pytest.raises(RuntimeError, match="twice"):
        stream.finish()


# ---- eq. ST-2: the streaming resampler ----------------------------------------------------


@pytest.mark.parametrize("rates", [(44100, 16000), (48000, 16000), (8000, 16000), (16000, 22050),
                                   (22050, 16000)])  # fmt: skip
def test_resampler_st2_equals_resample_poly_of_the_whole_signal(rates):
    orig, target = rates
    rng = np.random.default_rng(orig + target)
    for total in (1, 7, int(rng.integers(500, 6000))):
        x = rng.standard_normal(total)
        sizes = random_chunks(rng, total, 50, 300)
        resampler = StreamingResampler(orig, target)
        parts, at = [], 0
        for n in sizes:
            parts.append(resampler.push(x[at : at + n]))
            at += n
        parts.append(resampler.finish())
        got = np.concatenate(parts)
        want = resample(x, orig_sr=orig, target_sr=target)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
        assert resampler.samples_in == total and resampler.samples_out == len(want)


def test_resampler_one_sample_at_a_time_and_the_same_rate():
    x = np.random.default_rng(6).standard_normal(1500)
    r = StreamingResampler(44100, 16000)
    got = np.concatenate([r.push(x[i : i + 1]) for i in range(len(x))] + [r.finish()])
    np.testing.assert_allclose(got, resample(x, orig_sr=44100, target_sr=16000), rtol=0, atol=TOL)
    same = StreamingResampler(16000, 16000)
    np.testing.assert_array_equal(np.concatenate([same.push(x[:10]), same.push(x[10:]),
                                                  same.finish()]), x)  # fmt: skip
    for bad in [(0, 16000), (16000, -1), (44100.5, 16000)]:
        with pytest.raises(ValueError, match="whole number of Hz"):
            StreamingResampler(*bad)


def test_resampler_buffer_stays_small():
    r = StreamingResampler(44100, 16000)
    rng = np.random.default_rng(7)
    for _ in range(200):
        r.push(rng.standard_normal(int(rng.integers(0, 2000))))
        assert r._x.size < r._h.size // r.up + 2 * r.down + 2000


# ---- read_blocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rate, channels, ext, subtype",
    [(16000, 1, "wav", "PCM_16"), (44100, 2, "wav", "FLOAT"), (22050, 1, "flac", "PCM_16")],
)
def test_read_blocks_concatenate_to_load_audio(tmp_path, rate, channels, ext, subtype):
    rng = np.random.default_rng(8)
    y = 0.3 * rng.standard_normal((int(2.3 * rate), channels))
    path = tmp_path / f"a.{ext}"
    sf.write(path, y, rate, subtype=subtype)
    blocks = read_blocks(path, sr=16000, block_seconds=0.25)
    assert (blocks.native_sr, blocks.channels, blocks.sr) == (rate, channels, 16000)
    got = list(blocks)
    assert all(b.ndim == 1 and b.size for b in got)
    assert max(b.size for b in got) <= int(0.25 * 16000) + 64
    want, _ = load_audio(path, sr=16000)
    np.testing.assert_allclose(np.concatenate(got), want, rtol=0, atol=TOL)


def _bad_files(tmp_path):
    sr = 16000
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"this is no audio file at all" * 20)
    (tmp_path / "folder.wav").mkdir()
    sf.write(tmp_path / "full.wav", np.zeros(3200), sr, subtype="PCM_16")
    raw = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(raw[: len(raw) // 2])
    rate = bytearray(raw)
    rate[24:28] = (50).to_bytes(4, "little")
    (tmp_path / "rate.wav").write_bytes(bytes(rate))
    return ["missing.wav", "empty.wav", "junk.wav", "folder.wav", "cut.wav", "rate.wav"]


def test_read_blocks_refuses_a_bad_file_at_once_with_load_audios_words(tmp_path):
    for name in _bad_files(tmp_path):
        path = tmp_path / name
        with pytest.raises(AudioError) as mine:
            read_blocks(path, sr=16000)
        with pytest.raises(AudioError) as theirs:
            load_audio(path, sr=16000)
        assert str(mine.value) == str(theirs.value) and name in str(mine.value), name


def test_read_blocks_refuses_nan_and_huge_samples_naming_the_file_and_sample(tmp_path):
    y = np.zeros(8000)
    y[5000] = np.nan
    sf.write(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    blocks = read_blocks(tmp_path / "nan.wav", sr=16000, block_seconds=0.1)
    with pytest.raises(AudioError, match=r"nan\.wav: has NaN or Inf samples \(the first at "
                                         r"sample 5000\)"):  # fmt: skip
        list(blocks)
    sf.write(tmp_path / "huge.wav", np.full(1600, 1e300), 16000, subtype="DOUBLE")
    with pytest.raises(AudioError, match=r"huge\.wav: sample 0 is 1e\+300, beyond any"):
        list(read_blocks(tmp_path / "huge.wav", sr=16000))


def test_read_blocks_options_and_reading_once(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(1600), 8000)
    with pytest.raises(ValueError, match="block_seconds"):
        read_blocks(tmp_path / "a.wav", sr=16000, block_seconds=0)
    blocks = read_blocks(tmp_path / "a.wav", sr=None)
    assert blocks.sr == 8000 and sum(b.size for b in blocks) == 1600
    with pytest.raises(RuntimeError, match="read once"):
        list(blocks)
    with read_blocks(tmp_path / "a.wav", sr=16000) as unread:  # closed without reading
        assert unread.frames == 1600
    assert unread._fd is None


def test_read_blocks_memory_stays_flat_for_a_long_file(tmp_path):
    """A minute at 44.1 kHz read in 1 s blocks and resampled: the peak is a few blocks, not
    the 21 MB the whole file takes as float64 (load_audio's cost)."""
    import tracemalloc

    rate = 44100
    with sf.SoundFile(tmp_path / "long.wav", "w", samplerate=rate, channels=1) as f:
        for k in range(60):
            f.write(0.1 * np.sin(2 * np.pi * 220 * (np.arange(rate) + k * rate) / rate))
    blocks = read_blocks(tmp_path / "long.wav", sr=16000, block_seconds=1.0)
    tracemalloc.start()
    try:
        total = sum(b.size for b in blocks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 60 * 16000
    assert peak < 3 * 2**20, peak  # the whole file as float64: 60 * 44100 * 8 = 21 MB

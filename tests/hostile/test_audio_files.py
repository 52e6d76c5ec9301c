"""Hostile and damaged audio files (issue 16, items 2, 6, 10, 11): each is one AudioError
naming the file, said in words, raised before anything large is allocated.

Every file is built here (struct-packed headers, files written by soundfile and then cut or
patched, FIFOs, links); none is committed. docs/reliability.md, "Audio files".
"""

import errno
import os
import struct
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from features import AudioError, load_audio
from features.audio import MAX_SAMPLES, path_for_message

pytestmark = pytest.mark.ch01_mfcc

MEMORY_BOUND = 200 * 2**20  # bytes a hostile header may cost: far below what it claims


@pytest.fixture
def noise():
    return 0.3 * np.random.default_rng(0).standard_normal(32000)  # 2 s at 16 kHz


def pcm_wav(path, *, sr=16000, channels=1, bits=16, block=None, samples=3200, declared=None):
    """A PCM WAV built byte by byte, so that its header can claim anything."""
    block = channels * ((bits + 7) // 8) if block is None else block
    data = b"\0" * (samples * block)
    fmt = struct.pack("<HHIIHH", 1, channels, sr, sr * block, block, bits)
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", size) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def refused(path, match, **options):
    """The AudioError ``load_audio`` raises, after checking it names the file."""
    with pytest.raises(AudioError, match=match) as info:
        load_audio(path, **options)
    assert path_for_message(path) in str(info.value)
    return info.value


def peak_memory(call):
    """Bytes allocated at the peak while ``call()`` runs (numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        call()
    except AudioError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# ---- headers that would cost gigabytes ------------------------------------------------------
def test_a_sample_rate_of_2_31_minus_1_is_refused_with_little_memory(tmp_path):
    path = pcm_wav(tmp_path / "rate.wav", sr=2**31 - 1)
    refused(path, r"rate\.wav: its header claims a sample rate of 2147483647 Hz, outside")
    assert peak_memory(lambda: load_audio(path)) < MEMORY_BOUND
    assert peak_memory(lambda: load_audio(path, sr=None)) < MEMORY_BOUND  # `ser mfcc` reads so


def test_a_wav_header_claiming_4_gb_of_samples_is_refused_with_little_memory(tmp_path):
    path = pcm_wav(tmp_path / "frames.wav", declared=0xFFFFFFF0)
    refused(path, r"frames\.wav: truncated: the WAV header promises 4294967280 bytes")
    assert peak_memory(lambda: load_audio(path)) < MEMORY_BOUND


def flac_with_total_samples(path, noise, total):
    """A FLAC whose STREAMINFO claims ``total`` samples (36 bits at bytes 21..25)."""
    sf.write(path, noise, 16000, format="FLAC")
    raw = bytearray(path.read_bytes())
    assert raw[:4] == b"fLaC" and raw[4] & 0x7F == 0  # STREAMINFO comes first
    word = int.from_bytes(raw[18:26], "big")
    word = (word & ~(2**36 - 1)) | total
    raw[18:26] = word.to_bytes(8, "big")
    path.write_bytes(bytes(raw))
    return path


def test_a_flac_claiming_2_to_the_36_samples_is_refused_with_little_memory(tmp_path, noise):
    path = flac_with_total_samples(tmp_path / "huge.flac", noise, 2**36 - 1)
    assert sf.info(str(path)).frames == 2**36 - 1  # what libsndfile would allocate for
    refused(path, r"huge\.flac: its header claims 68719476735 frames .* over the limit of 2\^31")
    assert peak_memory(lambda: load_audio(path)) < MEMORY_BOUND


def test_a_flac_claiming_more_samples_than_it_decodes_is_truncated(tmp_path, noise):
    path = flac_with_total_samples(tmp_path / "short.flac", noise, MAX_SAMPLES - 1)
    refused(path, r"short\.flac: (truncated|corrupt or truncated audio data \(the file ends)")
    assert peak_memory(lambda: load_audio(path)) < MEMORY_BOUND  # decoded block by block


@pytest.mark.parametrize("rate", [1, 50, 999, 768_001, 1_000_000])
def test_a_sample_rate_outside_1_khz_to_768_khz_is_refused_unless_asked(tmp_path, rate):
    path = pcm_wav(tmp_path / "odd.wav", sr=rate, samples=4000)
    refused(path, rf"odd\.wav: .* sample rate of {rate} Hz, outside 1 kHz \.\. 768 kHz")
    y, sr = load_audio(path, sr=None, allow_any_rate=True)
    assert sr == rate and y.shape == (4000,)


def test_max_seconds_refuses_a_long_file_from_its_header(tmp_path, noise):
    sf.write(tmp_path / "two.wav", noise, 16000)
    refused(tmp_path / "two.wav", r"two\.wav: is 2\.0 s long, over the limit of max_seconds=1 s",
            max_seconds=1)  # fmt: skip
    assert load_audio(tmp_path / "two.wav", max_seconds=2)[0].shape == (32000,)
    for nonsense in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_seconds must be a positive number"):
            load_audio(tmp_path / "two.wav", max_seconds=nonsense)


# ---- damaged audio: decode errors and short reads are errors -------------------------------
def ogg_pages(raw):
    """Offsets of the pages of an Ogg file."""
    offsets, at = [], 0
    while at < len(raw):
        offsets.append(at)
        n = raw[at + 26]
        at += 27 + n + sum(raw[at + 27 : at + 27 + n])
    return offsets


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_an_ogg_cut_in_half_is_truncated(tmp_path, noise, subtype):
    sf.write(tmp_path / "full.ogg", np.tile(noise, 2), 16000, format="OGG", subtype=subtype)
    raw = (tmp_path / "full.ogg").read_bytes()
    (tmp_path / "cut.ogg").write_bytes(raw[: len(raw) // 2])
    refused(tmp_path / "cut.ogg", r"cut\.ogg: truncated: its last Ogg page .* needs")


def test_an_ogg_cut_at_a_page_boundary_lacks_its_end_of_stream_page(tmp_path, noise):
    sf.write(tmp_path / "full.ogg", np.tile(noise, 2), 16000, format="OGG")
    raw = (tmp_path / "full.ogg").read_bytes()
    pages = ogg_pages(raw)
    (tmp_path / "cut.ogg").write_bytes(raw[: pages[len(pages) // 2]])
    info = sf.info(str(tmp_path / "cut.ogg"))
    assert 0 < info.frames < 64000  # libsndfile alone reads a shorter sound, without a word
    refused(tmp_path / "cut.ogg", r"cut\.ogg: truncated: .* without its end-of-stream page")


def aiff_comm_frames(raw):
    at = raw.index(b"COMM") + 8 + 2  # numChannels (2 bytes), then numSampleFrames (4)
    return at, struct.unpack(">I", raw[at : at + 4])[0]


def test_an_aiff_whose_header_claims_more_frames_than_it_holds(tmp_path, noise):
    sf.write(tmp_path / "full.aiff", noise, 16000, format="AIFF")
    raw = bytearray((tmp_path / "full.aiff").read_bytes())
    at, frames = aiff_comm_frames(raw)
    raw[at : at + 4] = struct.pack(">I", 2 * frames)
    (tmp_path / "more.aiff").write_bytes(bytes(raw))
    refused(tmp_path / "more.aiff", r"more\.aiff: truncated: the AIFF header promises 64000")


@pytest.mark.parametrize(
    "ext, fmt, subtype",
    [("aiff", "AIFF", "PCM_16"), ("w64", "W64", "PCM_16"), ("rf64", "RF64", "PCM_24"),
     ("au", "AU", "PCM_16"), ("nist", "NIST", "PCM_16"), ("wav", "WAV", "IMA_ADPCM"),
     ("wav", "WAV", "ULAW"), ("wav", "WAVEX", "FLOAT"), ("mp3", "MP3", "MPEG_LAYER_III")],
)  # fmt: skip
def test_a_file_cut_in_half_is_truncated_whatever_its_container(tmp_path, noise, ext, fmt, subtype):
    sf.write(tmp_path / f"full.{ext}", noise, 16000, format=fmt, subtype=subtype)
    raw = (tmp_path / f"full.{ext}").read_bytes()
    (tmp_path / f"cut.{ext}").write_bytes(raw[: len(raw) // 2])
    refused(tmp_path / f"cut.{ext}", rf"cut\.{ext}: truncated")


def test_a_wav_claiming_7_bits_per_sample(tmp_path):
    path = pcm_wav(tmp_path / "seven.wav", bits=7, block=1)
    assert sf.info(str(path)).subtype == "PCM_U8"  # what libsndfile alone makes of it
    refused(path, r"seven\.wav: its WAV header claims 7 bits per sample; PCM WAV stores 8, 16")


def test_a_wav_whose_block_size_disagrees_with_its_channels(tmp_path):
    path = pcm_wav(tmp_path / "block.wav", channels=2, bits=16, block=2)
    refused(path, r"block\.wav: its WAV header claims blocks of 2 bytes, but 2 channel\(s\)")


def test_a_float_wav_of_1e300_is_refused_before_it_makes_nan_features(tmp_path):
    sf.write(tmp_path / "huge.wav", np.full(1600, 1e300), 16000, subtype="DOUBLE")
    refused(tmp_path / "huge.wav", r"huge\.wav: sample 0 is 1e\+300, beyond any recording")


def test_a_float_wav_with_an_infinite_sample(tmp_path, noise):
    y = noise.copy()
    y[7] = np.inf
    sf.write(tmp_path / "inf.wav", y, 16000, subtype="FLOAT")
    refused(tmp_path / "inf.wav", r"inf\.wav: has 1 NaN or Inf samples \(the first at sample 7\)")


# ---- not a file, or a name the file system cannot take --------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_at_once_not_read_as_empty(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")  # no writer: a blocking open would hang here
    error = refused(tmp_path / "pipe.wav", r"pipe\.wav: not a regular file but a named pipe")
    assert "0 bytes" not in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/urandom"), reason="no /dev/urandom")
def test_dev_urandom_is_not_a_regular_file():
    error = refused(__import__("pathlib").Path("/dev/urandom"), r"not a regular file but a char")
    assert "0 bytes" not in str(error)


@pytest.mark.parametrize(
    "junk",
    [np.random.default_rng(1).bytes(5000),  # starts ff e4: an MPEG frame header, by chance
     b"these are my lecture notes\n" * 200],
)  # fmt: skip
def test_a_junk_mp3_is_said_in_words_with_no_decoder_chatter(tmp_path, capfd, junk):
    (tmp_path / "junk.mp3").write_bytes(junk)
    error = refused(tmp_path / "junk.mp3", r"junk\.mp3: not a readable audio file: its contents")
    assert "pipe" not in str(error)
    assert capfd.readouterr().err == ""  # libmpg123's notes about the junk are not shown


def test_a_dangling_symbolic_link(tmp_path):
    os.symlink(tmp_path / "gone.wav", tmp_path / "link.wav")
    refused(tmp_path / "link.wav", r"link\.wav: is a symbolic link to .*gone\.wav, which does not")


def test_an_unreadable_file_says_permission_denied_not_system_error(tmp_path, noise):
    path = tmp_path / "locked.wav"
    sf.write(path, noise, 16000)
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("this user (root?) reads files whatever their permissions")
    error = refused(path, r"locked\.wav: cannot be read: permission denied")
    assert "System error" not in str(error)


def test_permission_denied_is_said_in_words_even_where_root_would_read(
    tmp_path, noise, monkeypatch
):
    path = tmp_path / "locked.wav"
    sf.write(path, noise, 16000)
    real_open = os.open

    def open_as_a_student(name, flags, *args):  # what EACCES looks like to a plain user
        if os.fsencode(name) == os.fsencode(path):
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, flags, *args)

    monkeypatch.setattr(os, "open", open_as_a_student)
    refused(path, r"locked\.wav: cannot be read: permission denied")


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="names must be UTF-8 there")
def test_a_file_name_that_is_not_utf8(tmp_path, noise):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.wav"  # Latin-1 "café"
    try:
        sf.write(tmp_path / "tmp.wav", noise, 16000)
        os.rename(tmp_path / "tmp.wav", raw)
    except OSError as err:  # a file system that refuses such names
        pytest.skip(f"cannot make a non-UTF-8 name here ({errno.errorcode[err.errno]})")
    assert load_audio(raw)[0].shape == (32000,)  # bytes
    assert load_audio(os.fsdecode(raw))[0].shape == (32000,)  # str with surrogates
    with open(raw, "r+b") as f:  # damage it: the message must still print
        f.truncate(100)
    error = refused(os.fsdecode(raw), r"caf\\xe9\.wav: ")
    str(error).encode("utf-8")  # no UnicodeEncodeError when it is printed


def test_a_file_name_longer_than_the_file_system_allows(tmp_path):
    path = tmp_path / ("x" * 300 + ".wav")
    refused(path, r"x\.wav: its name is too long for the file system \(304 bytes in one name")


def test_a_folder_named_like_an_audio_file(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    refused(tmp_path / "dir.wav", r"dir\.wav: is a folder, not an audio file")


# ---- what worked before keeps working -------------------------------------------------------
@pytest.mark.parametrize(
    "name, sr, channels, fmt, subtype",
    [("six.wav", 16000, 6, "WAV", "PCM_16"), ("low.wav", 4000, 1, "WAV", "PCM_16"),
     ("high.wav", 192000, 2, "WAV", "PCM_24"), ("mu.wav", 8000, 1, "WAV", "ULAW"),
     ("ima.wav", 16000, 1, "WAV", "IMA_ADPCM"), ("ms.wav", 16000, 2, "WAV", "MS_ADPCM"),
     ("gsm.wav", 8000, 1, "WAV", "GSM610"), ("w.w64", 16000, 1, "W64", "PCM_16"),
     ("r.rf64", 16000, 1, "RF64", "FLOAT"), ("a.aiff", 22050, 1, "AIFF", "PCM_16"),
     ("o.opus", 48000, 1, "OGG", "OPUS"), ("ünïcødé 名前.flac", 16000, 1, "FLAC", "PCM_16")],
)  # fmt: skip
def test_odd_but_valid_audio_still_loads(tmp_path, noise, name, sr, channels, fmt, subtype):
    y = 0.5 * np.tile(noise[: sr // 2, None], (1, channels))  # 0.5 s or less
    sf.write(tmp_path / name, y, sr, format=fmt, subtype=subtype)
    got, got_sr = load_audio(tmp_path / name, sr=None, mono=False)
    assert got_sr == sr and got.shape[1] == channels and got.shape[0] >= y.shape[0]

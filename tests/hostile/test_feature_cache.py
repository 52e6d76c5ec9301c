"""A damaged or hostile feature cache (issue 16, items 5 and 7): every entry is verified
before it is used; a bad one is rebuilt with one warning line naming it; a cache folder that
cannot be used costs one warning line and the features are still computed.
docs/reliability.md, "The feature cache"."""

import errno
import io
import os
import tracemalloc

import numpy as np
import pytest

from features import AudioError, MFCCConfig, save_audio
from ser.corpus import synthetic_corpus
from ser.corpus.records import Utterance
from ser.pipeline import _audio_digest, _entry, _key, _sidecar, extract

pytestmark = pytest.mark.ch04_training

CONFIG = MFCCConfig()
KINDS = ("mfcc", "logmel", "energy")


@pytest.fixture(scope="module")
def utterance():
    return synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",))[0]


@pytest.fixture(scope="module")
def fresh(utterance):
    """The features of the utterance, computed without any cache."""
    return extract([utterance], kinds=KINDS, cache_dir=False)


def entry_of(utterance, kind, cache):
    return _entry(cache, _key(_audio_digest(utterance), CONFIG, CONFIG.sample_rate, kind))


def run(utterance, cache, kinds=KINDS):
    lines = []
    out = extract([utterance], kinds=kinds, cache_dir=cache, log=lines.append)
    return out, lines


def assert_same(out, fresh, kinds=KINDS):
    for kind in kinds:
        np.testing.assert_array_equal(out[kind][0], fresh[kind][0])


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def header_claiming(shape, dtype="<f8"):
    """A valid .npy header claiming ``shape``, followed by 16 bytes of data."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header.update(shape=shape, descr=dtype)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 16


def nan_entry(good):
    bad = good.copy()
    bad[3, 2] = np.nan
    return npy_bytes(bad)


DAMAGE = {  # name: (what replaces the mfcc entry, what the warning says)
    "zero bytes": (lambda good: b"", "is empty (0 bytes)"),
    "garbage": (lambda good: b"this is not numpy" * 10, "is not a .npy array"),
    "a huge claimed shape": (lambda good: header_claiming((2**40, 13)), "claims 1099511627776"),
    "a header longer than its data": (lambda good: header_claiming((good.shape[0], 13)), "holds"),
    "cut in half": (lambda good: npy_bytes(good)[: len(npy_bytes(good)) // 2], "needs"),
    "NaN": (nan_entry, "does not match its checksum"),
    "empty": (lambda good: npy_bytes(np.zeros((0, 13))), "claims 0 frames"),
    "int8": (lambda good: npy_bytes(good.astype(np.int8)), "holds int8 values, not float64"),
    "a wrong width": (lambda good: npy_bytes(good[:, :7]), "has shape"),
    "transposed": (lambda good: npy_bytes(np.ascontiguousarray(good.T)), "has shape"),
    "3-D": (lambda good: npy_bytes(good[:, :, None]), "has shape"),
    "Fortran order": (lambda good: npy_bytes(np.asfortranarray(good)), "Fortran order"),
    "big-endian": (lambda good: npy_bytes(good.astype(">f8")), "not float64"),
    "one flipped bit": (
        lambda good: (lambda b: b[:-3] + bytes([b[-3] ^ 1]) + b[-2:])(npy_bytes(good)),
        "does not match its checksum",
    ),
}  # fmt: skip


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_bad_entry_is_rebuilt_with_one_warning_naming_it(tmp_path, utterance, fresh, damage):
    run(utterance, tmp_path)  # fill the cache
    entry = entry_of(utterance, "mfcc", tmp_path)
    make, says = DAMAGE[damage]
    entry.write_bytes(make(fresh["mfcc"][0]))
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and str(entry) in lines[0] and "\n" not in lines[0]
    assert says in lines[0] and lines[0].endswith("rebuilding it")
    again, lines = run(utterance, tmp_path)  # rebuilt: read back without a word
    assert_same(again, fresh) and lines == []


@pytest.mark.parametrize("frames", [2**24, 2**40])  # within the frame limit (1.7 GB), beyond
def test_a_huge_claimed_shape_costs_no_memory(tmp_path, utterance, frames):
    run(utterance, tmp_path, kinds=("mfcc",))
    entry_of(utterance, "mfcc", tmp_path).write_bytes(header_claiming((frames, 13)))
    tracemalloc.start()
    try:
        run(utterance, tmp_path, kinds=("mfcc",))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20


def test_a_folder_in_place_of_an_entry_is_rebuilt(tmp_path, utterance, fresh):
    run(utterance, tmp_path)
    entry = entry_of(utterance, "logmel", tmp_path)
    entry.unlink()
    entry.mkdir()
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and "is a folder, not a cache entry; rebuilding it" in lines[0]
    assert entry.is_file()


def test_a_folder_with_files_in_place_of_an_entry_is_left_alone(tmp_path, utterance, fresh):
    run(utterance, tmp_path)
    entry = entry_of(utterance, "logmel", tmp_path)
    entry.unlink()
    entry.mkdir()
    (entry / "notes.txt").write_text("not the cache's to delete")
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and "cannot be removed" in lines[0]
    assert (entry / "notes.txt").is_file()
    _, lines = run(utterance, tmp_path)
    assert len(lines) == 1  # said again each run, never a traceback


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_in_place_of_an_entry_is_not_waited_on(tmp_path, utterance, fresh):
    run(utterance, tmp_path)
    entry = entry_of(utterance, "energy", tmp_path)
    entry.unlink()
    os.mkfifo(entry)
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and "is not a regular file" in lines[0]


def test_an_entry_without_its_checksum_is_rebuilt(tmp_path, utterance, fresh):
    run(utterance, tmp_path)
    entry = entry_of(utterance, "mfcc", tmp_path)
    _sidecar(entry).unlink()
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and f"has no checksum ({entry.name}.sha256 is missing)" in lines[0]


def test_a_checksum_without_its_entry_is_no_entry(tmp_path, utterance, fresh):
    run(utterance, tmp_path)
    entry_of(utterance, "mfcc", tmp_path).unlink()  # as a crash between the two writes leaves
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh) and lines == []


def test_entries_of_one_utterance_with_different_frame_counts(tmp_path, utterance, fresh):
    from ser.pipeline import _write_entry

    run(utterance, tmp_path)
    entry = entry_of(utterance, "logmel", tmp_path)
    _write_entry(entry, fresh["logmel"][0][:-5])  # valid, checksummed, but 5 frames short
    _sidecar(entry_of(utterance, "mfcc", tmp_path)).unlink()  # so that mfcc is recomputed
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 2  # the mfcc entry's checksum, then the logmel entry's frames
    assert str(entry) in lines[1] and "frames" in lines[1] and lines[1].endswith("rebuilding it")


def test_the_default_warning_is_one_line_on_stderr(tmp_path, utterance, capsys):
    extract([utterance], cache_dir=tmp_path)
    entry_of(utterance, "mfcc", tmp_path).write_bytes(b"")
    extract([utterance], cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: feature cache: ")


# ---- a cache folder that cannot be used -----------------------------------------------------
def test_ser_cache_that_is_a_file(tmp_path, utterance, fresh, monkeypatch, capsys):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = extract([utterance], kinds=KINDS)
    assert_same(out, fresh)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: feature cache {tmp_path / 'cache'}: is not a folder; features are "
                   "computed without the cache"]  # fmt: skip


def test_a_cache_folder_whose_shard_is_a_file(tmp_path, utterance, fresh):
    shard = entry_of(utterance, "mfcc", tmp_path).parent
    shard.write_text("in the way")  # every write under it fails (ENOTDIR / EEXIST)
    out, lines = run(utterance, tmp_path)
    assert_same(out, fresh)
    assert len(lines) == 1 and "cannot write" in lines[0] and "for the rest of this run" in lines[0]


def test_a_read_only_cache_folder(tmp_path, utterance, fresh):
    tmp_path.chmod(0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("this user (root?) writes whatever the permissions")
        out, lines = run(utterance, tmp_path)
        assert_same(out, fresh)
        assert len(lines) == 1 and "cannot write" in lines[0]
    finally:
        tmp_path.chmod(0o755)


def test_a_full_disk_while_an_entry_is_written(tmp_path, utterance, fresh, monkeypatch):
    real_save = np.save

    def save_until_the_disk_fills(f, array, **options):  # half the bytes, then ENOSPC
        whole = io.BytesIO()
        real_save(whole, array, **options)
        f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", save_until_the_disk_fills)
    out, lines = run(utterance, tmp_path)
    monkeypatch.setattr(np, "save", real_save)
    assert_same(out, fresh)
    assert len(lines) == 1 and "No space left on device" in lines[0]
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in leftovers if p.suffix == ".npy" or ".npy." in p.name]  # no partial entry
    _, lines = run(utterance, tmp_path)  # the disk has room again: the cache fills
    assert lines == [] and len(list(tmp_path.rglob("*.npy"))) == len(KINDS)


# ---- the audio an entry is keyed by ---------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_an_utterance_whose_file_is_a_fifo_is_an_audio_error_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    utt = Utterance(tmp_path / "pipe.wav", "sad", "S01", "files")
    with pytest.raises(AudioError, match=r"pipe\.wav: not a regular file"):
        extract([utt], cache_dir=tmp_path / "cache")


def test_an_unreadable_utterance_is_an_audio_error_naming_it(tmp_path, monkeypatch):
    save_audio(tmp_path / "locked.wav", 0.1 * np.sin(np.arange(8000) / 3.0), 16000)
    real_open = os.open

    def open_as_a_student(name, flags, *args):
        if os.fsencode(name).endswith(b"locked.wav"):
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, flags, *args)

    monkeypatch.setattr(os, "open", open_as_a_student)
    utt = Utterance(tmp_path / "locked.wav", "sad", "S01", "files")
    with pytest.raises(AudioError, match=r"locked\.wav: cannot be read: permission denied"):
        extract([utt], cache_dir=tmp_path / "cache")

"""Hostile corpus folders and manifests (issue 16, items 7, 8, 10, 11): every entry named
like an audio file that a reader does not use is in ``Corpus.skipped`` with the reason, and a
manifest that cannot be read is one ValueError naming it. docs/reliability.md, "Corpus
folders"; the folders are built here, nothing is committed."""

import csv
import errno
import os
import sys

import numpy as np
import pytest

from features import save_audio
from features.audio import path_for_message
from ser.corpus import load_corpus
from ser.corpus.synth import MANIFEST, synthetic_corpus, write_synthetic_corpus

pytestmark = pytest.mark.ch00_corpus

TONE = 0.1 * np.sin(np.arange(1600) / 3.0)
GOOD = "Actor_01/03-01-05-01-01-01-01.wav"  # RAVDESS: angry, actor 1
SAD = "Actor_01/03-01-04-01-01-01-01.wav"  # sad, actor 1


def ravdess(root, *names):
    for i, name in enumerate((GOOD, *names)):
        save_audio(root / name, np.roll(TONE, i), 16000)  # distinct bytes
    return root


def reasons(corpus):
    return {path_for_message(s.path.relative_to(corpus.root)): s.reason for s in corpus.skipped}


# ---- entries that are not readable regular files --------------------------------------------
def test_a_dangling_symbolic_link_is_skipped_with_its_target(tmp_path):
    ravdess(tmp_path)
    os.symlink(tmp_path / "gone.wav", tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav")
    corpus = load_corpus("ravdess", tmp_path)
    assert len(corpus) == 1
    why = reasons(corpus)["Actor_01/03-01-04-01-01-01-01.wav"]
    assert "a symbolic link to" in why and "gone.wav, which does not exist" in why


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_skipped_not_dropped_and_never_opened(tmp_path):
    ravdess(tmp_path)
    os.mkfifo(tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav")  # a blocking open would hang
    corpus = load_corpus("ravdess", tmp_path)
    assert reasons(corpus) == {
        "Actor_01/03-01-04-01-01-01-01.wav": "not a regular file but a named pipe (FIFO)"
    }


def test_a_folder_named_like_a_wav_is_skipped(tmp_path):
    ravdess(tmp_path)
    (tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav").mkdir()
    corpus = load_corpus("ravdess", tmp_path)
    assert reasons(corpus) == {SAD: "a folder named like an audio file"}


def test_an_unreadable_wav_is_skipped_when_the_corpus_is_read(tmp_path):
    ravdess(tmp_path, "Actor_01/03-01-04-01-01-01-01.wav")
    locked = tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav"
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("this user (root?) reads files whatever their permissions")
    corpus = load_corpus("ravdess", tmp_path)
    assert len(corpus) == 1
    assert reasons(corpus) == {SAD: "cannot be read (permission denied)"}


def test_an_unreadable_wav_is_skipped_even_where_root_would_read_it(tmp_path, monkeypatch):
    ravdess(tmp_path, SAD)
    locked, real_open = os.fsencode(tmp_path / SAD), os.open

    def open_as_a_student(path, flags, *args):  # what EACCES looks like to a plain user
        if os.fsencode(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", open_as_a_student)
    corpus = load_corpus("ravdess", tmp_path)
    assert reasons(corpus) == {SAD: "cannot be read (permission denied)"}


def test_an_unreadable_folder_is_reported_not_passed_over(tmp_path):
    ravdess(tmp_path, "Actor_02/03-01-04-01-01-01-02.wav")
    (tmp_path / "Actor_02").chmod(0)
    try:
        if os.access(tmp_path / "Actor_02", os.R_OK):
            pytest.skip("this user (root?) reads folders whatever their permissions")
        corpus = load_corpus("ravdess", tmp_path)
        assert reasons(corpus) == {"Actor_02": "a folder that cannot be read (permission denied)"}
    finally:
        (tmp_path / "Actor_02").chmod(0o755)


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="names must be UTF-8 there")
def test_a_file_name_that_is_not_utf8_is_skipped_and_the_summary_prints(tmp_path):
    ravdess(tmp_path)
    raw = os.fsencode(tmp_path / "Actor_01") + b"/03-01-04-01-01-01-01 caf\xe9.wav"
    try:
        save_audio(tmp_path / "tmp.wav", TONE, 16000)
        os.rename(tmp_path / "tmp.wav", raw)
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    corpus = load_corpus("ravdess", tmp_path)
    assert "Actor_01/03-01-04-01-01-01-01 caf\\xe9.wav" in reasons(corpus)
    corpus.summary().encode("utf-8")  # printable: no UnicodeEncodeError


# ---- duplicates -----------------------------------------------------------------------------
def test_a_duplicate_file_is_skipped_and_the_first_kept(tmp_path):
    ravdess(tmp_path)
    copy = tmp_path / "backup" / "Actor_01" / "03-01-05-01-01-01-01.wav"  # same name and bytes
    copy.parent.mkdir(parents=True)
    copy.write_bytes((tmp_path / GOOD).read_bytes())
    corpus = load_corpus("ravdess", tmp_path)
    assert [u.path for u in corpus] == [tmp_path / GOOD]
    why = f"the same bytes as {tmp_path / GOOD} (a duplicate)"
    assert reasons(corpus) == {f"backup/{GOOD}": why}


def test_a_hard_link_and_a_symbolic_link_to_one_file_count_once(tmp_path):
    ravdess(tmp_path)
    os.link(tmp_path / GOOD, tmp_path / "Actor_01" / "03-01-05-01-01-02-01.wav")
    os.symlink(tmp_path / GOOD, tmp_path / "Actor_01" / "03-01-05-01-02-01-01.wav")
    corpus = load_corpus("ravdess", tmp_path)
    assert len(corpus) == 1 and len(corpus.skipped) == 2
    assert all("(a duplicate)" in why for why in reasons(corpus).values())


def test_files_of_one_size_but_different_bytes_are_both_kept(tmp_path):
    ravdess(tmp_path, "Actor_01/03-01-04-01-01-01-01.wav")
    sizes = {p.stat().st_size for p in tmp_path.rglob("*.wav")}
    assert len(sizes) == 1  # compared by content, not by size
    assert len(load_corpus("ravdess", tmp_path)) == 2


# ---- the synthetic corpus's manifest --------------------------------------------------------
@pytest.fixture
def written(tmp_path):
    write_synthetic_corpus(
        synthetic_corpus(n_speakers=1, n_utterances=2, emotions=("sad",)), tmp_path
    )
    return tmp_path  # fmt: skip


def rows(root):
    with open(root / MANIFEST, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_rows(root, table, encoding="utf-8"):
    with open(root / MANIFEST, "w", newline="", encoding=encoding) as f:
        csv.writer(f, lineterminator="\n").writerows(table)


def test_a_manifest_row_listed_twice_is_skipped(written):
    table = rows(written)
    write_rows(written, [*table, table[1]])
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 2
    assert [s.reason for s in corpus.skipped] == ["line 4: listed again (first on line 2)"]


def test_two_manifest_rows_naming_files_with_the_same_bytes(written):
    table = rows(written)
    first = written / table[1][0]
    twin = first.with_name("twin.wav")
    twin.write_bytes(first.read_bytes())
    write_rows(written, [*table, [str(twin.relative_to(written)), *table[1][1:]]])
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 2
    assert [s.path.name for s in corpus.skipped] == ["twin.wav"]
    assert "the same bytes as" in corpus.skipped[0].reason


@pytest.mark.parametrize("where", ["../outside.wav", "/abs/outside.wav", "link.wav"])
def test_a_manifest_path_outside_the_corpus_folder_is_never_read(written, where):
    outside = written.parent / "outside.wav"
    save_audio(outside, TONE, 16000)
    if where == "link.wav":
        os.symlink(outside, written / "link.wav")
    path = str(outside) if where.startswith("/") else where
    table = rows(written)
    write_rows(written, [*table, [path, *table[1][1:]]])
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 2 and all(u.path.is_relative_to(written) for u in corpus)
    why = {s.path.name: s.reason for s in corpus.skipped}["outside.wav"]
    assert why == f"line 4: {path!r} leads outside the corpus folder"


def test_a_manifest_with_a_utf8_bom_reads(written):
    text = (written / MANIFEST).read_text(encoding="utf-8")
    (written / MANIFEST).write_text(text, encoding="utf-8-sig")
    assert (written / MANIFEST).read_bytes().startswith(b"\xef\xbb\xbf")
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 2 and corpus.skipped == ()


def test_a_latin1_manifest_is_a_clear_value_error_naming_it(written):
    table = rows(written)
    table[1][2] = "Zoë"  # the speaker column
    write_rows(written, table, encoding="latin-1")
    with pytest.raises(ValueError, match=r"manifest\.csv: is not UTF-8 text \(byte 0xeb") as info:
        load_corpus("synthetic", written)
    assert str(written / MANIFEST) in str(info.value)


def test_a_manifest_field_over_the_csv_limit_is_a_value_error_not_a_csv_error(written):
    table = rows(written)
    table[1][3] = "x" * (csv.field_size_limit() + 1)
    write_rows(written, table)
    with pytest.raises(ValueError, match=r"manifest\.csv, line \d: a field is longer than") as info:
        load_corpus("synthetic", written)
    assert not isinstance(info.value, csv.Error) and str(written / MANIFEST) in str(info.value)


def test_a_manifest_row_with_too_few_or_too_many_fields_is_skipped(written):
    table = rows(written)
    write_rows(written, [table[0], table[1][:2], [*table[2], "extra"]])
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 0
    width = len(table[0])
    assert {s.reason for s in corpus.skipped} >= {
        f"line 2: has 2 fields, the header has {width}",
        f"line 3: has {width + 1} fields, the header has {width}",
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_manifest_row_naming_a_fifo_is_skipped(written):
    table = rows(written)
    os.mkfifo(written / "pipe.wav")
    write_rows(written, [*table, ["pipe.wav", *table[1][1:]]])
    corpus = load_corpus("synthetic", written)
    assert len(corpus) == 2
    assert [s.reason for s in corpus.skipped] == [
        f"listed in {MANIFEST} line 4: not a regular file but a named pipe (FIFO)"
    ]

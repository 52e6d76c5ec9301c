"""The real-corpus readers, on folders built here with each corpus's real naming scheme."""

from pathlib import Path

import numpy as np
import pytest

from ser.corpus import LABELS, load_corpus

pytestmark = pytest.mark.ch00_corpus

TONE = 0.1 * np.sin(np.arange(1600) / 3.0)  # 0.1 s: the readers look at names, not contents


def make_files(root: Path, names: list[str]) -> Path:
    from features import save_audio

    for i, name in enumerate(names):  # distinct bytes: files with the same bytes are duplicates
        save_audio(root / name, np.roll(TONE, i), 16000)
    return root


def by_name(corpus):
    return {u.path.name: u for u in corpus}


def test_ravdess_fields_labels_and_speakers(tmp_path):
    root = make_files(
        tmp_path,
        ["Actor_12/03-01-06-01-02-01-12.wav", "Actor_01/03-01-01-01-01-02-01.wav",
         "Actor_01/03-02-05-02-01-01-01.wav"],
    )  # fmt: skip
    corpus = load_corpus("ravdess", root)
    assert len(corpus) == 3 and corpus.skipped == ()
    u = by_name(corpus)["03-01-06-01-02-01-12.wav"]
    assert (u.emotion, u.speaker, u.corpus) == ("fearful", "Actor_12", "ravdess")
    assert u.fields == {"vocal_channel": "speech", "intensity": "normal",
                        "statement": "Dogs are sitting by the door", "repetition": 1,
                        "sex": "female"}  # fmt: skip
    song = by_name(corpus)["03-02-05-02-01-01-01.wav"]
    assert (song.emotion, song.fields["vocal_channel"], song.fields["sex"]) == (
        "angry",
        "song",
        "male",
    )


def test_ravdess_reports_every_file_that_does_not_fit(tmp_path):
    root = make_files(
        tmp_path,
        ["Actor_02/03-01-03-01-01-01-02.wav",  # fine
         "Actor_02/03-01-01-02-01-01-02.wav",  # strong neutral does not exist
         "Actor_02/03-01-03-01-01-01-05.wav",  # actor 05 in folder Actor_02
         "Actor_02/03-01-09-01-01-01-02.wav",  # emotion 09
         "Actor_02/._03-01-03-01-01-01-02.wav",  # a macOS resource fork
         "Actor_02/02-01-03-01-01-01-02.wav",  # video-only modality
         "notes/readme.wav"],
    )  # fmt: skip
    (root / "notes" / "readme.txt").write_text("not audio: not reported")
    corpus = load_corpus("ravdess", root)
    assert len(corpus) == 1
    reasons = {s.path.name: s.reason for s in corpus.skipped}
    assert len(reasons) == 6
    assert "no strong-intensity neutral" in reasons["03-01-01-02-01-01-02.wav"]
    assert "does not match its folder Actor_02" in reasons["03-01-03-01-01-01-05.wav"]
    assert "emotion code '09'" in reasons["03-01-09-01-01-01-02.wav"]
    assert "7-field" in reasons["._03-01-03-01-01-01-02.wav"]
    assert "modality 02" in reasons["02-01-03-01-01-01-02.wav"]
    assert "skipped 6 file(s)" in corpus.summary()


def test_crema_d(tmp_path):
    root = make_files(
        tmp_path,
        ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_HAP_HI.wav",
         "AudioWAV/1002_DFA_BOR_XX.wav", "AudioWAV/1001_DFA_ANG_XX (copy).wav"],
    )  # fmt: skip
    corpus = load_corpus("crema-d", root)
    u = by_name(corpus)["1091_IEO_HAP_HI.wav"]
    assert (u.emotion, u.speaker) == ("happy", "1091")
    assert u.fields == {"sentence": "IEO", "text": "It's eleven o'clock", "level": "high"}
    assert by_name(corpus)["1001_DFA_ANG_XX.wav"].fields["level"] == "unspecified"
    assert sorted(s.path.name for s in corpus.skipped) == [
        "1001_DFA_ANG_XX (copy).wav",
        "1002_DFA_BOR_XX.wav",
    ]
    assert load_corpus("CREMA_D", root).name == "crema-d"  # aliases


def test_tess(tmp_path):
    root = make_files(
        tmp_path,
        ["OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_germ_ps.wav",
         "OAF_neutral/OA_bite_neutral.wav", "YAF_fear/YAF_dog_Fear.wav", "other/OAF_back.wav"],
    )  # fmt: skip
    corpus = load_corpus("tess", root)
    emotions = {u.path.name: (u.emotion, u.speaker) for u in corpus}
    assert emotions == {
        "OAF_back_angry.wav": ("angry", "OAF"),
        "YAF_germ_ps.wav": ("surprised", "YAF"),
        "OA_bite_neutral.wav": ("neutral", "OAF"),
        "YAF_dog_Fear.wav": ("fearful", "YAF"),
    }
    assert [s.path.name for s in corpus.skipped] == ["OAF_back.wav"]


def test_emodb_every_letter_maps_onto_the_label_set(tmp_path):
    names = [f"wav/03a01{letter}a.wav" for letter in "WLEAFTN"] + ["wav/16b10Fb.wav"]
    corpus = load_corpus("emodb", make_files(tmp_path, names + ["wav/04a01Fa.wav"]))
    got = {u.path.name[5]: u.emotion for u in corpus if u.speaker == "03"}
    assert got == {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy",
                   "T": "sad", "N": "neutral"}  # fmt: skip
    u = by_name(corpus)["16b10Fb.wav"]
    assert u.fields == {"text": "b10", "version": "b", "sex": "female", "age": 31}
    assert "speaker code '04'" in corpus.skipped[0].reason
    assert all(u.emotion in LABELS for u in corpus)


def test_the_utterance_reads_its_audio_resampled(tmp_path):
    root = make_files(tmp_path, ["wav/03a01Fa.wav"])
    y = load_corpus("emodb", root)[0].audio(sr=8000)
    assert y.shape == (800,)


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_corpus("ravdess", tmp_path / "nope")
    with pytest.raises(ValueError, match="no audio files like RAVDESS"):
        load_corpus("ravdess", tmp_path)
    with pytest.raises(ValueError, match="unknown corpus 'iemocap'"):
        load_corpus("iemocap", tmp_path)
    with pytest.raises(ValueError, match="needs the folder"):
        load_corpus("tess")

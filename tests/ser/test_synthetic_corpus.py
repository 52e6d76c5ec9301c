"""The built-in corpus: size, determinism, speakers, the manifest round trip, the splits."""

import numpy as np
import pytest

from ser.cli import main
from ser.corpus import (
    leave_one_speaker_out,
    load_corpus,
    make_speakers,
    speaker_split,
    synthetic_corpus,
    write_synthetic_corpus,
)

pytestmark = pytest.mark.ch00_corpus


def test_default_corpus_is_4_emotions_10_speakers_20_utterances():
    corpus = synthetic_corpus()
    assert len(corpus) == 800 and len(corpus.speakers) == 10
    assert corpus.counts() == {"neutral": 200, "happy": 200, "sad": 200, "angry": 200}


def test_an_utterance_renders_the_same_alone_and_in_any_order():
    a = synthetic_corpus(n_speakers=3, n_utterances=3, seed=5)
    b = synthetic_corpus(n_speakers=3, n_utterances=3, seed=5, emotions=("angry", "neutral"))
    angry_a = [u for u in a if u.emotion == "angry"][4]
    angry_b = [u for u in b if u.emotion == "angry"][4]
    assert angry_a.fields["id"] == angry_b.fields["id"]
    np.testing.assert_array_equal(angry_b.audio(), angry_a.audio())
    c = synthetic_corpus(n_speakers=3, n_utterances=3, seed=6)
    assert not np.array_equal(c[0].audio(), a[0].audio())


def test_utterances_are_about_two_seconds_and_the_sentences_are_shared():
    corpus = synthetic_corpus(n_speakers=2, n_utterances=4)
    seconds = [len(u.audio()) / 16000 for u in corpus]
    assert 1.0 < np.median(seconds) < 3.5
    assert {u.fields["sentence"] for u in corpus} == {0, 1, 2, 3}


def test_speakers_differ_in_f0_formants_and_rate():
    speakers = make_speakers(10, seed=0)
    women = [s.voice.f0_hz for s in speakers if s.sex == "female"]
    men = [s.voice.f0_hz for s in speakers if s.sex == "male"]
    assert len(women) == len(men) == 5 and min(women) > max(men)
    assert len({round(s.voice.formant_scale, 3) for s in speakers}) == 10
    assert len({round(s.voice.rate, 2) for s in speakers}) > 5


def test_noise_at_a_requested_snr():
    from features.augment import snr_db

    quiet = synthetic_corpus(n_speakers=1, n_utterances=1)[0].audio()
    noisy = synthetic_corpus(n_speakers=1, n_utterances=1, snr_db=5.0)[0].audio()
    assert noisy.shape == quiet.shape  # same voice: the noise is drawn after it
    assert snr_db(quiet, noisy - quiet) == pytest.approx(5.0, abs=1e-6)


def test_written_corpus_reads_back_through_the_same_api(tmp_path):
    corpus = synthetic_corpus(n_speakers=2, n_utterances=2)
    write_synthetic_corpus(corpus, tmp_path)
    again = load_corpus("synthetic", tmp_path)
    assert len(again) == len(corpus) and again.skipped == ()
    first = {u.fields["id"]: u for u in again}[corpus[0].fields["id"]]
    assert (first.emotion, first.speaker) == (corpus[0].emotion, corpus[0].speaker)
    assert np.max(np.abs(first.audio() - corpus[0].audio())) < 1e-4  # 16-bit PCM


def test_manifest_problems_are_reported(tmp_path):
    write_synthetic_corpus(synthetic_corpus(n_speakers=1, n_utterances=2), tmp_path)
    victim = sorted(tmp_path.glob("S01/*.wav"))[0]
    victim.unlink()
    (tmp_path / "S01" / "extra.wav").write_bytes(b"")
    corpus = load_corpus("synthetic", tmp_path)
    reasons = sorted(s.reason for s in corpus.skipped)
    assert len(corpus) == 7
    assert any("but missing" in r for r in reasons)
    assert any("not listed in manifest.csv" in r for r in reasons)
    with pytest.raises(FileNotFoundError, match="no manifest"):
        load_corpus("synthetic", tmp_path / "S01")


def test_ser_synth_writes_and_ser_corpus_reads(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--speakers", "2", "--utterances", "1",
                 "--emotions", "sad", "angry"]) == 0  # fmt: skip
    assert "wrote 4 WAV files" in capsys.readouterr().out
    assert main(["corpus", "synthetic", str(tmp_path)]) == 0
    assert "4 utterances, 2 speakers" in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path), "--emotions", "bored"]) == 2
    assert "unknown emotion(s) bored" in capsys.readouterr().err


def test_speaker_split_is_disjoint_deterministic_and_complete():
    corpus = synthetic_corpus(n_speakers=10, n_utterances=1)
    split = speaker_split(corpus, validation=0.2, test=0.2, seed=3)
    groups = split.speakers
    assert [len(groups[k]) for k in ("train", "validation", "test")] == [6, 2, 2]
    assert not set(groups["train"]) & set(groups["test"])
    assert not set(groups["validation"]) & (set(groups["train"]) | set(groups["test"]))
    assert len(split.train) + len(split.validation) + len(split.test) == len(corpus)
    assert speaker_split(corpus, seed=3).speakers == groups
    assert speaker_split(corpus, seed=4).speakers != groups


def test_split_refuses_two_speakers_and_loso_covers_everyone():
    corpus = synthetic_corpus(n_speakers=2, n_utterances=1)
    with pytest.raises(ValueError, match="needs at least 3.*leave_one_speaker_out"):
        speaker_split(corpus)
    folds = list(leave_one_speaker_out(synthetic_corpus(n_speakers=4, n_utterances=1)))
    assert [f[0] for f in folds] == ["S01", "S02", "S03", "S04"]
    for speaker, train, test in folds:
        assert test.speakers == [speaker] and speaker not in train.speakers


def test_select_by_emotion_and_speaker():
    corpus = synthetic_corpus(n_speakers=3, n_utterances=1)
    chosen = corpus.select(emotions=["sad"], speakers=["S01", "S03"])
    assert {(u.emotion, u.speaker) for u in chosen} == {("sad", "S01"), ("sad", "S03")}
    with pytest.raises(ValueError, match="unknown emotions"):
        corpus.select(emotions=["bored", "furious"])


def test_every_voice_parameter_is_kept_in_a_plausible_range():
    import dataclasses

    from ser.corpus.synth import _PLAUSIBLE, EMOTION_PARAMS, _vary
    from ser.corpus.voice import VoiceParams

    assert set(_PLAUSIBLE) == {f.name for f in dataclasses.fields(VoiceParams)}
    rng = np.random.default_rng(0)
    for _ in range(200):  # an absurd spread still gives speech-like parameters
        p = _vary(EMOTION_PARAMS["sad"], rng, 2.0)
        for name, (low, high) in _PLAUSIBLE.items():
            assert low <= getattr(p, name) <= high, name


def test_each_speaker_has_one_style_per_emotion_and_speakers_differ():
    corpus = synthetic_corpus(n_speakers=2, n_utterances=2, emotions=("angry",))
    styles = [u.render.keywords["style"] for u in corpus]
    assert styles[0] == styles[1]  # S01's two angry utterances share S01's anger
    assert styles[0] != styles[2]  # S02 is angry in its own way
    flat = synthetic_corpus(n_speakers=2, n_utterances=1, emotions=("angry",), speaker_style=0.0)
    assert flat[0].render.keywords["style"] == flat[1].render.keywords["style"]

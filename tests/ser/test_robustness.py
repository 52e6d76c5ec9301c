"""``ser robustness``: one entry per (noise, SNR), the exact SNR, babble of other speakers only,
the clean column as ``ser evaluate`` scores it, nothing cached, the figure, and the bad inputs
(exit 2, one line, before any work)."""

import json
import shutil

import numpy as np
import pytest

from features import save_audio, snr_db
from features.augment import mix_at_snr
from ser.cli import main
from ser.corpus import synthetic_corpus
from ser.io import save_model

pytestmark = [pytest.mark.cli]

EMOTIONS = ("neutral", "angry")
UTTERANCES = 2  # per speaker and emotion, in training and in scoring


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A document's-CNN model trained for one epoch on 4 speakers (S03 is its test speaker)
    and the corpus it was trained on."""
    from ser.experiment import train

    root = tmp_path_factory.mktemp("robustness")
    corpus = synthetic_corpus(n_speakers=4, n_utterances=UTTERANCES, emotions=EMOTIONS)
    run = train(corpus, labels=list(EMOTIONS), recipe="cnn", epochs=1, seed=0, verbose=0,
                cache_dir=root / "train-cache", log=lambda *a: None)  # fmt: skip
    path = save_model(run.model, root / "model.npz")
    return {"path": path, "model": run.model, "test": run.split.speakers["test"], "root": root}


@pytest.fixture(scope="session")
def scored(tiny, tmp_path_factory):
    """One run of the command (three noises, two SNRs) with an empty feature cache."""
    import os

    out = tmp_path_factory.mktemp("out")
    cache = tmp_path_factory.mktemp("cache")
    before = os.environ.get("SER_CACHE")
    os.environ["SER_CACHE"] = str(cache)
    try:
        status = main(["robustness", str(tiny["path"]), "--snr", "20", "5", "--utterances",
                       str(UTTERANCES), "--out", str(out)])  # fmt: skip
    finally:
        if before is None:
            del os.environ["SER_CACHE"]
        else:
            os.environ["SER_CACHE"] = before
    assert status == 0
    return {"out": out, "cache": cache, "json": json.loads((out / "robustness.json").read_text())}


def test_the_json_has_one_entry_per_noise_and_snr_after_the_clean_one(scored, tiny):
    r = scored["json"]
    assert r["speakers"] == tiny["test"] and r["speakers_from"] == "the model's test speakers"
    assert [n["name"] for n in r["noises"]] == ["white", "pink", "babble"]
    assert r["snr_db"] == [20.0, 5.0]
    entries = r["entries"]
    assert (entries[0]["noise"], entries[0]["snr_db"]) == ("none", None)  # clean, first
    pairs = [(e["noise"], e["snr_db"]) for e in entries[1:]]
    assert sorted(pairs) == sorted((n, s) for n in ("white", "pink", "babble") for s in (20, 5))
    for e in entries:
        assert e["n"] == len(EMOTIONS) * UTTERANCES  # the same utterances in every condition
        assert 0 <= e["uar"] <= 1 and 0 <= e["accuracy"] <= 1 and 0 <= e["macro_f1"] <= 1
        assert np.array(e["confusion"]).sum() == e["n"]
    report = (scored["out"] / "report.md").read_text()
    assert "| UAR | clean | 20 dB | 5 dB |" in report and "| babble |" in report


def test_every_mixture_has_the_requested_snr_measured_back(scored, tiny):
    from ser.robustness import NoiseSource, babble_pool, noise_for

    for e in scored["json"]["entries"][1:]:
        assert e["max_snr_error_db"] <= 1e-9
    corpus = synthetic_corpus(n_speakers=10, n_utterances=UTTERANCES, emotions=EMOTIONS)
    u = next(u for u in corpus if u.speaker == tiny["test"][0])
    y = u.audio(16000)
    pool = babble_pool(corpus, tiny["test"], sr=16000)
    for kind in ("white", "pink", "babble"):
        v, _ = noise_for(NoiseSource(kind, kind), u.id, y.shape[0], pool=pool)
        for snr in (30.0, 10.0, 0.0, -5.0):
            x = mix_at_snr(y, v, snr=snr)
            measured = 10 * np.log10(np.sum(y**2) / np.sum((x - y) ** 2))  # eq. SNR, whole file
            assert abs(measured - snr) <= 1e-9 and abs(snr_db(y, x - y) - snr) <= 1e-9


def test_babble_never_holds_a_scored_speakers_voice(scored, tiny):
    babble = next(n for n in scored["json"]["noises"] if n["kind"] == "babble")
    scored_speakers = set(scored["json"]["speakers"])
    assert babble["talkers"] == 6
    assert babble["speakers"] and not set(babble["speakers"]) & scored_speakers
    assert babble["speakers_used"] and not set(babble["speakers_used"]) & scored_speakers
    speaker_of = {u.id: u.speaker for u in synthetic_corpus(n_speakers=10, n_utterances=UTTERANCES,
                                                            emotions=EMOTIONS)}  # fmt: skip
    assert not {speaker_of[i] for i in babble["utterances_used"]} & scored_speakers
    assert set(babble["utterances_used"]) <= set(babble["utterances"])


def test_the_noise_is_seeded_and_the_same_at_every_snr():
    from ser.robustness import NoiseSource, noise_for

    white = NoiseSource("white", "white")
    a, _ = noise_for(white, "S03_angry_000", 500, seed=0)
    np.testing.assert_array_equal(a, noise_for(white, "S03_angry_000", 500, seed=0)[0])
    assert not np.array_equal(a, noise_for(white, "S03_angry_000", 500, seed=1)[0])
    assert not np.array_equal(a, noise_for(white, "S03_angry_001", 500, seed=0)[0])
    y = np.sin(np.arange(500) / 3.0)
    d10, d0 = mix_at_snr(y, a, snr=10.0) - y, mix_at_snr(y, a, snr=0.0) - y
    np.testing.assert_allclose(d0 / d10, np.sqrt(10.0))  # one noise, two gains


def test_the_clean_column_is_what_ser_evaluate_scores(scored, tiny):  # eq. RB-1
    from ser.experiment import evaluate

    corpus = synthetic_corpus(n_speakers=10, n_utterances=UTTERANCES, emotions=EMOTIONS)
    scores = evaluate(tiny["model"], corpus.select(speakers=tiny["test"]), cache_dir=False)
    clean = scored["json"]["entries"][0]
    assert clean["uar"] == pytest.approx(scores.uar) and clean["n"] == scores.n
    assert clean["confusion"] == scores.confusion.tolist()


def test_nothing_is_written_to_the_feature_cache(scored):
    assert not any(scored["cache"].rglob("*"))


def test_the_figure_has_snr_and_uar_axes_clean_and_chance(tiny, tmp_path, monkeypatch):
    from ser import plotting
    from ser.report import save_robustness_curves
    from ser.robustness import NoiseSource, run_robustness

    corpus = synthetic_corpus(n_speakers=10, n_utterances=1, emotions=EMOTIONS)
    result = run_robustness(tiny["model"], corpus, noises=[NoiseSource("white", "white")],
                            snrs=(10, 0), log=lambda *a: None)  # fmt: skip
    seen = []
    original = plotting.save

    def keep(fig, path, **kwargs):
        seen.append(fig)
        assert not plotting.figure_problems(fig)  # every axes labelled
        return original(fig, path, **kwargs)

    monkeypatch.setattr(plotting, "save", keep)
    for results in ([("clean", result)], [("clean", result), ("noise", result)]):
        path = save_robustness_curves(tmp_path / "curves.png", results)
        assert path.stat().st_size > 1000
        for ax in seen[-1].axes:
            assert ax.get_xlabel() == "SNR (dB)"
            assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "10", "clean"]
            assert any(line.get_linestyle() == "--" for line in ax.lines)  # chance
        assert seen[-1].axes[0].get_ylabel() == "UAR"
    assert len(seen[-1].axes) == 1  # two models: one panel per noise (one noise here)
    assert len(seen[-1].axes[0].lines) == 3  # two models and chance


def test_a_noise_file_is_looped_and_one_of_another_rate_is_resampled_with_a_note(
    tiny, tmp_path, capsys
):
    rng = np.random.default_rng(0)
    save_audio(tmp_path / "fan.wav", 0.1 * rng.standard_normal(4000), 8000)  # 0.5 s at 8 kHz
    status = main(["robustness", str(tiny["path"]), "--noise", str(tmp_path / "fan.wav"),
                   "--snr", "10", "--utterances", "1", "--out", str(tmp_path / "out")])  # fmt: skip
    assert status == 0
    err = capsys.readouterr().err
    assert "8000 Hz; resampled to the model's 16000 Hz" in err
    r = json.loads((tmp_path / "out" / "robustness.json").read_text())
    noise = r["noises"][0]
    assert noise["kind"] == "file" and noise["name"] == "fan.wav"
    assert noise["sample_rate"] == 8000 and noise["resampled_to"] == 16000
    assert r["entries"][1]["max_snr_error_db"] <= 1e-9


def test_compare_puts_two_models_on_one_figure_and_in_the_json(tiny, tmp_path):
    other = tmp_path / "other.npz"
    shutil.copy(tiny["path"], other)
    status = main(["robustness", str(tiny["path"]), "--compare", str(other), "--noise", "white",
                   "--snr", "10", "--utterances", "1", "--out", str(tmp_path / "out")])  # fmt: skip
    assert status == 0
    r = json.loads((tmp_path / "out" / "robustness.json").read_text())
    assert len(r["compared"]) == 1
    assert r["compared"][0]["entries"] == r["entries"]  # the same model: the same mixtures


# ---- bad inputs: one line, exit 2 ------------------------------------------------------------


def _without_test_speakers(tiny, folder):
    from nn.serialization import load_model

    model = load_model(tiny["path"])
    model.metadata = {k: v for k, v in model.metadata.items() if k != "speakers"}
    return save_model(model, folder / "no-speakers.npz")


def _with_labels(tiny, folder, labels):
    from nn.serialization import load_model

    model = load_model(tiny["path"])
    model.metadata = {**model.metadata, "labels": list(labels)}
    return save_model(model, folder / "other-labels.npz")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--snr", "ten"], "--snr must be a finite number, got ten"),
        (["--snr", "nan"], "--snr must be a finite number, got nan"),
        (["--snr", "inf"], "--snr must be a finite number, got inf"),
        (["--snr", "10", "10"], "--snr names 10 more than once"),
        (["--noise", "whte"], "unknown noise kind 'whte'; choose white, pink, babble"),
        (["--noise", "white", "white"], "--noise names white more than once"),
        (["--noise", "{tmp}/missing.wav"], "missing.wav"),
        (["--noise", "{tmp}/corrupt.wav"], "corrupt.wav: not a readable audio file"),
        (["--noise", "{tmp}/silent.wav"], "the noise file is silent"),
        (["--noise", "{tmp}/click.wav"], "shorter than one analysis window"),
        (["--speakers", "S99"], "synthetic has no speaker(s) S99; it has S01"),
        (["--corpus", "ravdess"], "--corpus ravdess needs --data DIR"),
        (["--data", "{tmp}", "--utterances", "2"], "--utterances sizes the built-in corpus"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(tiny, tmp_path, capsys, args, message):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    save_audio(tmp_path / "silent.wav", np.zeros(16000), 16000)
    save_audio(tmp_path / "click.wav", np.ones(50) * 0.5, 16000)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = tmp_path / "out"
    status = main(["robustness", str(tiny["path"]), "--utterances", "1", "--out", str(out),
                   *args])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("ser robustness: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert not (out / "robustness.json").exists()


def test_a_model_without_test_speakers_needs_speakers(tiny, tmp_path, capsys):
    path = _without_test_speakers(tiny, tmp_path)
    assert main(["robustness", str(path), "--utterances", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "records no test speakers" in err and "--speakers" in err and err.count("\n") == 1
    status = main(["robustness", str(path), "--speakers", "S03", "--noise", "white", "--snr",
                   "10", "--utterances", "1", "--out", str(tmp_path / "out")])  # fmt: skip
    assert status == 0
    assert "trained or validated on" not in capsys.readouterr().err  # S03 was its test speaker


def test_a_corpus_without_the_models_labels_is_refused(tiny, tmp_path, capsys):
    from ser.corpus.synth import synthetic_utterances, write_synthetic_corpus

    path = _with_labels(tiny, tmp_path, ["calm", "bored"])
    assert main(["robustness", str(path), "--out", str(tmp_path / "a")]) == 2
    assert "the built-in synthetic corpus has none of the model's labels" in capsys.readouterr().err
    folder = tmp_path / "sad-happy"
    write_synthetic_corpus(
        synthetic_utterances(emotions=("sad", "happy"), n_speakers=4, n_utterances=1), folder
    )
    status = main(["robustness", str(tiny["path"]), "--data", str(folder), "--out",
                   str(tmp_path / "b")])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and "has no utterances of the model's labels" in err, err


def test_scoring_a_training_speaker_says_so(tiny, tmp_path, capsys):
    train_speaker = tiny["model"].metadata["speakers"]["train"][0]
    status = main(["robustness", str(tiny["path"]), "--speakers", train_speaker, "--noise",
                   "white", "--snr", "10", "--utterances", "1",
                   "--out", str(tmp_path)])  # fmt: skip
    assert status == 0
    assert f"trained or validated on {train_speaker}" in capsys.readouterr().err


def test_one_noise_file_under_two_spellings_is_named_as_given_twice(tmp_path):
    from features import save_audio
    from ser.robustness import parse_noises

    folder = tmp_path / "a"
    folder.mkdir()
    save_audio(folder / "n.wav", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
    with pytest.raises(ValueError, match="more than once"):
        parse_noises([str(folder / "n.wav"), str(folder / "." / "n.wav")], sr=16000,
                     min_samples=400)  # fmt: skip
    assert len(parse_noises([str(folder / "n.wav"), "white"], sr=16000, min_samples=400)) == 2

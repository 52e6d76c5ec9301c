"""The pipeline (fixed length, cache, CMVN from training speakers) and the commands around
the trained model: demo, train, evaluate, predict."""

import numpy as np
import pytest

from features import save_audio
from ser.cli import main
from ser.corpus import synthetic_corpus
from ser.inputs import fixed_length
from ser.pipeline import extract_features

pytestmark = pytest.mark.ch04_training


def test_fixed_length_centre_crop_pad_and_random_crop(rng):
    f = np.arange(200 * 2, dtype=float).reshape(200, 2)
    np.testing.assert_array_equal(fixed_length(f, n_frames=128), f[36:164])
    short = fixed_length(f[:100], n_frames=128)
    assert short.shape == (128, 2) and not short[:14].any() and not short[-14:].any()
    crops = {int(fixed_length(f, n_frames=128, rng=rng)[0, 0]) for _ in range(20)}
    assert len(crops) > 5 and all(0 <= c // 2 <= 72 for c in crops)


def test_features_are_cached_and_a_second_run_skips_synthesis(tmp_path):
    corpus = list(synthetic_corpus(n_speakers=1, n_utterances=3, emotions=("sad",)))
    first = extract_features(corpus, cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.npy"))) == 3

    class NoAudio:
        def __init__(self, u):
            self.u = u
            self.path, self.render, self.id = u.path, u.render, u.id

        def audio(self, sr):
            raise AssertionError("the cache should have been used")

    again = extract_features([NoAudio(u) for u in corpus], cache_dir=tmp_path)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_cache_key_changes_with_the_config_and_a_damaged_entry_is_recomputed(tmp_path):
    from features import MFCCConfig

    corpus = list(synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",)))
    extract_features(corpus, cache_dir=tmp_path)
    extract_features(corpus, cache_dir=tmp_path, config=MFCCConfig(n_mfcc=20))
    entries = list(tmp_path.rglob("*.npy"))
    assert len(entries) == 2
    entries[0].write_bytes(b"garbage")
    assert all(f.ndim == 2 for f in extract_features(corpus, cache_dir=tmp_path))


def test_demo_end_to_end_writes_model_report_and_figures(tmp_path):
    from nn.models import load_model
    from ser.demo import run_demo

    out = tmp_path / "demo"
    result = run_demo(
        out=out,
        epochs=2,
        cache_dir=tmp_path / "cache",
        verbose=0,
        log=lambda *a: None,
        corpus_options={"n_speakers": 5, "n_utterances": 4},
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "confusion_matrix.png",
        "filters.png",
        "inputs_per_class.png",
        "model.npz",
        "report.md",
        "training_curves.png",
    ]
    report = (out / "report.md").read_text()
    assert "unweighted average recall" in report and "neutral" in report
    model = load_model(out / "model.npz")
    assert model.metadata["labels"] == ["neutral", "sad", "angry"]
    assert set(model.metadata["speakers"]["test"]).isdisjoint(model.metadata["speakers"]["train"])
    assert 0.0 <= result["uar"] <= 1.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    assert (
        main(
            [
                "synth",
                "--out",
                str(root / "data"),
                "--speakers",
                "5",
                "--utterances",
                "3",
                "--emotions",
                "neutral",
                "sad",
                "angry",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(root / "data"),
                "--corpus",
                "synthetic",
                "--epochs",
                "2",
                "--out",
                str(root / "m.npz"),
                "--cache",
                str(root / "cache"),
            ]
        )
        == 0
    )
    return root


def test_train_then_evaluate(trained, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(trained / "m.npz"),
                "--data",
                str(trained / "data"),
                "--cache",
                str(trained / "cache"),
                "--all-speakers",  # by default its test speakers only (test_across_corpora)
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "45 utterances: accuracy" in out and "true \\ pred" in out


def test_predict_any_rate_and_channels_and_a_bad_file_does_not_stop_the_others(trained, capsys):
    y = synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",))[0].audio(sr=22050)
    stereo = save_audio(trained / "stereo.flac", np.stack([y, y], axis=1), 22050)
    bad = trained / "broken.wav"
    bad.write_bytes(b"RIFF....WAVE")
    mono = next((trained / "data").rglob("*.wav"))
    capsys.readouterr()
    assert main(["predict", str(trained / "m.npz"), str(stereo), str(bad), str(mono)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(stereo)) and "neutral" in lines[0]
    assert "broken.wav" in captured.err and captured.err.count("\n") == 1


def test_a_tampered_model_is_one_line_and_exit_2(trained, tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes((trained / "m.npz").read_bytes()[:500])
    assert main(["predict", str(tmp_path / "bad.npz"), "x.wav"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ser predict: error:") and "bad.npz" in err and "Traceback" not in err


def test_demo_refuses_data_without_corpus(capsys):
    assert main(["demo", "--data", "somewhere"]) == 2
    assert "--data and --corpus go together" in capsys.readouterr().err


def test_a_file_at_minus_20_db_gets_the_prediction_it_gets_at_0_db(tmp_path, speechlike):
    """The real-speech recipe normalises a lone file by its own statistics: a gain is a
    constant per log-mel band, which that removes (and the voice-activity threshold follows
    the file's own peak). The document's CNN, normalised with its training speakers'
    statistics, hears the quieter file differently."""
    from nn.models import load_model
    from ser.experiment import predict_files, train

    corpus = synthetic_corpus(n_speakers=5, n_utterances=2, emotions=("neutral", "sad"))
    files = [
        save_audio(tmp_path / f"{name}.wav", gain * speechlike, 16000, subtype="FLOAT")
        for name, gain in (("0dB", 1.0), ("minus20dB", 0.1))
    ]
    spread = {}
    for recipe in ("cnn1d-spk", "cnn"):
        run = train(corpus, labels=["neutral", "sad"], recipe=recipe, epochs=1, verbose=0,
                    cache_dir=tmp_path / "cache", log=lambda *a: None)  # fmt: skip
        model = load_model(run.model.save(tmp_path / f"{recipe}.npz"))
        (_, loud, _), (_, quiet, _) = predict_files(model, files)
        spread[recipe] = float(np.abs(loud - quiet).max())
    # the two files give the same inputs to float32 rounding (test_inputs.py checks the
    # features to 1e-9); a barely trained network still magnifies that rounding a little
    assert spread["cnn1d-spk"] < 2e-3, spread
    assert spread["cnn"] > 10 * spread["cnn1d-spk"] and spread["cnn"] > 1e-2, spread


@pytest.fixture(scope="module")
def speaker_model(trained):
    from nn.models import load_model

    path = trained / "spk.npz"
    data, cache = str(trained / "data"), str(trained / "cache")
    argv = ["train", "--data", data, "--corpus", "synthetic", "--model", "cnn1d-spk",
            "--epochs", "1", "--out", str(path), "--cache", cache]  # fmt: skip
    assert main(argv) == 0
    return load_model(path)


def test_one_speaker_files_are_normalised_together_as_crossval_tests_a_speaker(
    trained, speaker_model
):
    """``--one-speaker``: M10 statistics and AdaBN from the files together, the same numbers
    as a speaker's test utterances get in ``evaluate``/``crossval``; a bad file among them
    is reported in its place and changes nothing for the others."""
    from ser.corpus import load_corpus
    from ser.experiment import feature_sets, pipeline_of, predict_files, predict_proba, raw_features

    corpus = load_corpus("synthetic", trained / "data")
    speaker = sorted(corpus.speakers)[0]
    utts = [u for u in corpus if u.speaker == speaker]
    spec, config, cmvn, adapt = pipeline_of(speaker_model)
    assert spec.normalisation == "speaker" and adapt
    raw = raw_features(corpus.select(speakers=[speaker]), spec, config)
    labels = speaker_model.metadata["labels"]
    sets, _ = feature_sets(spec, {"test": utts}, raw, labels, cmvn=cmvn)
    expected = predict_proba(speaker_model, sets["test"], adapt=True)

    bad = trained / "not-audio.wav"
    bad.write_bytes(b"RIFF....WAVE")
    paths = [utts[0].path, bad, *(u.path for u in utts[1:])]
    got = list(predict_files(speaker_model, paths, one_speaker=True))
    assert [p for p, _, _ in got] == paths
    assert got[1][1] is None and "not-audio.wav" in got[1][2]
    together = np.array([probs for _, probs, error in got if error is None])
    np.testing.assert_allclose(together, expected, atol=1e-6)
    alone = np.array(
        [probs for _, probs, error in predict_files(speaker_model, paths) if not error]
    )
    assert not np.allclose(alone, together, atol=1e-3)  # alone is a different normalisation


def test_predict_says_a_speaker_model_hears_each_file_alone(trained, speaker_model, capsys):
    files = [str(p) for p in sorted((trained / "data").rglob("*.wav"))[:3]]
    capsys.readouterr()
    assert main(["predict", str(trained / "spk.npz"), *files]) == 0
    assert "normalises by speaker" in capsys.readouterr().err
    assert main(["predict", str(trained / "spk.npz"), "--one-speaker", *files]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and len(captured.out.strip().splitlines()) == 3


def test_predict_says_how_much_it_heard_and_whole_hears_all_of_it(trained, capsys):
    """The document's CNN hears a 1.28 s crop at the centre: ser predict says so, and
    --whole averages crops across all of the file's speech instead."""
    from ser.corpus import load_corpus

    corpus = load_corpus("synthetic", trained / "data")
    clips = [u.audio(16000) for u in list(corpus)[:4]]
    long = save_audio(trained / "long.wav", np.concatenate(clips), 16000)
    seconds = sum(len(c) for c in clips) / 16000
    capsys.readouterr()
    assert main(["predict", str(trained / "m.npz"), str(long)]) == 0
    centre = capsys.readouterr().out.strip()
    assert "[heard 1.28 s of" in centre and "the centre; --whole for all of it]" in centre
    assert f"of {seconds:.2f} s" in centre  # the file's own length
    assert main(["predict", str(trained / "m.npz"), "--whole", str(long)]) == 0
    whole = capsys.readouterr().out.strip()
    assert "all of its speech]" in whole and "--whole for" not in whole
    heard = float(whole.split("[heard ")[1].split(" s of")[0])
    assert heard > 2 * 1.28

"""``ser crossval``: folds by speaker, the baseline in every run, the JSON and report, and
the bad inputs that must stop it before any training (exit 2, one line, no traceback)."""

import json

import numpy as np
import pytest

from ser import crossval
from ser.cli import main
from ser.corpus import Corpus, synthetic_corpus
from ser.crossval import plan_folds, run_crossval

pytestmark = [pytest.mark.ch04_training, pytest.mark.cli]

SMALL = {"n_speakers": 4, "n_utterances": 3, "emotions": ("neutral", "angry")}


def quiet(*args):
    pass


def test_each_fold_tests_its_speakers_and_validates_on_other_training_speakers():
    corpus = synthetic_corpus(n_speakers=6, n_utterances=1, emotions=("sad", "angry"))
    plans = plan_folds(corpus, k=3, seed=0)
    tested = []
    for plan in plans:
        test = {u.speaker for u in plan.test_utterances}
        val = {u.speaker for u in plan.validation}
        train = {u.speaker for u in plan.train}
        assert test == set(plan.test) and val == set(plan.validation_speakers)
        assert not (test & val) and not (test & train) and not (val & train)
        assert len(val) >= 1 and test | val | train == set(corpus.speakers)
        tested += plan.test
    assert sorted(tested) == corpus.speakers  # every speaker tested exactly once


def test_an_utterance_split_puts_every_speaker_in_train_and_test():
    corpus = synthetic_corpus(n_speakers=3, n_utterances=4, emotions=("sad", "angry"))
    plans = plan_folds(corpus, k=4, seed=0, split="utterances")
    ids = sorted(u.id for p in plans for u in p.test_utterances)
    assert ids == sorted(u.id for u in corpus)
    plan = plans[0]
    assert {u.speaker for u in plan.test_utterances} & {u.speaker for u in plan.train}


def test_crossval_runs_every_model_on_the_same_folds_and_writes_json_and_report(tmp_path):
    corpus = synthetic_corpus(**SMALL)
    lines = []
    result = run_crossval(
        corpus,
        models=["cnn1d-spk"],
        k=2,
        overrides={"epochs": 1},
        cache_dir=tmp_path / "cache",
        out=tmp_path / "out",
        log=lines.append,
    )
    assert list(result["models"]) == ["cnn1d-spk", "baseline"]  # the baseline is always a row
    assert result["default_model"] == "cnn1d-spk" and result["emotions"] == ["neutral", "angry"]
    assert sorted(s for fold in result["folds"] for s in fold) == corpus.speakers
    fold_lines = [line for line in lines if line.startswith("fold ")]
    assert len(fold_lines) == 2 and "elapsed" in fold_lines[0] and "left" in fold_lines[0]
    for name, m in result["models"].items():
        assert len(m["fold_uar"]) == 2, name
        assert np.isclose(m["uar_mean"], np.mean(m["fold_uar"]))
        assert 0 <= m["uar_pooled"] <= 1 and 0 <= m["accuracy"] <= 1 and 0 <= m["macro_f1"] <= 1
        assert np.array(m["confusion"]).sum() == len(corpus)  # every utterance tested once
    assert 0 <= result["models"]["cnn1d-spk"]["uar_alone_mean"] <= 1  # as `ser predict` hears
    assert result["models"]["baseline"]["uar_alone_mean"] is None
    saved = json.loads((tmp_path / "out" / "crossval.json").read_text())
    for key in ("corpus", "emotions", "folds", "default_model", "models"):
        assert saved[key] == result[key]
    for key in ("uar_mean", "uar_sd", "uar_pooled", "accuracy", "macro_f1", "fold_uar"):
        assert key in saved["models"]["baseline"]

    assert saved["complete"] is True and saved["folds_done"] == 2
    report = (tmp_path / "out" / "report.md").read_text()  # published with the JSON
    assert "| baseline |" in report and "| cnn1d-spk |" in report
    assert (tmp_path / "out" / "fold_uar.png").stat().st_size > 0
    assert (tmp_path / "out" / "confusion_matrix.png").stat().st_size > 0


def test_a_failing_fold_keeps_the_folds_already_done(tmp_path, monkeypatch):
    real = crossval._Network.predict
    calls = []

    def fails_on_the_second_fold(self, plan):
        calls.append(plan.index)
        if plan.index == 1:
            raise FloatingPointError("training diverged: the loss is nan")
        return real(self, plan)

    monkeypatch.setattr(crossval._Network, "predict", fails_on_the_second_fold)
    run_crossval(
        synthetic_corpus(**SMALL),
        models=["cnn1d-spk"],
        k=2,
        overrides={"epochs": 1},
        cache_dir=tmp_path / "cache",
        out=tmp_path / "out",
        log=quiet,
    )
    saved = json.loads((tmp_path / "out" / "crossval.json").read_text())
    assert calls == [0, 1]
    assert saved["failures"] == [
        {"fold": 2, "model": "cnn1d-spk", "error": "FloatingPointError: training diverged: "
         "the loss is nan"}
    ]  # fmt: skip
    net = saved["models"]["cnn1d-spk"]
    assert net["folds_done"] == 1 and net["fold_uar"][0] is not None and net["fold_uar"][1] is None
    assert saved["models"]["baseline"]["folds_done"] == 2  # the other model went on


def one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ser crossval: error: ") and "Trace" not in err
    return err


def test_bad_crossval_input_is_one_line_and_exit_2(tmp_path, capsys):
    out = ["--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c"), "--epochs", "1"]
    err = one_line_error(capsys, ["crossval", "--folds", "30", *out])
    assert "10 speakers, fewer than the 30 folds" in err
    err = one_line_error(capsys, ["crossval", "--emotions", "sad", *out])
    assert "at least two emotions" in err
    err = one_line_error(capsys, ["crossval", "--folds", "3", "--loso", *out])
    assert "--folds K or --loso" in err
    err = one_line_error(capsys, ["crossval", "--data", str(tmp_path), *out])
    assert "--data and --corpus go together" in err
    err = one_line_error(capsys, ["crossval", "--n-mels", "0", *out])
    assert "n_mels" in err
    err = one_line_error(capsys, ["crossval", "--lr", "-1", *out])
    assert "learning rate" in err


def test_an_emotion_the_corpus_lacks_and_a_fold_without_a_class_are_refused():
    corpus = synthetic_corpus(n_speakers=4, n_utterances=1, emotions=("sad", "angry"))
    with pytest.raises(ValueError, match="has no utterances of happy"):
        run_crossval(corpus, labels=["sad", "happy"], log=quiet)
    no_angry_s01 = Corpus(
        corpus.name, tuple(u for u in corpus if not (u.speaker == "S01" and u.emotion == "angry"))
    )
    with pytest.raises(
        ValueError, match=r"fold \d \(test speakers .*S01.*\): .* no utterances of angry"
    ):
        run_crossval(no_angry_s01, k=4, log=quiet)


@pytest.mark.parametrize("normalisation", ["training", "utterance"])
def test_recipes_normalised_without_speakers_still_score_each_file_alone(tmp_path, normalisation):
    import dataclasses

    from ser.recipes import RECIPES

    recipe = RECIPES["cnn1d-spk"].replace(normalisation=normalisation, epochs=1)
    recipe = dataclasses.replace(recipe, name="variant")
    result = run_crossval(synthetic_corpus(**SMALL), models=[recipe], k=2, log=quiet,
                          cache_dir=tmp_path)  # fmt: skip
    assert result["failures"] == []
    assert 0 <= result["models"]["variant"]["uar_alone_mean"] <= 1  # it adapts BN: alone differs


@pytest.mark.parametrize("command", ["crossval", "train"])
def test_early_stopping_is_the_users_choice_and_off_by_default(command):
    from ser.cli import _recipe, build_parser

    extra = ["--data", "x", "--corpus", "ravdess"] if command == "crossval" else []
    parser = build_parser()
    plain = parser.parse_args([command, *extra])
    chosen = parser.parse_args([command, *extra, "--early-stopping"])
    assert _recipe(plain, "cnn1d-spk").early_stopping is False  # measured better: section 7
    assert _recipe(chosen, "cnn1d-spk").early_stopping is True
    assert _recipe(chosen, "cnn").early_stopping is True


def test_while_it_runs_the_json_says_it_is_incomplete_and_the_old_report_stays(
    tmp_path, monkeypatch
):
    """Progress after every fold; the report and figures change together with the final
    JSON, never beside a half-finished one."""
    from ser.io import TEMP_PREFIX

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("an older run\n")
    real = crossval._Network.predict
    seen = []

    def look_then_predict(self, plan):
        if plan.index == 1:
            seen.append(json.loads((out / "crossval.json").read_text()))
            seen.append((out / "report.md").read_text())
        return real(self, plan)

    monkeypatch.setattr(crossval._Network, "predict", look_then_predict)
    run_crossval(synthetic_corpus(**SMALL), models=["cnn1d-spk"], k=2, overrides={"epochs": 1},
                 cache_dir=tmp_path / "cache", out=out, log=quiet)  # fmt: skip
    progress, report_then = seen
    assert progress["complete"] is False and progress["folds_done"] == 1
    assert report_then == "an older run\n"
    assert "| cnn1d-spk |" in (out / "report.md").read_text()
    assert json.loads((out / "crossval.json").read_text())["complete"] is True
    assert [p.name for p in out.iterdir() if TEMP_PREFIX in p.name] == []

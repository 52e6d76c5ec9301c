"""Multi-task learning (S2.5): a two-head recipe trained jointly, its emotion part kept;
the adversarial variant behind a gradient reversal; the auxiliary labels a corpus must give."""

import dataclasses

import numpy as np
import pytest

from ser.corpus import synthetic_corpus
from ser.crossval import run_crossval
from ser.experiment import auxiliary_labels
from ser.recipes import RECIPES

pytestmark = [pytest.mark.ch04_training]

SMALL = {"n_speakers": 4, "n_utterances": 3, "emotions": ("neutral", "angry")}


def test_both_multitask_recipes_cross_validate_beside_the_baseline(tmp_path):
    models = ["cnn1d-spk-mtl", "cnn1d-spk-adv"]
    corpus = synthetic_corpus(n_speakers=8, n_utterances=2, emotions=("neutral", "angry"))
    result = run_crossval(
        corpus, models=models, k=2, overrides={"epochs": 1}, cache_dir=tmp_path,
        log=lambda *a: None,
    )  # fmt: skip
    assert result["failures"] == []
    for name in ("cnn1d-spk-mtl", "cnn1d-spk-adv", "baseline"):
        assert 0 <= result["models"][name]["uar_mean"] <= 1


def test_the_trained_model_is_the_emotion_part_and_saves_as_one(tmp_path):
    from features import save_audio
    from nn.models import load_model
    from ser.experiment import predict_files, train

    corpus = synthetic_corpus(n_speakers=5, n_utterances=2, emotions=("neutral", "sad"))
    run = train(corpus, labels=["neutral", "sad"], recipe="cnn1d-spk-mtl", epochs=1, verbose=0,
                cache_dir=tmp_path / "cache", log=lambda *a: None)  # fmt: skip
    assert run.model.output_names == ["emotion"] and run.model.output_shape == (None, 2)
    trained = {layer.name for layer in run.model.layers}
    assert "auxiliary" not in trained and {"conv1", "bn4", "emotion"} <= trained
    again = load_model(run.model.save(tmp_path / "mtl.npz"))
    wav = save_audio(tmp_path / "one.wav", corpus[0].audio(16000), 16000)
    ((_, a, _),) = predict_files(again, [wav])
    ((_, b, _),) = predict_files(run.model, [wav])
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_auxiliary_labels_need_what_the_task_needs():
    corpus = synthetic_corpus(**SMALL)
    labels, n = auxiliary_labels(RECIPES["cnn1d-spk-mtl"], list(corpus))
    sexes = [u.fields["sex"] for u in corpus]
    assert n == 2 and list(labels) == [("female", "male").index(s) for s in sexes]
    speakers, n = auxiliary_labels(RECIPES["cnn1d-spk-adv"], list(corpus))
    assert n == len(corpus.speakers) and speakers.max() == n - 1
    assert auxiliary_labels(RECIPES["cnn1d-spk"], list(corpus)) is None
    unrecorded = [dataclasses.replace(u, fields={"id": u.id}) for u in corpus]
    with pytest.raises(ValueError, match="sex of speaker.*is not recorded"):
        auxiliary_labels(RECIPES["cnn1d-spk-mtl"], unrecorded)
    one_sex = [u for u in corpus if u.fields["sex"] == corpus[0].fields["sex"]]
    with pytest.raises(ValueError, match="one class"):
        auxiliary_labels(RECIPES["cnn1d-spk-mtl"], one_sex)


def test_ser_demo_runs_the_multitask_recipe_end_to_end(tmp_path, capsys):
    from nn.models import load_model
    from ser.cli import main

    out, cache = str(tmp_path / "out"), str(tmp_path / "c")
    argv = ["demo", "--model", "cnn1d-spk-mtl", "--speakers", "8", "--utterances", "1",
            "--epochs", "1", "--out", out, "--cache", cache]  # fmt: skip
    assert main(argv) == 0
    model = load_model(tmp_path / "out" / "model.npz")
    assert model.output_names == ["emotion"]
    assert (tmp_path / "out" / "training_curves.png").stat().st_size > 0  # both heads plotted

"""The recurrent recipes in the application: shapes, the command line, and a saved model that
``ser evaluate`` and ``ser predict`` can use."""

import numpy as np
import pytest

from ser.cli import MODELS, main
from ser.recipes import RECIPES, build

pytestmark = [pytest.mark.ch05_rnn, pytest.mark.cli]


def test_the_cli_offers_exactly_the_recipes():
    assert tuple(RECIPES) == MODELS


@pytest.mark.parametrize("name", ["lstm", "gru", "seed-rnn", "bilstm-attention"])
def test_recurrent_recipes_read_mfcc_and_deltas_sequences(name):
    model = build(name, 4, seed=0)
    assert RECIPES[name].inputs.layout == "sequence" and RECIPES[name].inputs.deltas == 2
    assert model.input_shape == (None, 128, 39) and model.output_shape == (None, 4)
    x = np.random.default_rng(0).standard_normal((2, 128, 39)).astype(np.float32)
    x[1, 100:] = 0.0  # padding
    p = model.predict(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_recipe_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model 'transformer'; choose one of cnn"):
        build("transformer", 3)


def test_demo_with_a_recurrent_model_then_evaluate_and_predict(tmp_path, capsys):
    from nn.models import load_model
    from ser.corpus.synth import synthetic_corpus
    from ser.demo import run_demo

    result = run_demo(
        out=tmp_path / "out",
        epochs=1,
        cache_dir=tmp_path / "cache",
        verbose=0,
        log=lambda *a: None,
        corpus_options={"n_speakers": 5, "n_utterances": 3},
        model="gru",
    )
    assert result["recipe"] == "gru"
    assert not (tmp_path / "out" / "filters.png").exists()  # a CNN-only figure
    model = load_model(result["model"])
    assert model.metadata["input"] == "sequence" and model.metadata["recipe"] == "gru"
    assert [type(layer).__name__ for layer in model.layers] == ["Masking", "GRU", "Dense"]
    assert "GRU" in (tmp_path / "out" / "report.md").read_text()

    from features import save_audio

    y = synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",))[0].audio(sr=22050)
    wav = save_audio(tmp_path / "stereo.wav", np.stack([y, y], axis=1), 22050)
    capsys.readouterr()
    assert main(["predict", result["model"], str(wav)]) == 0
    assert capsys.readouterr().out.startswith(str(wav))

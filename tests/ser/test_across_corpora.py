"""Across corpora (issue 14, A5): each corpus's label mapping, the shared classes, the
renormalisation of eq. X-1, and ``ser evaluate`` reporting what it leaves out."""

import json
from pathlib import Path

import numpy as np
import pytest

from ser.cli import main
from ser.corpus import LABELS, load_corpus
from ser.labels import (
    CORPUS_EMOTIONS,
    MAPPING,
    NoSharedClass,
    corpus_mapping,
    mapping_line,
    match_labels,
    restrict_probabilities,
    shared_between,
    with_predictions,
)

# ---- the mapping of each corpus -------------------------------------------------------------


def make_files(root: Path, names: list[str], seconds: float = 0.5) -> Path:
    """Audio files named with a corpus's scheme (distinct bytes: equal bytes are duplicates)."""
    from features import save_audio

    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds)) / 16000
    for i, name in enumerate(names):
        y = 0.2 * np.sin(2 * np.pi * (150 + 20 * i) * t) + 0.01 * rng.standard_normal(t.size)
        save_audio(root / name, y, 16000)
    return root


RAVDESS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
           "06": "fearful", "07": "disgust", "08": "surprised"}  # fmt: skip
CREMA_D = {"NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "angry", "FEA": "fearful",
           "DIS": "disgust"}  # fmt: skip
TESS = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
        "fear": "fearful", "disgust": "disgust", "ps": "surprised"}  # fmt: skip
EMODB = {"N": "neutral", "F": "happy", "T": "sad", "W": "angry", "A": "fearful",
         "E": "disgust", "L": "bored"}  # fmt: skip


@pytest.mark.parametrize(
    "corpus, expected",
    [("ravdess", RAVDESS), ("crema-d", CREMA_D), ("tess", TESS), ("emodb", EMODB),
     ("synthetic", {e: e for e in ("neutral", "happy", "sad", "angry", "fearful", "disgust")})],
)  # fmt: skip
def test_the_mapping_of_each_corpus_as_documented(corpus, expected):
    assert CORPUS_EMOTIONS[corpus] == expected
    rows = corpus_mapping(corpus)
    assert {code: label for code, _, label in rows} == expected
    assert [label for *_, label in rows] == sorted(expected.values(), key=LABELS.index)
    assert mapping_line(corpus).count("->") == len(expected)


def test_the_decisions_calm_is_not_neutral_pleasant_surprise_is_surprised_boredom_is_alone():
    assert ("02", "calm", "calm") in corpus_mapping("ravdess")
    assert ("ps", "pleasant surprise", "surprised") in corpus_mapping("tess")
    assert ("L", "Langeweile (boredom)", "bored") in corpus_mapping("emodb")
    others = [c for c in CORPUS_EMOTIONS if c != "emodb"]
    assert all("bored" not in CORPUS_EMOTIONS[c].values() for c in others)
    assert "calm" not in shared_between("ravdess", "tess")
    assert shared_between("ravdess", "tess") == (
        "neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"
    )  # fmt: skip
    assert shared_between("synthetic", "ravdess") == shared_between("emodb", "crema-d") == (
        "neutral", "happy", "sad", "angry", "fearful", "disgust"
    )  # fmt: skip
    with pytest.raises(ValueError, match="no label mapping for corpus 'iemocap'"):
        shared_between("ravdess", "iemocap")


def test_the_readers_produce_the_mapping_on_folders_named_as_each_corpus(tmp_path):
    """Fake folders with every code of each corpus: the label each reader gives a file is
    the one the mapping table says."""
    names = {  # file name -> the corpus's code in it
        "ravdess": {f"Actor_01/03-01-{c}-01-01-01-01.wav": c for c in RAVDESS},
        "crema-d": {f"AudioWAV/1001_DFA_{c}_XX.wav": c for c in CREMA_D},
        "tess": {f"OAF_{c}/OAF_back_{c}.wav": c for c in TESS},
        "emodb": {f"wav/03a01{c}a.wav": c for c in EMODB},
    }
    for corpus, files in names.items():
        read = load_corpus(corpus, make_files(tmp_path / corpus, list(files)))
        assert read.skipped == () and len(read) == len(files)
        table = {code: label for code, _, label in corpus_mapping(corpus)}
        for utt in read:
            code = files[str(utt.path.relative_to(tmp_path / corpus))]
            assert utt.emotion == table[code], (corpus, utt.path.name)


# ---- eq. X-1: restricted to the shared classes and renormalised --------------------------------


def test_restriction_x1_is_the_formula_as_a_loop_and_the_softmax_of_the_kept_logits():
    rng = np.random.default_rng(3)
    labels = ["neutral", "calm", "happy", "sad", "angry"]
    shared = ["angry", "neutral", "sad"]  # any order: the columns follow it
    logits = rng.standard_normal((6, 5)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = restrict_probabilities(p, labels, shared)
    assert q.shape == (6, 3) and q.dtype == np.float64
    for n in range(6):  # eq. X-1 written out
        denominator = sum(p[n, labels.index(s)] for s in shared)
        for s, name in enumerate(shared):
            assert q[n, s] == pytest.approx(p[n, labels.index(name)] / denominator, rel=1e-12)
    kept = logits[:, [labels.index(s) for s in shared]]
    softmax = np.exp(kept) / np.exp(kept).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(q, softmax, rtol=1e-12)  # the same as the logits restricted
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-12)
    # the shared classes keep their order; only a left-out class can no longer win
    ranks = np.argsort(-p[:, [labels.index(s) for s in shared]], axis=1)
    np.testing.assert_array_equal(np.argsort(-q, axis=1), ranks)


def test_restriction_of_a_row_with_no_shared_probability_is_uniform_and_bad_input_fails():
    p = np.array([[0.0, 1.0, 0.0], [0.2, 0.5, 0.3]])
    q = restrict_probabilities(p, ["a", "b", "c"], ["a", "c"])
    np.testing.assert_allclose(q, [[0.5, 0.5], [0.4, 0.6]])
    with pytest.raises(ValueError, match="must be some of"):
        restrict_probabilities(p, ["a", "b", "c"], ["a", "z"])
    with pytest.raises(ValueError, match="for 2 classes"):
        restrict_probabilities(p, ["a", "b"], ["a"])


# ---- what is shared, what is left out ---------------------------------------------------------


def test_match_reports_each_side_left_out_with_counts(tmp_path):
    names = ["wav/03a01Na.wav", "wav/03a01Wa.wav", "wav/03a01La.wav", "wav/03a02La.wav",
             "wav/03a01Fa.wav", "wav/03a01Ta.wav", "wav/08a02Lb.wav"]  # fmt: skip
    root = make_files(tmp_path, names)
    emodb = load_corpus("emodb", root)  # neutral 1, happy 1, sad 1, angry 1, bored 3
    match = match_labels(["neutral", "calm", "sad", "angry", "surprised"], emodb,
                         trained_on="ravdess")  # fmt: skip
    assert match.shared == ("neutral", "sad", "angry")
    assert match.model_only == ("calm", "surprised")
    assert match.corpus_only == {"happy": 1, "bored": 3}
    assert (match.n_scored, match.n_not_scored) == (3, 4)
    text = "\n".join(match.lines())
    assert MAPPING in text and "RAVDESS 01 neutral -> neutral" in text
    assert "E Ekel (disgust) -> disgust" in text  # EMO-DB's mapping is named too
    assert "the model's classes the corpus lacks (2): calm, surprised" in text
    assert (
        "the corpus's classes the model lacks (2): happy 1, bored 3; 4 utterances not scored"
        in text
    )
    assert "eq. X-1" in text

    probs = np.array([[0.1, 0.6, 0.1, 0.1, 0.1], [0.5, 0.1, 0.2, 0.1, 0.1],
                      [0.1, 0.1, 0.1, 0.1, 0.6]])  # fmt: skip
    after = with_predictions(match, probs)
    assert after.top_left_out == {"calm": 1, "surprised": 1}
    assert after.mass_left_out == pytest.approx((0.7 + 0.2 + 0.7) / 3)
    d = after.to_dict()
    assert d["corpus_only"] == {"happy": 1, "bored": 3} and d["n_not_scored"] == 4
    assert d["mapping"]["name"] == MAPPING and d["mapping"]["corpora"]["emodb"]["L"] == "bored"
    json.dumps(d)  # JSON-ready


def test_no_class_in_common_or_one_class_restricted_is_a_clear_error(tmp_path):
    emodb = load_corpus("emodb", make_files(tmp_path, ["wav/03a01La.wav", "wav/03a01Na.wav"]))
    with pytest.raises(NoSharedClass, match=r"\(calm, surprised\) and emodb's \(neutral, bored\) "
                                            "have no class in common"):  # fmt: skip
        match_labels(["calm", "surprised"], emodb)
    with pytest.raises(NoSharedClass, match="share one class only \\(neutral\\).*--no-shared"):
        match_labels(["calm", "neutral"], emodb)
    assert match_labels(["calm", "neutral"], emodb, restricted=False).shared == ("neutral",)


# ---- ser evaluate on a corpus with other labels -----------------------------------------------


def tiny_model(path: Path, labels, *, favour: str | None = None, corpus: str = "ravdess"):
    """The document's CNN untrained, with metadata as ``ser train`` writes it; the output
    bias of ``favour`` raised so that the model often picks that class."""
    from features import MFCCConfig
    from ser import recipes
    from ser.experiment import describe
    from ser.io import save_model

    recipe = recipes.get("cnn")
    config = MFCCConfig(**recipe.feature_config)
    model = recipes.build(recipe, len(labels), config=config, seed=0)
    if favour is not None:
        model.layers[-1].params["bias"][labels.index(favour)] += 2.0
    width = model.input_shape[2]

    class Stats:
        mean, std, n_frames = np.zeros(width), np.full(width, 10.0), 100

    model.metadata = describe(recipe, labels=labels, config=config, cmvn=Stats, corpus=corpus,
                              speakers={}, seed=0)  # fmt: skip
    return save_model(model, path)


@pytest.fixture(scope="module")
def emodb_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("emodb")
    names = [f"wav/{s}a0{t}{c}a.wav" for s in ("03", "08") for t in (1, 2) for c in "NWTLF"]
    return make_files(root, names)  # 2 speakers x 2 texts x neutral, angry, sad, bored, happy


def test_evaluate_restricts_and_renormalises_and_reports_what_it_left_out(emodb_folder, tmp_path):
    from nn.models import load_model
    from ser.experiment import evaluate, feature_sets, pipeline_of, predict_proba, raw_features

    labels = ["neutral", "calm", "sad", "angry"]
    model = load_model(tiny_model(tmp_path / "m.npz", labels, favour="calm"))
    corpus = load_corpus("emodb", emodb_folder)
    scores, match = evaluate(model, corpus, cache_dir=False, report=True)
    assert match.shared == ("neutral", "sad", "angry") and match.model_only == ("calm",)
    assert match.corpus_only == {"happy": 4, "bored": 4} and match.n_not_scored == 8
    assert scores.labels == ["neutral", "sad", "angry"] and scores.n == 12

    # the same scores by hand: the model's probabilities, then eq. X-1 as a loop
    spec, config, cmvn, adapt = pipeline_of(model)
    kept = corpus.select(emotions=match.shared)
    raw = raw_features(kept, spec, config, cache_dir=False)
    sets, _ = feature_sets(spec, {"test": list(kept)}, raw, labels, cmvn=cmvn)
    p = predict_proba(model, sets["test"], adapt=adapt)
    assert match.top_left_out["calm"] == int(np.sum(p.argmax(axis=1) == 1)) > 0  # calm wins
    confusion = np.zeros((3, 3), dtype=np.int64)
    for row, utt in zip(p, kept, strict=True):
        q = [row[labels.index(s)] / sum(row[labels.index(t)] for t in match.shared)
             for s in match.shared]  # fmt: skip
        confusion[match.shared.index(utt.emotion), int(np.argmax(q))] += 1
    np.testing.assert_array_equal(scores.confusion, confusion)

    every, match_all = evaluate(model, corpus, cache_dir=False, shared=False, report=True)
    assert every.labels == labels and every.n == 12 and not match_all.restricted
    assert int(every.confusion[:, 1].sum()) == match_all.top_left_out["calm"]  # errors now
    assert every.accuracy <= scores.accuracy


def test_ser_evaluate_prints_and_writes_the_mapping_and_the_left_out(emodb_folder, tmp_path,
                                                                     capsys):  # fmt: skip
    model = tiny_model(tmp_path / "m.npz", ["neutral", "calm", "sad", "angry"])
    out = tmp_path / "eval.json"
    argv = ["evaluate", str(model), "--data", str(emodb_folder), "--corpus", "emodb",
            "--cache", str(tmp_path / "cache"), "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"labels: trained on ravdess, scored on emodb; mapping {MAPPING}" in printed
    assert (
        "shared classes (3): neutral, sad, angry; the model's probabilities restricted" in printed
    )
    assert "the model's classes the corpus lacks (1): calm" in printed
    assert (
        "the corpus's classes the model lacks (2): happy 4, bored 4; 8 utterances not scored"
        in printed
    )
    assert "12 utterances: accuracy" in printed and "(chance UAR 0.333)" in printed
    result = json.loads(out.read_text())
    assert result["labels"]["corpus_only"] == {"happy": 4, "bored": 4}
    assert result["labels"]["n_not_scored"] == 8 and result["labels"]["model_only"] == ["calm"]
    assert result["labels"]["mapping"]["name"] == MAPPING
    assert result["scores"]["labels"] == ["neutral", "sad", "angry"]
    assert result["scores"]["n"] == 12

    assert main([*argv[:-2], "--no-shared", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "the model choosing among all its classes (--no-shared)" in printed
    assert "(chance UAR 0.250)" in printed  # it chooses among 4 classes
    result = json.loads(out.read_text())
    assert result["scores"]["chance_uar"] == 0.25
    assert result["scores"]["labels"] == ["neutral", "calm", "sad", "angry"]
    assert result["scores"]["recall"][1] is None  # no utterance is calm: no recall


def test_ser_evaluate_with_no_class_in_common_is_one_line_and_exit_2(emodb_folder, tmp_path,
                                                                     capsys):  # fmt: skip
    model = tiny_model(tmp_path / "m.npz", ["calm", "surprised"])
    capsys.readouterr()
    status = main(["evaluate", str(model), "--data", str(emodb_folder), "--corpus", "emodb"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("ser evaluate: error: the model's classes (calm, surprised)")
    assert "have no class in common" in captured.err


def test_ser_evaluate_seed_chooses_the_built_in_corpus_and_a_training_seed_is_pointed_out(
    emodb_folder, tmp_path, capsys
):
    """``ser train --seed 1`` trains on the built-in corpus of seed 1, whose voices differ
    from seed 0's under the same speaker names: ``ser evaluate`` says so, and ``--seed``
    chooses the corpus (only the built-in one)."""
    from nn.models import load_model
    from ser.io import save_model

    path = tiny_model(tmp_path / "m.npz", ["neutral", "sad"], corpus="synthetic")
    model = load_model(path)
    model.metadata = {**model.metadata, "seed": 1}
    save_model(model, path)
    capsys.readouterr()
    assert main(["evaluate", str(path), "--speakers", "NOPE"]) == 2  # stops before any work
    err = capsys.readouterr().err
    assert "note: the model was trained with seed 1" in err and "--seed 1 scores" in err
    assert "no speaker(s) NOPE" in err
    assert main(["evaluate", str(path), "--seed", "1", "--speakers", "NOPE"]) == 2
    assert "note:" not in capsys.readouterr().err
    status = main(["evaluate", str(path), "--data", str(emodb_folder), "--corpus", "emodb",
                   "--seed", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and "--seed chooses the built-in synthetic corpus; not with --data" in err


def test_evaluate_on_the_models_own_corpus_scores_its_test_speakers_by_default(tmp_path, capsys):
    """On the corpus it was trained on, ``ser evaluate MODEL`` is a test score: the model's
    recorded test speakers, with a note; --all-speakers scores everyone, and a chosen
    training speaker is named as such."""
    from ser.cli import main

    data, model = tmp_path / "data", tmp_path / "m.npz"
    argv = ["synth", "--out", str(data), "--speakers", "4", "--utterances", "1",
            "--emotions", "neutral", "sad", "angry"]  # fmt: skip
    assert main(argv) == 0
    argv = ["train", "--data", str(data), "--corpus", "synthetic", "--epochs", "1",
            "--out", str(model), "--cache", str(tmp_path / "cache")]  # fmt: skip
    assert main(argv) == 0
    from nn.serialization import load_model

    split = load_model(model).metadata["speakers"]
    capsys.readouterr()
    base = ["evaluate", str(model), "--data", str(data), "--corpus", "synthetic",
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    assert main([*base, "--json", str(tmp_path / "e.json")]) == 0
    captured = capsys.readouterr()
    assert f"scoring the model's test speakers {', '.join(split['test'])}" in captured.err
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["speakers"] == split["test"]
    assert record["scores"]["n"] == 3 * len(split["test"])  # one utterance per emotion each
    assert main([*base, "--all-speakers"]) == 0
    assert "12 utterances" in capsys.readouterr().out
    assert main([*base, "--speakers", split["train"][0]]) == 0
    assert "trained or validated the model" in capsys.readouterr().err

"""From cached features to network inputs: deltas, speech frames, the three normalisations,
crops that cover an utterance, and the cache that reads each file once."""

import numpy as np
import pytest

from features import CMVNStats, log_mel
from ser.corpus import Utterance, synthetic_corpus
from ser.inputs import FeatureSet, InputSpec, crop_starts, fit_training_cmvn, model_inputs
from ser.pipeline import extract

pytestmark = pytest.mark.ch04_training


def utterance(speaker, emotion="sad"):
    return Utterance(path=None, emotion=emotion, speaker=speaker, corpus="t", render=lambda sr: 0)


def test_input_spec_round_trips_and_refuses_what_cannot_work():
    spec = InputSpec(layout="sequence", features="logmel", deltas=1, normalisation="speaker")
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert spec.kinds == ("logmel",)
    assert InputSpec(trim_silence=True).kinds == ("mfcc", "energy")
    with pytest.raises(ValueError, match="normalisation must be one of"):
        InputSpec(normalisation="global")
    with pytest.raises(ValueError, match="deltas must be 0, 1 or 2"):
        InputSpec(deltas=3)
    with pytest.raises(ValueError, match="unknown input settings"):
        InputSpec.from_dict({"layout": "image", "colour": "blue"})


def test_model_inputs_add_deltas_and_find_the_speech_frames(rng):
    T = 60
    feats = rng.standard_normal((T, 4))
    energy = np.full(T, -100.0)
    energy[20:45] = -20.0  # speech from frame 20 to 44
    spec = InputSpec(deltas=2, trim_silence=True)
    x, span = model_inputs(spec, {"mfcc": [feats], "energy": [energy]}, 0)
    assert x.shape == (T, 12) and span == (20, 45)
    np.testing.assert_array_equal(x[:, :4], feats)
    silent = np.full(T, -100.0)  # no speech at all: the utterance is kept whole
    assert model_inputs(spec, {"mfcc": [feats], "energy": [silent]}, 0)[1] == (0, T)
    with pytest.raises(ValueError, match="59 frame energies for 60 frames"):
        model_inputs(spec, {"mfcc": [feats], "energy": [energy[:-1]]}, 0)


def test_speaker_normalisation_uses_each_speakers_own_speech_frames(rng):
    spec = InputSpec(layout="sequence", normalisation="speaker")
    inputs = [rng.standard_normal((30, 3)) * s + s for s in (1.0, 1.0, 5.0)]
    spans = [(0, 30), (10, 20), (0, 30)]
    utts = [utterance("a"), utterance("a"), utterance("b")]
    data = FeatureSet.build(utts, inputs, spans, ["sad"], spec)
    pooled = np.concatenate([inputs[0], inputs[1][10:20]])  # only a's speech frames
    want = (inputs[0] - pooled.mean(0)) / pooled.std(0)
    np.testing.assert_allclose(data.features[0], want, rtol=1e-12)
    b = data.features[2]  # b alone: zero mean, unit variance
    np.testing.assert_allclose(b.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(b.std(0), 1, rtol=1e-12)


def test_utterance_and_training_normalisations(rng):
    inputs = [rng.standard_normal((30, 3)) + 4.0, rng.standard_normal((30, 3)) - 2.0]
    spans = [(0, 30), (5, 25)]
    utts = [utterance("a"), utterance("b")]
    per_utt = FeatureSet.build(utts, inputs, spans, ["sad"], InputSpec(normalisation="utterance"))
    np.testing.assert_allclose(per_utt.features[1][5:25].mean(0), 0, atol=1e-12)
    stats = fit_training_cmvn(inputs, spans)
    pooled = np.concatenate([inputs[0], inputs[1][5:25]])
    np.testing.assert_allclose(stats.mean, pooled.mean(0), rtol=1e-12)
    trained = FeatureSet.build(utts, inputs, spans, ["sad"], InputSpec(), stats)
    np.testing.assert_allclose(trained.features[0], stats.apply(inputs[0]))
    with pytest.raises(ValueError, match="needs the training speakers' statistics"):
        FeatureSet.build(utts, inputs, spans, ["sad"], InputSpec())


def test_log_mel_normalised_per_speaker_does_not_change_with_the_recording_level(speechlike):
    """log(g^2 E) = log E + 2 log g: a gain is a constant per band, which the speaker's mean
    removes exactly, in every band the log floor (M6) never touches."""
    spec = InputSpec(layout="sequence", features="logmel", normalisation="speaker")
    ys = [speechlike, 0.5 * np.roll(speechlike, 4000)]
    utts = [utterance("a", "sad"), utterance("a", "angry")]
    normalised, raw = [], []
    for gain in (1.0, 0.1):  # 0 dB and -20 dB
        inputs = [log_mel(gain * y, sr=16000) for y in ys]
        spans = [(0, len(f)) for f in inputs]
        normalised.append(FeatureSet.build(utts, inputs, spans, ["sad", "angry"], spec).features)
        raw.append(inputs)
    floor = np.log(1e-10)
    clear = np.all([f.min(axis=0) > floor for f in raw[1]], axis=0)  # bands above the floor
    assert clear.sum() >= 39  # of 40: only band 0 (near 0 Hz, emptied by pre-emphasis) touches it
    for got, want in zip(*normalised, strict=True):
        np.testing.assert_allclose(got[:, clear], want[:, clear], atol=1e-9)


def test_crops_cover_the_whole_speech_and_centre_crops_are_the_old_ones(rng):
    assert crop_starts(100, 128) == [0]
    assert crop_starts(128, 128) == [0]
    starts = crop_starts(300, 128)
    assert starts[0] == 0 and starts[-1] == 300 - 128
    assert all(b - a <= 64 for a, b in zip(starts, starts[1:], strict=False))
    spec = InputSpec(layout="sequence", test_crops="all", n_frames=16)
    feats = [rng.standard_normal((50, 2)), rng.standard_normal((10, 2))]
    data = FeatureSet(feats, np.array([0, 0]), ["a", "a"], ["x", "y"], [(5, 45), (0, 10)], spec)
    x, owner = data.test_crops()
    assert x.shape[1:] == (16, 2) and owner.tolist() == [0, 0, 0, 0, 1]
    np.testing.assert_allclose(x[0], feats[0][5:21], rtol=1e-6)  # float32
    np.testing.assert_allclose(x[3], feats[0][29:45], rtol=1e-6)  # ends at the speech's end
    centre = FeatureSet(feats, np.array([0, 0]), ["a", "a"], ["x", "y"], [(0, 50), (0, 10)],
                        InputSpec(n_frames=16))  # fmt: skip
    assert centre.tensor().shape == (2, 16, 2, 1)
    np.testing.assert_allclose(centre.tensor()[0, :, :, 0], feats[0][17:33], rtol=1e-6)


def test_extract_reads_each_file_once_for_every_kind_and_caches_each_kind(tmp_path):
    corpus = list(synthetic_corpus(n_speakers=1, n_utterances=2, emotions=("sad",)))
    calls = []

    class Counting:
        def __init__(self, u):
            self.u, self.path, self.render, self.id = u, u.path, u.render, u.id

        def audio(self, sr):
            calls.append(self.id)
            return self.u.audio(sr)

    kinds = ("mfcc", "logmel", "energy")
    first = extract([Counting(u) for u in corpus], kinds=kinds, cache_dir=tmp_path)
    assert len(calls) == len(corpus)  # one read per utterance for three kinds
    assert len(list(tmp_path.rglob("*.npy"))) == 3 * len(corpus)
    for i in range(len(corpus)):
        T = first["mfcc"][i].shape[0]
        assert first["logmel"][i].shape == (T, 40) and first["energy"][i].shape == (T,)
    again = extract([Counting(u) for u in corpus], kinds=kinds, cache_dir=tmp_path)
    assert len(calls) == len(corpus)  # all from the cache
    np.testing.assert_array_equal(again["logmel"][0], first["logmel"][0])
    with pytest.raises(ValueError, match="unknown feature kind"):
        extract(corpus, kinds=("pitch",), cache_dir=tmp_path)


def test_cmvn_of_the_speech_frames_only_is_not_swamped_by_silence(rng):
    speech = rng.standard_normal((40, 2)) + 10.0
    silent = np.zeros((60, 2))  # a long silent lead-in, as in the RAVDESS copy
    feats = np.concatenate([silent, speech])
    assert abs(CMVNStats.from_features([feats]).mean[0] - 10.0) > 5  # pooled: dragged down
    assert abs(fit_training_cmvn([feats], [(60, 100)]).mean[0] - 10.0) < 0.5


def test_without_an_absolute_floor_a_quiet_file_is_trimmed_as_a_loud_one(rng):
    T = 40
    feats = rng.standard_normal((T, 2))
    loud = np.full(T, -100.0)
    loud[10:30] = -20.0
    quiet = np.where(loud > -100.0, loud - 50.0, loud)  # the same file 50 dB quieter
    relative = InputSpec(trim_silence=True, vad_floor_db=-100.0)
    floored = InputSpec(trim_silence=True)  # the default floor, -60 dBFS
    for energy in (loud, quiet):
        assert model_inputs(relative, {"mfcc": [feats], "energy": [energy]}, 0)[1] == (10, 30)
    assert model_inputs(floored, {"mfcc": [feats], "energy": [quiet]}, 0)[1] == (0, T)
    with pytest.raises(ValueError, match="vad_floor_db"):
        InputSpec(vad_floor_db=-120.0)

"""Waveform augmentation for training: perturbed copies, pseudo-speakers, cached features,
and copies that never reach validation or test."""

import numpy as np
import pytest

from features import snr_db
from ser.augmentation import NOISE_SNR_DB, perturbed_copies
from ser.corpus import synthetic_corpus

pytestmark = pytest.mark.ch04_training


def test_speed_copies_are_new_pseudo_speakers_played_faster_and_slower():
    corpus = synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad", "angry"))
    copies = perturbed_copies(corpus, ["speed"])
    assert len(copies) == 2 * len(corpus)
    source = corpus[0]
    mine = [c for c in copies if c.fields["source"] == source.id]
    assert sorted(c.speaker for c in mine) == [f"{source.speaker}~speed0.9",
                                               f"{source.speaker}~speed1.1"]  # fmt: skip
    assert all(c.emotion == source.emotion for c in mine)
    y = source.audio(16000)
    for c in mine:
        factor = float(c.fields["augmentation"].split()[1])
        assert abs(len(c.audio(16000)) - len(y) / factor) <= 2  # eq. AUG-1


def test_noise_copies_have_an_snr_in_range_and_are_reproducible():
    corpus = synthetic_corpus(n_speakers=1, n_utterances=2, emotions=("sad",))
    first = perturbed_copies(corpus, ["noise"], seed=3)
    again = perturbed_copies(corpus, ["noise"], seed=3)
    for a, b, u in zip(first, again, corpus, strict=True):
        np.testing.assert_array_equal(a.audio(16000), b.audio(16000))
        clean = u.audio(16000)
        measured = snr_db(clean, a.audio(16000) - clean)
        assert NOISE_SNR_DB[0] - 1e-6 <= measured <= NOISE_SNR_DB[1] + 1e-6
        assert a.speaker == f"{u.speaker}~noise"
    with pytest.raises(ValueError, match="unknown waveform augmentation"):
        perturbed_copies(corpus, ["reverb"])


def test_copies_have_their_own_cache_entries(tmp_path):
    from ser.pipeline import extract

    corpus = list(synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",)))
    copies = perturbed_copies(corpus, ["speed"])
    out = extract([*corpus, *copies], kinds=("logmel",), cache_dir=tmp_path)["logmel"]
    assert len({f.shape[0] for f in out}) == 3  # three lengths: 1.0x, 0.9x, 1.1x
    assert len(list(tmp_path.rglob("*.npy"))) == 3


def test_crossval_trains_on_copies_of_training_speakers_only(tmp_path, monkeypatch):
    from ser import crossval
    from ser.recipes import RECIPES

    seen = []
    real = crossval._Network._sets

    def spy(self, plan):
        sets = real(self, plan)
        seen.append((plan, sets))
        return sets

    monkeypatch.setattr(crossval._Network, "_sets", spy)
    corpus = synthetic_corpus(n_speakers=4, n_utterances=1, emotions=("sad", "angry"))
    recipe = RECIPES["cnn1d-spk"].replace(augment=("speed",), epochs=1)
    crossval.run_crossval(corpus, models=[recipe], k=2, log=lambda *a: None, cache_dir=tmp_path)
    for plan, sets in seen:
        train_speakers = {u.speaker for u in plan.train}
        assert len(sets["train"]) == 3 * len(plan.train)  # each utterance and two copies
        assert {s.split("~")[0] for s in sets["train"].speakers} == train_speakers
        assert not any("~" in s for s in sets["test"].speakers + sets["validation"].speakers)

"""Cross-validation folds by speaker: disjoint, covering, balanced, deterministic."""

import pytest

from ser.corpus import Corpus, Utterance
from ser.corpus.splits import pick_validation_speakers, speaker_folds

pytestmark = pytest.mark.ch00_corpus


def corpus_of(n_speakers, *, with_sex=True):
    utterances = tuple(
        Utterance(
            path=None,
            emotion=emotion,
            speaker=f"S{s:02d}",
            corpus="test",
            fields={"sex": "male" if s % 2 else "female"} if with_sex else {},
            render=lambda sr: None,
        )
        for s in range(1, n_speakers + 1)
        for emotion in ("neutral", "sad")
    )
    return Corpus("test", utterances)


@pytest.mark.parametrize("n, k", [(24, 6), (10, 3), (7, 7), (5, 2)])
def test_folds_are_disjoint_cover_every_speaker_and_differ_in_size_by_at_most_one(n, k):
    corpus = corpus_of(n)
    folds = speaker_folds(corpus, k=k, seed=3)
    assert len(folds) == k
    flat = [s for fold in folds for s in fold]
    assert sorted(flat) == corpus.speakers  # each speaker in exactly one fold
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_folds_hold_both_sexes_in_proportion_when_the_corpus_records_them():
    folds = speaker_folds(corpus_of(24), k=6, seed=0)
    for fold in folds:  # S odd are men: two of each per fold
        assert sum(int(s[1:]) % 2 for s in fold) == 2


def test_folds_are_deterministic_for_a_seed_and_change_with_it():
    corpus = corpus_of(24, with_sex=False)
    assert speaker_folds(corpus, k=6, seed=1) == speaker_folds(corpus, k=6, seed=1)
    assert speaker_folds(corpus, k=6, seed=1) != speaker_folds(corpus, k=6, seed=2)


def test_leave_one_speaker_out_is_one_fold_per_speaker():
    corpus = corpus_of(5)
    assert speaker_folds(corpus, loso=True) == [[s] for s in corpus.speakers]


@pytest.mark.parametrize(
    "n, k, message",
    [(4, 6, "fewer than the 6 folds"), (1, 2, "at least 2"), (6, 1, "at least 2 folds")],
)
def test_impossible_folds_are_refused_with_the_reason(n, k, message):
    with pytest.raises(ValueError, match=message):
        speaker_folds(corpus_of(n), k=k)


def test_validation_speakers_come_from_the_training_speakers_and_mix_the_sexes():
    corpus = corpus_of(24)
    test = speaker_folds(corpus, k=6, seed=0)[0]
    train = [s for s in corpus.speakers if s not in test]
    val = pick_validation_speakers(corpus, train, fraction=0.1, seed=0)
    assert len(val) == 2 and set(val) <= set(train) and not set(val) & set(test)
    assert sorted(int(s[1:]) % 2 for s in val) == [0, 1]  # a woman and a man
    assert pick_validation_speakers(corpus, train[:2], fraction=0.9) != train[:2]  # one trains
    with pytest.raises(ValueError, match="no speaker can be held out"):
        pick_validation_speakers(corpus, train[:1])

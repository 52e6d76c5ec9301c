"""Speaker-independent splits: no speaker's voice in more than one of train / validation / test.

A random split of utterances puts each speaker in both train and test, so a model can score
well by recognising voices instead of emotions; the scores it reports are then inflated
(docs/datasets.md, "Why split by speaker").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ser.corpus.records import Corpus, Utterance

__all__ = [
    "Split",
    "speaker_split",
    "leave_one_speaker_out",
    "speaker_folds",
    "pick_validation_speakers",
]


@dataclass(frozen=True)
class Split:
    """Three disjoint groups of speakers and their utterances."""

    train: Corpus
    validation: Corpus
    test: Corpus

    @property
    def speakers(self) -> dict[str, list[str]]:
        return {
            "train": self.train.speakers,
            "validation": self.validation.speakers,
            "test": self.test.speakers,
        }


def _subset(corpus: Corpus, speakers: set[str]) -> Corpus:
    kept = tuple(u for u in corpus if u.speaker in speakers)
    return Corpus(corpus.name, kept, corpus.skipped, corpus.root)


def speaker_split(
    corpus: Corpus | Sequence[Utterance],
    *,
    validation: float = 0.2,
    test: float = 0.2,
    seed: int = 0,
) -> Split:
    """Split the speakers (not the utterances) into train, validation and test.

    Parameters
    ----------
    corpus : Corpus or sequence of Utterance
    validation, test : float
        Fractions of the *speakers*; each group gets at least one speaker, rounded to the
        nearest whole speaker.
    seed : int
        The same seed and speakers give the same split.

    Returns
    -------
    Split
        ``train``, ``validation`` and ``test`` corpora whose speaker sets are disjoint.

    Raises
    ------
    ValueError
        With fewer than 3 speakers (TESS has 2): use ``leave_one_speaker_out`` instead.
    """
    if not isinstance(corpus, Corpus):
        corpus = Corpus("utterances", tuple(corpus))
    speakers = corpus.speakers
    n = len(speakers)
    if n < 3:
        raise ValueError(
            f"{corpus.name} has {n} speaker(s); a speaker-independent train/validation/test "
            "split needs at least 3. Use leave_one_speaker_out() instead."
        )
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError(
            f"need 0 < validation, test and validation + test < 1, got {validation}, {test}"
        )
    n_test = min(max(1, round(test * n)), n - 2)
    n_val = min(max(1, round(validation * n)), n - 1 - n_test)
    order = np.random.default_rng(seed).permutation(n)
    test_set = {speakers[i] for i in order[:n_test]}
    val_set = {speakers[i] for i in order[n_test : n_test + n_val]}
    train_set = set(speakers) - test_set - val_set
    return Split(_subset(corpus, train_set), _subset(corpus, val_set), _subset(corpus, test_set))


def leave_one_speaker_out(corpus: Corpus) -> Iterator[tuple[str, Corpus, Corpus]]:
    """Yield ``(speaker, train, test)`` once per speaker: test is that speaker, train the rest.

    The standard protocol for corpora with few speakers (EMO-DB's 10, TESS's 2): every
    speaker is tested once by a model that never heard them.
    """
    speakers = corpus.speakers
    if len(speakers) < 2:
        raise ValueError(f"{corpus.name} has {len(speakers)} speaker(s); need at least 2")
    for speaker in speakers:
        yield speaker, _subset(corpus, set(speakers) - {speaker}), _subset(corpus, {speaker})


def _by_sex(corpus: Corpus, speakers: Sequence[str]) -> list[list[str]]:
    """The speakers in groups of one recorded sex (one group when the corpus records none)."""
    sex = {}
    for u in corpus:
        sex.setdefault(u.speaker, u.fields.get("sex"))
    if any(sex.get(s) is None for s in speakers):
        return [sorted(speakers)]
    groups: dict[str, list[str]] = {}
    for s in sorted(speakers):
        groups.setdefault(str(sex[s]), []).append(s)
    return [groups[k] for k in sorted(groups)]


def _deal(groups: list[list[str]], k: int, rng: np.random.Generator) -> list[list[str]]:
    """Shuffle each group, then deal its speakers to k piles in turn, the next group starting
    where the last one stopped: piles differ in size by at most one, and each holds the
    groups in proportion."""
    piles: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for group in groups:
        for i in rng.permutation(len(group)):
            piles[turn % k].append(group[i])
            turn += 1
    return [sorted(p) for p in piles]


def speaker_folds(
    corpus: Corpus, *, k: int | None = 6, seed: int = 0, loso: bool = False
) -> list[list[str]]:
    """Speakers in ``k`` folds for cross-validation: each speaker is tested exactly once.

    Parameters
    ----------
    corpus : Corpus
    k : int
        Number of folds; speakers are dealt so that fold sizes differ by at most one, and,
        when every speaker's sex is recorded (RAVDESS, EMO-DB), so that each fold holds
        both sexes in proportion (six folds of RAVDESS's 24 actors: two men and two women
        each).
    seed : int
        The same seed and speakers give the same folds.
    loso : bool
        Leave one speaker out: one fold per speaker (``k`` is ignored).

    Returns
    -------
    list of lists of speaker ids, each sorted; the folds are disjoint and cover every speaker.

    Raises
    ------
    ValueError
        Fewer than two speakers, k < 2, or fewer speakers than folds.
    """
    speakers = corpus.speakers
    if len(speakers) < 2:
        raise ValueError(
            f"{corpus.name} has {len(speakers)} speaker(s); cross-validation by speaker needs "
            "at least 2"
        )
    if loso:
        return [[s] for s in speakers]
    if k is None or k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    if k > len(speakers):
        raise ValueError(
            f"{corpus.name} has {len(speakers)} speakers, fewer than the {k} folds asked for; "
            f"use --folds {len(speakers)} or fewer (or --loso)"
        )
    return _deal(_by_sex(corpus, speakers), k, np.random.default_rng(seed))


def pick_validation_speakers(
    corpus: Corpus, train_speakers: Sequence[str], *, fraction: float = 0.1, seed: int = 0
) -> list[str]:
    """Validation speakers taken from a fold's training speakers (never its test speakers).

    ``max(1, round(fraction * n))`` of the ``n`` training speakers, one of each sex in turn
    when the corpus records it, so early stopping and model selection hear men and women.
    At least one speaker is always left to train on.
    """
    train_speakers = sorted(train_speakers)
    if len(train_speakers) < 2:
        raise ValueError(
            f"{len(train_speakers)} training speaker(s): no speaker can be held out for validation"
        )
    n = min(max(1, round(fraction * len(train_speakers))), len(train_speakers) - 1)
    rng = np.random.default_rng(seed)
    shuffled = [[g[i] for i in rng.permutation(len(g))] for g in _by_sex(corpus, train_speakers)]
    order = [g[i] for i in range(max(map(len, shuffled))) for g in shuffled if i < len(g)]
    return sorted(order[:n])  # the groups taken in turn: a woman, a man, a woman, ...

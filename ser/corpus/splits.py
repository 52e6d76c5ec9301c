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

__all__ = ["Split", "speaker_split", "leave_one_speaker_out"]


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

"""What every corpus reader returns: ``Utterance`` records in a ``Corpus``, with what it skipped.

One label set for all corpora (docs/datasets.md has each corpus's map onto it):

    neutral, calm, happy, sad, angry, fearful, disgust, surprised, bored
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LABELS", "Utterance", "Skipped", "Corpus"]

LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "bored")


@dataclass(frozen=True, eq=False)
class Utterance:
    """One recording and its labels.

    Attributes
    ----------
    path : Path or None
        The audio file; None for a synthetic utterance that is rendered on demand.
    emotion : str
        One of ``LABELS``.
    speaker : str
        Speaker id, unique within the corpus ("Actor_12", "1001", "S03", ...).
    corpus : str
        "ravdess", "crema-d", "tess", "emodb" or "synthetic".
    fields : mapping
        Corpus-specific fields (intensity, statement, sentence, sex, ...).
    render : callable, optional
        ``render(sr) -> samples`` for utterances that have no file (the synthetic corpus).
    """

    path: Path | None
    emotion: str
    speaker: str
    corpus: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    render: Callable[[int], np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.emotion not in LABELS:
            raise ValueError(f"unknown emotion label {self.emotion!r}; the label set is {LABELS}")
        if self.path is None and self.render is None:
            raise ValueError("an Utterance needs a path or a render function")

    @property
    def id(self) -> str:
        """A short name: the file name without extension, or the synthetic utterance's id."""
        return self.path.stem if self.path is not None else str(self.fields.get("id", "?"))

    def audio(self, sr: int = 16000) -> np.ndarray:
        """The samples at ``sr`` Hz, mono float64 (a file is read with ``features.load_audio``)."""
        if self.path is not None:
            from features import load_audio

            return load_audio(self.path, sr=sr)[0]
        return self.render(sr)


@dataclass(frozen=True)
class Skipped:
    """A file a reader found but could not use, and why: a name that does not fit the
    corpus, a file it may not read, a FIFO, a dangling link, a duplicate, a manifest row."""

    path: Path
    reason: str


@dataclass(frozen=True, eq=False)
class Corpus:
    """A sequence of utterances plus every file that was found and not used.

    ``len``, iteration and indexing go over the utterances. ``skipped`` is never silently
    empty when files were passed over: ``summary()`` prints them.
    """

    name: str
    utterances: tuple[Utterance, ...]
    skipped: tuple[Skipped, ...] = ()
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def __getitem__(self, index):
        return self.utterances[index]

    @property
    def speakers(self) -> list[str]:
        """Speaker ids, sorted."""
        return sorted({u.speaker for u in self.utterances})

    @property
    def emotions(self) -> list[str]:
        """The emotions present, in the order of ``LABELS``."""
        present = {u.emotion for u in self.utterances}
        return [label for label in LABELS if label in present]

    def counts(self) -> dict[str, int]:
        """Utterances per emotion, in the order of ``LABELS``."""
        c = Counter(u.emotion for u in self.utterances)
        return {e: c[e] for e in self.emotions}

    def select(
        self, *, emotions: Iterable[str] | None = None, speakers: Iterable[str] | None = None
    ) -> Corpus:
        """The utterances with one of ``emotions`` and one of ``speakers`` (None keeps all)."""
        emotions = None if emotions is None else set(emotions)
        speakers = None if speakers is None else {str(s) for s in speakers}
        if emotions is not None:
            unknown = emotions - set(LABELS)
            if unknown:
                raise ValueError(f"unknown emotions {sorted(unknown)}; the label set is {LABELS}")
        kept = tuple(
            u
            for u in self.utterances
            if (emotions is None or u.emotion in emotions)
            and (speakers is None or u.speaker in speakers)
        )
        return Corpus(self.name, kept, self.skipped, self.root)

    def summary(self, *, max_skipped: int = 10) -> str:
        """A few lines for people: sizes, emotions, speakers, and the skipped files."""
        from features.audio import path_for_message

        lines = [
            f"{self.name}: {len(self)} utterances, {len(self.speakers)} speakers"
            + (f", from {path_for_message(self.root)}" if self.root else ""),
            "  " + ", ".join(f"{e} {n}" for e, n in self.counts().items()),
        ]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} file(s) it cannot use:")
            lines += [  # a name that is not UTF-8 is shown with \xNN escapes, never an error
                f"    {path_for_message(s.path)}: {s.reason}" for s in self.skipped[:max_skipped]
            ]
            if len(self.skipped) > max_skipped:
                lines.append(f"    ... and {len(self.skipped) - max_skipped} more")
        return "\n".join(lines)

"""Across corpora: each corpus's emotion names, the classes two label sets share, and
scoring a model on the shared classes only (issue 14, A5; docs/across-corpora.md).

Every corpus reader (``ser.corpus.datasets``) maps its corpus's own emotion codes onto the
one label set of the course, ``ser.corpus.records.LABELS``; this module makes that mapping
explicit (``CORPUS_EMOTIONS``, the mapping named ``MAPPING``) and compares two label sets:
a model's, from the corpus it was trained on, and the classes of the corpus it is scored on.

The decisions (docs/across-corpora.md, "The mapping"):

- RAVDESS's "calm" is a class of its own, not neutral: its actors were asked for a calm
  state, distinct from the neutral one, and they recorded both;
- TESS's "pleasant surprise" is "surprised", the class RAVDESS calls "surprised";
- EMO-DB's "boredom" (Langeweile) is "bored", which no other corpus has;
- anger, disgust, fear, happiness (joy), sadness and neutral are the same word in every
  corpus and map onto angry, disgust, fearful, happy, sad and neutral.

A model can only be scored on utterances of a class it knows. ``match_labels`` says which
classes the two sides share, which the model knows and the corpus lacks, and how many of the
corpus's utterances are of a class the model lacks (not scored); ``restrict_probabilities``
turns the model's probabilities over its own classes into probabilities over the shared ones
(eq. X-1).

Shape letters: N utterances, K the model's classes, S the shared classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ser.corpus.datasets import EMOTION_MAPS
from ser.corpus.records import LABELS
from ser.corpus.synth import EMOTIONS as SYNTHETIC_EMOTIONS

__all__ = [
    "MAPPING",
    "CORPUS_EMOTIONS",
    "CORPUS_NAMES",
    "NoSharedClass",
    "LabelMatch",
    "corpus_mapping",
    "mapping_line",
    "shared_between",
    "match_labels",
    "restrict_probabilities",
    "with_predictions",
]

MAPPING = "course-labels-1"
"""The name of the mapping below (printed by ``ser evaluate`` and written to its JSON); it
changes if a corpus's code is ever mapped differently."""

# The corpus's own name of each code, as its documentation writes it (docs/datasets.md).
_OWN_NAMES = {
    "ravdess": {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                "06": "fearful", "07": "disgust", "08": "surprised"},
    "crema-d": {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy",
                "NEU": "neutral", "SAD": "sad"},
    "tess": {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
             "neutral": "neutral", "ps": "pleasant surprise", "sad": "sad"},
    "emodb": {"W": "Wut/Ärger (anger)", "L": "Langeweile (boredom)", "E": "Ekel (disgust)",
              "A": "Angst (fear)", "F": "Freude (happiness)", "T": "Trauer (sadness)",
              "N": "neutral"},
    "synthetic": {e: e for e in SYNTHETIC_EMOTIONS},
}  # fmt: skip

CORPUS_EMOTIONS: dict[str, dict[str, str]] = {
    **{name: dict(codes) for name, codes in EMOTION_MAPS.items()},
    "synthetic": {e: e for e in SYNTHETIC_EMOTIONS},
}
"""Corpus name -> {the corpus's emotion code: the course's label}: the readers' own maps
(``ser.corpus.datasets.EMOTION_MAPS``) and the built-in synthetic corpus (its emotion names
are already the course's)."""

CORPUS_NAMES = {"ravdess": "RAVDESS", "crema-d": "CREMA-D", "tess": "TESS", "emodb": "EMO-DB",
                "synthetic": "synthetic"}  # fmt: skip


class NoSharedClass(ValueError):
    """The model and the corpus have no emotion in common (or, restricted to the shared
    classes, only one: every utterance would be predicted as it)."""


def corpus_mapping(corpus: str) -> list[tuple[str, str, str]]:
    """(code, the corpus's own name, the course's label) of every emotion of ``corpus``,
    in the order of ``LABELS``; an unknown corpus name is a ValueError naming the known."""
    if corpus not in CORPUS_EMOTIONS:
        raise ValueError(f"no label mapping for corpus {corpus!r}; known: "
                         f"{', '.join(CORPUS_EMOTIONS)}")  # fmt: skip
    rows = [(code, _OWN_NAMES[corpus][code], label) for code, label in
            CORPUS_EMOTIONS[corpus].items()]  # fmt: skip
    return sorted(rows, key=lambda row: LABELS.index(row[2]))


def mapping_line(corpus: str) -> str:
    """The mapping of ``corpus`` as one line for people, e.g.
    ``RAVDESS 01 neutral -> neutral, 02 calm -> calm, ...``; codes equal to their name are
    written once (``synthetic neutral -> neutral``)."""
    parts = []
    for code, own, label in corpus_mapping(corpus):
        name = own if code == own else f"{code} {own}"
        parts.append(f"{name} -> {label}")
    return f"{CORPUS_NAMES[corpus]} " + ", ".join(parts)


def shared_between(a: str, b: str) -> tuple[str, ...]:
    """The course's labels both corpora ``a`` and ``b`` have (in ``LABELS`` order): the
    classes a model trained on one can be scored on in the other, when both are whole."""
    labels_a = set(CORPUS_EMOTIONS[a].values()) if a in CORPUS_EMOTIONS else None
    labels_b = set(CORPUS_EMOTIONS[b].values()) if b in CORPUS_EMOTIONS else None
    if labels_a is None or labels_b is None:
        raise ValueError(f"no label mapping for corpus {a if labels_a is None else b!r}")
    return tuple(label for label in LABELS if label in labels_a & labels_b)


@dataclass(frozen=True)
class LabelMatch:
    """A model's classes against a corpus's, and what scoring on the shared ones leaves out.

    Attributes
    ----------
    corpus : str
        The corpus scored ("ravdess", "synthetic", ...).
    trained_on : str or None
        The corpus the model was trained on (its metadata), when it says.
    model_labels : tuple of str, length K
        The model's classes, in the order of its outputs.
    corpus_counts : mapping str -> int
        Utterances of each emotion of the corpus as given (before anything is left out).
    shared : tuple of str, length S
        The classes both have, in the model's order: the only ones scored.
    restricted : bool
        True: the model's probabilities are restricted to the shared classes and
        renormalised (eq. X-1), so it chooses among them. False: it chooses among all its K
        classes, and a choice of a class the corpus lacks is an error.
    top_left_out : mapping str -> int, optional
        After scoring: of the scored utterances, how many had as most probable class (over
        all K) one the corpus lacks, by that class. With ``restricted`` these are the
        decisions eq. X-1 changed; without it, errors no true class could avoid.
    mass_left_out : float, optional
        After scoring: the mean over the scored utterances of the probability the model put
        on the classes the corpus lacks, sum_{k not in S} p_k (0..1).
    """

    corpus: str
    trained_on: str | None
    model_labels: tuple[str, ...]
    corpus_counts: Mapping[str, int]
    shared: tuple[str, ...]
    restricted: bool = True
    top_left_out: Mapping[str, int] | None = field(default=None, compare=False)
    mass_left_out: float | None = field(default=None, compare=False)

    @property
    def model_only(self) -> tuple[str, ...]:
        """The model's classes the corpus lacks (never a true class here)."""
        return tuple(k for k in self.model_labels if k not in self.shared)

    @property
    def corpus_only(self) -> dict[str, int]:
        """The corpus's classes the model lacks, each with its number of utterances (none of
        them is scored)."""
        return {e: n for e, n in self.corpus_counts.items() if e not in self.model_labels}

    @property
    def n_scored(self) -> int:
        return sum(n for e, n in self.corpus_counts.items() if e in self.shared)

    @property
    def n_not_scored(self) -> int:
        return sum(self.corpus_only.values())

    @property
    def same(self) -> bool:
        """The corpus has exactly the model's classes: nothing is left out."""
        return not self.model_only and not self.corpus_only

    def mapping(self) -> dict:
        """The mapping used, for the JSON output: its name and each corpus's codes."""
        out = {"name": MAPPING, "document": "docs/across-corpora.md", "corpora": {}}
        for name in dict.fromkeys([self.trained_on, self.corpus]):
            if name in CORPUS_EMOTIONS:
                out["corpora"][name] = {code: label for code, _, label in corpus_mapping(name)}
        return out

    def to_dict(self) -> dict:
        """Everything above as JSON-ready values."""
        return {
            "corpus": self.corpus,
            "trained_on": self.trained_on,
            "model_labels": list(self.model_labels),
            "corpus_counts": dict(self.corpus_counts),
            "shared": list(self.shared),
            "restricted": self.restricted,
            "model_only": list(self.model_only),
            "corpus_only": self.corpus_only,
            "n_scored": self.n_scored,
            "n_not_scored": self.n_not_scored,
            "top_left_out": None if self.top_left_out is None else dict(self.top_left_out),
            "mass_left_out": self.mass_left_out,
            "mapping": self.mapping(),
        }

    def lines(self) -> list[str]:
        """What was scored and what was left out, for people (``ser evaluate`` prints it)."""
        where = f"trained on {self.trained_on}, " if self.trained_on else ""
        head = [f"labels: {where}scored on {self.corpus}; mapping {MAPPING} "
                f"(docs/across-corpora.md)"]  # fmt: skip
        for name in dict.fromkeys([self.trained_on, self.corpus]):
            if name in CORPUS_EMOTIONS:
                head.append(f"  {mapping_line(name)}")
        if self.same:
            return [*head, f"  the same classes on both sides: {', '.join(self.shared)}"]
        how = (
            "the model's probabilities restricted to them and renormalised (eq. X-1)"
            if self.restricted
            else "the model choosing among all its classes (--no-shared)"
        )
        out = [*head, f"  shared classes ({len(self.shared)}): {', '.join(self.shared)}; {how}"]
        if self.model_only:
            line = (f"  the model's classes the corpus lacks ({len(self.model_only)}): "
                    f"{', '.join(self.model_only)}")  # fmt: skip
            if self.mass_left_out is not None:
                line += f"; {self.mass_left_out:.0%} of the model's probability on average"
            if self.top_left_out is not None:
                n_top = sum(self.top_left_out.values())
                verb = "the restriction changed" if self.restricted else "errors"
                line += f"; the top class of {n_top} of {self.n_scored} utterances ({verb})"
            out.append(line)
        if self.corpus_only:
            counts = ", ".join(f"{e} {n}" for e, n in self.corpus_only.items())
            out.append(f"  the corpus's classes the model lacks ({len(self.corpus_only)}): "
                       f"{counts}; {self.n_not_scored} utterances not scored")  # fmt: skip
        return out


def match_labels(model_labels: Sequence[str], corpus, *, restricted: bool = True,
                 trained_on: str | None = None) -> LabelMatch:  # fmt: skip
    """Compare a model's classes with a corpus's.

    Parameters
    ----------
    model_labels : sequence of str, length K
        The model's classes (``model.metadata["labels"]``).
    corpus : ser.corpus.Corpus
        The corpus to score; its ``counts()`` are the classes it has.
    restricted : bool
        Whether the scores will restrict the model's probabilities to the shared classes
        (eq. X-1); only recorded here, and checked: restricted to one class, every
        utterance is that class, which says nothing.
    trained_on : str, optional
        The model's training corpus, to name it and its mapping.

    Returns
    -------
    LabelMatch

    Raises
    ------
    NoSharedClass
        No class in common, or only one with ``restricted``: one line naming both sides.
    """
    model_labels = tuple(model_labels)
    counts = corpus.counts()
    shared = tuple(k for k in model_labels if counts.get(k, 0) > 0)
    theirs = ", ".join(counts) or "no utterances"
    if not shared:
        raise NoSharedClass(
            f"the model's classes ({', '.join(model_labels)}) and {corpus.name}'s ({theirs}) "
            "have no class in common: nothing can be scored"
        )
    if restricted and len(shared) == 1:
        raise NoSharedClass(
            f"the model and {corpus.name} share one class only ({shared[0]}): restricted to it "
            "(eq. X-1), every utterance is predicted as it; give --no-shared to let the model "
            f"choose among all its classes ({', '.join(model_labels)})"
        )
    return LabelMatch(corpus.name, trained_on, model_labels, counts, shared, restricted)


def restrict_probabilities(probs: np.ndarray, model_labels: Sequence[str],
                           shared: Sequence[str]) -> np.ndarray:  # fmt: skip
    """The model's class probabilities restricted to the shared classes and renormalised.

    Math (docs/across-corpora.md, eq. X-1)::

        q[n, s] = p[n, k(s)] / sum_{s' in S} p[n, k(s')]        s = 0 .. S-1

    where k(s) is the model's output index of shared class s. q is the model's posterior
    given that the answer is one of the shared classes, P(class | x, class in S): Bayes's
    rule with the prior of the left-out classes set to zero. The ranking of the shared
    classes is unchanged; only a class the corpus lacks can no longer win.

    Parameters
    ----------
    probs : ndarray, shape (N, K)
        Class probabilities (rows sum to 1), columns in the order of ``model_labels``.
    model_labels : sequence of str, length K
    shared : sequence of str, length S
        Classes of ``model_labels``, in the order wanted for the columns of q.

    Returns
    -------
    q : ndarray, shape (N, S), float64
        Rows sum to 1. A row whose shared probabilities are all 0 (the model put all of its
        probability, to the last bit, on classes the corpus lacks) becomes uniform, 1/S:
        it is scored, and its prediction is the first shared class.

    Notes
    -----
    Restricting the *logits* to S and taking their softmax gives the same q: the softmax's
    normaliser cancels in the ratio. Probabilities averaged over crops (``predict_proba``)
    are not a softmax of one logit vector, so the ratio above is what is applied.
    """
    probs = np.asarray(probs, dtype=np.float64)
    model_labels = list(model_labels)
    if probs.ndim != 2 or probs.shape[1] != len(model_labels):
        raise ValueError(f"probabilities of shape {probs.shape} for {len(model_labels)} classes")
    unknown = [s for s in shared if s not in model_labels]
    if unknown or not len(shared):
        raise ValueError(f"shared classes {list(shared)} must be some of {model_labels}")
    columns = [model_labels.index(s) for s in shared]
    kept = probs[:, columns]
    total = kept.sum(axis=1, keepdims=True)  # the denominator of eq. X-1
    return np.divide(kept, total, out=np.full_like(kept, 1.0 / len(columns)),
                     where=total > 0)  # eq. X-1  # fmt: skip


def with_predictions(match: LabelMatch, probs: np.ndarray) -> LabelMatch:
    """``match`` with what the model did on the scored utterances: ``top_left_out`` (how
    many had a class the corpus lacks as most probable, by class) and ``mass_left_out``
    (the mean probability on those classes). ``probs`` : (N, K) over the model's classes."""
    probs = np.asarray(probs, dtype=np.float64)
    left_out = [k for k, label in enumerate(match.model_labels) if label not in match.shared]
    top = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    counts = {match.model_labels[k]: int(np.sum(top == k)) for k in left_out}
    mass = float(probs[:, left_out].sum(axis=1).mean()) if len(probs) and left_out else 0.0
    return replace(match, top_left_out=counts, mass_left_out=mass)

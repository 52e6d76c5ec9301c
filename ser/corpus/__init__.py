"""ser.corpus: the built-in synthetic corpus and readers for the real ones.

from ser.corpus import load_corpus, speaker_split
corpus = load_corpus("synthetic")                 # built in, rendered on demand
corpus = load_corpus("ravdess", "~/data/ravdess")  # a folder you downloaded
split = speaker_split(corpus, seed=0)             # no speaker in two of train/val/test
"""

from ser.corpus.datasets import CORPORA, EMOTION_MAPS, load_corpus
from ser.corpus.records import LABELS, Corpus, Skipped, Utterance
from ser.corpus.splits import Split, leave_one_speaker_out, speaker_split
from ser.corpus.synth import (
    DEFAULT_EMOTIONS,
    EMOTIONS,
    make_speakers,
    synthesize_utterance,
    synthetic_corpus,
    write_synthetic_corpus,
)

__all__ = [
    "CORPORA",
    "DEFAULT_EMOTIONS",
    "EMOTIONS",
    "EMOTION_MAPS",
    "LABELS",
    "Corpus",
    "Skipped",
    "Split",
    "Utterance",
    "leave_one_speaker_out",
    "load_corpus",
    "make_speakers",
    "speaker_split",
    "synthesize_utterance",
    "synthetic_corpus",
    "write_synthetic_corpus",
]

"""Readers for the real corpora, from a folder the user downloaded, and ``load_corpus``.

Each reader walks the folder, parses every audio file name with the corpus's own scheme,
maps its emotion onto the one label set of ``ser.corpus.records.LABELS``, and reports every
audio file whose name does not fit (a stray copy, a macOS "._" file, a typo) in
``Corpus.skipped``: nothing is dropped silently. docs/datasets.md describes each corpus.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

from ser.corpus.records import LABELS, Corpus, Skipped, Utterance

__all__ = ["load_corpus", "CORPORA", "EMOTION_MAPS"]

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}

# ---- label maps: each corpus's codes onto the one label set -----------------------------
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                    "06": "fearful", "07": "disgust", "08": "surprised"}  # fmt: skip
CREMA_D_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy",
                    "NEU": "neutral", "SAD": "sad"}  # fmt: skip
TESS_EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
                 "neutral": "neutral", "ps": "surprised", "sad": "sad"}  # fmt: skip
EMODB_EMOTIONS = {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy",
                  "T": "sad", "N": "neutral"}  # fmt: skip
EMOTION_MAPS = {"ravdess": RAVDESS_EMOTIONS, "crema-d": CREMA_D_EMOTIONS, "tess": TESS_EMOTIONS,
                "emodb": EMODB_EMOTIONS}  # fmt: skip
assert all(label in LABELS for m in EMOTION_MAPS.values() for label in m.values())

RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
CREMA_D_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}  # fmt: skip
CREMA_D_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
EMODB_SPEAKERS = {"03": ("male", 31), "08": ("female", 34), "09": ("female", 21),
                  "10": ("male", 32), "11": ("male", 26), "12": ("male", 30),
                  "13": ("female", 32), "14": ("female", 35), "15": ("male", 25),
                  "16": ("female", 31)}  # fmt: skip
EMODB_TEXTS = {"a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"}


class _NoMatch(ValueError):
    """A file name that does not fit the corpus's scheme; the message says why."""


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _read(name: str, root: Path, parse: Callable[[Path], Utterance]) -> Corpus:
    utterances, skipped = [], []
    for path in _audio_files(root):
        try:
            utterances.append(parse(path))
        except _NoMatch as why:
            skipped.append(Skipped(path, str(why)))
    return Corpus(name, tuple(utterances), tuple(skipped), root)


def _code(value: str, table: dict, what: str):
    if value not in table:
        raise _NoMatch(f"{what} code {value!r} is not one of {sorted(table)}")
    return table[value]


# ---- RAVDESS: Actor_12/03-01-06-01-02-01-12.wav ------------------------------------------
_RAVDESS = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def _parse_ravdess(path: Path) -> Utterance:
    m = _RAVDESS.match(path.stem)
    if not m:
        raise _NoMatch("name is not the 7-field RAVDESS identifier MM-VV-EE-II-SS-RR-AA")
    modality, channel, emotion, intensity, statement, repetition, actor = m.groups()
    if modality != "03":
        raise _NoMatch(f"modality {modality} is not 03 (audio-only)")
    channel = _code(channel, {"01": "speech", "02": "song"}, "vocal channel")
    label = _code(emotion, RAVDESS_EMOTIONS, "emotion")
    intensity = _code(intensity, {"01": "normal", "02": "strong"}, "intensity")
    if label == "neutral" and intensity == "strong":
        raise _NoMatch("RAVDESS has no strong-intensity neutral")
    text = _code(statement, RAVDESS_STATEMENTS, "statement")
    _code(repetition, {"01": 1, "02": 2}, "repetition")
    if not 1 <= int(actor) <= 24:
        raise _NoMatch(f"actor {actor} is not 01-24")
    folder = re.match(r"^Actor_(\d\d)$", path.parent.name)
    if folder and folder.group(1) != actor:
        raise _NoMatch(f"actor field {actor} does not match its folder {path.parent.name}")
    return Utterance(
        path=path,
        emotion=label,
        speaker=f"Actor_{actor}",
        corpus="ravdess",
        fields={"vocal_channel": channel, "intensity": intensity, "statement": text,
                "repetition": int(repetition), "sex": "male" if int(actor) % 2 else "female"},
    )  # fmt: skip


# ---- CREMA-D: 1001_DFA_ANG_XX.wav -------------------------------------------------------
_CREMA_D = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def _parse_crema_d(path: Path) -> Utterance:
    m = _CREMA_D.match(path.stem)
    if not m:
        raise _NoMatch("name is not the CREMA-D scheme ActorID_SENTENCE_EMOTION_LEVEL")
    actor, sentence, emotion, level = m.groups()
    if not 1001 <= int(actor) <= 1091:
        raise _NoMatch(f"actor {actor} is not 1001-1091")
    return Utterance(
        path=path,
        emotion=_code(emotion, CREMA_D_EMOTIONS, "emotion"),
        speaker=actor,
        corpus="crema-d",
        fields={"sentence": sentence, "text": _code(sentence, CREMA_D_SENTENCES, "sentence"),
                "level": _code(level, CREMA_D_LEVELS, "emotion level")},
    )  # fmt: skip


# ---- TESS: OAF_back_angry.wav, YAF_germ_ps.wav ------------------------------------------
_TESS = re.compile(r"^(OAF|YAF|OA)_([A-Za-z]+)_([A-Za-z]+)$")


def _parse_tess(path: Path) -> Utterance:
    m = _TESS.match(path.stem)
    if not m:
        raise _NoMatch("name is not the TESS scheme OAF|YAF_word_emotion")
    speaker, word, emotion = m.groups()
    speaker = "OAF" if speaker == "OA" else speaker  # "OA_..." names occur in some copies
    return Utterance(
        path=path,
        emotion=_code(emotion.lower(), TESS_EMOTIONS, "emotion"),
        speaker=speaker,
        corpus="tess",
        fields={"word": word.lower(), "age": 64 if speaker == "OAF" else 26, "sex": "female"},
    )


# ---- EMO-DB: wav/03a01Fa.wav -------------------------------------------------------------
_EMODB = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


def _parse_emodb(path: Path) -> Utterance:
    m = _EMODB.match(path.stem)
    if not m:
        raise _NoMatch("name is not the EMO-DB scheme SStttEv (speaker, text, emotion, version)")
    speaker, text, emotion, version = m.groups()
    sex, age = _code(speaker, EMODB_SPEAKERS, "speaker")
    if text not in EMODB_TEXTS:
        raise _NoMatch(f"text code {text!r} is not one of {sorted(EMODB_TEXTS)}")
    return Utterance(
        path=path,
        emotion=_code(emotion, EMODB_EMOTIONS, "emotion"),
        speaker=speaker,
        corpus="emodb",
        fields={"text": text, "version": version, "sex": sex, "age": age},
    )


# ---- the synthetic corpus written by `ser synth`: manifest.csv + WAV files ----------------
def _read_synthetic(root: Path) -> Corpus:
    from ser.corpus.synth import MANIFEST

    manifest = root / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest}: no manifest; write the corpus with `ser synth --out {root}`"
        )
    utterances, skipped, listed = [], [], set()
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "emotion", "speaker"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{manifest}: columns {sorted(missing)} are missing")
        for line, row in enumerate(reader, start=2):
            path = (root / row["path"]).resolve()
            listed.add(path)
            if not path.is_file():
                skipped.append(Skipped(path, f"listed in {MANIFEST} line {line} but missing"))
            elif row["emotion"] not in LABELS:
                skipped.append(Skipped(path, f"unknown emotion {row['emotion']!r} on line {line}"))
            else:
                fields = {k: v for k, v in row.items() if k not in ("path", "emotion", "speaker")}
                fields["id"] = path.stem
                utterances.append(
                    Utterance(path, row["emotion"], row["speaker"], "synthetic", fields)
                )
    for path in _audio_files(root):
        if path.resolve() not in listed:
            skipped.append(Skipped(path, f"audio file not listed in {MANIFEST}"))
    return Corpus("synthetic", tuple(utterances), tuple(skipped), root)


CORPORA = {
    "ravdess": ("RAVDESS", _parse_ravdess, "Actor_XX/03-01-EE-II-SS-RR-XX.wav"),
    "crema-d": ("CREMA-D", _parse_crema_d, "AudioWAV/1001_DFA_ANG_XX.wav"),
    "tess": ("TESS", _parse_tess, "OAF_angry/OAF_back_angry.wav"),
    "emodb": ("EMO-DB", _parse_emodb, "wav/03a01Fa.wav"),
}
_ALIASES = {"crema_d": "crema-d", "cremad": "crema-d", "emo-db": "emodb", "emo_db": "emodb"}


def load_corpus(name: str, root=None, **synthetic_options) -> Corpus:
    """Read a corpus: ``ravdess``, ``crema-d``, ``tess``, ``emodb`` or ``synthetic``.

    Parameters
    ----------
    name : str
        The corpus (case-insensitive; ``crema_d`` and ``emo-db`` are accepted too).
    root : str or Path, optional
        The folder the user downloaded (searched recursively). For ``synthetic``: a folder
        written by ``ser synth``, or None for the built-in corpus rendered in memory, in which
        case ``synthetic_options`` go to ``ser.corpus.synth.synthetic_corpus``.

    Returns
    -------
    Corpus
        Its ``skipped`` lists every audio file whose name did not fit the scheme, and why.

    Raises
    ------
    ValueError
        Unknown corpus name, or a folder holding no file of the corpus.
    FileNotFoundError
        A folder that does not exist.
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "synthetic" and root is None:
        from ser.corpus.synth import synthetic_corpus

        return synthetic_corpus(**synthetic_options)
    if synthetic_options:
        raise TypeError(f"options {sorted(synthetic_options)} apply to the built-in corpus only")
    if key != "synthetic" and key not in CORPORA:
        raise ValueError(
            f"unknown corpus {name!r}; choose one of {', '.join([*CORPORA, 'synthetic'])}"
        )
    if root is None:
        raise ValueError(f"load_corpus({name!r}) needs the folder you downloaded it to")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if key == "synthetic":
        corpus = _read_synthetic(root)
    else:
        title, parse, example = CORPORA[key]
        corpus = _read(key, root, parse)
        if not corpus.utterances:
            found = (
                f"{len(corpus.skipped)} audio file(s), none named"
                if corpus.skipped
                else "no audio files"
            )
            raise ValueError(
                f"{root}: {found} like {title} files (expected e.g. {example}); "
                "is this the right folder and corpus name?"
            )
    return corpus

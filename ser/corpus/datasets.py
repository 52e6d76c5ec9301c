"""Readers for the real corpora, from a folder the user downloaded, and ``load_corpus``.

Each reader walks the folder, parses every audio file name with the corpus's own scheme,
maps its emotion onto the one label set of ``ser.corpus.records.LABELS``, and reports in
``Corpus.skipped``, with the reason, every entry named like an audio file that it does not
use: a name that does not fit (a stray copy, a macOS "._" file, a typo), a dangling symbolic
link, a FIFO or device, a folder named ``*.wav``, a file it may not read (permission denied),
a folder it cannot open, and a file whose bytes repeat an earlier one (the first is kept).
Nothing is dropped silently. docs/datasets.md describes each corpus.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from features.audio import path_for_message
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


_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}  # fmt: skip


def _unusable(path: Path) -> str | None:
    """Why an entry named like an audio file cannot be read as one, or None if it can.

    Readability is tried here (an open without blocking, closed at once), so a file the
    user may not read is reported with the corpus, not as an error halfway through training.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            target = path_for_message(os.readlink(path))
            return f"a symbolic link to {target}, which does not exist"
        return "vanished while the folder was read"
    except OSError as err:
        return f"cannot be examined ({(err.strerror or 'unknown error').lower()})"
    if stat.S_ISDIR(st.st_mode):
        return "a folder named like an audio file"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file but {_KINDS.get(stat.S_IFMT(st.st_mode), 'something else')}"
    try:
        os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except OSError as err:
        return f"cannot be read ({(err.strerror or 'unknown error').lower()})"
    return None


def _audio_entries(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Every entry under ``root`` named like an audio file (.wav, .flac, .ogg, any case):
    the readable regular files, sorted, and the others with why they cannot be used.

    Symbolic links to files are followed; symbolic links to folders are not descended
    (as ``Path.rglob``). A folder that cannot be opened is reported, not passed over.
    """
    files, skipped = [], []

    def unreadable_folder(err: OSError) -> None:
        why = (err.strerror or "unknown error").lower()
        skipped.append(Skipped(Path(err.filename), f"a folder that cannot be read ({why})"))

    for folder, dirnames, filenames in os.walk(root, onerror=unreadable_folder):
        for entry in (*dirnames, *filenames):
            if os.path.splitext(entry)[1].lower() not in AUDIO_SUFFIXES:
                continue
            path = Path(folder) / entry
            why = _unusable(path)
            if why is None:
                files.append(path)
            else:
                skipped.append(Skipped(path, why))
    return sorted(files), skipped


def _without_duplicates(utterances: list[Utterance]) -> tuple[list[Utterance], list[Skipped]]:
    """Keep the first of every group of files with the same bytes; skip the others.

    Only files of the same size are compared (by SHA-256 of their bytes), so a corpus of
    distinct files costs one ``stat`` each. Two names of one file (a hard or symbolic
    link) are duplicates too.
    """
    by_size = defaultdict(list)
    dropped: dict[int, Skipped] = {}
    for index, utt in enumerate(utterances):
        try:
            st = os.stat(utt.path)
        except OSError as err:
            dropped[index] = Skipped(utt.path, f"cannot be examined ({err.strerror.lower()})")
            continue
        by_size[st.st_size].append((index, (st.st_dev, st.st_ino)))
    first_of: dict[object, Path] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        for index, inode in group:
            path = utterances[index].path
            try:
                key = inode if inode in first_of else _sha256(path)
            except OSError as err:
                dropped[index] = Skipped(path, f"cannot be read ({err.strerror.lower()})")
                continue
            if key in first_of:
                first = path_for_message(first_of[key])
                dropped[index] = Skipped(path, f"the same bytes as {first} (a duplicate)")
            else:
                first_of[key] = first_of[inode] = path
    kept = [u for i, u in enumerate(utterances) if i not in dropped]
    return kept, [dropped[i] for i in sorted(dropped)]


def _sha256(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def _read(name: str, root: Path, parse: Callable[[Path], Utterance]) -> Corpus:
    files, skipped = _audio_entries(root)
    utterances = []
    for path in files:
        try:
            utterances.append(parse(path))
        except _NoMatch as why:
            skipped.append(Skipped(path, str(why)))
    utterances, duplicates = _without_duplicates(utterances)
    skipped = sorted([*skipped, *duplicates], key=lambda s: s.path)
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
    """A folder written by ``ser synth``: its manifest's rows, then every audio file the
    manifest does not list (reported). A row is skipped with the reason when its file is
    missing or unusable, its emotion unknown, it repeats an earlier row, or its path
    leads outside the folder (``../x.wav``, ``/etc/x.wav``, a link out)."""
    from ser.corpus.synth import MANIFEST

    manifest = root / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest}: no manifest; write the corpus with `ser synth --out {root}`"
        )
    inside = root.resolve()
    utterances, skipped, listed = [], [], {}
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:  # -sig: a BOM is allowed
            reader = csv.DictReader(f)
            missing = {"path", "emotion", "speaker"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{manifest}: columns {sorted(missing)} are missing")
            for row in reader:
                line = reader.line_num
                width = len(reader.fieldnames)
                n_fields = width + len(row.get(None, ())) - list(row.values()).count(None)
                if n_fields != width:
                    why = f"line {line}: has {n_fields} fields, the header has {width}"
                    skipped.append(Skipped(manifest, why))
                    continue
                try:
                    path = (root / row["path"]).resolve()
                except (OSError, ValueError) as err:  # a NUL byte, a loop of links
                    skipped.append(Skipped(manifest, f"line {line}: unusable path ({err})"))
                    continue
                why = None
                if not path.is_relative_to(inside):
                    why = f"line {line}: {row['path']!r} leads outside the corpus folder"
                elif path in listed:
                    why = f"line {line}: listed again (first on line {listed[path]})"
                else:
                    listed[path] = line
                    unusable = _unusable(path)
                    if unusable == "vanished while the folder was read":
                        why = f"listed in {MANIFEST} line {line} but missing"
                    elif unusable:
                        why = f"listed in {MANIFEST} line {line}: {unusable}"
                    elif row["emotion"] not in LABELS:
                        why = f"unknown emotion {row['emotion']!r} on line {line}"
                if why:
                    skipped.append(Skipped(path, why))
                    continue
                fields = {k: v for k, v in row.items() if k not in ("path", "emotion", "speaker")}
                fields["id"] = path.stem
                utterances.append(
                    Utterance(path, row["emotion"], row["speaker"], "synthetic", fields)
                )
    except UnicodeDecodeError as err:
        byte = err.object[err.start : err.start + 1].hex()
        raise ValueError(
            f"{path_for_message(manifest)}: is not UTF-8 text (byte 0x{byte} cannot be "
            "decoded); save it as UTF-8 (ser synth writes it so)"
        ) from None
    except csv.Error as err:
        why = str(err)
        if "field larger than field limit" in why:
            why = f"a field is longer than csv's limit of {csv.field_size_limit()} characters"
        raise ValueError(
            f"{path_for_message(manifest)}, line {reader.line_num}: {why}; is this a manifest?"
        ) from None
    except OSError as err:  # permission denied, an I/O error
        why = (err.strerror or str(err)).lower()
        raise ValueError(f"{path_for_message(manifest)}: cannot be read ({why})") from None
    files, unusable = _audio_entries(root)
    for path in files:
        if path.resolve() not in listed:
            skipped.append(Skipped(path, f"audio file not listed in {MANIFEST}"))
    skipped += [s for s in unusable if s.path.resolve() not in listed]
    utterances, duplicates = _without_duplicates(utterances)
    return Corpus("synthetic", tuple(utterances), (*skipped, *duplicates), root)


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

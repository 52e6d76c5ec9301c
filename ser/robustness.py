"""Noise robustness (issue 14, A2): a saved model scored on the same utterances at each SNR.

``ser robustness MODEL`` (docs/robustness.md):

    the model's own test speakers (metadata "speakers"), or --speakers
      -> each utterance's clean waveform y, in memory
      -> for each noise kind, one noise v per utterance (white, pink, babble of OTHER
         speakers, or a noise recording looped to length), fixed across the SNRs
      -> at each SNR, y + g v with g set so that the whole utterance has exactly that SNR
         (``features.augment.mix_at_snr``, eq. SNR)
      -> the model's own features and inputs (``ser.experiment.pipeline_of``,
         ``feature_sets``, ``predict_proba``: the path of ``ser evaluate``)
      -> UAR, accuracy, macro F1 and n per (noise, SNR), clean first.

The noisy waveforms and their features live in memory only: nothing is written to the
feature cache (and the clean features are computed here too, from the same waveforms).

Every random choice comes from ``seed`` and the utterance's id (``_rng``): the same
utterance gets the same noise whichever other utterances are scored, so two models scored
on the same speakers hear exactly the same mixtures.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features import AudioError, load_audio, resample, snr_db
from features.augment import babble_noise, loop_to_length, mix_at_snr, pink_noise, white_noise
from ser.corpus import Corpus, Utterance
from ser.experiment import Scores, feature_sets, pipeline_of, predict_proba
from ser.pipeline import compute_features

__all__ = [
    "NOISE_KINDS",
    "DEFAULT_SNRS",
    "DEFAULT_NOISES",
    "BABBLE_TALKERS",
    "BABBLE_POOL",
    "MAX_NOISE_SECONDS",
    "NoiseSource",
    "read_noise_file",
    "scored_speakers",
    "babble_pool",
    "noise_for",
    "run_robustness",
    "robustness_table",
    "robustness_report",
    "ROBUSTNESS_OUTPUTS",
]

NOISE_KINDS = ("white", "pink", "babble")
"""The generated noises; anything else given to ``--noise`` is a noise recording."""
DEFAULT_NOISES = NOISE_KINDS
DEFAULT_SNRS = (30.0, 20.0, 10.0, 5.0, 0.0)
BABBLE_TALKERS = 6
"""Talkers summed into one babble (eq. NOISE-2): with six, no single voice can be followed."""
BABBLE_POOL = 24
"""Utterances of other speakers drawn once per run; each babble takes BABBLE_TALKERS of them."""
MAX_NOISE_SECONDS = 600.0
"""A longer noise recording is refused (read whole, it would cost memory for nothing)."""
ROBUSTNESS_OUTPUTS = ("robustness.json", "report.md", "robustness.png")
_CHUNK = 32  # utterances whose mixtures are made and analysed together


@dataclass(frozen=True)
class NoiseSource:
    """One kind of noise to score with.

    Attributes
    ----------
    name : str
        What tables and the figure call it: "white", "pink", "babble", or the file's name.
    kind : {"white", "pink", "babble", "file"}
    recording : ndarray, shape (L,), or None
        A noise file's samples at the model's rate (``kind == "file"``).
    path : str or None
        The noise file, as given.
    note : str or None
        What was done to the file (resampled from another rate).
    details : dict
        What the JSON records about it (the file's rate; babble's speakers and utterances).
    """

    name: str
    kind: str
    recording: np.ndarray | None = field(default=None, repr=False)
    path: str | None = None
    note: str | None = None
    details: dict = field(default_factory=dict)


def read_noise_file(path, *, sr: int, min_samples: int = 1) -> NoiseSource:
    """A noise recording, mono, at ``sr`` Hz, checked so that an SNR can be set with it.

    A file at another sample rate is resampled to ``sr`` (``features.resample``, polyphase)
    and the source's ``note`` says so: a noise is as usable at any rate, as a recording is
    for ``ser predict``. Content above the lower rate's Nyquist frequency is absent from a
    file upsampled this way, which the note also says.

    Parameters
    ----------
    path : str or Path
        A WAV, FLAC or OGG file (anything ``features.load_audio`` reads; several channels
        are averaged).
    sr : int
        The model's sample rate, Hz.
    min_samples : int
        The shortest usable recording, in samples at ``sr`` (the model's analysis window:
        a shorter noise, looped, is a periodic buzz, not a noise).

    Returns
    -------
    NoiseSource of kind "file".

    Raises
    ------
    features.AudioError
        Naming the file: missing, unreadable, not audio, truncated, over
        ``MAX_NOISE_SECONDS``, silent (every sample 0: no SNR can be set), or shorter than
        ``min_samples``.
    """
    from features.audio import path_for_message

    name = path_for_message(path)
    r, rate = load_audio(path, sr=None, max_seconds=MAX_NOISE_SECONDS)
    note = None
    if rate != sr:
        r = resample(r, orig_sr=rate, target_sr=sr)
        lost = " (it holds nothing above its own Nyquist frequency)" if rate < sr else ""
        note = f"noise file {name} is {rate} Hz; resampled to the model's {sr} Hz{lost}"
    if not np.any(r):
        raise AudioError(f"{name}: the noise file is silent (every sample is 0): no SNR can be set")
    if r.shape[0] < min_samples:
        raise AudioError(
            f"{name}: the noise file is {r.shape[0]} samples at {sr} Hz, shorter than one "
            f"analysis window ({min_samples} samples); looped, it would be a buzz, not a noise"
        )
    details = {"sample_rate": int(rate), "seconds": round(r.shape[0] / sr, 3)}
    if note:
        details["resampled_to"] = int(sr)
    return NoiseSource(Path(str(path)).name or name, "file", r, str(path), note, details)


def scored_speakers(model, corpus: Corpus, speakers: Sequence[str] | None = None):
    """The speakers to score and where they came from.

    By default the model's own test speakers (metadata ``speakers["test"]``, which
    ``ser demo`` and ``ser train`` record), so that no speaker the model was trained or
    validated on is scored. ``speakers`` replaces them.

    Returns
    -------
    (list of str, str): the speakers, and "the model's test speakers" or "--speakers".

    Raises
    ------
    ValueError
        The model records no test speakers and none are given; a speaker is not in
        ``corpus`` (the message lists those that are).
    """
    source = "--speakers"
    if not speakers:
        recorded = (model.metadata or {}).get("speakers")
        test = recorded.get("test") if isinstance(recorded, dict) else None
        if not (isinstance(test, list) and test and all(isinstance(s, str) for s in test)):
            where = getattr(model, "source_path", None) or "the model"
            raise ValueError(
                f"{where} records no test speakers (metadata 'speakers'); give the speakers "
                "to score with --speakers (speakers it was not trained on)"
            )
        speakers, source = test, "the model's test speakers"
    unknown = [s for s in speakers if s not in corpus.speakers]
    if unknown:
        shown = ", ".join(corpus.speakers[:20]) + (" ..." if len(corpus.speakers) > 20 else "")
        what = "the model's test speaker(s)" if source != "--speakers" else "speaker(s)"
        raise ValueError(
            f"{corpus.name} has no {what} {', '.join(unknown)}; it has {shown}"
            + ("; give --speakers" if source != "--speakers" else "")
        )
    return list(dict.fromkeys(speakers)), source


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator from the seed and names (a noise, an utterance's id): the same
    utterance gets the same noise whichever other utterances are scored."""
    digest = hashlib.sha256(repr((int(seed), *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def babble_pool(
    corpus: Corpus, exclude: Sequence[str], *, sr: int, seed: int = 0, size: int = BABBLE_POOL
) -> tuple[list[np.ndarray], list[Utterance]]:
    """Utterances of speakers outside ``exclude`` (every scored speaker), read at ``sr``.

    ``size`` utterances are drawn at random, without replacement, from all the utterances
    of the other speakers (every emotion); each babble then sums ``BABBLE_TALKERS`` of them
    (``noise_for``). A scored speaker's voice is never in any babble: babble of the test
    speaker's own voice would be a recording of that speaker, a cue no real crowd gives.

    Returns
    -------
    (list of ndarray (L_k,), list of Utterance): the samples and what they are.

    Raises
    ------
    ValueError
        The corpus has no other speaker, or fewer utterances of them than one babble needs.
    """
    exclude = set(exclude)
    others = [u for u in corpus if u.speaker not in exclude]
    if len({u.speaker for u in others}) < 1 or len(others) < min(BABBLE_TALKERS, size):
        raise ValueError(
            f"babble is made of {BABBLE_TALKERS} utterances of speakers other than the scored "
            f"ones, and {corpus.name} has {len(others)} of them; use --noise white pink or a "
            "noise file"
        )
    rng = _rng(seed, "babble pool")
    chosen = sorted(rng.choice(len(others), size=min(size, len(others)), replace=False))
    utterances = [others[int(i)] for i in chosen]
    return [u.audio(sr) for u in utterances], utterances


def noise_for(
    source: NoiseSource, utterance_id: str, n: int, *, seed: int = 0, pool=None
) -> tuple[np.ndarray, list[str]]:
    """The noise ``v`` (n,) one utterance is mixed with, at every SNR, and the ids of the
    babble talkers in it (empty for other kinds).

    white: N(0, 1) samples; pink: eq. NOISE-1; babble: eq. NOISE-2 over ``BABBLE_TALKERS``
    utterances drawn from ``pool`` (``babble_pool``: samples, utterances); file: the
    recording looped or cropped from a random start (eq. NOISE-3). All draws come from
    ``seed``, the noise's name and the utterance's id.
    """
    rng = _rng(seed, source.name, utterance_id)
    if source.kind == "white":
        return white_noise(n, rng=rng), []
    if source.kind == "pink":
        return pink_noise(max(n, 2), rng=rng)[:n], []
    if source.kind == "file":
        start = int(rng.integers(0, source.recording.shape[0]))
        return loop_to_length(source.recording, n, start=start), []  # eq. NOISE-3
    samples, utterances = pool
    pick = rng.choice(len(samples), size=min(BABBLE_TALKERS, len(samples)), replace=False)
    v = babble_noise([samples[int(i)] for i in pick], n, rng=rng)  # eq. NOISE-2
    return v, [utterances[int(i)].id for i in pick]


def _scores_entry(noise: str, snr, scores: Scores, snr_error: float | None) -> dict:
    return {
        "noise": noise,
        "snr_db": snr,
        "uar": scores.uar,
        "accuracy": scores.accuracy,
        "macro_f1": scores.macro_f1,
        "n": scores.n,
        # a label no scored utterance is of has no recall (NaN): null in JSON
        "recall": {
            k: (r if math.isfinite(r) else None)
            for k, r in zip(scores.labels, scores.recall, strict=True)
        },  # fmt: skip
        "confusion": scores.confusion.tolist(),
        "max_snr_error_db": snr_error,
    }


def run_robustness(
    model,
    corpus: Corpus,
    *,
    noises: Sequence[NoiseSource] | None = None,
    snrs: Sequence[float] = DEFAULT_SNRS,
    speakers: Sequence[str] | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Score ``model`` on the same utterances, clean and with each noise at each SNR.

    Math (docs/robustness.md; eqs. SNR, NOISE-1..3, RB-1)::

        x = y + g v,   g = sqrt( sum y^2 / (sum v^2 10^(snr/10)) )   (the whole utterance)
        UAR(noise, snr) = mean over classes of recall on the x of every scored utterance  (RB-1)

    Parameters
    ----------
    model : nn.Sequential
        A saved model with its metadata (``ser.experiment.validate_metadata``).
    corpus : Corpus
        Holds the scored speakers and, for babble, other speakers.
    noises : sequence of NoiseSource, optional
        Default white, pink and babble.
    snrs : sequence of float
        SNRs in dB (finite, none twice); scored highest first, after the clean column.
    speakers : sequence of str, optional
        Speakers to score instead of the model's test speakers (``scored_speakers``).
    seed : int
        Every random choice (the noises, babble's talkers and their starts) follows from it.
    log : callable(str)
        Notes (a label the corpus lacks, a scored speaker the model was trained on).
    progress : callable(done, total), optional
        Utterances analysed so far.

    Returns
    -------
    dict, JSON-ready: "entries" has one entry per (noise, SNR), the clean one first
    (noise "none", snr_db None), each with uar, accuracy, macro_f1, n, recall, confusion and
    the largest |measured SNR - requested SNR| over its utterances (eq. SNR measured back);
    with the model's labels, the scored speakers and where they came from, the noises (a
    file's rate, babble's speakers and utterances), the SNRs, the seed and the chance level.

    Raises
    ------
    ValueError
        No test speakers and none given; a speaker not in the corpus; a corpus with none of
        the model's labels; a repeated or non-finite SNR; babble without other speakers.
    """
    start = time.perf_counter()
    spec, config, cmvn, adapt = pipeline_of(model)  # checks the metadata first
    labels = list(model.metadata["labels"])
    snrs = [float(s) for s in snrs]
    bad = [s for s in snrs if not math.isfinite(s)]
    if bad or len(set(snrs)) != len(snrs):
        raise ValueError(f"the SNRs must be finite and none given twice, got {snrs}")
    snrs = sorted(snrs, reverse=True)
    noises = list(noises) if noises is not None else [NoiseSource(k, k) for k in DEFAULT_NOISES]
    chosen, source = scored_speakers(model, corpus, speakers)
    trained = _trained_on(model)
    seen = [s for s in chosen if s in trained]
    if seen:
        log(
            f"note: the model was trained or validated on {', '.join(seen)}: its scores on "
            "them are not of unseen speakers"
        )
    present = [e for e in labels if e in corpus.select(speakers=chosen).emotions]
    if not present:
        raise ValueError(
            f"{corpus.name} has no utterances of the model's labels {labels} from speaker(s) "
            f"{', '.join(chosen)}"
        )
    missing = [e for e in labels if e not in present]
    if missing:
        log(
            f"note: speaker(s) {', '.join(chosen)} of {corpus.name} have no {', '.join(missing)}"
            f"; UAR is the mean recall over the {len(present)} labels present"
        )
    scored = list(corpus.select(speakers=chosen, emotions=present))
    sr = config.sample_rate
    pool = None
    if any(n.kind == "babble" for n in noises):
        samples, pool_utts = babble_pool(corpus, chosen, sr=sr, seed=seed)
        pool = (samples, pool_utts)
        noises = [
            NoiseSource(
                n.name,
                n.kind,
                details={
                    "talkers": min(BABBLE_TALKERS, len(samples)),
                    "speakers": sorted({u.speaker for u in pool_utts}),
                    "utterances": [u.id for u in pool_utts],
                },
            )
            if n.kind == "babble"
            else n
            for n in noises
        ]
    conditions = [("none", None)] + [(n.name, s) for n in noises for s in snrs]
    raw = {c: {} for c in conditions}  # condition -> utterance -> {kind: features}
    errors = {c: 0.0 for c in conditions if c[1] is not None}
    talkers_used: dict[str, set[str]] = {n.name: set() for n in noises if n.kind == "babble"}
    for first in range(0, len(scored), _CHUNK):
        chunk = scored[first : first + _CHUNK]
        clean = [u.audio(sr) for u in chunk]  # the chunk's waveforms, and one noise of each
        noise = {}  # kind per utterance, held while the chunk's mixtures are analysed
        for n in noises:
            noise[n.name] = []
            for u, y in zip(chunk, clean, strict=True):
                v, talkers = noise_for(n, u.id, y.shape[0], seed=seed, pool=pool)
                noise[n.name].append(v)
                if n.kind == "babble":
                    talkers_used[n.name].update(talkers)
        for c in conditions:
            name, s = c
            if s is None:
                signals = clean
            else:
                signals = [mix_at_snr(y, v, snr=s) for y, v in  # eq. SNR, whole utterance
                           zip(clean, noise[name], strict=True)]  # fmt: skip
                measured = [abs(snr_db(y, x - y) - s) for y, x in zip(clean, signals, strict=True)]
                errors[c] = max(errors[c], *measured)
            for kind in spec.kinds:
                for u, feats in zip(chunk, compute_features(kind, signals, config), strict=True):
                    raw[c].setdefault(u, {})[kind] = feats
        if progress is not None:
            progress(min(first + _CHUNK, len(scored)), len(scored))
    entries = []
    for c in conditions:
        sets, _ = feature_sets(spec, {"test": scored}, raw[c], labels, cmvn=cmvn)
        probs = predict_proba(model, sets["test"], adapt=adapt)
        if not np.all(np.isfinite(probs)):
            raise ValueError(
                "the model's output is not a number: its weights are not finite, or the "
                "audio is beyond them"
            )
        scores = Scores.of(sets["test"].labels, probs.argmax(axis=1), labels)
        entries.append(_scores_entry(c[0], c[1], scores, errors.get(c)))
    described = []
    for n in noises:
        d = {"name": n.name, "kind": n.kind, **n.details}
        if n.path is not None:
            d["path"] = n.path
        if n.note:
            d["note"] = n.note
        if n.kind == "babble":  # the talkers actually mixed in, and whose they are
            by_id = {u.id: u.speaker for u in pool[1]}
            d["utterances_used"] = sorted(talkers_used[n.name])
            d["speakers_used"] = sorted({by_id[i] for i in talkers_used[n.name]})
        described.append(d)
    meta = model.metadata
    return {
        "model": str(getattr(model, "source_path", "") or ""),
        "recipe": meta.get("recipe"),
        "labels": labels,
        "labels_scored": present,
        "corpus": corpus.name,
        "speakers": chosen,
        "speakers_from": source,
        "n_utterances": len(scored),
        "sample_rate": sr,
        "snr_db": snrs,
        "snr_definition": "eq. SNR over the whole utterance: 10 log10(sum y^2 / sum (g v)^2)",
        "noises": described,
        "seed": int(seed),
        "chance": 1.0 / len(present),
        "entries": entries,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _trained_on(model) -> set[str]:
    recorded = (model.metadata or {}).get("speakers")
    if not isinstance(recorded, dict):
        return set()
    return {s for part in ("train", "validation") for s in (recorded.get(part) or [])}


def _grid(result: dict, key: str) -> tuple[list[str], list[list[float | None]]]:
    """Rows (noise names) and cells [clean, snr_1, ...] of one metric."""
    clean = next(e for e in result["entries"] if e["snr_db"] is None)
    names = [n["name"] for n in result["noises"]]
    by = {(e["noise"], e["snr_db"]): e for e in result["entries"]}
    rows = [[clean[key]] + [by[(name, s)][key] for s in result["snr_db"]] for name in names]
    return names, rows


_TITLES = {"uar": "UAR", "accuracy": "accuracy", "macro_f1": "macro F1", "n": "n"}


def robustness_table(result: dict, key: str = "uar", *, markdown: bool = False) -> str:
    """One metric as a table: a row per noise, the clean column first, then the SNRs."""
    names, rows = _grid(result, key)
    heads = ["clean"] + [f"{s:g} dB" for s in result["snr_db"]]
    title = _TITLES.get(key, key)
    if markdown:
        lines = [
            f"| {title} | " + " | ".join(heads) + " |",
            "|---|" + "---:|" * len(heads),
            *(f"| {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |" for n, r in
              zip(names, rows, strict=True)),
        ]  # fmt: skip
        return "\n".join(lines)
    width = max(8, *(len(n) + 2 for n in names))
    lines = [f"{title:<{width}}" + "".join(f"{h:>9}" for h in heads)]
    lines += [
        f"{n:<{width}}" + "".join(f"{v:9.3f}" for v in r) for n, r in zip(names, rows, strict=True)
    ]
    return "\n".join(lines)


def robustness_report(results: Sequence[tuple[str, dict]], figure: str | None) -> str:
    """report.md: for each model, its scored speakers, noises and the UAR, accuracy and
    macro F1 tables."""
    parts = ["# Noise robustness: UAR against SNR\n"]
    for label, r in results:
        noises = "; ".join(
            n["name"]
            + (f" ({n['talkers']} talkers from speakers {', '.join(n['speakers'])})"
               if n["kind"] == "babble" else "")
            + (f" ({n['note']})" if n.get("note") else "")
            for n in r["noises"]
        )  # fmt: skip
        parts.append(
            f"""## {label}

- Model: `{r["model"] or "?"}` (recipe {r["recipe"]}), labels {", ".join(r["labels"])}.
- Scored: {r["n_utterances"]} utterances of {r["corpus"]} speaker(s)
  {", ".join(r["speakers"])} ({r["speakers_from"]}); chance UAR {r["chance"]:.3f}.
- Noises: {noises}; seed {r["seed"]}.
- SNR: eq. SNR over the whole utterance, set exactly (largest error measured back
  {max((e["max_snr_error_db"] or 0.0) for e in r["entries"]):.1e} dB).

{robustness_table(r, "uar", markdown=True)}

{robustness_table(r, "accuracy", markdown=True)}

{robustness_table(r, "macro_f1", markdown=True)}
"""
        )
    if figure:
        parts.append(f"![UAR against SNR]({figure})\n")
    parts.append(
        "Every noise is added to the same utterances; the clean column is the model scored as "
        "`ser evaluate` scores it. Babble is made of other speakers of the corpus, never of a "
        "scored speaker (docs/robustness.md).\n"
    )
    return "\n".join(parts)


# ---- the command ---------------------------------------------------------------------------


def parse_noises(specs: Sequence[str] | None, *, sr: int, min_samples: int) -> list[NoiseSource]:
    """``--noise`` values as noise sources: "white", "pink", "babble", or a noise file
    (read and checked now, ``read_noise_file``). None: the three generated kinds.

    Raises ValueError (naming ``--noise``) for a kind that is neither a known name nor an
    existing file, and for a noise given twice; ``features.AudioError`` for a bad file.
    """
    if not specs:
        return [NoiseSource(k, k) for k in DEFAULT_NOISES]

    def same(spec: str) -> str:  # one file under two spellings (a/n.wav, a/./n.wav) is one
        return spec if spec in NOISE_KINDS else os.path.realpath(spec)

    keys = [same(s) for s in specs]
    repeated = sorted({s for s, k in zip(specs, keys, strict=True) if keys.count(k) > 1},
                      key=list(specs).index)  # fmt: skip
    if repeated:
        raise ValueError(f"--noise names {', '.join(repeated)} more than once")
    sources = []
    for spec in specs:
        if spec in NOISE_KINDS:
            sources.append(NoiseSource(spec, spec))
            continue
        path = Path(spec)
        looks_like_a_file = path.suffix != "" or len(path.parts) > 1
        if not path.exists() and not looks_like_a_file:
            raise ValueError(
                f"--noise: unknown noise kind {spec!r}; choose {', '.join(NOISE_KINDS)} or a "
                "noise file (WAV, FLAC, OGG)"
            )
        sources.append(read_noise_file(path, sr=sr, min_samples=min_samples))  # AudioError
    names = [s.name for s in sources]
    if len(set(names)) != len(names):  # two files of one name in different folders
        sources = [
            NoiseSource(s.path or s.name, s.kind, s.recording, s.path, s.note, s.details)
            for s in sources
        ]
    return sources


def check_snrs(snrs: Sequence[float] | None) -> list[float]:
    """``--snr`` values (each already a finite number): none twice; highest first."""
    snrs = list(DEFAULT_SNRS if not snrs else snrs)
    repeated = sorted({s for s in snrs if snrs.count(s) > 1}, reverse=True)
    if repeated:
        raise ValueError(f"--snr names {', '.join(f'{s:g}' for s in repeated)} more than once")
    return sorted((float(s) for s in snrs), reverse=True)


def scoring_corpus(model, data=None, name: str = "synthetic", *, utterances: int | None = None):
    """The corpus to score a model on, and a phrase saying what it is.

    With ``data``, the corpus ``name`` read from that folder. Without it, the built-in
    synthetic corpus rebuilt as ``ser demo`` and ``ser train`` built it for this model:
    with the model's own seed (metadata "seed") and labels, and enough speakers to hold
    every speaker the model records (speaker i always has the same voice for a seed, so
    its test speakers are the voices it was tested on); ``utterances`` per speaker and
    emotion (default 20, as ``ser demo``).

    Raises ValueError: a model trained on a real corpus but no ``data``; labels the
    built-in corpus does not have; ``utterances`` with ``data``.
    """
    from ser.corpus import load_corpus
    from ser.corpus.synth import EMOTIONS

    meta = model.metadata
    if data is not None:
        if utterances is not None:
            raise ValueError("--utterances sizes the built-in corpus; not with --data")
        corpus = load_corpus(name, data)
        return corpus, f"{corpus.name} from {data}"
    if name.lower() != "synthetic":
        raise ValueError(f"--corpus {name} needs --data DIR, the folder it is in")
    trained_on = meta.get("corpus")
    if trained_on not in (None, "synthetic"):
        raise ValueError(
            f"the model was trained on {trained_on}; give --data DIR --corpus {trained_on} "
            "(the built-in corpus has none of its speakers)"
        )
    labels = [e for e in meta["labels"] if e in EMOTIONS]
    if not labels:
        raise ValueError(
            f"the built-in synthetic corpus has none of the model's labels {meta['labels']} "
            f"(it has {', '.join(EMOTIONS)}); give --data DIR --corpus NAME"
        )
    seed = meta.get("seed", 0)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
    recorded = meta.get("speakers") if isinstance(meta.get("speakers"), dict) else {}
    numbers = [
        int(s[1:])
        for part in recorded.values()
        for s in (part or [])
        if isinstance(s, str) and s[:1] == "S" and s[1:].isdigit()
    ]
    options = {"emotions": tuple(labels), "seed": seed, "n_speakers": max([10, *numbers])}
    if utterances is not None:
        options["n_utterances"] = utterances
    corpus = load_corpus("synthetic", **options)
    return corpus, f"the built-in synthetic corpus (seed {seed}, the model's)"


def write_outputs(out, results: Sequence[tuple[str, dict]]) -> list[Path]:
    """robustness.json (the first model's result; any others under "compared"), report.md
    and robustness.png, published together in ``out`` (``ser.io.StagedOutputs``)."""
    import json

    from ser.io import StagedOutputs, write_text
    from ser.report import save_robustness_curves

    results = list(results)
    document = dict(results[0][1])
    if len(results) > 1:
        document["compared"] = [r for _, r in results[1:]]
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    with StagedOutputs(out, ROBUSTNESS_OUTPUTS) as staged:
        save_robustness_curves(staged.path("robustness.png"), results)
        write_text(staged.path("report.md"), robustness_report(results, "robustness.png"))
        write_text(staged.path("robustness.json"), text)
        return staged.publish()


def robustness_command(
    model_path,
    *,
    load,
    data=None,
    corpus_name: str = "synthetic",
    speakers=None,
    snrs=None,
    noises=None,
    seed: int = 0,
    out="robustness_output",
    compare=(),
    utterances: int | None = None,
    log: Callable[[str], None] = print,
    note: Callable[[str], None] = print,
) -> list[tuple[str, dict]]:
    """``ser robustness``: check every input, score each model, write and print.

    ``load(path)`` reads and checks a model file (the command line's ``_load``). Every
    input is checked before the first utterance is analysed: the SNRs, the noises (a file
    read and checked), the corpus, the speakers (``scored_speakers``) and the labels.
    Returns the (label, result) of each model.
    """
    from ser.io import display_path
    from ser.progress import progress_printer

    snrs = check_snrs(snrs)
    paths = [model_path, *compare]
    models = [load(p) for p in paths]
    config = pipeline_of(models[0])[1]
    sources = parse_noises(noises, sr=config.sample_rate, min_samples=config.win_length)
    for source in sources:
        if source.note:
            note(f"note: {source.note}")
    for p, m in zip(paths[1:], models[1:], strict=True):
        if pipeline_of(m)[1].sample_rate != config.sample_rate:
            raise ValueError(
                f"{display_path(p)} reads {pipeline_of(m)[1].sample_rate} Hz audio, "
                f"{display_path(model_path)} {config.sample_rate} Hz: compare models of one rate"
            )
    corpus, where = scoring_corpus(models[0], data, corpus_name, utterances=utterances)
    chosen_by = [scored_speakers(m, corpus, speakers)[0] for m in models]  # all checked first
    if any(set(c) != set(chosen_by[0]) for c in chosen_by[1:]):
        note(
            "note: the models have different test speakers, so they are scored on different "
            "utterances; give --speakers to score them on the same ones"
        )
    labels = [display_path(Path(p).name) for p in paths]  # the file names, unless two agree
    if len(set(labels)) != len(labels):
        labels = [display_path(p) for p in paths]
    results = []
    for label, m in zip(labels, models, strict=True):
        chosen, _ = scored_speakers(m, corpus, speakers)
        log(
            f"{label}: {where}, speaker(s) {', '.join(chosen)}; "
            f"{', '.join(s.name for s in sources)} at {', '.join(f'{s:g}' for s in snrs)} dB"
        )
        result = run_robustness(
            m,
            corpus,
            noises=sources,
            snrs=snrs,
            speakers=speakers,
            seed=seed,
            log=note,
            progress=progress_printer("  utterances"),
        )
        result["model"] = display_path(paths[len(results)])
        results.append((label, result))
        log(robustness_table(result))
        log("")
    written = write_outputs(out, results)
    log(f"wrote {', '.join(display_path(p) for p in written)}")
    return results

"""From a corpus to cached features: MFCC, log-mel and frame energies of every utterance.

- Features are cached on disk, one ``.npy`` per utterance and kind, keyed by a SHA-256 of the
  audio, of the feature config and of the kind: a file's bytes, or, for a synthetic utterance
  that has no file, its recipe (voice, sentence, style, seed) and the synthesiser's version,
  which fix its samples. A second run skips both synthesis and extraction.
- What a network then reads (deltas, normalisation, crops) is built from them by
  ``ser.inputs``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from features import (
    MFCCConfig,
    frame_energy_db,
    log_mel_batch,
    mfcc_batch,
)
from ser.corpus.records import Utterance

__all__ = [
    "FEATURE_KINDS",
    "compute_features",
    "extract",
    "extract_features",
    "default_cache_dir",
    "SYNTH_VERSION",
]

SYNTH_VERSION = "voice-1"  # change when ser.corpus changes what a recipe sounds like


def default_cache_dir() -> Path:
    """$SER_CACHE, else $XDG_CACHE_HOME/ser-course/features, else ~/.cache/ser-course/features."""
    if os.environ.get("SER_CACHE"):
        return Path(os.environ["SER_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ser-course" / "features"


def _recipe_fingerprint(utt: Utterance) -> str:
    keywords = getattr(utt.render, "keywords", None)
    if keywords is None:
        raise ValueError(f"utterance {utt.id}: no file and no recipe to identify its audio by")
    return json.dumps({"synth": SYNTH_VERSION, **{k: repr(v) for k, v in sorted(keywords.items())}})


FEATURE_KINDS = ("mfcc", "logmel", "energy")
"""What ``extract`` computes per utterance: "mfcc" (T, n_mfcc), "logmel" (T, n_mels) (M1-M6),
"energy" (T,) frame energies in dBFS for voice activity (VAD-1), all on the same frames."""


def _audio_digest(utt: Utterance) -> bytes:
    """What identifies an utterance's samples: its file's bytes, or its synthesis recipe."""
    if utt.path is not None:
        return hashlib.sha256(Path(utt.path).read_bytes()).digest()
    return hashlib.sha256(_recipe_fingerprint(utt).encode()).digest()


def _key(digest: bytes, config: MFCCConfig, sr: int, kind: str) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps({"config": config.to_dict(), "sr": sr, "kind": kind}, sort_keys=True).encode()
    )
    h.update(digest)
    return h.hexdigest()


def compute_features(kind: str, signals, config: MFCCConfig) -> list[np.ndarray]:
    """Features of one kind (``FEATURE_KINDS``) of mono signals at ``config.sample_rate``."""
    if kind == "mfcc":
        return mfcc_batch(signals, sr=config.sample_rate, config=config)
    if kind == "logmel":
        return log_mel_batch(signals, sr=config.sample_rate, config=config)
    return [frame_energy_db(y, config=config) for y in signals]


def extract(
    utterances: Sequence[Utterance],
    *,
    config: MFCCConfig | None = None,
    kinds: Sequence[str] = ("mfcc",),
    cache_dir: Path | None = None,
    progress=None,
) -> dict[str, list[np.ndarray]]:
    """Features of every utterance, one list per kind, from the cache when possible.

    Each utterance's audio is read (or synthesised) at most once, whatever the number of
    kinds, and only when one of its kinds is not in the cache.

    Parameters
    ----------
    utterances : sequence of Utterance
    config : MFCCConfig, optional
        Default: the course's "default" preset at 16 kHz. Every kind uses its framing.
    kinds : sequence of {"mfcc", "logmel", "energy"}
    cache_dir : Path, optional
        Default ``default_cache_dir()``; ``False`` disables the cache.
    progress : callable(done, total), optional

    Returns
    -------
    dict kind -> list of ndarray, in the order of ``utterances``: (T_i, n_mfcc), (T_i, n_mels)
    or (T_i,), float64, with the same T_i for every kind of one utterance.

    Raises
    ------
    features.AudioError
        For an unreadable file, naming it.
    """
    from ser.io import save_npy

    unknown = [k for k in kinds if k not in FEATURE_KINDS]
    if unknown:
        raise ValueError(f"unknown feature kind(s) {unknown}; choose from {FEATURE_KINDS}")
    config = config or MFCCConfig()
    sr = config.sample_rate
    cache = None if cache_dir is False else Path(cache_dir or default_cache_dir())
    out = {kind: [None] * len(utterances) for kind in kinds}
    digests = [_audio_digest(u) for u in utterances] if cache else None
    todo: list[tuple[int, list[str]]] = []  # (utterance, the kinds it still needs)
    for i in range(len(utterances)):
        missing = []
        for kind in kinds:
            path = _entry(cache, _key(digests[i], config, sr, kind)) if cache else None
            if path is not None and path.is_file():
                try:
                    out[kind][i] = np.load(path, allow_pickle=False)
                    continue
                except (ValueError, OSError):  # a damaged cache entry is recomputed, not trusted
                    pass
            missing.append(kind)
        if missing:
            todo.append((i, missing))
    for start in range(0, len(todo), 64):
        chunk = todo[start : start + 64]
        signals = {i: utterances[i].audio(sr) for i, _ in chunk}
        for kind in kinds:
            wanted = [i for i, missing in chunk if kind in missing]
            if not wanted:
                continue
            for i, feats in zip(
                wanted, compute_features(kind, [signals[i] for i in wanted], config), strict=True
            ):
                out[kind][i] = feats
                if cache:
                    save_npy(_entry(cache, _key(digests[i], config, sr, kind)), feats)
        if progress is not None:
            progress(min(start + 64, len(todo)), len(todo))
    return out  # type: ignore[return-value]


def _entry(cache: Path, key: str) -> Path:
    return cache / key[:2] / f"{key}.npy"


def extract_features(
    utterances: Sequence[Utterance],
    *,
    config: MFCCConfig | None = None,
    cache_dir: Path | None = None,
    progress=None,
) -> list[np.ndarray]:
    """MFCCs (T_i, n_mfcc) of every utterance, from the cache when possible (``extract``
    with the one kind "mfcc")."""
    return extract(
        utterances, config=config, kinds=("mfcc",), cache_dir=cache_dir, progress=progress
    )["mfcc"]

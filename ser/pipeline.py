"""From a corpus to network inputs: MFCC, CMVN from training data, fixed-size tensors.

    utterances --MFCC (cached)--> (T_i, 13) --CMVN (training stats)--> crop / pad to 128
               --> (N, 128, 13, 1) float32, the document's input (P2, P3)

- Features are cached on disk, one ``.npy`` per utterance, keyed by a SHA-256 of the audio and
  of the feature config: a file's bytes, or, for a synthetic utterance that has no file, its
  recipe (voice, sentence, style, seed) and the synthesiser's version, which fix its samples.
  A second run skips both synthesis and extraction.
- CMVN statistics are fitted on the training utterances only (M10), and stored in the model.
- Evaluation uses the centre 128 frames (zero-padded equally on both sides when shorter);
  training draws a random 128-frame crop every epoch, the document's augmentation (Q3).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features import CMVNStats, MFCCConfig, add_deltas, mfcc_batch
from ser.corpus.records import Utterance

__all__ = [
    "FeatureSet",
    "extract_features",
    "fixed_length",
    "model_features",
    "default_cache_dir",
    "SYNTH_VERSION",
]

N_FRAMES = 128  # the document's input: 128 frames x 13 MFCCs x 1 channel
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


def _key(utt: Utterance, config: MFCCConfig, sr: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"config": config.to_dict(), "sr": sr}, sort_keys=True).encode())
    if utt.path is not None:
        h.update(Path(utt.path).read_bytes())
    else:
        h.update(_recipe_fingerprint(utt).encode())
    return h.hexdigest()


def extract_features(
    utterances: Sequence[Utterance],
    *,
    config: MFCCConfig | None = None,
    cache_dir: Path | None = None,
    progress=None,
) -> list[np.ndarray]:
    """MFCCs (T_i, n_mfcc) of every utterance, from the cache when possible.

    Parameters
    ----------
    utterances : sequence of Utterance
    config : MFCCConfig, optional
        Default: the course's "default" preset at 16 kHz.
    cache_dir : Path, optional
        Default ``default_cache_dir()``; ``False`` disables the cache.
    progress : callable(done, total), optional

    Raises
    ------
    features.AudioError
        For an unreadable file, naming it.
    """
    from ser.io import save_npy

    config = config or MFCCConfig()
    sr = config.sample_rate
    cache = None if cache_dir is False else Path(cache_dir or default_cache_dir())
    out: list[np.ndarray | None] = [None] * len(utterances)
    keys = [_key(u, config, sr) for u in utterances] if cache else [None] * len(utterances)
    todo = []
    for i, key in enumerate(keys):
        path = cache / key[:2] / f"{key}.npy" if cache else None
        if path is not None and path.is_file():
            try:
                out[i] = np.load(path, allow_pickle=False)
                continue
            except (ValueError, OSError):  # a damaged cache entry is recomputed, not trusted
                pass
        todo.append(i)
    for start in range(0, len(todo), 64):
        chunk = todo[start : start + 64]
        signals = [utterances[i].audio(sr) for i in chunk]
        for i, feats in zip(chunk, mfcc_batch(signals, sr=sr, config=config), strict=True):
            out[i] = feats
            if cache:
                save_npy(cache / keys[i][:2] / f"{keys[i]}.npy", feats)
        if progress is not None:
            progress(min(start + 64, len(todo)), len(todo))
    return out  # type: ignore[return-value]


def fixed_length(feats: np.ndarray, *, n_frames: int = N_FRAMES, rng=None) -> np.ndarray:
    """Crop or zero-pad (T, C) features to (n_frames, C).

    Without ``rng``: the centre n_frames (evaluation); a shorter utterance is padded equally
    on both sides. With ``rng``: a random crop, or a random placement in the padding
    (training augmentation, the document's Q3). After CMVN, zero is the mean of every
    coefficient, so padding adds no spurious energy.
    """
    T = feats.shape[0]
    if T >= n_frames:
        start = (T - n_frames) // 2 if rng is None else int(rng.integers(0, T - n_frames + 1))
        return feats[start : start + n_frames]
    pad = n_frames - T
    before = pad // 2 if rng is None else int(rng.integers(0, pad + 1))
    return np.pad(feats, ((before, pad - before), (0, 0)))


def model_features(mfccs: np.ndarray, kind: str) -> np.ndarray:
    """What a model of input ``kind`` reads, from (T, C) MFCCs, before CMVN: the MFCCs
    themselves ("image", the CNN) or MFCCs with deltas and delta-deltas (M9), (T, 3C)
    ("sequence", the recurrent models)."""
    if kind == "image":
        return mfccs
    if kind == "sequence":
        return add_deltas(mfccs, order=2)
    raise ValueError(f"unknown input kind {kind!r}; 'image' or 'sequence'")


@dataclass
class FeatureSet:
    """Normalised MFCCs of some utterances, their labels, and the tensors the CNN takes."""

    features: list[np.ndarray]  # each (T_i, C), after CMVN
    labels: np.ndarray  # (N,) int
    speakers: list[str]
    ids: list[str]
    kind: str = "image"  # "image": (N, 128, C, 1) for the CNN; "sequence": (N, 128, C)

    @classmethod
    def build(cls, utterances, model_inputs, labels: Sequence[str], cmvn: CMVNStats, kind="image"):
        """``model_inputs``: each utterance's ``model_features`` (T_i, C), before CMVN."""
        index = {name: k for k, name in enumerate(labels)}
        return cls(
            features=[cmvn.apply(f) for f in model_inputs],
            labels=np.array([index[u.emotion] for u in utterances], dtype=np.int64),
            speakers=[u.speaker for u in utterances],
            ids=[u.id for u in utterances],
            kind=kind,
        )

    def tensor(self, rng=None) -> np.ndarray:
        """Float32 batches of 128 frames: centre crops, or random crops when ``rng`` is given.
        (N, 128, C, 1) for kind "image", (N, 128, C) for "sequence"."""
        crops = np.stack([fixed_length(f, rng=rng) for f in self.features])
        return (crops[..., None] if self.kind == "image" else crops).astype(np.float32)

    def onehot(self, n_classes: int) -> np.ndarray:
        return np.eye(n_classes, dtype=np.float32)[self.labels]

    def sampler(self):
        """``x(epoch, rng)`` for ``Sequential.fit``: fresh random crops every epoch."""
        return lambda epoch, rng: self.tensor(rng)

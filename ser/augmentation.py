"""Waveform augmentation for training: perturbed copies of the training utterances.

Speed perturbation and added noise change the waveform, so their features must be extracted
again; they are therefore made once per run, as extra training utterances whose features are
cached like any other (Kaldi's offline speed perturbation, Ko et al. 2015), not redrawn every
epoch. SpecAugment, which works on the features, is applied to every batch instead
(``ser.experiment``).

Each copy belongs to a *pseudo-speaker* ("Actor_01~speed0.9"), as Kaldi names its perturbed
speakers: a voice played 10% faster is another voice, and the per-speaker normalisation and
speaker batches of a recipe then treat it as one. Copies are only ever used for training;
validation and test utterances are heard as recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from features import add_noise, speed_perturb
from ser.corpus.records import Utterance

__all__ = ["WAVEFORM_AUGMENTATIONS", "SPEED_FACTORS", "NOISE_SNR_DB", "perturbed_copies"]

WAVEFORM_AUGMENTATIONS = ("speed", "noise")
SPEED_FACTORS = (0.9, 1.1)  # Ko et al. 2015 (eq. AUG-1)
NOISE_SNR_DB = (0.0, 30.0)  # white noise at an SNR drawn uniformly in dB (eq. AUG-3)
# 0-30 rather than 10-30: on the built-in corpus the 10-30 dB copies left the CNN at UAR 0.54
# in 10 dB white noise (seed 0); 0-30 reached 0.71-0.84 on seeds 0-3 (docs/robustness.md)


@dataclass(frozen=True)
class _Copy:
    """``render(sr)`` of a perturbed copy; ``keywords`` identify its samples for the feature
    cache (``ser.pipeline``): the source's identity and the perturbation."""

    source: Utterance
    kind: str
    value: float

    @property
    def keywords(self) -> dict:
        if self.source.path is not None:
            origin = hashlib.sha256(self.source.path.read_bytes()).hexdigest()
        else:
            origin = repr(sorted(getattr(self.source.render, "keywords", {}).items()))
        return {"source": origin, self.kind: self.value}

    def __call__(self, sr: int) -> np.ndarray:
        y = self.source.audio(sr)
        if self.kind == "speed":
            return speed_perturb(y, factor=self.value)  # eq. AUG-1
        seed = int.from_bytes(hashlib.sha256(repr(self.keywords).encode()).digest()[:8], "little")
        return add_noise(y, snr=self.value, rng=np.random.default_rng(seed))  # eq. SNR


def _value_label(value: float) -> str:
    return f"{value:g}"


def perturbed_copies(utterances, kinds, *, seed: int = 0) -> list[Utterance]:
    """The augmented copies of ``utterances``, for training only.

    ``kinds`` from ``WAVEFORM_AUGMENTATIONS``: "speed" makes two copies of each utterance,
    0.9 and 1.1 times as fast (tempo and pitch together); "noise" one copy with white noise at
    an SNR drawn, from ``seed`` and the utterance, uniformly in 0-30 dB. Each copy keeps the
    emotion and belongs to the pseudo-speaker "<speaker>~<kind><value>" ("~noise" for noise,
    whatever its SNR).
    """
    unknown = [k for k in kinds if k not in WAVEFORM_AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown waveform augmentation {unknown}; choose from "
                         f"{WAVEFORM_AUGMENTATIONS}")  # fmt: skip
    copies = []
    rng = np.random.default_rng(seed)
    for u in utterances:
        variants = []
        if "speed" in kinds:
            variants += [("speed", f, f"speed{_value_label(f)}") for f in SPEED_FACTORS]
        if "noise" in kinds:
            variants.append(("noise", round(float(rng.uniform(*NOISE_SNR_DB)), 2), "noise"))
        for kind, value, tag in variants:
            copies.append(
                Utterance(
                    path=None,
                    emotion=u.emotion,
                    speaker=f"{u.speaker}~{tag}",
                    corpus=u.corpus,
                    fields={
                        **u.fields,
                        "id": f"{u.id}~{kind}{_value_label(value)}",
                        "source": u.id,
                        "augmentation": f"{kind} {value:g}",
                    },
                    render=_Copy(u, kind, value),
                )  # fmt: skip
            )
    return copies

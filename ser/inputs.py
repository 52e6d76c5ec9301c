"""From an utterance's cached features to what a network reads.

    features (T, C) --deltas (M9)--> (T, C (1 + d)) --normalise (M10)--> crops of n_frames
                     speech frames [start, stop) from the voice-activity detector (VAD-1..3)

``InputSpec`` is the data half of a recipe: which features, which normalisation, whether
silence is trimmed, how long a crop is and how a test utterance is covered. It travels in the
model file, so ``ser evaluate`` and ``ser predict`` rebuild exactly the inputs the model was
trained on.

Normalisation (eq. M10), three ways:

- ``"training"``: one mean and standard deviation per coefficient, fitted on the training
  speakers and stored in the model (the course's first recipes);
- ``"speaker"``: each speaker's own statistics, from that speaker's own audio, labels unused,
  so a test speaker is normalised by their own unlabelled recordings; a gain change of all of
  a speaker's files (a louder microphone) then changes nothing;
- ``"utterance"``: each utterance's own statistics (needs nothing but the file).

Statistics are measured on the speech frames only when silence is trimmed: a second of
digital silence would otherwise dominate the mean of every log-mel band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from features import CMVNStats, activity_from_energy, add_deltas, speech_bounds

__all__ = [
    "InputSpec",
    "FeatureSet",
    "N_FRAMES",
    "fixed_length",
    "model_inputs",
    "fit_training_cmvn",
    "crop_starts",
]

N_FRAMES = 128  # the document's input: 128 frames x 13 MFCCs x 1 channel
LAYOUTS = ("image", "sequence")
NORMALISATIONS = ("training", "speaker", "utterance")
TEST_CROPS = ("centre", "all")


@dataclass(frozen=True)
class InputSpec:
    """How an utterance's features become network inputs.

    Attributes
    ----------
    layout : {"image", "sequence"}
        (N, n_frames, C, 1) for a 2-D CNN, or (N, n_frames, C) for sequence models.
    features : {"mfcc", "logmel"}
        The cached features to start from (``ser.pipeline.extract``).
    deltas : {0, 1, 2}
        Orders of regression deltas (M9) appended to the features.
    normalisation : {"training", "speaker", "utterance"}
        Where the CMVN statistics (M10) come from (see the module docstring).
    trim_silence : bool
        Crop only from the speech frames found by ``features.voice_activity`` (VAD-1..3).
    n_frames : int
        Frames per crop (128 = 1.28 s at a 10 ms hop).
    test_crops : {"centre", "all"}
        At test time, the centre crop of the speech, or crops every n_frames // 2 across it
        whose class probabilities are averaged (the whole utterance is heard).
    vad_top_db : float
        The voice-activity threshold below the utterance's loudest frame (eq. VAD-2).
    vad_floor_db : float
        The absolute floor of eq. VAD-2, dBFS. -100 (digital silence) means none: the
        trimming then depends only on the utterance's own peak, so a gain changes nothing.
    """

    layout: str = "image"
    features: str = "mfcc"
    deltas: int = 0
    normalisation: str = "training"
    trim_silence: bool = False
    n_frames: int = N_FRAMES
    test_crops: str = "centre"
    vad_top_db: float = 40.0
    vad_floor_db: float = -60.0

    def __post_init__(self):
        checks = [
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}, got {self.layout!r}"),
            (
                self.features in ("mfcc", "logmel"),
                f"features must be 'mfcc' or 'logmel', got {self.features!r}",
            ),
            (self.deltas in (0, 1, 2), f"deltas must be 0, 1 or 2, got {self.deltas!r}"),
            (
                self.normalisation in NORMALISATIONS,
                f"normalisation must be one of {NORMALISATIONS}, got {self.normalisation!r}",
            ),
            (
                isinstance(self.n_frames, int) and self.n_frames >= 1,
                f"n_frames must be a positive integer, got {self.n_frames!r}",
            ),
            (
                self.test_crops in TEST_CROPS,
                f"test_crops must be one of {TEST_CROPS}, got {self.test_crops!r}",
            ),
            (self.vad_top_db > 0, f"vad_top_db must be > 0, got {self.vad_top_db!r}"),
            (
                -100.0 <= self.vad_floor_db <= 0.0,
                f"vad_floor_db must be within -100 .. 0 dBFS, got {self.vad_floor_db!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The cached feature kinds this spec reads (``ser.pipeline.extract``)."""
        return (self.features, "energy") if self.trim_silence else (self.features,)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown input settings {unknown}; known: {sorted(known)}")
        return cls(**d)


def model_inputs(spec: InputSpec, raw: dict, index: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One utterance's features with their deltas, (T, C (1 + deltas)), and its speech frames.

    ``raw`` maps each of ``spec.kinds`` to the cached arrays of a list of utterances
    (``ser.pipeline.extract``); ``index`` picks one. The span is [0, T) without trimming, and
    also when the detector finds no speech (a silent file is kept whole, not dropped).
    """
    feats = np.asarray(raw[spec.features][index], dtype=np.float64)
    if spec.deltas:
        feats = add_deltas(feats, order=spec.deltas)  # M9, on the whole utterance
    span = (0, feats.shape[0])
    if spec.trim_silence:
        energy = raw["energy"][index]
        if len(energy) != feats.shape[0]:
            raise ValueError(
                f"utterance {index}: {len(energy)} frame energies for {feats.shape[0]} frames"
            )
        activity = activity_from_energy(energy, top_db=spec.vad_top_db, floor_db=spec.vad_floor_db)
        start, stop = speech_bounds(activity)
        if stop > start:
            span = (start, stop)
    return feats, span


def _speech(feats, span):
    return feats[span[0] : span[1]]


def fit_training_cmvn(inputs: Sequence[np.ndarray], spans) -> CMVNStats:
    """M10 statistics of the training utterances, pooled over their speech frames."""
    return CMVNStats.from_features([_speech(f, s) for f, s in zip(inputs, spans, strict=True)])


def _normalise(spec, inputs, spans, speakers, cmvn):
    if spec.normalisation == "training":
        if cmvn is None:
            raise ValueError("normalisation 'training' needs the training speakers' statistics")
        return [cmvn.apply(f) for f in inputs]
    if spec.normalisation == "utterance":
        return [
            CMVNStats.from_features([_speech(f, s)]).apply(f)
            for f, s in zip(inputs, spans, strict=True)
        ]
    out = [None] * len(inputs)
    for speaker in sorted(set(speakers)):
        mine = [i for i, s in enumerate(speakers) if s == speaker]
        stats = CMVNStats.from_features([_speech(inputs[i], spans[i]) for i in mine])  # M10
        for i in mine:
            out[i] = stats.apply(inputs[i])
    return out


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


def crop_starts(length: int, n_frames: int) -> list[int]:
    """Starts of the crops that cover ``length`` frames, about n_frames // 2 apart, the first
    at 0 and the last ending at ``length``; one crop (padded) when length <= n_frames."""
    if length <= n_frames:
        return [0]
    count = math.ceil((length - n_frames) / max(1, n_frames // 2)) + 1
    return [int(round(s)) for s in np.linspace(0, length - n_frames, count)]


@dataclass
class FeatureSet:
    """Normalised features of some utterances, their labels and speech frames, and the
    tensors a network takes."""

    features: list[np.ndarray]  # each (T_i, C), after CMVN
    labels: np.ndarray  # (N,) int
    speakers: list[str]
    ids: list[str]
    spans: list[tuple[int, int]]  # speech frames [start, stop) of each utterance
    spec: InputSpec

    @classmethod
    def build(
        cls,
        utterances,
        inputs,
        spans,
        labels: Sequence[str],
        spec: InputSpec,
        cmvn: CMVNStats | None = None,
    ) -> FeatureSet:
        """``inputs``/``spans``: each utterance's ``model_inputs``; ``cmvn``: the training
        statistics, for ``normalisation="training"`` only."""
        index = {name: k for k, name in enumerate(labels)}
        speakers = [u.speaker for u in utterances]
        return cls(
            features=_normalise(spec, list(inputs), list(spans), speakers, cmvn),
            labels=np.array([index[u.emotion] for u in utterances], dtype=np.int64),
            speakers=speakers,
            ids=[u.id for u in utterances],
            spans=list(spans),
            spec=spec,
        )

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, indices) -> FeatureSet:
        take = [int(i) for i in indices]
        return FeatureSet(
            [self.features[i] for i in take],
            self.labels[take],
            [self.speakers[i] for i in take],
            [self.ids[i] for i in take],
            [self.spans[i] for i in take],
            self.spec,
        )

    def _layout(self, crops: np.ndarray) -> np.ndarray:
        return (crops[..., None] if self.spec.layout == "image" else crops).astype(np.float32)

    def tensor(self, rng=None) -> np.ndarray:
        """One crop per utterance from its speech frames, float32: the centre, or a random
        crop when ``rng`` is given. (N, n_frames, C, 1) for "image", (N, n_frames, C) for
        "sequence"."""
        n = self.spec.n_frames
        crops = [fixed_length(_speech(f, s), n_frames=n, rng=rng) for f, s in self._pairs()]
        return self._layout(np.stack(crops))

    def test_crops(self) -> tuple[np.ndarray, np.ndarray]:
        """The crops a test utterance is heard through, and which utterance each belongs to.

        ``spec.test_crops == "centre"``: one per utterance (``tensor()``). ``"all"``: crops
        every n_frames // 2 across its speech frames (``crop_starts``), so every frame of a
        long utterance is heard; the caller averages an utterance's class probabilities.

        Returns
        -------
        x : float32 (M, n_frames, C[, 1])    owner : int (M,), the utterance of each crop
        """
        if self.spec.test_crops == "centre":
            return self.tensor(), np.arange(len(self))
        n = self.spec.n_frames
        crops, owner = [], []
        for i, (f, s) in enumerate(self._pairs()):
            speech = _speech(f, s)
            for start in crop_starts(speech.shape[0], n):
                crops.append(fixed_length(speech[start : start + n], n_frames=n))
                owner.append(i)
        return self._layout(np.stack(crops)), np.array(owner)

    def _pairs(self):
        return zip(self.features, self.spans, strict=True)

    def onehot(self, n_classes: int) -> np.ndarray:
        return np.eye(n_classes, dtype=np.float32)[self.labels]

    def sampler(self, augment=None):
        """``x(epoch, rng)`` for ``Sequential.fit``: fresh random crops every epoch, then
        ``augment(x, rng)`` when given (SpecAugment, ...)."""
        if augment is None:
            return lambda epoch, rng: self.tensor(rng)
        return lambda epoch, rng: augment(self.tensor(rng), rng)

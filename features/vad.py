"""Energy-based voice-activity detection: which feature frames hold speech (VAD-1..VAD-3).

Shape letters (docs/conventions.md): S samples, T frames, L window length, C coefficients.

The energy of frame t is measured on exactly the frame that row t of ``features.mfcc`` comes
from (same win_length, hop_length, center, pad_end and window), so a decision per frame can
index the MFCC rows directly:

    y --VAD-1--> frame energy in dBFS (T,) --VAD-2--> above both thresholds? (T,)
      --VAD-3--> bridge short pauses, drop short blips --> speech (T,) bool
"""

from __future__ import annotations

import numpy as np

from features.audio import AudioError, check_signal
from features.framing import frame_view

# The private helpers of features.mfcc are used on purpose: they are what makes these frames
# the MFCC's frames (one resolver of sr/config, one set of framing arguments, one window).
from features.mfcc import MFCCConfig, _frame_kwargs, _resolve, _window

__all__ = [
    "activity_from_energy",
    "ENERGY_FLOOR",
    "frame_energy_db",
    "voice_activity",
    "speech_bounds",
    "trim_to_speech",
]

ENERGY_FLOOR = 1e-10  # eq. VAD-1: a frame of digital silence reads 10 log10(1e-10) = -100 dBFS
_ENERGY_FLOOR_DB = -100.0
_BLOCK_FRAMES = 4096  # frames squared at a time: bounded memory for an hour-long recording


def _config_for(sr, config) -> MFCCConfig:
    """``config`` (checked against ``sr`` when both are given), else the default preset at sr."""
    if config is None and sr is None:
        raise ValueError("pass sr= (the default MFCC config is built for it) or config=")
    return _resolve(config.sample_rate if sr is None else sr, config, None, {})


def frame_energy_db(y: np.ndarray, *, config: MFCCConfig | None = None, sr=None) -> np.ndarray:
    """Energy of each analysis frame in dB relative to full scale (dBFS).

    Math (docs/features.md, eq. VAD-1)::

        E[t] = sum_n (w[n] x[t H + n])^2 / sum_n w[n]^2          n = 0 .. L-1
        e[t] = 10 log10( max(E[t], 1e-10) )                        dBFS

    ``x`` is the raw signal (no pre-emphasis), cut and zero-padded exactly as ``features.mfcc``
    cuts it (eq. M2), and ``w`` is the config's analysis window (eq. M2-window). Dividing by the
    window's own energy makes E[t] the mean square of the frame for any window: a full-scale
    sine reads 10 log10(1/2) = -3.01 dBFS and a full-scale square wave 0 dBFS.

    Parameters
    ----------
    y : ndarray, shape (S,)
        Mono samples in full-scale units.
    config : MFCCConfig, optional
        Gives win_length, hop_length, center, pad_end and the window. Default: the default
        preset at ``sr`` (``MFCCConfig()`` at 16 kHz), as ``features.mfcc`` does.
    sr : int, optional
        Sample rate in Hz. Needed without ``config``; with it, it must equal
        ``config.sample_rate``.

    Returns
    -------
    ndarray, shape (T,), float64
        Element t is the frame of row t of ``features.mfcc(y, sr=sr, config=config)``.
        Always finite; digital silence reads exactly -100 dBFS.

    Raises
    ------
    AudioError
        Empty, NaN/Inf or multi-channel signal; a signal shorter than one frame; a sample rate
        that does not match the config.
    ValueError
        Neither ``sr`` nor ``config`` given.

    Notes
    -----
    The floor is a ``max`` (eq. M6's convention), not an added constant: any frame above
    -100 dBFS reads its exact energy. Frames padded by ``center`` or ``pad_end`` contain zeros
    and so read lower than the signal next to them.

    References
    ----------
    L. R. Rabiner and R. W. Schafer, *Theory and Applications of Digital Speech Processing*
    (Pearson, 2011), ch. 6 (time-domain methods: short-time energy).
    """
    config = _config_for(sr, config)
    y = check_signal(y)
    if y.ndim != 1:
        raise AudioError(f"signal: expected one channel shaped (S,), got {y.shape}; down-mix first")
    frames = frame_view(y, **_frame_kwargs(config))  # eq. M2, without the copy
    w2 = _window(config) ** 2
    energy = np.empty(frames.shape[0])
    for start in range(0, frames.shape[0], _BLOCK_FRAMES):
        block = frames[start : start + _BLOCK_FRAMES]
        energy[start : start + block.shape[0]] = np.square(block) @ w2  # sum_n w^2 x^2
    energy /= w2.sum()  # eq. VAD-1: the window's energy, so E is a mean square
    return 10.0 * np.log10(np.maximum(energy, ENERGY_FLOOR))  # eq. VAD-1


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops), half-open, of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def voice_activity(
    y: np.ndarray,
    *,
    sr,
    config: MFCCConfig | None = None,
    top_db: float = 40.0,
    floor_db: float = -60.0,
    min_speech_frames: int = 3,
    min_silence_frames: int = 20,
) -> np.ndarray:
    """Decide per analysis frame whether it holds speech, from its energy.

    Math (docs/features.md, eqs. VAD-2, VAD-3), with e[t] from eq. VAD-1::

        theta  = max( max_t e[t] - top_db,  floor_db )                            VAD-2
        a[t]   = e[t] > theta

        then, on the runs of a (VAD-3):
        1. a pause (a run of False with speech on both sides) shorter than
           min_silence_frames becomes speech                                     (hangover)
        2. a run of speech shorter than min_speech_frames becomes silence         (blips)

    Parameters
    ----------
    y : ndarray, shape (S,)
        Mono samples in full-scale units.
    sr : int
        Sample rate in Hz; must match ``config`` when one is given.
    config : MFCCConfig, optional
        The MFCC config whose frames are decided (default: the default preset at ``sr``).
    top_db : float
        dB below the utterance's loudest frame that still counts as speech (>= 0).
    floor_db : float
        Absolute floor in dBFS, >= -100 (the floor of eq. VAD-1): nothing quieter is speech,
        however quiet the whole recording is.
    min_speech_frames : int
        Speech runs shorter than this are dropped (>= 0; 0 and 1 drop nothing).
    min_silence_frames : int
        Pauses inside speech shorter than this are filled (>= 0; 0 and 1 fill nothing). At the
        default 10 ms hop, 20 frames bridge the 200 ms pauses and stop closures inside a phrase.

    Returns
    -------
    ndarray, shape (T,), bool
        True for speech; element t is row t of ``features.mfcc`` with the same config.

    Raises
    ------
    AudioError
        As ``frame_energy_db``: empty, NaN/Inf, multi-channel, shorter than one frame.
    ValueError
        A negative ``top_db`` or frame count, or ``floor_db`` below -100 dBFS.

    Notes
    -----
    The threshold follows the utterance's own peak, so a gain change (a louder microphone, a
    quieter speaker) shifts every e[t] and the peak by the same number of dB and leaves the
    decisions as they were, as long as the floor does not take over. The floor keeps a
    recording of nothing but quiet room noise (below ``floor_db``) from being called speech:
    its loudest frame is noise, and half of it would be within ``top_db`` of that.
    Digital silence reads -100 dBFS, never above theta, so a silent recording and silent
    leading/trailing stretches are never speech. A pause *inside* speech is bridged by step 1
    whatever it holds, digital silence included: it is part of the utterance.

    The hangover is applied before the blips are dropped, so two short bursts close together
    merge into one run that may then be long enough to keep.

    References
    ----------
    L. R. Rabiner and M. R. Sambur, "An algorithm for determining the endpoints of isolated
    utterances", Bell System Technical Journal 54(2), 1975 (energy thresholds set relative to
    the measured levels, endpoints from the runs above them). librosa's ``effects.split`` uses
    the same relative idea: non-silent means within ``top_db`` of the loudest frame.
    """
    e = frame_energy_db(y, config=config, sr=sr)  # eq. VAD-1
    return activity_from_energy(
        e,
        top_db=top_db,
        floor_db=floor_db,
        min_speech_frames=min_speech_frames,
        min_silence_frames=min_silence_frames,
    )


def activity_from_energy(
    energy_db: np.ndarray,
    *,
    top_db: float = 40.0,
    floor_db: float = -60.0,
    min_speech_frames: int = 3,
    min_silence_frames: int = 20,
) -> np.ndarray:
    """The decisions of ``voice_activity`` (eqs. VAD-2, VAD-3) from frame energies already
    measured by ``frame_energy_db`` (eq. VAD-1): (T,) dBFS -> (T,) bool.

    A pipeline that caches the energies of a corpus decides again, with other thresholds,
    without reading the audio a second time.
    """
    if not top_db >= 0:
        raise ValueError(f"top_db must be >= 0, got {top_db}")
    if not floor_db >= _ENERGY_FLOOR_DB:
        raise ValueError(
            f"floor_db must be >= {_ENERGY_FLOOR_DB:g} dBFS (the energy floor of eq. VAD-1, "
            f"where digital silence sits), got {floor_db}"
        )
    for name, count in (
        ("min_speech_frames", min_speech_frames),
        ("min_silence_frames", min_silence_frames),
    ):
        if int(count) != count or count < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {count}")
    e = np.asarray(energy_db, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"frame energies must be a non-empty 1-D array, got shape {e.shape}")
    theta = max(float(e.max()) - top_db, floor_db)  # eq. VAD-2
    active = e > theta  # eq. VAD-2
    # eq. VAD-3, step 1: the pauses between two speech runs are the gaps stop[i] .. start[i+1]
    starts, stops = _runs(active)
    for lo, hi in zip(stops[:-1], starts[1:], strict=True):
        if hi - lo < min_silence_frames:
            active[lo:hi] = True
    # eq. VAD-3, step 2: runs recomputed after the bridging
    for lo, hi in zip(*_runs(active), strict=True):
        if hi - lo < min_speech_frames:
            active[lo:hi] = False
    return active


def speech_bounds(activity: np.ndarray) -> tuple[int, int]:
    """Half-open frame range from the first to the last speech frame.

    Parameters
    ----------
    activity : ndarray, shape (T,), bool
        Per-frame decisions, e.g. from ``voice_activity``.

    Returns
    -------
    (start, stop) : tuple of int
        ``activity[start]`` and ``activity[stop - 1]`` are the first and last True; the pauses
        between them are inside the range. (0, 0) when no frame is speech.
    """
    activity = np.asarray(activity)
    if activity.ndim != 1:
        raise ValueError(f"activity must be shaped (T,), got {activity.shape}")
    speech = np.flatnonzero(activity)
    if speech.size == 0:
        return 0, 0
    return int(speech[0]), int(speech[-1]) + 1


def trim_to_speech(features: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """The feature rows from the first to the last speech frame (``speech_bounds``).

    Parameters
    ----------
    features : ndarray, shape (T, C)
        One row per frame, e.g. ``features.mfcc`` with the config ``activity`` was made with.
    activity : ndarray, shape (T,), bool

    Returns
    -------
    ndarray, shape (stop - start, C)
        A copy of ``features[start:stop]``. With no speech frame at all, a copy of all of
        ``features``, unchanged: an utterance the detector misses is kept whole rather than
        turned into an empty array that would fail later, far from the cause. Check
        ``activity.any()`` first to treat such utterances otherwise.

    Raises
    ------
    ValueError
        If ``features`` and ``activity`` have different numbers of frames (the usual cause:
        the two were computed with different configs).
    """
    features = np.asarray(features)
    activity = np.asarray(activity)
    if activity.ndim != 1 or features.ndim < 1 or features.shape[0] != activity.shape[0]:
        raise ValueError(
            f"features {features.shape} and activity {activity.shape} do not have the same "
            "number of frames; compute both with the same MFCCConfig"
        )
    start, stop = speech_bounds(activity)
    if stop == 0:
        return features.copy()
    return features[start:stop].copy()

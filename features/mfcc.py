"""MFCC features: one frozen config naming every convention, and the pipeline M1-M8.

Shape letters (docs/conventions.md): S samples, T frames, L window length, B FFT bins,
J mel bands, C cepstral coefficients.

    y --M1--> pre-emphasis --M2--> frames x window --M3--> power spectrum --M5--> mel energies
      --M6--> log-mel --M7--> DCT-II --M8--> lifter --(energy_c0)--> MFCC  (T, C)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from features.audio import AudioError, check_signal
from features.blocked import clip_pool, dct_blocked, mel_energies_blocked
from features.cepstrum import dct, dct_matrix, lifter
from features.compression import LOG_KINDS, log_compress
from features.framing import WINDOWS, frame_signal, frame_view, get_window, preemphasis
from features.mel import MEL_SCALES, apply_filterbank, mel_filterbank
from features.spectrum import magnitude_spectrum, power_spectrum

__all__ = [
    "MFCCConfig",
    "MFCCSteps",
    "PRESETS",
    "preset_config",
    "mfcc",
    "mfcc_batch",
    "log_mel",
    "log_mel_batch",
    "spectrogram",
]

PRESETS = ("default", "librosa", "python_speech_features")


@dataclass(frozen=True)
class MFCCConfig:
    """Every convention of the MFCC pipeline, in one immutable record.

    The defaults are the course's ``"default"`` preset at 16 kHz; ``preset_config`` builds the
    others. docs/conventions.md has one row per field and how librosa and
    python_speech_features differ.

    Attributes
    ----------
    sample_rate : int
        Hz. ``mfcc`` refuses a signal at another rate.
    win_length, hop_length : int
        Samples per frame (L) and between frame starts (H): 400 and 160 are 25 ms and 10 ms.
    n_fft : int
        FFT length N >= L (the frame is zero-padded to N).
    window : {"hamming", "hann", "rectangular"}
    window_periodic : bool
        False: symmetric (eq. M2-window with D = L - 1; HTK, numpy). True: periodic (librosa).
    preemphasis : float
        alpha of eq. M1; 0 switches it off.
    center : bool
        Zero-pad L // 2 samples at both ends so frame m is centred on sample m H (librosa).
    pad_end : bool
        Keep the last partial frame, zero-padded (python_speech_features).
    spectrum : {"power", "magnitude"}
        |X|^2 or |X| before the filterbank.
    spectrum_scale : {"n_fft", "none"}
        Divide the power spectrum by N (python_speech_features) or not (librosa).
    mel_scale : {"htk", "slaney"}
    mel_norm : {None, "slaney"}
        None: triangles peak at 1. "slaney": unit area.
    mel_snap_to_bins : bool
        Snap band edges to FFT bins (python_speech_features).
    n_mels : int
        J, the number of mel bands.
    fmin, fmax : float
        Hz; ``fmax=None`` means sample_rate / 2.
    log : {"ln", "db"}
        Natural log or 10 log10 (librosa's power_to_db).
    log_floor : float
        Energies below it are raised to it before the log (silence stays finite).
    top_db : float or None
        dB only: floor at the utterance's peak minus top_db (librosa: 80).
    dct_norm : {"ortho", None}
    n_mfcc : int
        C, the coefficients kept.
    lifter : float
        L of eq. M8; 0 switches it off.
    lifter_first_index : int
        0: column i is weighted with n = i (HTK, python_speech_features). 1: n = i + 1 (librosa).
    energy_c0 : bool
        Replace c0 with ln(max(sum_k P_m[k], log_floor)), the frame's spectral energy
        (python_speech_features' appendEnergy).
    """

    sample_rate: int = 16000
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    window: str = "hamming"
    window_periodic: bool = False
    preemphasis: float = 0.97
    center: bool = False
    pad_end: bool = False
    spectrum: str = "power"
    spectrum_scale: str = "n_fft"
    mel_scale: str = "htk"
    mel_norm: str | None = None
    mel_snap_to_bins: bool = False
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    log: str = "ln"
    log_floor: float = 1e-10
    top_db: float | None = None
    dct_norm: str | None = "ortho"
    n_mfcc: int = 13
    lifter: float = 22.0
    lifter_first_index: int = 0
    energy_c0: bool = False

    def __post_init__(self):
        checks = [
            (self.sample_rate > 0, f"sample_rate must be > 0, got {self.sample_rate}"),
            (self.win_length >= 1, f"win_length must be >= 1, got {self.win_length}"),
            (self.hop_length >= 1, f"hop_length must be >= 1, got {self.hop_length}"),
            (
                self.n_fft >= self.win_length,
                f"n_fft ({self.n_fft}) is smaller than win_length ({self.win_length}): "
                "the FFT would silently crop every frame; raise n_fft",
            ),
            (self.window in WINDOWS, f"window must be one of {WINDOWS}, got {self.window!r}"),
            (self.spectrum in ("power", "magnitude"), f"unknown spectrum {self.spectrum!r}"),
            (
                self.spectrum_scale in ("n_fft", "none"),
                f"bad spectrum_scale {self.spectrum_scale!r}",
            ),
            (self.mel_scale in MEL_SCALES, f"mel_scale must be one of {MEL_SCALES}"),
            (self.mel_norm in (None, "slaney"), "mel_norm must be None or 'slaney'"),
            (self.log in LOG_KINDS, f"log must be one of {LOG_KINDS}, got {self.log!r}"),
            (self.log_floor > 0, f"log_floor must be > 0, got {self.log_floor}"),
            (self.top_db is None or self.log == "db", "top_db needs log='db'"),
            (self.dct_norm in ("ortho", None), "dct_norm must be 'ortho' or None"),
            (1 <= self.n_mfcc <= self.n_mels, f"need 1 <= n_mfcc <= n_mels, got {self.n_mfcc}"),
            (self.lifter >= 0, f"lifter must be >= 0, got {self.lifter}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"MFCCConfig: {message}")

    def replace(self, **changes) -> MFCCConfig:
        """A copy with some fields changed (the config itself is frozen)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"MFCCConfig has no field(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of every field (for model files and feature caches)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MFCCConfig:
        """Inverse of ``to_dict``; unknown keys are an error, not silently dropped."""
        return cls().replace(**d)


def preset_config(name: str = "default", *, sr: int = 16000, **overrides) -> MFCCConfig:
    """The config of a named preset at sample rate ``sr``, with optional field ``overrides``.

    Overrides are merged before the config is validated, so ``n_fft=1024`` can rescue a
    preset whose window does not fit its FFT at this rate.

    - ``"default"``: the course's speech-recognition convention: 25 ms Hamming window
      (symmetric), 10 ms hop, n_fft the next power of two (512 at 16 kHz), pre-emphasis 0.97,
      40 HTK mel bands peaking at 1, |X|^2 / N, natural log with floor 1e-10, orthonormal
      DCT-II, 13 coefficients, lifter 22.
    - ``"librosa"``: ``librosa.feature.mfcc(y=y, sr=sr)`` with librosa's own defaults: n_fft
      2048, hop 512, periodic Hann, centre zero-padding, |X|^2, 128 Slaney-scale bands with
      Slaney area norm, 10 log10 with amin 1e-10 and top_db 80, 20 coefficients, no lifter.
    - ``"python_speech_features"``: ``python_speech_features.mfcc(signal, samplerate=sr)``:
      25 ms rectangular window, 10 ms hop, end padding, n_fft 512, pre-emphasis 0.97, 26 HTK
      bands snapped to FFT bins, |X|^2 / N, ln with floor eps, 13 coefficients, lifter 22,
      c0 replaced by the log frame energy.
    """
    unknown = set(overrides) - {f.name for f in dataclasses.fields(MFCCConfig)}
    if unknown:
        raise TypeError(f"MFCCConfig has no field(s) {sorted(unknown)}")
    return MFCCConfig(**{**_preset_fields(name, sr), **overrides})


def _preset_fields(name: str, sr: int) -> dict:
    if name == "default":
        win = round(0.025 * sr)
        return dict(
            sample_rate=sr,
            win_length=win,
            hop_length=round(0.010 * sr),
            n_fft=1 << (win - 1).bit_length(),  # next power of two >= the window
        )
    if name == "librosa":
        return dict(
            sample_rate=sr,
            win_length=2048,
            hop_length=512,
            n_fft=2048,
            window="hann",
            window_periodic=True,
            preemphasis=0.0,
            center=True,
            spectrum_scale="none",
            mel_scale="slaney",
            mel_norm="slaney",
            n_mels=128,
            log="db",
            log_floor=1e-10,
            top_db=80.0,
            n_mfcc=20,
            lifter=0.0,
            lifter_first_index=1,
        )
    if name == "python_speech_features":
        # psf rounds half up: 0.025 * sr samples. int(x + 0.5) is that for positive x.
        return dict(
            sample_rate=sr,
            win_length=int(0.025 * sr + 0.5),
            hop_length=int(0.010 * sr + 0.5),
            n_fft=512,
            window="rectangular",
            pad_end=True,
            n_mels=26,
            mel_snap_to_bins=True,
            log_floor=float(np.finfo(np.float64).eps),
            energy_c0=True,
        )
    raise ValueError(f"unknown MFCC preset {name!r}; choose one of {PRESETS}")


def _resolve(sr, config, preset, overrides) -> MFCCConfig:
    if config is not None and preset is not None:
        raise ValueError("pass either config= or preset=, not both")
    if config is None:
        config = preset_config(preset or "default", sr=int(sr), **overrides)
    elif overrides:
        config = config.replace(**overrides)
    if int(sr) != config.sample_rate:
        raise AudioError(
            f"signal: sample rate {sr} Hz does not match the MFCC config's "
            f"{config.sample_rate} Hz; resample it (features.load_audio(path, sr=...)) "
            "or build the config for this rate (preset_config(name, sr=...))"
        )
    return config


@dataclass(frozen=True)
class MFCCSteps:
    """Every intermediate array of one ``mfcc`` call, for stepping through the pipeline.

    Attributes (T frames, L window, B = n_fft // 2 + 1 bins, J mel bands, C coefficients)
    ----------
    signal : (S,)              the input
    emphasized : (S,)          after pre-emphasis (M1)
    frames : (T, L)            cut frames (M2), before the window
    window : (L,)              the analysis window (M2)
    windowed : (T, L)          frames * window
    spectrum : (T, B)          power or magnitude spectrum (M3)
    filterbank : (J, B)        the mel filterbank (M5)
    mel_energies : (T, J)      spectrum @ filterbank.T (M5)
    log_mel : (T, J)           after the log and its floor (M6)
    cepstra : (T, C)           DCT-II, first C coefficients (M7)
    mfcc : (T, C)              after the lifter (M8) and the optional c0 energy
    """

    signal: np.ndarray
    emphasized: np.ndarray
    frames: np.ndarray
    window: np.ndarray
    windowed: np.ndarray
    spectrum: np.ndarray
    filterbank: np.ndarray
    mel_energies: np.ndarray
    log_mel: np.ndarray
    cepstra: np.ndarray
    mfcc: np.ndarray


def _emphasize(y, config: MFCCConfig):
    """Check the signal, then M1: returns (signal, emphasized)."""
    y = check_signal(y)
    if y.ndim != 1:
        raise AudioError(f"signal: expected one channel shaped (S,), got {y.shape}; down-mix first")
    return y, (preemphasis(y, coeff=config.preemphasis) if config.preemphasis else y)  # M1


def _frame_kwargs(config: MFCCConfig) -> dict:
    return dict(
        win_length=config.win_length,
        hop_length=config.hop_length,
        center=config.center,
        pad_end=config.pad_end,
        sr=config.sample_rate,
    )


def _window(config: MFCCConfig) -> np.ndarray:
    return get_window(config.window, config.win_length, periodic=config.window_periodic)


def _front_end(y, config: MFCCConfig):
    """M1-M3 in full, for reading: (signal, emphasized, frames, window, windowed, spectrum)."""
    y, emphasized = _emphasize(y, config)
    frames = frame_signal(emphasized, **_frame_kwargs(config))  # M2
    window = _window(config)
    windowed = frames * window  # M2
    if config.spectrum == "power":  # M3
        spectrum = power_spectrum(windowed, n_fft=config.n_fft, scale=config.spectrum_scale)
    else:
        spectrum = magnitude_spectrum(windowed, n_fft=config.n_fft)
    return y, emphasized, frames, window, windowed, spectrum


def _mel_energies_fast(y, config: MFCCConfig, fbank, *, with_energy=False, threads=None):
    """M1-M5 through the blocked, threaded twin (features.blocked): (mel, energy or None)."""
    _, emphasized = _emphasize(y, config)
    return mel_energies_blocked(
        frame_view(emphasized, **_frame_kwargs(config)),
        _window(config),
        fbank,
        n_fft=config.n_fft,
        spectrum=config.spectrum,
        scale=config.spectrum_scale,
        with_energy=with_energy,
        threads=threads,
    )


def _filterbank(config: MFCCConfig) -> np.ndarray:
    return mel_filterbank(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        scale=config.mel_scale,
        norm=config.mel_norm,
        snap_to_bins=config.mel_snap_to_bins,
    )


def _log(energies, config: MFCCConfig):
    return log_compress(energies, kind=config.log, floor=config.log_floor, top_db=config.top_db)


def spectrogram(y, *, sr: int, config=None, preset=None, **overrides) -> np.ndarray:
    """Power (or magnitude) spectrogram after pre-emphasis and windowing (M1-M3).

    Parameters
    ----------
    y : ndarray, shape (S,)
        Mono samples at ``sr`` Hz.
    sr : int
        Sample rate in Hz; must match the config.
    config : MFCCConfig, optional
    preset : str, optional
        One of ``PRESETS`` (default "default"), built at ``sr``.
    **overrides
        Config fields to change, e.g. ``n_fft=1024``.

    Returns
    -------
    ndarray, shape (T, n_fft // 2 + 1), float64
    """
    config = _resolve(sr, config, preset, overrides)
    return _front_end(y, config)[-1]


def log_mel(y, *, sr: int, config=None, preset=None, **overrides) -> np.ndarray:
    """Log mel energies (M1-M6), shape (T, n_mels), float64; arguments as ``spectrogram``."""
    config = _resolve(sr, config, preset, overrides)
    mel_energies, _ = _mel_energies_fast(y, config, _filterbank(config))
    return _log(mel_energies, config)


def mfcc(y, *, sr: int, config=None, preset=None, return_steps: bool = False, **overrides):
    """Mel-frequency cepstral coefficients of a mono signal, one row per frame.

    Math (docs/features.md, eqs. M1-M8)::

        e = preemphasis(y)                         M1
        F[m] = e[m H : m H + L] * w                M2
        P[m, k] = |rfft(F[m], N)[k]|^2 (/ N)       M3
        E = P @ H_mel.T                            M5
        G = log(max(E, floor))                     M6
        c = DCT-II(G)[:, :C]                       M7
        mfcc = c * lifter_weights                  M8   (c0 <- log energy if energy_c0)

    Parameters
    ----------
    y : ndarray, shape (S,)
        Mono samples at ``sr`` Hz, full-scale units.
    sr : int
        Sample rate in Hz. With ``preset`` (or neither config nor preset), the preset is built
        for this rate; with ``config``, it must equal ``config.sample_rate``.
    config : MFCCConfig, optional
    preset : {"default", "librosa", "python_speech_features"}, optional
    return_steps : bool
        Also return an ``MFCCSteps`` holding every intermediate array.
    **overrides
        Config fields to change on top of the config or preset, e.g. ``n_mfcc=20``.

    Returns
    -------
    features : ndarray, shape (T, n_mfcc), float64
    steps : MFCCSteps
        Only with ``return_steps=True``.

    Raises
    ------
    AudioError
        Empty, NaN/Inf or multi-channel signal; a signal shorter than one frame; a sample rate
        that does not match the config.
    ValueError
        A config that cannot work (n_fft < win_length, a mel filter that covers no FFT bin).

    Notes
    -----
    Silence is valid: the log floor keeps every coefficient finite.

    See Also
    --------
    examples/01_mfcc_step_by_step.py, docs/features.md, docs/conventions.md
    """
    config = _resolve(sr, config, preset, overrides)
    return _mfcc_with_config(y, config, return_steps=return_steps)


def _mfcc_with_config(y, config: MFCCConfig, *, return_steps=False, threads=None):
    if config.energy_c0 and config.spectrum != "power":
        raise ValueError("energy_c0 needs spectrum='power' (it is the frame's power)")
    fbank = _filterbank(config)
    if return_steps:  # the readable path: every intermediate array in full
        signal, emphasized, frames, window, windowed, spectrum = _front_end(y, config)
        mel_energies = apply_filterbank(spectrum, fbank)  # M5
        energy = spectrum.sum(axis=1)
    else:  # the fast twin of M1-M5, proven equal in tests/features/test_blocked.py
        mel_energies, energy = _mel_energies_fast(
            y, config, fbank, with_energy=config.energy_c0, threads=threads
        )
    log_mel_energies = _log(mel_energies, config)  # M6
    if return_steps:
        cepstra = dct(log_mel_energies, n_out=config.n_mfcc, norm=config.dct_norm)  # M7
    else:  # the same product, 64 rows at a time (features.blocked explains why)
        basis = dct_matrix(config.n_mels, n_out=config.n_mfcc, norm=config.dct_norm)
        cepstra = dct_blocked(log_mel_energies, basis)  # M7
    features = lifter(cepstra, lifter=config.lifter, first_index=config.lifter_first_index)  # M8
    if config.energy_c0:
        features[:, 0] = np.log(np.maximum(energy, config.log_floor))
    if not return_steps:
        return features
    steps = MFCCSteps(
        signal=signal,
        emphasized=emphasized,
        frames=frames,
        window=window,
        windowed=windowed,
        spectrum=spectrum,
        filterbank=fbank,
        mel_energies=mel_energies,
        log_mel=log_mel_energies,
        cepstra=cepstra,
        mfcc=features,
    )
    return features, steps


def mfcc_batch(signals, *, sr: int, config=None, preset=None, **overrides) -> list[np.ndarray]:
    """``mfcc`` of many mono signals at one rate, one clip per thread on the 2 cores.

    For many short clips (a corpus), whole clips are the efficient unit of parallel work;
    one 3 s clip is too small to split well across cores.

    Parameters
    ----------
    signals : iterable of ndarray, each shape (S_i,)
        Mono signals at ``sr`` Hz.
    sr, config, preset, **overrides
        As ``mfcc``; the config is resolved once for all signals.

    Returns
    -------
    list of ndarray, each shape (T_i, n_mfcc), float64, in the order of ``signals``;
    each equals ``mfcc(signals[i], ...)``.

    Raises
    ------
    AudioError
        For the first bad signal, with its index in the message ("signal 3: ...").
    """
    config = _resolve(sr, config, preset, overrides)
    return _per_clip(signals, lambda y: _mfcc_with_config(y, config, threads=1))


def log_mel_batch(signals, *, sr: int, config=None, preset=None, **overrides) -> list[np.ndarray]:
    """``log_mel`` of many mono signals at one rate, one clip per thread (as ``mfcc_batch``).

    Returns
    -------
    list of ndarray, each shape (T_i, n_mels), float64; each equals ``log_mel(signals[i], ...)``.

    Raises
    ------
    AudioError
        For the first bad signal, with its index in the message ("signal 3: ...").
    """
    config = _resolve(sr, config, preset, overrides)
    fbank = _filterbank(config)

    def one(y):
        energies, _ = _mel_energies_fast(y, config, fbank, threads=1)  # M1-M5
        return _log(energies, config)  # M6

    return _per_clip(signals, one)


def _per_clip(signals, compute) -> list[np.ndarray]:
    """``compute(y)`` of every signal on the clip thread pool, in order; a bad signal's error
    names its index."""

    def one(item):
        index, y = item
        try:
            return compute(y)
        except AudioError as err:
            raise AudioError(f"signal {index}: {err}") from err

    return list(clip_pool().map(one, enumerate(list(signals))))

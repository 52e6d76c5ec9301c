"""features: waveform -> MFCC, every step a formula (M1-M10 in docs/formula-key.md).

Pure functions, keyword-only arguments, float64, features shaped (n_frames, n_coeffs).
"""

from features.audio import AudioError, check_signal, load_audio, resample, save_audio
from features.augment import (
    add_noise,
    add_noise_random_snr,
    babble_noise,
    gain,
    loop_to_length,
    mix_at_snr,
    pink_noise,
    random_gain,
    snr_db,
    spec_augment,
    speed_perturb,
    white_noise,
)
from features.cepstrum import dct, dct_matrix, lifter, lifter_weights
from features.compression import log_compress
from features.deltas import add_deltas, deltas
from features.framing import frame_signal, get_window, n_frames, preemphasis
from features.mel import apply_filterbank, hz_to_mel, mel_filterbank, mel_to_hz
from features.mfcc import (
    PRESETS,
    MFCCConfig,
    MFCCSteps,
    log_mel,
    log_mel_batch,
    mfcc,
    mfcc_batch,
    preset_config,
    spectrogram,
)
from features.normalize import (
    CMVNStats,
    apply_cmvn_per_speaker,
    cmvn,
    fit_cmvn,
    fit_cmvn_per_speaker,
)
from features.spectrum import dft, dft_matrix, fft_radix2, magnitude_spectrum, power_spectrum, stft
from features.streaming import StreamingFeatures, StreamingResampler, read_blocks
from features.vad import (
    activity_from_energy,
    frame_energy_db,
    speech_bounds,
    trim_to_speech,
    voice_activity,
)

__all__ = [
    "activity_from_energy",
    "AudioError",
    "CMVNStats",
    "MFCCConfig",
    "MFCCSteps",
    "PRESETS",
    "add_deltas",
    "add_noise",
    "add_noise_random_snr",
    "babble_noise",
    "apply_cmvn_per_speaker",
    "apply_filterbank",
    "check_signal",
    "cmvn",
    "dct",
    "dct_matrix",
    "deltas",
    "dft",
    "dft_matrix",
    "fft_radix2",
    "fit_cmvn",
    "fit_cmvn_per_speaker",
    "frame_energy_db",
    "frame_signal",
    "gain",
    "get_window",
    "hz_to_mel",
    "lifter",
    "lifter_weights",
    "load_audio",
    "log_compress",
    "loop_to_length",
    "log_mel",
    "log_mel_batch",
    "magnitude_spectrum",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "mfcc_batch",
    "mix_at_snr",
    "n_frames",
    "pink_noise",
    "power_spectrum",
    "preemphasis",
    "preset_config",
    "random_gain",
    "resample",
    "save_audio",
    "snr_db",
    "spec_augment",
    "spectrogram",
    "speech_bounds",
    "speed_perturb",
    "stft",
    "StreamingFeatures",
    "StreamingResampler",
    "read_blocks",
    "trim_to_speech",
    "voice_activity",
    "white_noise",
]

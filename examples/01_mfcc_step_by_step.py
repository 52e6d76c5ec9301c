# %% [markdown]
# # 01 · From a voice recording to MFCC features, one formula at a time
#
# Reads with: docs/features.md (formulas M1-M10 of docs/formula-key.md) and
# docs/conventions.md. Runs as a script in a few seconds, or cell by cell in VS Code / Jupyter.
# No download: the "recording" is the course's synthetic voice (docs/corpus.md).

# %%
import numpy as np

import features as F
from ser.corpus.synth import synthesize_utterance
from ser.lesson import check_shape, compare, fast_mode, output_dir, save_figure
from ser.plotting import frames_extent, image, subplots  # the course's figure style

out = output_dir(__file__)
sr = 16000
duration = 1.0 if fast_mode() else 2.0
y, f0 = synthesize_utterance(emotion="neutral", seed=7, duration=duration, sr=sr, return_f0=True)
config = F.preset_config("default", sr=sr)  # 25 ms Hamming, 10 ms hop, 40 mel bands, 13 MFCCs
print(config)
check_shape("waveform y", y, (int(duration * sr),))

fig, ax = subplots(figsize=(9, 2.5))
ax.plot(np.arange(y.size) / sr, y, lw=0.5)
ax.set(xlabel="time (s)", ylabel="amplitude (full scale = 1)",
       title="The waveform: syllables of a synthetic voice")  # fmt: skip
save_figure(fig, out, "01_waveform.png")

# %% [markdown]
# ## M1 · Pre-emphasis: y'[n] = y[n] - 0.97 y[n-1]
# Voiced speech loses about 6 dB per octave; this first-order high-pass gives it back, so the
# higher formants are not drowned by the first.

# %%
emphasized = F.preemphasis(y, coeff=config.preemphasis)
check_shape("pre-emphasised y'", emphasized, y.shape)
spec_before = np.abs(np.fft.rfft(y)) ** 2
spec_after = np.abs(np.fft.rfft(emphasized)) ** 2
freqs = np.fft.rfftfreq(y.size, 1 / sr)
fig, ax = subplots(figsize=(9, 3))
ax.plot(freqs, 10 * np.log10(spec_before + 1e-12), lw=0.5, label="before")
ax.plot(freqs, 10 * np.log10(spec_after + 1e-12), lw=0.5, label="after pre-emphasis")
ax.set(xlabel="frequency (Hz)", ylabel="power |Y(f)|² (dB)",
       title="M1: pre-emphasis lifts high frequencies (about +6 dB per octave)")  # fmt: skip
ax.legend()
save_figure(fig, out, "02_preemphasis.png")

# %% [markdown]
# ## M2 · Frames and window: frame m is y'[m H : m H + L] times w[n]
# L = 400 samples (25 ms), H = 160 (10 ms), so T = 1 + (S - L) // H frames. The Hamming window
# w[n] = 0.54 - 0.46 cos(2 pi n / (L - 1)) tapers the edges (symmetric form, as in HTK).

# %%
frames = F.frame_signal(emphasized, win_length=config.win_length, hop_length=config.hop_length)
window = F.get_window(config.window, config.win_length, periodic=config.window_periodic)
windowed = frames * window
T = 1 + (y.size - config.win_length) // config.hop_length
check_shape("frames", frames, (T, config.win_length))
check_shape("window w", window, (config.win_length,))
check_shape("windowed frames", windowed, (T, config.win_length))
m = T // 2
fig, ax = subplots(1, 2, figsize=(9, 2.8))
ax[0].plot(window)
ax[0].set(title="Hamming window (M2)", xlabel="sample n in the frame (1/16 ms)",
          ylabel="w[n]")  # fmt: skip
ax[1].plot(frames[m], lw=0.7, label="frame")
ax[1].plot(windowed[m], lw=0.7, label="windowed")
ax[1].set(title=f"frame {m}", xlabel="sample n in the frame (1/16 ms)", ylabel="amplitude")
ax[1].legend()
save_figure(fig, out, "03_frames_and_window.png")

# %% [markdown]
# ## M3 · Power spectrum: P_m[k] = |sum_n w[n] y'[mH+n] e^{-2 pi j k n / N}|^2 / N
# N = 512 >= L: each frame is zero-padded to N. Three ways to the same DFT: the O(N^2) matrix,
# the hand-written radix-2 FFT (Numba), and scipy.fft (what the pipeline uses).

# %%
padded = np.pad(windowed[m], (0, config.n_fft - config.win_length))
compare("DFT matrix  vs numpy.fft", F.dft(padded), np.fft.fft(padded))
compare("radix-2 FFT vs numpy.fft", F.fft_radix2(padded), np.fft.fft(padded))
power = F.power_spectrum(windowed, n_fft=config.n_fft)
check_shape("power spectrum P", power, (T, config.n_fft // 2 + 1))
hop_s = config.hop_length / sr
fig, ax = subplots(figsize=(9, 3))
image(ax, 10 * np.log10(power.T + 1e-12), extent=(0, T * hop_s, 0, sr / 2),
      xlabel="time (s)", ylabel="frequency (Hz)", cbar_label="power (dB)",
      title="M3: power spectrogram")  # fmt: skip
save_figure(fig, out, "04_power_spectrum.png")

# %% [markdown]
# ## M4 · The mel scale: mel(f) = 2595 log10(1 + f/700)
# Hearing resolves pitch finely at low frequencies and coarsely at high ones. The HTK formula
# and Slaney's (linear below 1 kHz, logarithmic above) both model that; the course uses HTK.

# %%
f_hz = np.linspace(0, sr / 2, 400)
htk, slaney = F.hz_to_mel(f_hz), F.hz_to_mel(f_hz, scale="slaney")
check_shape("mel(f), HTK", htk, f_hz.shape)
compare("mel_to_hz(hz_to_mel(f)) vs f", F.mel_to_hz(htk), f_hz)
fig, ax = subplots(1, 2, figsize=(9, 3))
ax[0].plot(f_hz, htk)
ax[0].set(xlabel="frequency (Hz)", ylabel="mel", title="M4: HTK mel scale")
ax[1].plot(f_hz, slaney, color="tab:orange")
ax[1].set(xlabel="frequency (Hz)", ylabel="mel (Slaney units)",
          title="Slaney scale: linear, then log")  # fmt: skip
save_figure(fig, out, "05_mel_scale.png")  # figures are numbered in the order of the steps

# %% [markdown]
# ## M5 · Mel filterbank: E_m[j] = sum_k H_j[k] P_m[k]
# 40 triangles with edges equally spaced in mel: narrow at low frequencies, wide at high ones.
# Neighbouring triangles sum to 1, so no energy is lost between bands.

# %%
fbank = F.mel_filterbank(sr=sr, n_fft=config.n_fft, n_mels=config.n_mels)
mel_energies = F.apply_filterbank(power, fbank)
check_shape("filterbank H", fbank, (config.n_mels, config.n_fft // 2 + 1))
check_shape("mel energies E", mel_energies, (T, config.n_mels))
fig, ax = subplots(figsize=(9, 3))
ax.plot(np.arange(fbank.shape[1]) * sr / config.n_fft, fbank.T, lw=0.8)
ax.set(xlabel="frequency (Hz)", ylabel="filter weight H_j(f)",
       title="M5: 40 triangular mel filters (HTK, peak 1)")  # fmt: skip
save_figure(fig, out, "06_mel_filterbank.png")

# %% [markdown]
# ## M6 · Log: log(max(E, 1e-10))
# Loudness is heard on a log scale, and the log turns the source x filter product into a sum.
# The floor 1e-10 keeps silence finite (log 0 would be -inf).

# %%
log_mel = F.log_compress(mel_energies, floor=config.log_floor)
check_shape("log-mel", log_mel, (T, config.n_mels))
fig, ax = subplots(figsize=(9, 3))
image(ax, log_mel.T, extent=frames_extent(T, config.n_mels, hop_s), xlabel="time (s)",
      ylabel="mel band j", cbar_label="log energy ln E (floor ln 1e-10 = -23)",
      title="M6: log-mel energies")  # fmt: skip
save_figure(fig, out, "07_log_mel.png")

# %% [markdown]
# ## M7 · DCT-II: c[n] = s_n sum_j log E[j] cos(pi n (j + 1/2) / J)
# The orthonormal DCT-II decorrelates the 40 overlapping bands; keeping 13 coefficients keeps
# the smooth spectral envelope (the vocal tract) and drops the fine harmonics (the pitch).

# %%
D = F.dct_matrix(config.n_mels, n_out=config.n_mfcc)
cepstra = log_mel @ D.T
check_shape("DCT matrix D", D, (config.n_mfcc, config.n_mels))
check_shape("cepstra c", cepstra, (T, config.n_mfcc))
compare("D @ log_mel vs scipy.fft.dct", cepstra, F.dct(log_mel, n_out=config.n_mfcc))
fig, ax = subplots(figsize=(6, 3))
image(ax, D, scale="diverging", xlabel="mel band j", ylabel="coefficient n",
      cbar_label="basis value D[n, j]", title="M7: DCT-II basis (13 x 40, orthonormal)",
      integer_ticks="xy")  # fmt: skip
save_figure(fig, out, "08_dct_basis.png")

# %% [markdown]
# ## M8 · Lifter: c~[n] = (1 + (L/2) sin(pi n / L)) c[n], L = 22
# Scales the small high-order coefficients up; c0 (n = 0) is unchanged.

# %%
weights = F.lifter_weights(config.n_mfcc, lifter=config.lifter)
mfcc_manual = cepstra * weights
check_shape("lifter weights", weights, (config.n_mfcc,))
check_shape("MFCC", mfcc_manual, (T, config.n_mfcc))
fig, ax = subplots(1, 2, figsize=(10, 3), width_ratios=(1, 2.2))
ax[0].stem(weights)
ax[0].set(title="M8: lifter weights", xlabel="coefficient n", ylabel="weight (1 + 11 sin(πn/22))")
image(ax[1], mfcc_manual.T, scale="diverging", extent=frames_extent(T, config.n_mfcc, hop_s),
      xlabel="time (s)", ylabel="coefficient n", cbar_label="MFCC value",
      title="liftered MFCC (c0, the log energy, is the bottom row)", integer_ticks="y")  # fmt: skip
save_figure(fig, out, "09_mfcc.png")

# %% [markdown]
# ## M9 · Deltas: d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2), N = 2
# How fast each coefficient changes; with delta-deltas, 13 coefficients become 39.

# %%
full = F.add_deltas(mfcc_manual, width=2)
check_shape("MFCC + deltas + dd", full, (T, 3 * config.n_mfcc))
fig, ax = subplots(3, 1, figsize=(9, 6), sharex=True)
units = ["MFCC value", "per frame", "per frame²"]
for a, block, name, unit in zip(
    ax, np.split(full, 3, axis=1), ["static c_n", "delta Δc_n", "delta-delta ΔΔc_n"], units,
    strict=True,
):  # fmt: skip
    image(a, block.T, scale="diverging", extent=frames_extent(T, config.n_mfcc, hop_s),
          xlabel="", ylabel=f"{name}: n", cbar_label=unit, integer_ticks="y")  # fmt: skip
ax[-1].set(xlabel="time (s)")
ax[0].set(title="M9: static, delta and delta-delta coefficients (each on its own scale)")
save_figure(fig, out, "10_deltas.png")

# %% [markdown]
# ## M10 · CMVN: (x - mean) / std per coefficient
# Removes the channel (a constant added to every log spectrum) and the speaker's loudness.

# %%
normalised = F.cmvn(full)
check_shape("after CMVN", normalised, full.shape)
worst_mean, mean_std = np.abs(normalised.mean(0)).max(), normalised.std(0).mean()
print(f"  after CMVN: largest |mean| {worst_mean:.1e}, mean std {mean_std:.3f}")

# %% [markdown]
# ## The whole pipeline in one call, and the check against it
# ``features.mfcc`` runs M1-M8 with the same config; ``return_steps=True`` would hand back every
# array above. With librosa installed, the "librosa" preset is compared with it too.

# %%
compare("mfcc() vs the steps above", F.mfcc(y, sr=sr, config=config), mfcc_manual)
try:
    import librosa
except ImportError:
    print("  librosa not installed: skipping the comparison with librosa.feature.mfcc")
else:
    theirs = librosa.feature.mfcc(y=y, sr=sr).T
    # the target for this preset is 1e-3 (librosa keeps its filterbank in float32)
    mine = F.mfcc(y, sr=sr, preset="librosa")
    compare("preset 'librosa' vs librosa", mine, theirs, atol=1e-3, rtol=0)

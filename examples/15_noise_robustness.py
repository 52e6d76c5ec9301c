# %% [markdown]
# # 15 · Noise robustness: UAR against SNR, and training with noise (A2)
#
# Reads with: docs/robustness.md (eqs. SNR, NOISE-1, NOISE-2, NOISE-3, AUG-3). A model
# trained on clean recordings meets noisy ones in use: a street, a fan, a room of other
# people talking. This lesson adds noise to the test speakers' utterances at exact
# signal-to-noise ratios, scores the document's CNN at each one, and then trains the same
# CNN with noisy copies of its training utterances (`--augment noise`) to flatten the curve.
# The command for any saved model is `ser robustness MODEL`.

# %%
import matplotlib

matplotlib.use("Agg")
import numpy as np
from scipy.signal import welch

from features.augment import babble_noise, mix_at_snr, pink_noise, white_noise
from ser import plotting
from ser.corpus import load_corpus
from ser.demo import DEMO_EMOTIONS
from ser.experiment import train
from ser.lesson import check_shape, compare, fast_mode, output_dir, save_figure
from ser.report import save_robustness_curves
from ser.robustness import NoiseSource, robustness_table, run_robustness

out = output_dir(__file__)
sr = 16000
size = {"n_speakers": 4, "n_utterances": 2} if fast_mode() else {}  # default: 10 x 20, as demo
epochs = 1 if fast_mode() else None  # None: the recipe's 10
corpus = load_corpus("synthetic", emotions=DEMO_EMOTIONS, seed=0, **size)
print(f"  {len(corpus)} utterances, {len(corpus.speakers)} speakers, emotions {DEMO_EMOTIONS}")

# %% [markdown]
# ## 1 · The SNR of a whole utterance (eq. SNR)
# SNR = 10 log10(Σ y² / Σ v²): the power of the clean signal over the power of the noise,
# both summed over the **whole** utterance, pauses included. To mix at exactly `snr` dB the
# noise is scaled by g = sqrt(Σ y² / (Σ v² 10^(snr/10))); measured back, the SNR is the one
# asked for, to rounding.

# %%
y = corpus[0].audio(sr)
v = white_noise(y.shape[0], rng=np.random.default_rng(0))
for target in (20.0, 10.0, 0.0):
    x = mix_at_snr(y, v, snr=target)
    measured = 10 * np.log10(np.sum(y**2) / np.sum((x - y) ** 2))  # eq. SNR, by hand
    compare(f"SNR at {target:g} dB", measured, target, atol=1e-9)
check_shape("noisy utterance", x, y.shape)

# %% [markdown]
# ## 2 · Three noises: white, pink (NOISE-1), babble (NOISE-2)
# White noise has the same power at every frequency. Pink noise is white noise shaped in
# the frequency domain, V[k] = W[k] / sqrt(k), so its power falls 10 dB per decade, as
# much natural noise does. Babble is six other speakers talking at once, each at the same
# power (NOISE-2), looped to the utterance's length from a random start (NOISE-3): the
# noise that most resembles speech, because it is speech. It is made of other speakers
# only, never of the test speaker's own voice, which would be a copy of the signal, not noise.

# %%
n = 2**16
rng = np.random.default_rng(1)
others = [u.audio(sr) for u in corpus if u.speaker != corpus[0].speaker][:6]
noises = {
    "white": white_noise(n, rng=rng),
    "pink": pink_noise(n, rng=rng),
    "babble (6 talkers)": babble_noise(others, n, rng=rng),
}
fig, ax = plotting.subplots(figsize=(6.5, 3.4))
for name, noise in noises.items():
    f, p = welch(noise / np.sqrt(np.mean(noise**2)), fs=sr, nperseg=1024)
    ax.semilogx(f[1:], 10 * np.log10(p[1:]), label=name)
    if name == "pink":
        keep = (f >= 50) & (f <= 5000)
        slope = np.polyfit(np.log10(f[keep]), 10 * np.log10(p[keep]), 1)[0]
        print(f"  pink noise: {slope:.2f} dB per decade (NOISE-1: -10)")
ax.set(xlabel="frequency (Hz)", ylabel="power (dB, unit-power noise)",
       title="Power spectra of the three noises (Welch)")  # fmt: skip
ax.legend(fontsize=8)
save_figure(fig, out, "noise_spectra.png")

# %% [markdown]
# ## 3 · The document's CNN, trained on clean speech
# Trained as `ser demo` trains it; its test speakers are recorded in the model
# (`model.metadata["speakers"]["test"]`), and only they are scored: a training speaker's
# voice is one the model already knows.

# %%
quiet = lambda *a: None  # noqa: E731
clean_run = train(corpus, labels=DEMO_EMOTIONS, recipe="cnn", seed=0, epochs=epochs,
                  verbose=0, log=quiet)  # fmt: skip
print(f"  test speakers {clean_run.model.metadata['speakers']['test']}, "
      f"clean UAR {clean_run.test_scores.uar:.3f}")  # fmt: skip

# %% [markdown]
# ## 4 · Its UAR at each SNR
# The same utterances at 30, 20, 10, 5 and 0 dB of each noise; one noise per utterance and
# kind, only its gain changes between SNRs. The clean column is `ser evaluate`'s score.

# %%
snrs = (30.0, 20.0, 10.0, 5.0, 0.0)
kinds = [NoiseSource("white", "white"), NoiseSource("babble", "babble")]
clean = run_robustness(clean_run.model, corpus, noises=kinds, snrs=snrs, log=quiet)
print(robustness_table(clean))

# %% [markdown]
# ## 5 · Training with noise (`--augment noise`, eq. AUG-3)
# Every training utterance gets one noisy copy (white noise at an SNR drawn uniformly in
# dB, `ser.augmentation.NOISE_SNR_DB`); the copies are training data only: validation and
# test speakers are heard as recorded. A model that has heard its classes through noise
# learns cues the noise does not hide.

# %%
augmented_run = train(corpus, labels=DEMO_EMOTIONS,
                      recipe=clean_run.recipe.replace(augment=("noise",)), seed=0,
                      epochs=epochs, verbose=0, log=quiet)  # fmt: skip
noisy = run_robustness(augmented_run.model, corpus, noises=kinds, snrs=snrs, log=quiet)
print(robustness_table(noisy))

# %% [markdown]
# ## 6 · Both curves on one figure
# The goal, on the full built-in corpus: at 10 dB of white noise the augmented model
# keeps a UAR of at least 0.60, while its clean UAR stays within 0.03 of the clean-trained
# model's. The first half holds on every seed measured (docs/robustness.md). The second is
# finer than one training run can resolve: on this split (seed 0) four clean-trained runs
# that differ only in their initial weights and crops score 0.58 to 0.73 on clean speech,
# and this lesson's clean-trained model is the best of them. Compare means over runs, not
# one run against another.

# %%
save_robustness_curves(out / "uar_against_snr.png",
                       [("trained clean", clean), ("trained with noise", noisy)],
                       title="The document's CNN on its test speakers")  # fmt: skip
print(f"  figure -> {out / 'uar_against_snr.png'}")


def uar_at(result, noise, snr):
    return next(e["uar"] for e in result["entries"] if (e["noise"], e["snr_db"]) == (noise, snr))


c0, n0 = uar_at(clean, "none", None), uar_at(noisy, "none", None)
c10, n10 = uar_at(clean, "white", 10.0), uar_at(noisy, "white", 10.0)
print(f"  clean speech: {c0:.3f} (trained clean)  {n0:.3f} (trained with noise)  {n0 - c0:+.3f}")
print(f"  white 10 dB:  {c10:.3f} (trained clean)  {n10:.3f} (trained with noise)")
if not fast_mode():
    print(f"  goal: 10 dB >= 0.60: {n10 >= 0.60}; clean within 0.03: {abs(n0 - c0) <= 0.03}")

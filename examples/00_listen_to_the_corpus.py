# %% [markdown]
# # 00 · Listen to the corpus: one sentence in every emotion
#
# Reads with: docs/corpus.md (the source-filter voice, eq. V1-V5, and the emotion table of
# Murray & Arnott 1993). Runs in a few seconds, no download. Writes the WAV files so you can
# listen to them, and one figure per emotion: waveform, f0 contour, spectrogram.

# %%
import numpy as np

import features as F
from ser.corpus.synth import EMOTIONS, make_speakers, synthesize_utterance
from ser.corpus.voice import Sentence
from ser.lesson import check_shape, fast_mode, output_dir, save_figure
from ser.plotting import colorbar, image, subplots

out = output_dir(__file__)
sr = 16000
speaker = make_speakers(2, seed=0)[1]  # S02, a male voice from the built-in corpus
sentence = Sentence.random(np.random.default_rng(11), 9)  # what is said: 9 syllables
emotions = EMOTIONS[:4] if fast_mode() else EMOTIONS
voice = speaker.voice
print(f"speaker {speaker.id} ({speaker.sex}): f0 {voice.f0_hz:.0f} Hz, ")
print(f"  formant scale {voice.formant_scale:.2f}, {voice.rate:.1f} syllables/s")
print("sentence vowels:", " ".join(sentence.vowels))

# %% [markdown]
# ## The same words, spoken in each emotion
# Only the voice parameters change between emotions (docs/corpus.md, the table): mean f0,
# pitch range, speaking rate, loudness, glottal open quotient, spectral tilt, jitter, and how
# precisely the vowels are articulated. The sentence and the speaker stay the same.

# %%
clips = {}
for emotion in emotions:
    y, f0 = synthesize_utterance(
        emotion=emotion, speaker=voice, sentence=sentence, seed=1, duration=None,
        sr=sr, return_f0=True,
    )  # fmt: skip
    clips[emotion] = (y, f0)
    F.save_audio(out / f"{speaker.id}_{emotion}.wav", y, sr)
    check_shape(f"{emotion:>8s} waveform", y, (len(y),))
print(f"  WAV files -> {out}")

# %% [markdown]
# ## What changed: the measurable cues
# Duration follows the speaking rate, RMS level the loudness, median f0 and its spread the
# pitch level and range; the share of energy above 2 kHz (no pre-emphasis here, to see the
# voice as it is) follows the spectral tilt: clearly duller for sad and disgust. Brightness
# also depends on f0 and on which vowels the sentence holds, so it is a cue, not a rule.

# %%
print(
    f"  {'emotion':<8s} {'dur s':>6s} {'RMS dB':>7s} {'f0 Hz':>6s} {'f0 sd':>6s} {'>2 kHz %':>9s}"
)
for emotion, (y, f0) in clips.items():
    voiced = f0[f0 > 0]
    spectrum = F.spectrogram(y, sr=sr, preemphasis=0.0).sum(axis=0)
    high = spectrum[int(2000 / (sr / 512)) :].sum() / spectrum.sum()
    print(f"  {emotion:<8s} {len(y) / sr:6.2f} {20 * np.log10(np.sqrt(np.mean(y**2))):7.1f} "
          f"{np.median(voiced):6.0f} {np.std(voiced):6.1f} {100 * high:9.2f}")  # fmt: skip

# %% [markdown]
# ## Waveform, f0 contour and spectrogram of each emotion

# %%
longest = max(len(y) for y, _ in clips.values()) / sr
fig, axes = subplots(3, len(clips), figsize=(3.2 * len(clips) + 1, 7), sharex=True,
                     sharey="row")  # fmt: skip
for column, (emotion, (y, f0)) in zip(axes.T, clips.items(), strict=True):
    t = np.arange(len(y)) / sr
    column[0].plot(t, y, lw=0.4)
    column[0].set(title=emotion, ylim=(-1, 1))
    column[1].plot(t, np.where(f0 > 0, f0, np.nan), lw=1.0)
    column[1].set(ylim=(60, 400))
    S_db = 10 * np.log10(F.spectrogram(y, sr=sr).T + 1e-12)
    spectrogram = image(column[2], S_db, extent=(0, len(y) / sr, 0, sr / 2), vmin=-100, vmax=-10,
                        xlabel="time (s)", ylabel="", cbar_label=None)  # fmt: skip
    column[2].set(xlim=(0, longest))
colorbar(spectrogram, ax=list(axes[2]), label="power (dB)")  # one scale for every emotion
axes[0, 0].set(ylabel="amplitude (waveform)")
axes[1, 0].set(ylabel="f0 (Hz)")
axes[2, 0].set(ylabel="frequency (Hz)")
save_figure(fig, out, "00_one_sentence_every_emotion.png")

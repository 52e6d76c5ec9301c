# %% [markdown]
# # 13 · Emotion over time in a long recording (A4)
#
# Reads with: docs/timeline.md. A call or a diary entry is not one utterance with one label:
# its emotion changes. Here a recording is put together from test speakers' utterances whose
# emotions we know (calm for a while, a pause, then angry), the trained model slides over it
# window by window (eq. T-1), each window gets class probabilities (T-2) or is marked as
# silence (T-3), and three smoothers (none, median, Viterbi: T-4) turn them into segments
# (T-5). Because the truth is known, each smoother is scored against it.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from features import save_audio
from nn.serialization import load_model
from ser.corpus import load_corpus
from ser.demo import run_demo
from ser.lesson import check_shape, fast_mode, output_dir, save_figure
from ser.smoothing import smooth_labels
from ser.timeline import timeline_of
from ser.timeline_report import save_timeline_figure, segments_csv
from ser.windows import SILENCE, WindowScorer

out = output_dir(__file__)
SR = 16000

# %% [markdown]
# ## 1 · A model, and a recording whose emotions we know
# `ser demo` trains the document's CNN on the built-in corpus and records its test speakers.
# The recording is made only of those speakers' utterances, so the model never heard them.

# %%
options = {"n_speakers": 6, "n_utterances": 3} if fast_mode() else {"n_speakers": 10}
results = run_demo(out=out / "model", epochs=2 if fast_mode() else None, verbose=0,
                   log=lambda *_: None, corpus_options=options)  # fmt: skip
model = load_model(results["model"])
labels = model.metadata["labels"]
corpus = load_corpus("synthetic", emotions=tuple(labels), seed=0, **options)
test = corpus.select(speakers=results["test_speakers"])
print(f"model: {labels}, test speakers {results['test_speakers']}, UAR {results['uar']:.2f}")

script = ["neutral"] * 4 + [SILENCE] + ["angry"] * 4 + ["sad"] * 3
pieces, truth = [], []  # truth: (start s, end s, label)
by_emotion = {e: [u for u in test if u.emotion == e] for e in labels}
t = 0.0
for k, label in enumerate(script):
    y = np.zeros(int(2.5 * SR)) if label == SILENCE else by_emotion[label][k % 3].audio(SR)
    pieces.append(y)
    truth.append((t, t + len(y) / SR, label))
    t += len(y) / SR
recording = np.concatenate(pieces)
path = save_audio(out / "recording.wav", recording, SR)
print(f"recording: {len(recording) / SR:.1f} s, {len(script)} pieces")

# %% [markdown]
# ## 2 · Windows and their probabilities
# 1.28 s windows every 0.64 s. `timeline_of` reads the file in blocks; the result holds one
# row of K probabilities per window, and whether the window holds speech.

# %%
scorer = WindowScorer(model)
tl = timeline_of(scorer, path)
n = len(tl.probs)
check_shape("window probabilities", tl.probs, (n, len(labels)))
check_shape("speech per window", tl.speech, (n,))
print(f"  {int((~tl.speech).sum())} of {n} windows are silence")


def true_label(start, end):
    """The label covering most of [start, end): what a window should say."""
    cover = {}
    for a, b, label in truth:
        cover[label] = cover.get(label, 0.0) + max(0.0, min(b, end) - max(a, start))
    return max(cover, key=cover.get)


want = [true_label(a, b) for a, b in zip(tl.starts, tl.ends, strict=True)]

# %% [markdown]
# ## 3 · Three smoothers, scored against the truth
# "none" takes each window's argmax; "median" filters each class over 5 windows; "viterbi"
# finds the most probable path of a sticky HMM (stay 0.9). Scored on the speech windows.

# %%
speech_windows = [i for i, w in enumerate(want) if w != SILENCE]
for method in ("none", "median", "viterbi"):
    got = smooth_labels(tl.probs, tl.speech, labels, method=method)
    hits = np.mean([got[i] == want[i] for i in speech_windows])
    switches = sum(a != b for a, b in zip(got[:-1], got[1:], strict=True))
    print(f"  {method:<8} window accuracy {hits:.2f}, label changes {switches}")

print("\nsegments (Viterbi):")
print(segments_csv(tl))

# %% [markdown]
# ## 4 · The figure `ser timeline` writes
# Energy on top, the stacked probabilities of the windows (silence shaded), the segments
# below; under it the truth, for comparison.

# %%
save_timeline_figure(out / "13a_timeline.png", tl, title="Emotion over time (Viterbi)")

fig, ax = plt.subplots(figsize=(10, 1.6), layout="constrained")
palette = plt.get_cmap("tab10")
colours = {lab: palette(k) for k, lab in enumerate(labels)} | {SILENCE: "0.85"}
for a, b, label in truth:
    ax.broken_barh([(a, b - a)], (0, 1), facecolors=colours[label])
    ax.text(0.5 * (a + b), 0.5, label, ha="center", va="center", fontsize=7)
ax.set(xlabel="time (s)", ylabel="truth", yticks=[], xlim=(0, tl.duration),
       title="What the recording holds")  # fmt: skip
save_figure(fig, out, "13b_truth.png")

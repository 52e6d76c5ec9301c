# %% [markdown]
# # 14 · A live stream (A3): features that arrive a few milliseconds at a time
#
# Reads with: docs/streaming.md. A voice assistant cannot wait for the end of the recording.
# A microphone delivers a few hundred samples at a time; the MFCC frames must be computed as
# soon as they are whole (eq. ST-1), kept in a ring buffer of one window, and a prediction
# made every hop (ST-3). Here the stream is simulated by cutting a recording into chunks of
# random sizes, as a sound card would deliver it. Then: the frames equal the offline ones,
# the predictions equal `ser timeline`'s, and how long each prediction waits (the latency)
# and how much of a core it takes (the real-time factor).

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from features.streaming import StreamingFeatures
from nn.serialization import load_model
from ser.corpus import load_corpus
from ser.demo import run_demo
from ser.lesson import compare, fast_mode, output_dir, save_figure
from ser.pipeline import compute_features
from ser.stream import StreamRecognizer
from ser.windows import SILENCE, WindowScorer

out = output_dir(__file__)
SR = 16000
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1 · A model and a "microphone"
# The document's CNN, trained by `ser demo` on the built-in corpus; the stream is 20 s of
# its test speakers' utterances with pauses, cut into chunks of 1 to 2000 samples.

# %%
options = {"n_speakers": 6, "n_utterances": 3} if fast_mode() else {"n_speakers": 10}
results = run_demo(out=out / "model", epochs=2 if fast_mode() else None, verbose=0,
                   log=lambda *_: None, corpus_options=options)  # fmt: skip
model = load_model(results["model"])
labels = model.metadata["labels"]
corpus = load_corpus("synthetic", emotions=tuple(labels), seed=0, **options)
test = list(corpus.select(speakers=results["test_speakers"]))
clips = [u.audio(SR) for u in test[:: max(1, len(test) // 8)][:8]]
y = np.concatenate([np.concatenate([c, np.zeros(int(0.6 * SR))]) for c in clips])
cuts = np.cumsum(rng.integers(1, 2000, size=len(y) // 500))
chunks = np.split(y, cuts[cuts < len(y)])
print(f"stream: {len(y) / SR:.1f} s in {len(chunks)} chunks of 1..2000 samples")

# %% [markdown]
# ## 2 · The streaming invariant (ST-1)
# Pre-emphasis needs the previous chunk's last sample; a frame needs L = 400 samples, which
# may span many chunks; a hop of H = 160 samples may end inside a chunk. `StreamingFeatures`
# keeps only the samples not yet framed and computes each frame with the offline code, so the
# frames are the offline frames, whatever the chunking.

# %%
scorer = WindowScorer(model)
stream = StreamingFeatures(scorer.config, kinds=scorer.kinds)
parts = [stream.push(c) for c in chunks] + [stream.finish()]
streamed = {k: np.concatenate([p[k] for p in parts]) for k in scorer.kinds}
offline = {k: compute_features(k, [y], scorer.config)[0] for k in scorer.kinds}
for kind in scorer.kinds:
    compare(f"{kind}: streamed vs offline", streamed[kind], offline[kind], atol=1e-10)

# %% [markdown]
# ## 3 · A prediction every hop
# `StreamRecognizer` writes the new frames into a ring buffer of W = 128 frames and scores
# the window each time h = 64 new frames have arrived. For each prediction we note when the
# newest sample of its window arrived and when the prediction was ready.

# %%
recogniser = StreamRecognizer(scorer)
recogniser.push(np.zeros(int(1.5 * SR)))  # a silent window first: compiles the kernels
recogniser = StreamRecognizer(scorer)
predictions, waits = [], []
for chunk in chunks:
    t0 = time.perf_counter()
    new = recogniser.push(chunk)
    if new:
        waits.append(time.perf_counter() - t0)  # the compute part of the latency
    predictions += new
predictions += recogniser.finish()
print(recogniser.summary())
for p in predictions[:6]:
    print(" ", p.line())

# %% [markdown]
# ## 4 · The same windows as `ser timeline`
# The stream scores each window the moment it is full; the timeline scores the windows of
# the whole recording at once. Same frames, same windows, same scorer: the same numbers (up
# to ~1e-7, the float32 forward pass of one window against a batch of many).

# %%
batch = scorer.score(scorer.windows_of(offline))[0]
compare("stream vs whole-recording windows", np.array([p.probabilities for p in predictions]),
        batch, atol=1e-5)  # fmt: skip

# %% [markdown]
# ## 5 · Latency and real-time factor
# A sample that arrives just after a window started waits for that window to fill (W frames)
# and, at worst, for the next window boundary (h frames), plus the compute: the latency is at
# most window + hop + compute. The real-time factor is processing time / audio time.

# %%
window_s, hop_s = scorer.window_seconds, scorer.hop_seconds
compute_ms = 1e3 * np.median(waits)
rtf = recogniser.busy_seconds / recogniser.seconds_heard
print(f"window {window_s:.2f} s + hop {hop_s:.2f} s + compute {compute_ms:.1f} ms (median)")
print(f"real-time factor {rtf:.3f}: one second of audio took {1e3 * rtf:.0f} ms")

fig, (ax_p, ax_w) = plt.subplots(2, 1, figsize=(9, 4.8), layout="constrained")
centres = np.array([0.5 * (p.start + p.end) for p in predictions])
for k, lab in enumerate(labels):
    ax_p.plot(centres, [p.probabilities[k] for p in predictions], marker=".", label=lab)
silent = [c for c, p in zip(centres, predictions, strict=True) if p.emotion == SILENCE]
ax_p.plot(silent, np.zeros(len(silent)), "k|", ms=12, label="silence")
ax_p.set(xlabel="time (s)", ylabel="class probability", ylim=(-0.05, 1.05),
         title="A prediction every hop of the stream")  # fmt: skip
ax_p.legend(fontsize=8, ncols=4)
ax_w.hist(1e3 * np.array(waits), bins=30, color="0.4")
ax_w.set(xlabel="compute time of a prediction (ms)", ylabel="predictions",
         title=f"latency = window {window_s:.2f} s + hop {hop_s:.2f} s + this")  # fmt: skip
save_figure(fig, out, "14a_stream.png")

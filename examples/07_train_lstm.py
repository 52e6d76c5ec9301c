# %% [markdown]
# # 07 · CNN, LSTM and GRU on the same held-out speakers
#
# Reads with: docs/lstm.md and docs/training.md. The same corpus, the same speaker split, the
# same seed: the document's CNN on (128, 13, 1) MFCC maps, and an LSTM and a GRU on (128, 39)
# sequences of MFCC + deltas + delta-deltas. Scores are on speakers never heard in training.

# %%
import numpy as np

from ser.corpus import load_corpus
from ser.demo import DEMO_EMOTIONS
from ser.experiment import train
from ser.lesson import fast_mode, output_dir, save_figure
from ser.plotting import subplots

out = output_dir(__file__)
size = {"n_speakers": 6, "n_utterances": 6} if fast_mode() else {}
epochs = 2 if fast_mode() else 10
corpus = load_corpus("synthetic", emotions=DEMO_EMOTIONS, seed=0, **size)
print(f"  {len(corpus)} utterances, {len(corpus.speakers)} speakers")

# %% [markdown]
# ## 1 · Train each model on the training speakers (validation speakers for monitoring)

# %%
runs = {}
for name in ("cnn", "lstm", "gru"):
    run = train(
        corpus,
        labels=DEMO_EMOTIONS,
        epochs=epochs,
        seed=0,
        model=name,
        verbose=0,
        log=lambda *a: None,
    )
    runs[name] = run
    s = run.test_scores
    seconds = run.timings["training_s"]
    print(
        f"  {name:<5s} UAR {s.uar:.3f}  ({run.model.count_params():,} parameters, {seconds:.1f} s)"
    )
speakers = {n: r.split.speakers["test"] for n, r in runs.items()}
assert len({tuple(v) for v in speakers.values()}) == 1, "every model sees the same test speakers"

# %% [markdown]
# ## 2 · A table and a figure: UAR on unseen speakers, and the validation curves

# %%
print("\n| model | parameters | UAR | accuracy | macro F1 |\n|---|---:|---:|---:|---:|")
for name, run in runs.items():
    s = run.test_scores
    print(f"| {name} | {run.model.count_params():,} | {s.uar:.3f} | {s.accuracy:.3f} | "
          f"{s.macro_f1:.3f} |")  # fmt: skip

fig, (ax1, ax2) = subplots(1, 2, figsize=(10, 3.5))
names = list(runs)
ax1.bar(names, [runs[n].test_scores.uar for n in names], color=["C0", "C1", "C2"])
ax1.axhline(1 / len(DEMO_EMOTIONS), color="k", linestyle=":", label="chance")
ax1.set(xlabel="model", ylabel="UAR on unseen speakers", ylim=(0, 1),
        title="Test speakers (never heard in training)")  # fmt: skip
ax1.legend()
for n in names:
    ax2.plot(np.arange(1, epochs + 1), runs[n].history.history["val_accuracy"], "-o", ms=3,
             label=n)  # fmt: skip
ax2.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02),
        title="Validation speakers, after every epoch")  # fmt: skip
ax2.legend()
save_figure(fig, out, "cnn_lstm_gru.png")

# %% [markdown]
# # 08 · Evaluating SER honestly: folds by speaker, UAR, mean ± sd, and a baseline
#
# Reads with: docs/evaluation.md. A small cross-validation on the built-in corpus (no
# download): every speaker is tested once by models that never heard them, the classic
# baseline is scored on the same folds, and the same recipe is then scored with a random split
# of utterances, to see how much a split that lets a speaker into training and test inflates.
# The real-corpus version is one command: `ser crossval --data DIR --corpus ravdess`.

# %%
import numpy as np

from nn.metrics import accuracy, uar
from ser.corpus import load_corpus
from ser.corpus.splits import speaker_folds
from ser.crossval import run_crossval
from ser.lesson import fast_mode, output_dir, save_figure
from ser.plotting import subplots

out = output_dir(__file__)
emotions = ("neutral", "happy", "sad", "angry")
size = (
    {"n_speakers": 4, "n_utterances": 2} if fast_mode() else {"n_speakers": 6, "n_utterances": 10}
)
epochs = 1 if fast_mode() else 8
corpus = load_corpus("synthetic", emotions=emotions, seed=0, **size)
print(f"  {len(corpus)} utterances, {len(corpus.speakers)} speakers, {len(emotions)} emotions")

# %% [markdown]
# ## 1 · Folds of speakers
# Each fold holds whole speakers. Training, validation (scored every epoch) and test never share
# a voice: a model is scored on how it hears emotion in a voice it has never met.

# %%
k = 2 if fast_mode() else 3
folds = speaker_folds(corpus, k=k, seed=0)
for i, fold in enumerate(folds):
    print(f"  fold {i + 1}: test speakers {', '.join(fold)}")
assert sorted(s for f in folds for s in f) == corpus.speakers  # each speaker tested once

# %% [markdown]
# ## 2 · Two networks and the baseline on the same folds
# `cnn1d-spk` is the course's recipe for real speech (its inputs and its batch normalisation
# are normalised per speaker); `cnn` is the document's CNN (one normalisation for everyone);
# `baseline` is utterance statistics standardised per speaker and a kernel classifier (eqs.
# B-1, B-2). A network that cannot beat the baseline does not earn its cost.

# %%
quiet = lambda *a: None  # noqa: E731
models = ["cnn1d-spk", "cnn"]
by_speaker = run_crossval(corpus, models=models, k=k, overrides={"epochs": epochs}, log=quiet)
for name, m in by_speaker["models"].items():
    folds_uar = ", ".join(f"{v:.2f}" for v in m["fold_uar"])
    print(f"  {name:10s} UAR {m['uar_mean']:.3f} ± {m['uar_sd']:.3f}  (folds: {folds_uar})")

# %% [markdown]
# ## 3 · UAR, not accuracy, when classes are unbalanced
# Accuracy (WA) counts utterances, so the big classes dominate; UAR is the mean of the
# per-class recalls, so every emotion counts the same and chance is 1/K whatever the balance.

# %%
truth = np.array([0] * 90 + [1] * 10)  # 90 neutral, 10 angry
always_neutral = np.zeros(100, dtype=int)
print(f"  'always neutral': accuracy {accuracy(truth, always_neutral):.2f}, "
      f"UAR {uar(truth, always_neutral, n_classes=2):.2f}")  # fmt: skip
assert uar(truth, always_neutral, n_classes=2) == 0.5  # chance, as it should be

# %% [markdown]
# ## 4 · The same recipe with a random split of utterances
# Every speaker is now in training *and* test. A model that keeps the voice in its input can
# now score by recognising voices it has heard: the rise is not emotion. Normalising per
# speaker removes much of the voice, and with it much of the rise (docs/evaluation.md
# measures both on real speech).

# %%
by_utterance = run_crossval(
    corpus,
    models=models,
    k=k,
    split="utterances",
    overrides={"epochs": epochs},
    log=quiet,
)
rows = []
for name in by_speaker["models"]:
    honest = by_speaker["models"][name]["uar_mean"]
    leaky = by_utterance["models"][name]["uar_mean"]
    rows.append((name, honest, leaky))
    print(f"  {name:10s} by speaker {honest:.3f}   random utterances {leaky:.3f}   "
          f"({leaky - honest:+.3f})")  # fmt: skip

# %%
fig, ax = subplots(figsize=(6.5, 3.4))
x = np.arange(len(rows))
ax.bar(x - 0.18, [r[1] for r in rows], 0.36, label="folds of speakers (honest)")
ax.bar(x + 0.18, [r[2] for r in rows], 0.36, label="random utterances (leaks voices)")
ax.axhline(1 / len(emotions), color="grey", ls="--", lw=1, label="chance")
ax.set(
    xticks=x,
    xticklabels=[r[0] for r in rows],
    xlabel="recipe",
    ylabel="mean UAR over folds",
    ylim=(0, 1),
    title="The same models, two ways of splitting",
)
ax.legend(fontsize=8, loc="lower right")
save_figure(fig, out, "speaker_vs_random_split.png")

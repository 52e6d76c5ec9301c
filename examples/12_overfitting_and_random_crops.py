# %% [markdown]
# # 12 · Overfitting, and random crops against it (the document's Q3)
#
# Reads with: docs/training.md ("Mini-batches, Adam, regularisation" and the input section)
# and lesson 04. Without SER_FAST, lesson 04 ends at training accuracy 0.98 and validation
# 0.79: the network fits its training utterances better than it hears new speakers. Its
# training images are one random 128-frame crop of each utterance, drawn once: every epoch
# shows the same images. Here the same network is trained, from the same initial weights on
# the same speakers, in two ways:
#
# - **centre crop only**: every epoch shows it the same 128-frame image of each utterance;
# - **random crops**: every epoch shows it a new 128-frame window of each utterance (the
#   augmentation the document names in §9 Q3, and what `ser train` does).
#
# and each way twice: on a quarter of the training utterances, and on all of them, because
# how much a network overfits depends on how much it has to learn from. Every run is scored
# after every epoch on the same fixed images: the centre crops of the training utterances
# and of the validation speakers' utterances. No download.

# %%
import numpy as np

from features import fit_cmvn
from nn.callbacks import Callback
from ser.corpus import load_corpus, speaker_split
from ser.inputs import FeatureSet, InputSpec
from ser.lesson import check_shape, fast_mode, output_dir, save_figure
from ser.pipeline import extract_features
from ser.plotting import image, subplots
from ser.recipes import seed_cnn

out = output_dir(__file__)
emotions = ["neutral", "sad", "angry"]
epochs = 12 if fast_mode() else 25

# %% [markdown]
# ## 1 · The data of lesson 04: MFCC (M1-M8), CMVN with the training speakers' statistics
# (M10), speakers split into training, validation and test

# %%
size = {"n_speakers": 6, "n_utterances": 6} if fast_mode() else {}
corpus = load_corpus("synthetic", emotions=tuple(emotions), **size)
split = speaker_split(corpus, validation=0.2, test=0.2, seed=0)
parts = {"train": split.train, "val": split.validation}
raw = {name: extract_features(list(part)) for name, part in parts.items()}
cmvn = fit_cmvn(raw["train"])  # training speakers only
spec = InputSpec()  # 128 frames x 13 MFCCs x 1 channel, the document's input (P2)
sets = {
    name: FeatureSet.build(
        list(part), raw[name], [(0, len(f)) for f in raw[name]], emotions, spec, cmvn
    )
    for name, part in parts.items()
}
train_centre, train_labels = sets["train"].tensor(), sets["train"].onehot(3)
val_centre, val_labels = sets["val"].tensor(), sets["val"].onehot(3)
check_shape("training centre crops", train_centre, (len(sets["train"]), 128, 13, 1))
check_shape("validation centre crops", val_centre, (len(sets["val"]), 128, 13, 1))
lengths = np.array([len(f) for f in sets["train"].features])
room = np.median(lengths - 128)
print(f"  training utterances: {len(lengths)}, {lengths.min()}-{lengths.max()} frames long; "
      f"at the median, {room:.0f} frames to choose a crop's start from")  # fmt: skip

# %% [markdown]
# ## 2 · What a crop is: 128 frames of an utterance
# The centre crop is always the same image; a random crop starts anywhere the 128 frames fit
# (`ser.inputs.fixed_length` with an rng). Over E epochs the network sees E different
# windows of each utterance instead of one: the emotion is the same in every window, but
# which syllable sits at frame 40 is not, so memorising positions does not pay.

# %%
from matplotlib.patches import Rectangle

example = int(np.argmax(lengths))
feats = sets["train"].features[example]
T = len(feats)
draw = np.random.default_rng(0)
starts = [int(draw.integers(0, T - 128 + 1)) for _ in range(3)]
fig, ax = subplots(figsize=(10, 3.2))
image(ax, feats.T, scale="diverging", vmin=-3, vmax=3, extent=(0, T * 0.01, -0.5, 12.5),
      xlabel="time (s)", ylabel="MFCC index", cbar_label="value after CMVN (sd)",
      title=f"One training utterance ({T} frames): the centre crop and three random crops",
      integer_ticks="y")  # fmt: skip
centre = (T - 128) // 2
ax.add_patch(Rectangle((centre * 0.01, -0.5), 1.28, 13, fill=False, ec="black", lw=2.5,
                       label="centre crop"))  # fmt: skip
for k, start in enumerate(starts):
    box = Rectangle((start * 0.01, -0.4 + 0.1 * k), 1.28, 12.8, fill=False, ec=f"C{k + 2}",
                    lw=1.5, ls="--", label=f"random crop {k + 1}")  # fmt: skip
    ax.add_patch(box)
fig.legend(loc="outside lower center", fontsize=8, ncols=4)
save_figure(fig, out, "01_centre_and_random_crops.png")

# %% [markdown]
# ## 3 · Four runs: two crops x two amounts of data, all from the same initial weights
# `fit` takes either a fixed array or a function `x(epoch, rng)` that returns fresh inputs
# every epoch (`FeatureSet.sampler()`: new random crops). A callback scores the fixed
# training centre crops after every epoch, so every run is measured on the same images.
# The quarter keeps a quarter of each training speaker's utterances of each emotion.


# %%
class CentreCropAccuracy(Callback):
    """Adds "train_centre_accuracy" to the epoch logs: accuracy on fixed training images."""

    def __init__(self, x, y):
        self.x, self.y = x, y.argmax(axis=1)

    def on_epoch_end(self, epoch, logs):
        predicted = self.model.predict(self.x).argmax(axis=1)
        logs["train_centre_accuracy"] = float(np.mean(predicted == self.y))


def a_quarter(feature_set, seed=0):
    """A quarter (at least one) of each (speaker, emotion) group's utterances."""
    pick = np.random.default_rng(seed)
    keys = list(zip(feature_set.speakers, feature_set.labels.tolist(), strict=True))
    keep = []
    for key in dict.fromkeys(keys):
        members = [i for i, k in enumerate(keys) if k == key]
        keep += pick.choice(members, size=max(1, len(members) // 4), replace=False).tolist()
    return feature_set.subset(sorted(keep))


sizes = {"a quarter": a_quarter(sets["train"]), "all": sets["train"]}
histories = {}
for size_name, train_set in sizes.items():
    x_centre, y_train = train_set.tensor(), train_set.onehot(3)
    crops = {"centre crop only": x_centre, "random crops": train_set.sampler()}
    for crop_name, x_train in crops.items():
        model = seed_cnn(3, seed=0)  # the same initial weights for every run
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0,
                  validation_data=(val_centre, val_labels),
                  callbacks=[CentreCropAccuracy(x_centre, y_train)])  # fmt: skip
        histories[size_name, crop_name] = h = model.history.history
        train_acc, val_acc = h["train_centre_accuracy"][-1], h["val_accuracy"][-1]
        print(f"  {size_name:>9s} ({len(train_set):3d} utterances), {crop_name:<16s}: "
              f"training {train_acc:.2f}, validation {val_acc:.2f} "
              f"(best {max(h['val_accuracy']):.2f}), gap {train_acc - val_acc:+.2f}")  # fmt: skip

# %% [markdown]
# ## 4 · The learning curves, and what they say
# Solid: training utterances; dashed: validation speakers; both on centre crops. The gap
# between them is what the network has learned about its training utterances that does not
# carry over to new speakers.
#
# - With one fixed image per utterance, the training accuracy climbs towards 1: 645,699
#   parameters can memorise a few hundred images, and the fewer there are, the sooner they
#   are memorised and the less of it carries over to new speakers.
# - Random crops make the training task harder: the network never sees the same image
#   twice, so the training curve rises more slowly and the gap stays smaller. Memorising
#   which syllable sits at frame 40 does not pay; what holds in every window (pitch level,
#   loudness, spectral tilt) does.
# - How much that buys depends on the data. Measured here with fixed seeds: on the full
#   built-in corpus the centre crop alone already generalises about as well as random crops
#   do, and random crops mostly keep the training accuracy below 1; on little data (a
#   quarter, or SER_FAST's small corpus) they lift the validation accuracy clearly. Real SER
#   corpora are small (RAVDESS: 1,440 speech files from 24 actors), which is why every
#   recipe here trains on random crops.
#
# The validation set is small, so single epochs move by several points: read the curves,
# not one number.

# %%
fig, axes = subplots(2, 3, figsize=(13, 6.6), sharex=True)
x_epochs = np.arange(1, epochs + 1)
for row, size_name in enumerate(sizes):
    n = len(sizes[size_name])
    for colour, crop_name in zip(("C0", "C1"), ("centre crop only", "random crops"), strict=True):
        h = histories[size_name, crop_name]
        axes[row, 0].plot(x_epochs, h["train_centre_accuracy"], "-o", ms=3, color=colour,
                          label=f"{crop_name}: training")  # fmt: skip
        axes[row, 0].plot(x_epochs, h["val_accuracy"], "--s", ms=3, color=colour,
                          label=f"{crop_name}: validation")  # fmt: skip
        axes[row, 1].plot(x_epochs, h["val_loss"], "--s", ms=3, color=colour, label=crop_name)
        gap = np.array(h["train_centre_accuracy"]) - np.array(h["val_accuracy"])
        axes[row, 2].plot(x_epochs, gap, "-o", ms=3, color=colour, label=crop_name)
    axes[row, 0].set(ylabel="accuracy (centre crops)", ylim=(0, 1.02),
                     title=f"{size_name} of the training utterances ({n}): accuracy")  # fmt: skip
    axes[row, 1].set(ylabel="validation cross-entropy (nats)", title="validation loss")
    axes[row, 2].axhline(0, color="grey", lw=0.8)
    axes[row, 2].set(ylabel="training - validation accuracy", title="the generalisation gap")
for ax in axes[-1]:
    ax.set(xlabel="epoch")
for ax in axes.ravel():
    ax.legend(fontsize=7)
save_figure(fig, out, "02_learning_curves.png")

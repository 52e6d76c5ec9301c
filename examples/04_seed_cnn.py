# %% [markdown]
# # 04 · The document's CNN, line for line, trained on the built-in corpus
#
# Reads with: docs/training.md and docs/errata.md. The code cell in the middle is the source
# document's §5.2, unchanged except for its imports (this library instead of TensorFlow) and
# its unused LSTM import (errata E11). Every line carries the ID of what it implements.

# %%
import numpy as np

from features import fit_cmvn
from ser.corpus import load_corpus, speaker_split
from ser.inputs import FeatureSet, InputSpec
from ser.lesson import fast_mode, output_dir
from ser.pipeline import extract_features

out = output_dir(__file__)
emotions = ["neutral", "sad", "angry"]  # 3 classes, as the document's Dense(3)

# %% [markdown]
# ## Data preprocessing (P3): load, MFCC, normalise, split by speaker
# The document leaves this to a comment; the course's pipeline does it (docs/training.md).

# %%
size = {"n_speakers": 6, "n_utterances": 6} if fast_mode() else {}
corpus = load_corpus("synthetic", emotions=tuple(emotions), **size)  # no download
split = speaker_split(corpus, validation=0.2, test=0.2, seed=0)  # no speaker in two sets
print(split.speakers)
raw = {
    name: extract_features(list(part))
    for name, part in (("train", split.train), ("val", split.validation), ("test", split.test))
}  # MFCC, M1-M8
cmvn = fit_cmvn(raw["train"])  # M10, training speakers only
spec = InputSpec()  # the document's input: 128 frames x 13 MFCCs, one channel, centre crops
sets = {
    name: FeatureSet.build(
        list(part), raw[name], [(0, len(f)) for f in raw[name]], emotions, spec, cmvn
    )  # every frame counts: no silence trimming
    for name, part in (("train", split.train), ("val", split.validation), ("test", split.test))
}
train_data, train_labels = sets["train"].tensor(np.random.default_rng(0)), sets["train"].onehot(3)
val_data, val_labels = sets["val"].tensor(), sets["val"].onehot(3)
test_data, test_labels = sets["test"].tensor(), sets["test"].onehot(3)
print("train", train_data.shape, "validation", val_data.shape, "test", test_data.shape)

# %% [markdown]
# ## The document's code (§5.2)

# %%
from nn.layers import Conv2D, Dense, Flatten, MaxPooling2D  # document: tensorflow.keras.layers
from nn.models import Sequential  # document: tensorflow.keras.models
from nn.optimizers import Adam  # document: tensorflow.keras.optimizers

# 构建模型 (build the model): S3.1 / P2
model = Sequential()
model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(128, 13, 1)))  # C1 + C4
model.add(MaxPooling2D((2, 2)))  # C2
model.add(Flatten())  # S3.1 step 5: to the fully connected layers
model.add(Dense(64, activation="relu"))  # S2.1 hidden layer
model.add(Dense(3, activation="softmax"))  # S3.2 output layer: softmax over 3 emotions

# 编译模型 (compile): P2
model.compile(optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"])

# 训练模型 (train): P2, 10 epochs, batch 32, validation on held-out speakers
epochs = 2 if fast_mode() else 10
model.fit(
    train_data, train_labels, epochs=epochs, batch_size=32, validation_data=(val_data, val_labels)
)

# 评估模型 (evaluate): P2, on speakers never heard in training
test_loss, test_accuracy = model.evaluate(test_data, test_labels)
print(f"Test accuracy: {test_accuracy}")

# %% [markdown]
# ## Beyond the document: the summary, UAR, and the confusion matrix

# %%
from nn.metrics import confusion_matrix, uar
from ser.report import save_confusion_matrix, save_training_curves

model.summary()
predicted = model.predict(test_data).argmax(axis=1)
truth = test_labels.argmax(axis=1)
print(f"UAR {uar(truth, predicted, n_classes=3):.3f}")
# figures are numbered in the order of the steps: training first, then the test
save_training_curves(out / "01_training_curves.png", model.history)  # Keras keeps it too
save_confusion_matrix(
    out / "02_confusion_matrix.png", confusion_matrix(truth, predicted, n_classes=3), emotions
)
print(f"  figures -> {out}")

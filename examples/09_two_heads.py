# %% [markdown]
# # 09 · Two heads on one trunk: the functional API and multi-task learning (S2.5)
#
# Reads with: docs/graphs.md. The source document's §2.5 says multi-task learning shares one
# representation between emotion and a related task. Here a trunk feeds two heads, emotion
# and the speaker's gender, built with the functional API (`Input`, `Model`); the sum rule
# at the fork is checked by numbers; then the two-head recipe, the same trunk trained on
# emotion alone, and an adversarial head behind a gradient reversal are cross-validated by
# speaker on the built-in corpus.

# %%
import numpy as np

from nn import Input, Model
from nn.layers import BatchNormalization, Conv1D, Dense, StatisticsPooling1D
from nn.optimizers import SGD
from nn.training import loss_and_grad
from ser.corpus import load_corpus
from ser.crossval import run_crossval
from ser.lesson import compare, fast_mode, output_dir, save_figure
from ser.plotting import subplots

out = output_dir(__file__)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1 · A graph: one trunk, two heads
# Calling a layer on a tensor records a call (a node); `Model` orders the calls so that each
# comes after those that produce its inputs. `summary` shows what each layer reads.

# %%
frames = Input((64, 16), dtype="float64", name="frames")  # (None, T, C)
h = Conv1D(8, 5, activation="relu", name="conv")(frames)
h = BatchNormalization(name="bn")(StatisticsPooling1D(name="stats")(h))  # (None, 16)
emotion = Dense(4, activation="softmax", name="emotion")(h)  # h forks here:
gender = Dense(2, activation="softmax", name="gender")(h)  # two heads read it
model = Model(frames, [emotion, gender])
model.summary()

# %% [markdown]
# ## 2 · The sum rule at the fork (eq. G-fork)
# The loss is L = L_emotion + 0.5 L_gender. The trunk's output h feeds both heads, so
# dL/dh is the sum of what each head sends back: the two-head model's gradient at its input
# equals the sum of the gradients of two one-head models over the same layers.

# %%
x = rng.standard_normal((6, 64, 16))
y_emotion, y_gender = np.eye(4)[rng.integers(0, 4, 6)], np.eye(2)[rng.integers(0, 2, 6)]


def input_gradient(m, targets, weights):
    m.compile(SGD(0.0), "categorical_crossentropy", loss_weights=weights)
    outs = m.forward(x, training=True)
    outs = outs if isinstance(outs, list) else [outs]
    grads = [w * loss_and_grad(m, o, t, head=k)[1]
             for k, (o, t, w) in enumerate(zip(outs, targets, weights, strict=True))]  # fmt: skip
    return m.backward(grads, from_preactivation=[True] * len(grads))


both = input_gradient(model, [y_emotion, y_gender], [1.0, 0.5])
only_emotion = input_gradient(Model(frames, emotion), [y_emotion], [1.0])
only_gender = input_gradient(Model(frames, gender), [y_gender], [0.5])
compare("dL/dx: two heads vs the sum of one", both, only_emotion + only_gender, atol=1e-12)

# %% [markdown]
# ## 3 · Does the second head help emotion? Measure it by speaker
# `cnn1d-spk` is the course's recipe for real speech; `cnn1d-spk-mtl` is the same trunk with
# a gender head (weight 0.3) trained jointly; `cnn1d-spk-adv` puts a speaker head behind a
# `GradientReversal`, so the trunk learns to *remove* who is speaking (domain-adversarial
# training). Each is scored on speakers it never heard, beside the baseline.

# %%
size = {"n_speakers": 8, "n_utterances": 2} if fast_mode() else {"n_speakers": 8, "n_utterances": 6}
corpus = load_corpus("synthetic", emotions=("neutral", "happy", "sad", "angry"), seed=0, **size)
epochs = 1 if fast_mode() else 8
models = ["cnn1d-spk", "cnn1d-spk-mtl", "cnn1d-spk-adv"]
result = run_crossval(corpus, models=models, k=2, overrides={"epochs": epochs},
                      log=lambda *a: None)  # fmt: skip
rows = [(name, m["uar_mean"], m["uar_sd"]) for name, m in result["models"].items()]
for name, mean, sd in rows:
    print(f"  {name:14s} UAR {mean:.3f} ± {sd:.3f}")
print("  (a small corpus and two folds: differences of a few points are noise; "
      "docs/graphs.md has the RAVDESS measurement over three seeds)")  # fmt: skip

# %%
fig, ax = subplots(figsize=(6.5, 3.4))
ax.bar(range(len(rows)), [r[1] for r in rows], yerr=[r[2] for r in rows], capsize=4,
       color=["C0", "C1", "C2", "grey"][: len(rows)])  # fmt: skip
ax.axhline(0.25, color="black", ls="--", lw=1, label="chance (4 emotions)")
ax.set(xticks=range(len(rows)), xticklabels=[r[0] for r in rows], xlabel="recipe",
       ylabel="mean UAR over speaker folds (± sd)", ylim=(0, 1),
       title="One head, two heads, an adversarial head")  # fmt: skip
ax.legend(fontsize=8, loc="upper right")
save_figure(fig, out, "two_heads_uar.png")

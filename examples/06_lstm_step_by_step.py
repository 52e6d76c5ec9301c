# %% [markdown]
# # 06 · The LSTM step by step (L1-L5) on one utterance
#
# Reads with: docs/lstm.md. One synthetic utterance -> MFCC + deltas (39 per frame) -> an
# LSTM cell written out line by line, compared with the library's reference and its Numba
# twin; then a figure of the gates and the cell state over the utterance.

# %%
import numpy as np

from features import add_deltas, cmvn, mfcc
from nn.functional import lstm
from nn.functional.activations import sigmoid
from nn.gradcheck import numerical_grad, rel_error
from nn.kernels import lstm as lstm_kernel
from nn.layers import LSTM
from ser.corpus.synth import synthetic_corpus
from ser.lesson import check_shape, compare, fast_mode, output_dir, save_figure
from ser.plotting import image, subplots, untrained_note

out = output_dir(__file__)
H = 8 if fast_mode() else 16

# %% [markdown]
# ## 1 · One utterance as a sequence of 39 features per frame

# %%
utt = synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("angry",), seed=0)[0]
feats = cmvn(add_deltas(mfcc(utt.audio(sr=16000), sr=16000), order=2))
x = feats[None]  # (N=1, T, 39)
T = x.shape[1]
check_shape("x", x, (1, T, 39))

# %% [markdown]
# ## 2 · Weights in Keras layout, gate order i, f, g, o, forget bias 1

# %%
layer = LSTM(H).build((T, 39), np.random.default_rng(0), dtype="float64")
W, U, b = layer.params["kernel"], layer.params["recurrent_kernel"], layer.params["bias"]
check_shape("kernel W", W, (39, 4 * H))
check_shape("recurrent_kernel U", U, (H, 4 * H))
print("  forget-gate bias block:", b[H : 2 * H])

# %% [markdown]
# ## 3 · L1-L5 written out, step by step

# %%
h, c = np.zeros((1, H)), np.zeros((1, H))
gates = {"i": [], "f": [], "o": [], "C": [], "h": []}
for t in range(T):
    a = x[:, t] @ W + h @ U + b
    i = sigmoid(a[:, :H])  # L1
    f = sigmoid(a[:, H : 2 * H])  # L2
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])  # L3
    c = f * c + i * g  # L4
    h = o * np.tanh(c)  # L5
    for name, value in zip("ifoCh", (i, f, o, c, h), strict=True):
        gates[name].append(value[0])
by_hand = np.stack(gates["h"])[None]
(hs, h_T, c_T), cache = lstm.lstm_forward(x, W, U, b, np.zeros((1, H)), np.zeros((1, H)))
compare("by hand vs nn.functional.lstm", by_hand, hs, atol=1e-14, rtol=1e-12)
(hs_k, _, _), _ = lstm_kernel.lstm_forward(x, W, U, b, np.zeros((1, H)), np.zeros((1, H)))
compare("reference vs Numba twin", hs_k, hs, atol=1e-12, rtol=1e-10)

# %% [markdown]
# ## 4 · BPTT checked on the first 5 frames (float64), h0 and c0 included

# %%
xs = x[:, :5].copy()
h0, c0 = 0.1 * np.ones((1, H)), 0.1 * np.ones((1, H))
(hs5, hT5, cT5), cache5 = lstm.lstm_forward(xs, W, U, b, h0, c0)
rng = np.random.default_rng(1)
dhs, dhT, dcT = rng.standard_normal(hs5.shape), rng.standard_normal((1, H)), np.zeros((1, H))
grads = lstm.lstm_backward(dhs, dhT, dcT, cache5)
weights = np.concatenate([dhs.ravel(), dhT.ravel(), dcT.ravel()])


def run():
    (a, b_, c_), _ = lstm.lstm_forward(xs, W, U, b, h0, c0)
    return np.concatenate([a.ravel(), b_.ravel(), c_.ravel()])


# h = 1e-5: the 39 MFCC features are of order 1-10, and some weight gradients are small, so
# the rounding noise of h = 1e-6 would show up as relative error (docs/cnn.md, gradient checks)
names = ("dx", "dW", "dU", "db", "dh0", "dc0")
for name, grad, value in zip(names, grads, (xs, W, U, b, h0, c0), strict=True):
    numeric = numerical_grad(lambda _: run(), value, weights, h=1e-5)
    print(f"  {name}: relative error {rel_error(grad, numeric):.1e}")

# %% [markdown]
# ## 5 · What the gates do over the utterance (untrained weights: the forget bias of 1 keeps
# f near 0.73, so the cell state C integrates the input)

# The gates are sigmoids: they share one fixed 0-1 scale, so f = 0.73 reads as 0.73 on the
# colour bar. h = o tanh(C) lies in (-1, 1), and C is unbounded: diverging scales, white at 0.

# %%
fig, axes = subplots(5, 1, figsize=(9, 10), sharex=True)
rows = {
    "i": ("input gate i_t (L1)", "probability", "gate value"),
    "f": ("forget gate f_t (L2)", "probability", "gate value"),
    "o": ("output gate o_t (L3)", "probability", "gate value"),
    "C": ("cell state C_t (L4)", "diverging", "C (unbounded)"),
    "h": ("hidden state h_t (L5)", "diverging", "h (-1 to 1)"),
}
for ax, (name, (label, scale, unit)) in zip(axes, rows.items(), strict=True):
    limits = {"vmin": -1, "vmax": 1} if name == "h" else {}
    image(ax, np.stack(gates[name]).T, scale=scale, xlabel="", ylabel=f"{label}\nunit",
          cbar_label=unit, integer_ticks="y", **limits)  # fmt: skip
axes[-1].set_xlabel("frame (10 ms)")
mean_f = float(np.mean(gates["f"]))
print(f"  mean forget gate over the utterance: {mean_f:.2f} (sigma(1) = 0.73 with a zero input)")
axes[0].set_title(f"LSTM({H}) gates and states over one '{utt.emotion}' utterance "
                  f"(untrained weights; mean f = {mean_f:.2f})")  # fmt: skip
untrained_note(fig, "untrained weights (Glorot initialisation, forget bias 1)")
save_figure(fig, out, "lstm_gates_over_time.png")

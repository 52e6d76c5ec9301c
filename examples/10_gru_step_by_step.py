# %% [markdown]
# # 10 · The GRU step by step (G1-G4): forward and backward by hand, checked
#
# Reads with: docs/rnn.md ("The GRU", eqs. G1-G4 and G-b1..G-b4). One synthetic utterance ->
# MFCC + deltas (39 per frame) -> a GRU cell written out line by line and compared with the
# library's reference (nn/functional/gru.py) and its Numba twin (nn/kernels/gru.py); then the
# backward pass of one step written out, a finite-difference check of every gradient, and the
# gates over the utterance. Runs in a few seconds, no download.

# %%
import numpy as np

from features import add_deltas, cmvn, mfcc
from nn.functional import gru
from nn.functional.activations import sigmoid
from nn.gradcheck import numerical_grad, rel_error
from nn.kernels import gru as gru_kernel
from nn.layers import GRU
from ser.corpus.synth import synthetic_corpus
from ser.lesson import check_shape, compare, fast_mode, output_dir, save_figure
from ser.plotting import image, subplots, untrained_note

out = output_dir(__file__)
H = 8 if fast_mode() else 16

# %% [markdown]
# ## 1 · One utterance as a sequence of 39 features per frame (as lesson 06)

# %%
utt = synthetic_corpus(n_speakers=1, n_utterances=1, emotions=("sad",), seed=0)[0]
feats = cmvn(add_deltas(mfcc(utt.audio(sr=16000), sr=16000), order=2))
x = feats[None]  # (N=1, T, 39)
T = x.shape[1]
check_shape("x", x, (1, T, 39))

# %% [markdown]
# ## 2 · Weights in Keras layout: gate order z, r, h; reset_after=True (two bias rows)
# W (39, 3H) multiplies the input, U (H, 3H) the previous state; bias row 0 is added to x W,
# row 1 to h U. For z and r the two rows only add up; for the candidate the recurrent row sits
# inside r * (...), which is why Keras and PyTorch keep two (G3a).

# %%
layer = GRU(H).build((T, 39), np.random.default_rng(0), dtype="float64")
W, U, b = layer.params["kernel"], layer.params["recurrent_kernel"], layer.params["bias"]
check_shape("kernel W", W, (39, 3 * H))
check_shape("recurrent_kernel U", U, (H, 3 * H))
check_shape("bias b", b, (2, 3 * H))
z_, r_, h_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)  # the three column blocks

# %% [markdown]
# ## 3 · G1-G4 written out, step by step
#     z = σ(x W_z + h U_z + b_z)                     G1  how much of the old state to keep
#     r = σ(x W_r + h U_r + b_r)                     G2  how much of it the candidate sees
#     h~ = tanh(x W_h + b_h + r ⊙ (h U_h + b'_h))    G3a the candidate state
#     h_t = z ⊙ h_{t-1} + (1 - z) ⊙ h~              G4  keep, or move to the candidate

# %%
h = np.zeros((1, H))
trace = {"z": [], "r": [], "hh": [], "h": []}
for t in range(T):
    a_in = x[:, t] @ W + b[0]  # input part of all three blocks
    a_rec = h @ U + b[1]  # recurrent part of all three blocks
    z = sigmoid(a_in[:, z_] + a_rec[:, z_])  # G1
    r = sigmoid(a_in[:, r_] + a_rec[:, r_])  # G2
    hh = np.tanh(a_in[:, h_] + r * a_rec[:, h_])  # G3a
    h = z * h + (1.0 - z) * hh  # G4
    for name, value in zip(("z", "r", "hh", "h"), (z, r, hh, h), strict=True):
        trace[name].append(value[0])
by_hand = np.stack(trace["h"])[None]
(hs, h_T), _ = gru.gru_forward(x, W, U, b, np.zeros((1, H)))
check_shape("hs", hs, (1, T, H))
compare("by hand vs nn.functional.gru", by_hand, hs, atol=1e-14, rtol=1e-12)
(hs_k, _), _ = gru_kernel.gru_forward(x, W, U, b, np.zeros((1, H)))
compare("reference vs Numba twin", hs_k, hs, atol=1e-12, rtol=1e-10)

# %% [markdown]
# ## 4 · The backward pass of one step, by hand (G-b1..G-b4)
# Given dL/dh_t, go back through G4, G3a, G2 and G1 (docs/rnn.md):
#     dz = dh ⊙ (h_{t-1} - h~)       dh~ = dh ⊙ (1 - z)       da_h = dh~ ⊙ (1 - h~²)
#     dr = da_h ⊙ (h_{t-1} U_h + b'_h)      d(h_{t-1} U_h + b'_h) = da_h ⊙ r
#     da_z = dz ⊙ z (1 - z)          da_r = dr ⊙ r (1 - r)
#     dW = x^T [da_z | da_r | da_h]     dU = h_{t-1}^T [da_z | da_r | da_h ⊙ r]
#     dh_{t-1} = dh ⊙ z + [da_z | da_r | da_h ⊙ r] U^T

# %%
rng = np.random.default_rng(1)
x_t, h_prev = x[:, 10], 0.5 * rng.standard_normal((1, H))  # one frame, a non-zero state
h_t, cache = gru.gru_step_forward(x_t, h_prev, W, U, b)
dh = rng.standard_normal(h_t.shape)  # a random upstream gradient, never all ones

a_in, a_rec = x_t @ W + b[0], h_prev @ U + b[1]
z = sigmoid(a_in[:, z_] + a_rec[:, z_])
r = sigmoid(a_in[:, r_] + a_rec[:, r_])
hh = np.tanh(a_in[:, h_] + r * a_rec[:, h_])
dz = dh * (h_prev - hh)  # G-b1, through G4
da_h = dh * (1.0 - z) * (1.0 - hh**2)  # through G4, then tanh
dr = da_h * a_rec[:, h_]  # G-b2, through G3a
da_z, da_r = dz * z * (1.0 - z), dr * r * (1.0 - r)  # through the sigmoids
d_in = np.concatenate([da_z, da_r, da_h], axis=1)  # dL/d(x W + b_in)
d_rec = np.concatenate([da_z, da_r, da_h * r], axis=1)  # dL/d(h U + b_rec)
mine = {
    "dx_t": d_in @ W.T,
    "dh_prev": dh * z + d_rec @ U.T,  # G-b3
    "dW": x_t.T @ d_in,  # G-b4
    "dU": h_prev.T @ d_rec,
    "db": np.stack([d_in.sum(axis=0), d_rec.sum(axis=0)]),
}
theirs = dict(zip(mine, gru.gru_step_backward(dh, cache), strict=True))
for name in mine:
    check_shape(name, theirs[name], mine[name].shape)
    compare(f"{name}: by hand vs gru_step_backward", mine[name], theirs[name], atol=1e-14)

# %% [markdown]
# ## 5 · Every gradient against finite differences (float64, h = 1e-6)
# On a small random problem, as tests/nn/test_recurrent.py checks it: N = 2 sequences of
# T = 5 steps, D = 3 inputs, H = 4 units, weights and states 0.5 N(0, 1). One step: every
# input and parameter, x_t and h_{t-1} included (threshold 1e-7, a smooth single op). Then
# BPTT over the 5 steps through `gru_backward`, h0 included (threshold 1e-6, a whole
# sequence; docs/cnn.md, "Gradient checks"). rel_error is the worst element, so a check on
# 39 MFCC features with many tiny weight gradients would need h = 1e-5 (as lesson 06 does):
# the relative error of a tiny element is mostly rounding.

# %%
g = np.random.default_rng(0)
N_, T_, D_, H_ = 2, 5, 3, 4
xs = g.standard_normal((N_, T_, D_))
Ws, Us = 0.5 * g.standard_normal((D_, 3 * H_)), 0.5 * g.standard_normal((H_, 3 * H_))
bs, h0 = 0.1 * g.standard_normal((2, 3 * H_)), 0.5 * g.standard_normal((N_, H_))
(hs5, hT5), cache5 = gru.gru_forward(xs, Ws, Us, bs, h0)
dhs, dhT = g.standard_normal(hs5.shape), g.standard_normal(hT5.shape)
weights = np.concatenate([dhs.ravel(), dhT.ravel()])
grads = dict(zip(("dx", "dW", "dU", "db", "dh0"), gru.gru_backward(dhs, dhT, cache5), strict=True))

x0, s0 = xs[:, 0], h0
h1, step_cache = gru.gru_step_forward(x0, s0, Ws, Us, bs)
dh1 = g.standard_normal(h1.shape)
step_grads = dict(zip(mine, gru.gru_step_backward(dh1, step_cache), strict=True))
errors = {}
for name, value in zip(step_grads, (x0, s0, Ws, Us, bs), strict=True):
    step = lambda _: gru.gru_step_forward(x0, s0, Ws, Us, bs)[0]  # noqa: E731
    errors[f"step {name}"] = rel_error(step_grads[name], numerical_grad(step, value, dh1))


def run():
    (a, last), _ = gru.gru_forward(xs, Ws, Us, bs, h0)
    return np.concatenate([a.ravel(), last.ravel()])


for name, value in zip(grads, (xs, Ws, Us, bs, h0), strict=True):
    numeric = numerical_grad(lambda _: run(), value, weights)
    errors[f"BPTT {name}"] = rel_error(grads[name], numeric)
for name, err in errors.items():
    limit = 1e-7 if name.startswith("step") else 1e-6
    print(f"  {name:<13s} relative error {err:.1e}   (< {limit:g}: {err < limit})")
assert all(e < (1e-7 if n.startswith("step") else 1e-6) for n, e in errors.items())

fig, ax = subplots(figsize=(8, 3.2))
names = list(errors)
ax.bar(range(len(names)), list(errors.values()), color=["C0"] * 5 + ["C1"] * 5)
ax.set_yscale("log")
ax.axhline(1e-7, color="C0", ls="--", lw=1, label="threshold, one step (1e-7)")
ax.axhline(1e-6, color="C1", ls="--", lw=1, label="threshold, a sequence (1e-6)")
ax.set(xticks=range(len(names)), xlabel="gradient", ylabel="relative error (log scale)",
       title="GRU gradients against centred differences (float64, h = 1e-6)")  # fmt: skip
ax.set_xticklabels(names, rotation=30, ha="right")
ax.legend(loc="upper left")
save_figure(fig, out, "01_gradient_check.png")

# %% [markdown]
# ## 6 · The gates over the utterance (untrained weights)
# z and r are sigmoids: one fixed 0-1 scale, so a colour is a value. Where z is near 1 a unit
# copies its state (and its gradient passes the step multiplied by z, not by tanh slopes and
# U); where z is near 0 it takes the candidate h~. With untrained weights and zero biases,
# z and r hover around 0.5, the value a trained network moves away from.

# %%
print(f"  mean z {np.mean(trace['z']):.2f}, mean r {np.mean(trace['r']):.2f} (untrained)")
fig, axes = subplots(4, 1, figsize=(9, 8.5), sharex=True)
rows = [
    ("z", "update gate z_t (G1)", "probability", "gate value"),
    ("r", "reset gate r_t (G2)", "probability", "gate value"),
    ("hh", "candidate h~_t (G3a)", "diverging", "h~ (tanh: -1 to 1)"),
    ("h", "state h_t (G4)", "diverging", "h (-1 to 1)"),
]
for ax, (key, label, scale, unit) in zip(axes, rows, strict=True):
    limits = {} if scale == "probability" else {"vmin": -1, "vmax": 1}
    image(ax, np.stack(trace[key]).T, scale=scale, xlabel="", ylabel=f"{label}\nunit",
          cbar_label=unit, integer_ticks="y", **limits)  # fmt: skip
axes[-1].set_xlabel("frame (10 ms)")
axes[0].set_title(f"GRU({H}) gates and states over one '{utt.emotion}' utterance "
                  "(untrained weights)")  # fmt: skip
untrained_note(fig, "untrained weights (Glorot / orthogonal initialisation, zero biases)")
save_figure(fig, out, "02_gru_gates_over_time.png")

# %% [markdown]
# ## 7 · The layer gives the same numbers
# `nn.layers.GRU` calls the same functions through the backend (the Numba twin by default).

# %%
compare("GRU layer (return_sequences=False) vs h_T", layer.forward(x, training=False), h_T,
        atol=1e-12, rtol=1e-10)  # fmt: skip

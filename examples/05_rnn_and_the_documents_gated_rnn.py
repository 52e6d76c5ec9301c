# %% [markdown]
# # 05 · The Elman RNN and the document's gated RNN (R0-R4)
#
# Reads with: docs/rnn.md and docs/errata.md (E7, E8). We run R0 and the document's R1-R4
# step by step, check every gradient with finite differences, and see that, as written,
# W_i and W_o get exactly zero gradient: the input and output gates reach nothing.

# %%
import numpy as np

from nn.functional import rnn, seed_rnn
from nn.gradcheck import numerical_grad, rel_error
from nn.kernels import seed_rnn as seed_rnn_kernel
from ser.lesson import check_shape, compare, output_dir, save_figure
from ser.plotting import image, subplots, untrained_note

out = output_dir(__file__)
rng = np.random.default_rng(0)
N, T, D, H = 2, 6, 3, 4

# %% [markdown]
# ## 1 · R0, one step by hand: h_t = tanh(x_t W + h_{t-1} U + b)

# %%
x = rng.standard_normal((N, T, D))
W, U, b = 0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)), np.zeros(H)
h0 = np.zeros((N, H))
h1, _ = rnn.rnn_step_forward(x[:, 0], h0, W, U, b)
by_hand = np.tanh(x[:, 0] @ W + h0 @ U + b)  # eq. R0, written out
compare("R0 step vs the formula", h1, by_hand, atol=0, rtol=0)
(hs, h_last), cache = rnn.rnn_forward(x, W, U, b, h0)
check_shape("hs (every step)", hs, (N, T, H))
check_shape("h_T (the last state)", h_last, (N, H))

# %% [markdown]
# ## 2 · BPTT for R0, checked against finite differences
# A random upstream gradient on every output, and one on the last state.

# %%
dhs, dh_last = rng.standard_normal(hs.shape), rng.standard_normal(h_last.shape)
dx, dW, dU, db, dh0 = rnn.rnn_backward(dhs, dh_last, cache)
weights = np.concatenate([dhs.ravel(), dh_last.ravel()])


def outputs(*args):
    (hs, h_last), _ = rnn.rnn_forward(*args)
    return np.concatenate([hs.ravel(), h_last.ravel()])


for name, grad, value in [("dx", dx, x), ("dW", dW, W), ("dU", dU, U), ("dh0", dh0, h0)]:
    numeric = numerical_grad(lambda _: outputs(x, W, U, b, h0), value, weights)
    print(f"  {name}: relative error {rel_error(grad, numeric):.1e}")

# %% [markdown]
# ## 3 · The document's gated RNN, exactly as written (R1-R4, f_0 = 1)
#     i_t = σ([h_{t-1}, x_t] W_i)    f_t = σ(h_{t-1} W_f)    o_t = σ(h_{t-1} W_o)
#     h_t = tanh([f_{t-1} ⊙ h_{t-1}, x_t] W_h)

# %%
W_i, W_h = 0.5 * rng.standard_normal((H + D, H)), 0.5 * rng.standard_normal((H + D, H))
W_f, W_o = 0.5 * rng.standard_normal((H, H)), 0.5 * rng.standard_normal((H, H))
(hs, h_last), cache = seed_rnn.seed_rnn_forward(x, W_i, W_f, W_o, W_h, h0)
steps, _ = cache
i_gates = np.stack([s[5] for s in steps], axis=1)  # i_t of every step: computed, never used
o_gates = np.stack([s[6] for s in steps], axis=1)
check_shape("i_t over time", i_gates, (N, T, H))

# %% [markdown]
# ## 4 · The gradients: W_i and W_o get exactly zero
# Perturbing W_i does not change h at all, so even the finite difference is exactly 0.

# %%
dhs = rng.standard_normal(hs.shape)
dx, dW_i, dW_f, dW_o, dW_h, dh0 = seed_rnn.seed_rnn_backward(dhs, np.zeros((N, H)), cache)
weights = np.concatenate([dhs.ravel(), np.zeros(N * H)])


def seed_outputs():
    (hs, h_last), _ = seed_rnn.seed_rnn_forward(x, W_i, W_f, W_o, W_h, h0)
    return np.concatenate([hs.ravel(), h_last.ravel()])


norms = {}
for name, grad, value in [("W_i", dW_i, W_i), ("W_f", dW_f, W_f), ("W_o", dW_o, W_o),
                          ("W_h", dW_h, W_h)]:  # fmt: skip
    numeric = numerical_grad(lambda _: seed_outputs(), value, weights)
    norms[name] = np.abs(grad).max()
    print(f"  d{name}: max |analytic| {norms[name]:.3e}, max |numeric| {np.abs(numeric).max():.3e},"
          f" relative error {rel_error(grad, numeric):.1e}")  # fmt: skip
assert norms["W_i"] == 0.0 and norms["W_o"] == 0.0 and norms["W_h"] > 0

# %% [markdown]
# ## 5 · The Numba twin gives the same numbers (float64)

# %%
(hs_k, h_last_k), _ = seed_rnn_kernel.seed_rnn_forward(x, W_i, W_f, W_o, W_h, h0)
compare("kernel vs reference, hs", hs_k, hs, atol=1e-12, rtol=1e-10)

# %% [markdown]
# ## 6 · A figure: the state and the two unused gates over time (sequence 0)
# The weights are random (untrained). The state h lies in (-1, 1): a diverging scale, white
# at 0. The gates are sigmoids in (0, 1): a fixed 0-1 scale, so a colour is a value.

# %%
fig, axes = subplots(1, 3, figsize=(12, 3.2), sharey=True)
image(axes[0], hs[0].T, scale="diverging", vmin=-1, vmax=1, title="state h_t (R4)",
      xlabel="step t", ylabel="unit", cbar_label="h (tanh: -1 to 1)",
      integer_ticks="xy")  # fmt: skip
for ax, (title, values) in zip(
    axes[1:], [("i_t (R1, unused)", i_gates[0]), ("o_t (R3, unused)", o_gates[0])], strict=True
):
    image(ax, values.T, scale="probability", title=title, xlabel="step t", ylabel="unit",
          cbar_label="gate value (sigmoid)", integer_ticks="xy")  # fmt: skip
untrained_note(fig, "untrained weights: W ~ 0.5 N(0, 1)")
save_figure(fig, out, "seed_rnn_states_and_gates.png")

# %% [markdown]
# # 02 · Convolution, pooling and ReLU by hand (C1-C4)
#
# Reads with: docs/cnn.md. A 6 x 5 "MFCC image" and one 3 x 3 filter, computed number by
# number, then with the library's reference (nn/functional) and its Numba twin (nn/kernels).
# Runs in a few seconds.

# %%
import numpy as np

from nn.functional import activations, conv, pool
from nn.kernels import conv as conv_kernel
from nn.kernels import pool as pool_kernel
from ser.lesson import check_shape, compare, output_dir, save_figure
from ser.plotting import cell_ticks, image, subplots

out = output_dir(__file__)
x = np.array(
    [
        [0, 1, 2, 1, 0],
        [1, 3, 5, 3, 1],
        [2, 5, 9, 5, 2],
        [1, 3, 5, 3, 1],
        [0, 1, 2, 1, 0],
        [0, 0, 1, 0, 0],
    ],
    dtype=float,
)  # 6 frames x 5 coefficients: a bright blob
W = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)  # a "left to right edge" filter
b = -1.0
check_shape("input x (H, W)", x, (6, 5))
check_shape("filter W (KH, KW)", W, (3, 3))

# %% [markdown]
# ## C1 · One output value, written out
# out[i, j] = b + sum_{p,q} x[i + p, j + q] W[p, q]: the kernel is *not* flipped
# (cross-correlation, as in Keras and PyTorch; docs/errata.md E4).

# %%
i, j = 1, 1
terms = [f"{x[i + p, j + q]:.0f}*{W[p, q]:+.0f}" for p in range(3) for q in range(3)]
value = b + sum(x[i + p, j + q] * W[p, q] for p in range(3) for q in range(3))
print(f"  out[{i},{j}] = {b:+.0f} + " + " + ".join(terms) + f" = {value:.0f}")

# %% [markdown]
# ## C1 · The whole map: loops, the reference, the Numba twin
# Channels last: x becomes (N=1, H=6, W=5, C=1), the kernel (KH=3, KW=3, C=1, F=1).

# %%
H_out, W_out = 6 - 3 + 1, 5 - 3 + 1
loops = np.array(
    [[b + np.sum(x[r : r + 3, c : c + 3] * W) for c in range(W_out)] for r in range(H_out)]
)
reference, _ = conv.conv2d_forward(x[None, :, :, None], W[:, :, None, None], np.array([b]))
fast, _ = conv_kernel.conv2d_forward(x[None, :, :, None], W[:, :, None, None], np.array([b]))
check_shape("conv output", reference, (1, H_out, W_out, 1))
print(loops)
compare("reference vs loops", reference[0, :, :, 0], loops)
compare("Numba twin vs reference", fast, reference, atol=1e-12, rtol=1e-10)

# %% [markdown]
# ## C4 · ReLU: a = max(0, x)

# %%
relu, _ = activations.relu_forward(reference)
print(relu[0, :, :, 0])

# %% [markdown]
# ## C2, C3 · Max and average pooling over 2 x 2 windows
# The 4 x 3 map becomes 2 x 1 (the last column does not fill a window: 'valid').

# %%
mx, _ = pool.maxpool2d_forward(relu, pool_size=(2, 2))
av, _ = pool.avgpool2d_forward(relu, pool_size=(2, 2))
check_shape("max-pooled", mx, (1, 2, 1, 1))
print("  max:", mx.ravel(), " average:", av.ravel())
compare("max-pool twin vs reference", pool_kernel.maxpool2d_forward(relu, pool_size=(2, 2))[0], mx)

# %% [markdown]
# ## The figure: every number of the computation, in its cell
# Rows are frames (i), columns MFCC coefficients (j), row 0 at the top as the arrays print.
# The box on x is the window of out[1, 1]; signed arrays use a diverging scale (white = 0).

# %%
from matplotlib.patches import Rectangle

panels = [
    (x, "input x", "sequential", "input value"),
    (W, "filter W (C1)", "diverging", "weight"),
    (reference[0, :, :, 0], "conv: b + x ⋆ W (C1)", "diverging", "value"),
    (relu[0, :, :, 0], "ReLU(conv) (C4)", "sequential", "value"),
    (mx[0, :, :, 0], "max-pool (C2)", "sequential", "value"),
]
fig, ax = subplots(1, len(panels), figsize=(16, 3.4), width_ratios=[5, 3, 3, 3, 2.4])
for a, (img, title, scale, unit) in zip(ax, panels, strict=True):
    vmin = 0.0 if scale == "sequential" else None
    image(a, img, origin="upper", aspect="equal", scale=scale, vmin=vmin, title=title,
          xlabel="column j (MFCC)", ylabel="row i (frame)", cbar_label=unit,
          annotate="{:.0f}")  # fmt: skip
    cell_ticks(a, *img.shape)
ax[0].add_patch(Rectangle((j - 0.5, i - 0.5), 3, 3, fill=False, ec="cyan", lw=2))
ax[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="cyan", lw=2))
save_figure(fig, out, "02_convolution_by_hand.png")

# %% [markdown]
# # 03 · Gradient checks: why and how
#
# Reads with: docs/cnn.md ("Gradient checks"). A backward pass is only trusted after it agrees
# with finite differences of the forward pass: g_i = (f(x + h e_i) - f(x - h e_i)) / (2h).

# %%
import numpy as np

from nn.functional.conv import conv2d_backward, conv2d_forward
from nn.gradcheck import check_layer, numerical_grad, rel_error
from nn.layers import Conv2D, Dense
from ser.lesson import output_dir, save_figure
from ser.plotting import subplots

out = output_dir(__file__)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1 · A convolution's three gradients against finite differences (float64)
# The upstream gradient dout is random, never all ones: with ones, errors that cancel across
# outputs would go unseen.

# %%
x, W, b = (
    rng.standard_normal((2, 6, 5, 2)),
    rng.standard_normal((3, 3, 2, 4)),
    rng.standard_normal(4),
)
y, cache = conv2d_forward(x, W, b, padding="same")
dout = rng.standard_normal(y.shape)
dx, dW, db = conv2d_backward(dout, cache)
for name, analytic, numeric in [
    ("dx", dx, numerical_grad(lambda v: conv2d_forward(v, W, b, padding="same")[0], x, dout)),
    ("dW", dW, numerical_grad(lambda v: conv2d_forward(x, v, b, padding="same")[0], W, dout)),
    ("db", db, numerical_grad(lambda v: conv2d_forward(x, W, v, padding="same")[0], b, dout)),
]:
    print(f"  {name}: relative error {rel_error(analytic, numeric):.1e}   (< 1e-7: correct)")

# %% [markdown]
# ## 2 · Catching a wrong gradient
# A plausible bug: forgetting to transpose in dW. The check fails by many orders of magnitude.

# %%
wrong_dW = np.swapaxes(dW, 0, 1)  # the kernel's rows and columns mixed up
err = rel_error(
    wrong_dW, numerical_grad(lambda v: conv2d_forward(x, v, b, padding="same")[0], W, dout)
)
print(f"  wrong dW: relative error {err:.1e}   (far above 1e-7: the check catches it)")
assert err > 1e-2

# %% [markdown]
# ## 3 · Whole layers: every input and parameter at once

# %%
for layer, shape in [
    (Dense(4, activation="tanh"), (6,)),
    (Conv2D(3, (3, 3), padding="same"), (5, 4, 2)),
]:
    layer.build(shape, rng, dtype="float64")
    errors = check_layer(layer, rng.standard_normal((2, *shape)), h=1e-5)
    print(f"  {type(layer).__name__:7s}", {k: f"{v:.1e}" for k, v in errors.items()})

# %% [markdown]
# ## 4 · Why h = 1e-5 .. 1e-6, and why float64
# Too large an h: truncation error O(h^2). Too small: rounding error O(eps / h). In float32
# (eps 1e-7) no h gives a usable check.

# %%
hs = np.logspace(-10, -1, 19)
f = lambda v: np.tanh(v) * 3.0  # noqa: E731
x0 = np.array([0.7])
exact = 3.0 * (1 - np.tanh(0.7) ** 2)
errs64 = [abs((f(x0 + h) - f(x0 - h))[0] / (2 * h) - exact) / exact for h in hs]
x32 = x0.astype(np.float32)
errs32 = [
    abs(float((f(x32 + np.float32(h)) - f(x32 - np.float32(h)))[0]) / (2 * h) - exact) / exact
    for h in hs
]
fig, ax = subplots(figsize=(6, 3.5))
ax.loglog(hs, errs64, "o-", label="float64")
ax.loglog(hs, np.maximum(errs32, 1e-17), "s-", label="float32")
ax.set(xlabel="step h (units of x)", ylabel="relative error of d/dx (3 tanh x) at x = 0.7",
       title="Centred differences: the error against h")  # fmt: skip
ax.legend()
save_figure(fig, out, "03_error_against_h.png")
print(
    f"  best float64 error {min(errs64):.1e} at h = {hs[int(np.argmin(errs64))]:.0e}; "
    f"best float32 {min(errs32):.1e}"
)

# %% [markdown]
# # 11 · The bidirectional LSTM with attention pooling: where in the utterance it listens
#
# Reads with: docs/rnn.md (Bidirectional, eq. BI; attention pooling, eqs. P-att1..3 and
# P-att-b) and docs/lstm.md. The recipe `bilstm-attention` (ser/recipes.py) is
#     Masking -> Bidirectional(LSTM(64, return_sequences=True)) -> AttentionPooling1D(64)
#     -> Dense(softmax)
# on 128 frames of MFCC + deltas + delta-deltas (39 per frame). Attention pooling replaces
# "keep the last state" by a weighted mean of every step, with weights the network learns.
# We write both parts by hand, check them against the library, train the recipe on the
# built-in corpus and look at the attention weights over time. No download.

# %%
import numpy as np

from nn.functional import lstm
from nn.functional.temporal import attention_pool_backward, attention_pool_forward
from nn.gradcheck import numerical_grad, rel_error
from nn.layers import LSTM, AttentionPooling1D, Bidirectional
from ser.corpus import load_corpus
from ser.demo import DEMO_EMOTIONS
from ser.experiment import train
from ser.lesson import check_shape, compare, fast_mode, output_dir, save_figure
from ser.plotting import colorbar, image, subplots
from ser.recipes import build
from ser.report import save_training_curves

out = output_dir(__file__)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1 · Attention pooling by hand (P-att1..3)
#     u_t = tanh(h_t W)             (N, T, A)   a small tanh layer at every step
#     s_t = u_t . v                 (N, T)      one score per step
#     alpha = softmax over t of s   (N, T)      weights >= 0 that sum to 1 over the real steps
#     y = sum_t alpha_t h_t         (N, H)      one vector per sequence, whatever T is
# Padded steps (mask 0) get s = -inf, hence alpha = 0: they cannot take any weight.

# %%
N, T, Hd, A = 2, 6, 4, 3
hs = rng.standard_normal((N, T, Hd))
W_att, v_att = 0.5 * rng.standard_normal((Hd, A)), 0.5 * rng.standard_normal(A)
mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])  # the 2nd sequence has 4 real steps
u = np.tanh(hs @ W_att)  # P-att1
s = np.where(mask > 0, u @ v_att, -np.inf)
alpha = np.exp(s - s.max(axis=1, keepdims=True))
alpha /= alpha.sum(axis=1, keepdims=True)  # P-att2, a softmax over t
y_hand = np.einsum("nt,nth->nh", alpha, hs)  # P-att3
y_lib, att_cache = attention_pool_forward(hs, W_att, v_att, mask)
check_shape("alpha", alpha, (N, T))
check_shape("y", y_lib, (N, Hd))
compare("by hand vs attention_pool_forward", y_hand, y_lib, atol=1e-14, rtol=1e-12)
print("  alpha sums over t:", alpha.sum(axis=1), " alpha at the padding:", alpha[1, 4:])

# %% [markdown]
# ## 2 · Its backward pass against finite differences (float64, h = 1e-6)
# A random upstream gradient; every input (h, with the padding's gradient exactly 0) and
# both parameters W and v.

# %%
dy = rng.standard_normal(y_lib.shape)
d_hs, d_W, d_v = attention_pool_backward(dy, att_cache)
errors = {
    "dh": rel_error(d_hs, numerical_grad(lambda q: attention_pool_forward(q, W_att, v_att, mask)[0],
                                         hs, dy)),
    "dW": rel_error(d_W, numerical_grad(lambda q: attention_pool_forward(hs, q, v_att, mask)[0],
                                        W_att, dy)),
    "dv": rel_error(d_v, numerical_grad(lambda q: attention_pool_forward(hs, W_att, q, mask)[0],
                                        v_att, dy)),
}  # fmt: skip
for name, err in errors.items():
    print(f"  {name}: relative error {err:.1e}   (< 1e-7: {err < 1e-7})")
assert max(errors.values()) < 1e-7 and np.all(d_hs[1, 4:] == 0)

# %% [markdown]
# ## 3 · Bidirectional, by hand (eq. BI)
# One LSTM reads x_1 .. x_T; a second one, with its own weights, reads x_T .. x_1. Its
# outputs are put back in time order, and the two are concatenated: step t of the result
# has seen the whole sequence, the past through the first and the future through the second.

# %%
x_small = rng.standard_normal((N, T, 5))
bi = Bidirectional(LSTM(3, return_sequences=True)).build((T, 5), rng, dtype="float64")
p = bi.params
zeros = np.zeros((N, 3))
(h_fwd, _, _), _ = lstm.lstm_forward(x_small, p["forward/kernel"], p["forward/recurrent_kernel"],
                                     p["forward/bias"], zeros, zeros)  # fmt: skip
(h_bwd, _, _), _ = lstm.lstm_forward(x_small[:, ::-1], p["backward/kernel"],
                                     p["backward/recurrent_kernel"], p["backward/bias"],
                                     zeros, zeros)  # fmt: skip
by_hand = np.concatenate([h_fwd, h_bwd[:, ::-1]], axis=-1)  # back into time order, then concat
check_shape("[h-> , h<-]", by_hand, (N, T, 6))
compare("by hand vs the Bidirectional layer", by_hand, bi.forward(x_small, training=False),
        atol=1e-12, rtol=1e-10)  # fmt: skip

# %% [markdown]
# ## 4 · The recipe, trained on the built-in corpus
# Training speakers only; validation speakers scored after every epoch; test speakers heard
# once, at the end. In fast mode (SER_FAST=1) the corpus is small and training lasts two
# epochs: the attention has had little time to form.

# %%
size = {"n_speakers": 6, "n_utterances": 6} if fast_mode() else {}
epochs = 2 if fast_mode() else 10
corpus = load_corpus("synthetic", emotions=DEMO_EMOTIONS, seed=0, **size)
run = train(corpus, labels=DEMO_EMOTIONS, model="bilstm-attention", epochs=epochs, seed=0,
            verbose=0, log=lambda *a: None)  # fmt: skip
run.model.summary()
s = run.test_scores
chance = 1 / len(DEMO_EMOTIONS)
print(f"  bilstm-attention: UAR {s.uar:.3f} on the test speakers {run.split.speakers['test']}"
      f" (chance {chance:.3f}), {run.model.count_params():,} parameters")  # fmt: skip
save_training_curves(out / "01_training_curves.png", run.history)

# %% [markdown]
# ## 5 · The attention weights over time, on test utterances
# One test utterance per emotion, as the network reads it: its centre 128 frames after CMVN.
# alpha_t is read from the AttentionPooling1D layer after a forward pass. A flat line at 1/T
# would be plain mean pooling; peaks are the frames the network weighs most. The same network
# before training (same seed) is drawn for comparison. The effective number of frames,
# exp(entropy of alpha), is T for a flat alpha and 1 for a single frame. Measured here
# without SER_FAST (10 epochs, the full built-in corpus): the untrained network spreads its
# weight almost evenly (about 122-124 effective frames of 128), the trained one puts it on a
# few short stretches (25-38 effective frames): the network chooses where to listen, and
# the pooled vector is mostly those frames. (Attention shows what the pooling weighs, not
# why: the BiLSTM states at those frames already carry context from the whole crop.)

# %%
x_test = run.test.tensor()  # (N, 128, 39), the centre crops, float32
picks = [int(np.flatnonzero(run.test.labels == k)[0]) for k in range(len(DEMO_EMOTIONS))]
untrained = build("bilstm-attention", len(DEMO_EMOTIONS), seed=0)  # as train() built it


def attention_of(model, x):
    """alpha (T,) of one input (T, C), from the model's AttentionPooling1D layer."""
    layer = next(m for m in model.layers if isinstance(m, AttentionPooling1D))
    model.forward(x[None], training=False)
    return np.asarray(layer.attention_weights[0], dtype=np.float64)


def effective_frames(a):
    a = a[a > 0]
    return float(np.exp(-(a * np.log(a)).sum()))


n_frames = x_test.shape[1]
t = np.arange(n_frames) * 0.01  # 10 ms hop
highest = 0.0
fig, axes = subplots(2, len(picks), figsize=(4.2 * len(picks) + 1, 6), sharex=True,
                     sharey="row", height_ratios=(1, 1.2))  # fmt: skip
for column, k in enumerate(picks):
    emotion = DEMO_EMOTIONS[int(run.test.labels[k])]
    trained_alpha = attention_of(run.model, x_test[k])
    fresh_alpha = attention_of(untrained, x_test[k])
    real = int(np.any(x_test[k] != 0, axis=1).sum())  # Masking: all-zero frames are padding
    print(f"  {emotion:>8s}: effective frames {effective_frames(trained_alpha):6.1f} trained, "
          f"{effective_frames(fresh_alpha):6.1f} untrained, of {real} real frames")  # fmt: skip
    feats = image(axes[0, column], x_test[k].T, scale="diverging", vmin=-3, vmax=3,
                  extent=(0, n_frames * 0.01, -0.5, x_test.shape[2] - 0.5), title=emotion,
                  xlabel="", ylabel="feature (MFCC, Δ, ΔΔ)" if column == 0 else "",
                  cbar_label=None, integer_ticks="y")  # fmt: skip
    ax = axes[1, column]
    ax.plot(t, trained_alpha, lw=1.2, label=f"trained ({epochs} epochs)")
    ax.plot(t, fresh_alpha, lw=0.8, color="grey", label="untrained")
    ax.axhline(1 / real, color="black", ls=":", lw=1, label="1/T (mean pooling)")
    ax.set(xlabel="time in the crop (s)", ylabel="attention weight α_t" if column == 0 else "")
    highest = max(highest, trained_alpha.max(), fresh_alpha.max())
axes[1, 0].set_ylim(0, 1.05 * highest)  # the row shares its y axis
axes[1, 0].legend(loc="upper left")
colorbar(feats, ax=list(axes[0]), label="value after CMVN (sd)")
fig.suptitle("Where the BiLSTM listens: attention weights over one test utterance per emotion")
save_figure(fig, out, "02_attention_over_time.png")

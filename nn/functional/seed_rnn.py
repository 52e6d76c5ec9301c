"""The source document's gated RNN (section 4.2, R1-R4), exactly as written, and BPTT.

Shape letters (docs/conventions.md): N batch, T time steps, D input features, H hidden units.
The weights keep the document's names and its concatenation order [h_{t-1}; x_t] (with a
batch in rows, [h, x] is the (N, H + D) matrix of both side by side)::

    W_i : (H + D, H)    W_f : (H, H)    W_o : (H, H)    W_h : (H + D, H)    no biases

As written, the input gate i_t and the output gate o_t are computed but never used: nothing
that reaches h_t depends on them, so W_i and W_o receive exactly zero gradient and never
learn. R4 also uses the *previous* step's forget gate f_{t-1}, so the cell carries two states,
h and f. docs/errata.md (E7, E8) explains both and gives the corrected cell.
"""

from __future__ import annotations

import numpy as np

from nn.functional.activations import sigmoid
from nn.functional.sequence import scan_backward, scan_forward

__all__ = [
    "seed_rnn_step_forward",
    "seed_rnn_step_backward",
    "seed_rnn_forward",
    "seed_rnn_backward",
    "initial_forget_gate",
]


def initial_forget_gate(N, H, dtype=np.float64):
    """f_0 = 1: the forget gate "before" the first step keeps h_0 whole.

    R4 needs f_0 at t = 1. With f_0 = 1 the first step is h_1 = tanh(W_h [h_0; x_1]), an
    ordinary RNN step, and nothing is forgotten before a gate has looked at the data. (0 would
    throw h_0 away; sigmoid(0) = 0.5 would halve it, for no reason the document gives.)
    """
    return np.ones((N, H), dtype=dtype)


def seed_rnn_step_forward(x_t, h_prev, f_prev, W_i, W_f, W_o, W_h):
    """One step of the document's gated RNN.

    Math (docs/rnn.md, eqs. R1-R4)::

        i_t = sigmoid([h_{t-1}, x_t] W_i)                  R1 input gate  (unused below)
        f_t = sigmoid(h_{t-1} W_f)                         R2 forget gate
        o_t = sigmoid(h_{t-1} W_o)                         R3 output gate (unused below)
        h_t = tanh([f_{t-1} * h_{t-1}, x_t] W_h)           R4 hidden state: f of the PREVIOUS step

    Parameters
    ----------
    x_t : (N, D)    h_prev : (N, H)    f_prev : (N, H) the forget gate of step t-1
    W_i : (H + D, H)    W_f : (H, H)    W_o : (H, H)    W_h : (H + D, H)

    Returns
    -------
    (h, f) : the new hidden state and this step's forget gate, each (N, H)
    cache : tuple (x_t, h_prev, f_prev, f, h, i, o, W_f, W_h); i and o are kept only so that
        examples can show them
    """
    hx = np.concatenate([h_prev, x_t], axis=1)
    i = sigmoid(hx @ W_i)  # eq. R1
    f = sigmoid(h_prev @ W_f)  # eq. R2
    o = sigmoid(h_prev @ W_o)  # eq. R3
    h = np.tanh(np.concatenate([f_prev * h_prev, x_t], axis=1) @ W_h)  # eq. R4
    return (h, f), (x_t, h_prev, f_prev, f, h, i, o, W_f, W_h)


def seed_rnn_step_backward(dh, df, cache):
    """Gradients of one step, given dL/dh_t and dL/df_t (f_t is used by step t+1).

    Math (docs/rnn.md, eqs. R-b1 .. R-b3), with u = [f_{t-1} h_{t-1}, x_t]::

        da = dh (1 - h_t^2)             du = da W_h^T = [d(f h) | dx_t]       dW_h = u^T da
        df_{t-1} = d(f h) h_{t-1}       dh_{t-1} = d(f h) f_{t-1} + da_f W_f^T
        da_f = df_t f_t (1 - f_t)       dW_f = h_{t-1}^T da_f
        dW_i = 0, dW_o = 0              (i_t and o_t reach nothing)

    Returns
    -------
    dx_t : (N, D)   dh_prev : (N, H)   df_prev : (N, H)
    dW_i : (H + D, H)   dW_f : (H, H)   dW_o : (H, H)   dW_h : (H + D, H)
    """
    x_t, h_prev, f_prev, f, h, _, _, W_f, W_h = cache
    H = h_prev.shape[1]
    da = dh * (1.0 - h * h)  # eq. R-b1 (through R4)
    u = np.concatenate([f_prev * h_prev, x_t], axis=1)
    du = da @ W_h.T
    d_fh, dx_t = du[:, :H], du[:, H:]
    da_f = df * f * (1.0 - f)  # eq. R-b2 (through R2)
    dh_prev = d_fh * f_prev + da_f @ W_f.T  # eq. R-b3
    zeros_ih = np.zeros((H + x_t.shape[1], H), dtype=dh.dtype)
    zeros_hh = np.zeros((H, H), dtype=dh.dtype)
    return dx_t, dh_prev, d_fh * h_prev, zeros_ih, h_prev.T @ da_f, zeros_hh, u.T @ da


def seed_rnn_forward(x, W_i, W_f, W_o, W_h, h0, mask=None):
    """The document's gated RNN over a whole sequence (R1-R4 at every step; f_0 = 1).

    Parameters
    ----------
    x : (N, T, D)    W_i, W_f, W_o, W_h : as ``seed_rnn_step_forward``    h0 : (N, H)
    mask : (N, T) of 0/1 or None; padded steps keep h and f and output 0 (eq. R-mask)

    Returns
    -------
    (hs, h_last) : (N, T, H), (N, H)
    cache : tuple (list of step caches, mask)

    See Also
    --------
    nn.kernels.seed_rnn.seed_rnn_forward : the Numba twin.
    examples/05_rnn_and_the_documents_gated_rnn.py
    """
    N, H = h0.shape

    def step(x_t, h, f):
        return seed_rnn_step_forward(x_t, h, f, W_i, W_f, W_o, W_h)

    f0 = initial_forget_gate(N, H, np.result_type(x, h0))
    hs, (h_last, _), cache = scan_forward(step, x, (h0, f0), mask)
    return (hs, h_last), cache


def seed_rnn_backward(dhs, dh_last, cache):
    """Back-propagation through time for ``seed_rnn_forward``: h and f both carry gradient
    backwards (f_t is an input of step t+1). f_0 is a constant, so it gets none.

    Returns
    -------
    dx : (N, T, D)   dW_i, dW_f, dW_o, dW_h (dW_i and dW_o exactly zero)   dh0 : (N, H)
    """
    df_last = np.zeros_like(dh_last)  # f_T reaches no output
    dx, d_weights, (dh0, _) = scan_backward(seed_rnn_step_backward, dhs, (dh_last, df_last), cache)
    return (dx, *d_weights, dh0)

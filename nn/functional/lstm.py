"""The LSTM of the source document (L1-L5) with optional biases, and BPTT.

Shape letters (docs/conventions.md): N batch, T time steps, D input features, H hidden units.
Weights in Keras layout, the four gates side by side in the order **i, f, g, o** (input,
forget, candidate, output; docs/conventions.md)::

    W : (D, 4H) "kernel"    U : (H, 4H) "recurrent_kernel"    b : (4H,) "bias" or None

The document writes every gate as W [h_{t-1}; x_t]: one matrix applied to the concatenation.
That is the same thing: [h; x] W_doc = h U + x W with W_doc = [U; W] stacked by rows.
With ``b=None`` the cell is the document's exactly; the standard cell adds the four biases.
"""

from __future__ import annotations

import numpy as np

from nn.functional.activations import sigmoid
from nn.functional.sequence import scan_backward, scan_forward

__all__ = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]


def lstm_step_forward(x_t, h_prev, c_prev, W, U, b):
    """One LSTM step.

    Math (docs/lstm.md, eqs. L1-L5; a = the four pre-activations side by side)::

        a = x_t W + h_{t-1} U + b                         (N, 4H): [a_i | a_f | a_g | a_o]
        i_t = sigmoid(a_i)                                L1 input gate
        f_t = sigmoid(a_f)                                L2 forget gate
        o_t = sigmoid(a_o)                                L3 output gate
        C_t = f_t * C_{t-1} + i_t * tanh(a_g)             L4 cell state (g_t = tanh(a_g))
        h_t = o_t * tanh(C_t)                             L5 hidden state

    Parameters
    ----------
    x_t : (N, D)    h_prev : (N, H)    c_prev : (N, H)
    W : (D, 4H)    U : (H, 4H)    b : (4H,) or None (the document: no biases)

    Returns
    -------
    (h, c) : the new hidden and cell states, each (N, H)
    cache : tuple (x_t, h_prev, c_prev, i, f, g, o, tanh_c, W, U, has_bias)
    """
    H = h_prev.shape[1]
    # BEGIN SOLUTION ex=LSTM
    a = x_t @ W + h_prev @ U
    if b is not None:
        a = a + b
    i = sigmoid(a[:, :H])  # eq. L1
    f = sigmoid(a[:, H : 2 * H])  # eq. L2
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])  # eq. L3
    c = f * c_prev + i * g  # eq. L4
    tanh_c = np.tanh(c)
    h = o * tanh_c  # eq. L5
    # END SOLUTION
    return (h, c), (x_t, h_prev, c_prev, i, f, g, o, tanh_c, W, U, b is not None)


def lstm_step_backward(dh, dc, cache):
    """Gradients of one step, given dL/dh_t and dL/dC_t (from the step after).

    Math (docs/lstm.md, eqs. L-b1 .. L-b4)::

        dC = dc + dh o (1 - tanh(C)^2)                  all paths into C_t
        do = dh tanh(C)      df = dC C_{t-1}      di = dC g      dg = dC i
        da = [di i(1-i) | df f(1-f) | dg (1-g^2) | do o(1-o)]
        dx_t = da W^T    dh_{t-1} = da U^T    dC_{t-1} = dC f
        dW = x_t^T da    dU = h_{t-1}^T da    db = sum_n da

    Returns
    -------
    dx_t : (N, D)   dh_prev : (N, H)   dc_prev : (N, H)   dW : (D, 4H)   dU : (H, 4H)
    db : (4H,) or None
    """
    x_t, h_prev, c_prev, i, f, g, o, tanh_c, W, U, has_bias = cache
    # BEGIN SOLUTION ex=LSTMb
    dC = dc + dh * o * (1.0 - tanh_c * tanh_c)  # eq. L-b1 (through L5, then L4)
    da = np.concatenate(
        [
            dC * g * i * (1.0 - i),  # eq. L-b2: through L1
            dC * c_prev * f * (1.0 - f),  # through L2
            dC * i * (1.0 - g * g),  # through the candidate of L4
            dh * tanh_c * o * (1.0 - o),  # through L3
        ],
        axis=1,
    )
    db = da.sum(axis=0) if has_bias else None
    return da @ W.T, da @ U.T, dC * f, x_t.T @ da, h_prev.T @ da, db  # eqs. L-b3, L-b4
    # END SOLUTION


def lstm_forward(x, W, U, b, h0, c0, mask=None):
    """The LSTM over a whole sequence (L1-L5 at every step).

    Parameters
    ----------
    x : (N, T, D)    W : (D, 4H)    U : (H, 4H)    b : (4H,) or None
    h0, c0 : (N, H) the initial hidden and cell states
    mask : (N, T) of 0/1 or None; padded steps keep both states and output 0 (eq. R-mask)

    Returns
    -------
    (hs, h_last, c_last) : (N, T, H), (N, H), (N, H)
    cache : tuple (list of step caches, mask)

    See Also
    --------
    nn.kernels.lstm.lstm_forward : the Numba twin.
    examples/06_lstm_step_by_step.py
    """

    def step(x_t, h, c):
        return lstm_step_forward(x_t, h, c, W, U, b)

    hs, (h_last, c_last), cache = scan_forward(step, x, (h0, c0), mask)
    return (hs, h_last, c_last), cache


def lstm_backward(dhs, dh_last, dc_last, cache, *, need_input_grad=True):
    """Back-propagation through time for ``lstm_forward`` (docs/lstm.md, eq. L-bptt).

    Parameters
    ----------
    dhs : (N, T, H) dL/d(every output)    dh_last, dc_last : (N, H) dL/d(final states)
    need_input_grad : bool, False returns None for dx: a network's first layer, whose input
        is data. (Here dx is a by-product of every step; the Numba twin then skips its
        product dA W^T.)

    Returns
    -------
    dx : (N, T, D) or None   dW : (D, 4H)   dU : (H, 4H)   db : (4H,) or None
    dh0 : (N, H)   dc0 : (N, H)
    """
    dx, (dW, dU, db), (dh0, dc0) = scan_backward(lstm_step_backward, dhs, (dh_last, dc_last), cache)
    return (dx if need_input_grad else None), dW, dU, db, dh0, dc0

"""The Elman recurrent network (R0) and back-propagation through time.

Shape letters (docs/conventions.md): N batch, T time steps, D input features, H hidden units.
Weights in Keras layout: ``W`` (D, H) "kernel", ``U`` (H, H) "recurrent_kernel", ``b`` (H,).
"""

from __future__ import annotations

import numpy as np

from nn.functional.sequence import scan_backward, scan_forward

__all__ = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"]


def rnn_step_forward(x_t, h_prev, W, U, b):
    """One step of the Elman RNN.

    Math (docs/rnn.md, eq. R0)::

        h_t = tanh(x_t W + h_{t-1} U + b)

    The source writes W_x x_t + W_h h_{t-1} with column vectors; with a batch in rows the
    products are transposed: x_t W and h_{t-1} U.

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev : ndarray, shape (N, H)
    W : (D, H)    U : (H, H)    b : (H,) or None

    Returns
    -------
    h : ndarray, shape (N, H)
    cache : tuple (x_t, h_prev, h, W, U, has_bias)
    """
    # BEGIN SOLUTION ex=RNN
    a = x_t @ W + h_prev @ U
    if b is not None:
        a = a + b
    h = np.tanh(a)  # eq. R0
    # END SOLUTION
    return h, (x_t, h_prev, h, W, U, b is not None)


def rnn_step_backward(dh, cache):
    """Gradients of one step, given dL/dh_t.

    Math (eq. R0-b), with da = dh (1 - h^2) the gradient at the pre-activation::

        dx_t = da W^T    dh_{t-1} = da U^T    dW = x_t^T da    dU = h_{t-1}^T da    db = sum_n da

    Returns
    -------
    dx_t : (N, D)    dh_prev : (N, H)    dW : (D, H)    dU : (H, H)    db : (H,) or None
    """
    x_t, h_prev, h, W, U, has_bias = cache
    # BEGIN SOLUTION ex=RNNb
    da = dh * (1.0 - h * h)  # tanh' = 1 - tanh^2
    db = da.sum(axis=0) if has_bias else None
    return da @ W.T, da @ U.T, x_t.T @ da, h_prev.T @ da, db
    # END SOLUTION


def rnn_forward(x, W, U, b, h0, mask=None):
    """The Elman RNN over a whole sequence (R0 at every step).

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    W : (D, H)    U : (H, H)    b : (H,) or None
    h0 : ndarray, shape (N, H), the initial state
    mask : (N, T) of 0/1, or None; padded steps keep the state and output 0
        (docs/rnn.md, eq. R-mask)

    Returns
    -------
    (hs, h_last) : hs (N, T, H) every step's output; h_last (N, H) the final state
    cache : tuple (list of step caches, mask), from ``scan_forward``

    See Also
    --------
    nn.kernels.rnn.rnn_forward : the Numba twin.
    """

    def step(x_t, h):
        h_new, step_cache = rnn_step_forward(x_t, h, W, U, b)
        return (h_new,), step_cache

    hs, (h_last,), cache = scan_forward(step, x, (h0,), mask)
    return (hs, h_last), cache


def rnn_backward(dhs, dh_last, cache):
    """Back-propagation through time for ``rnn_forward``.

    Math (docs/rnn.md, eq. R0-bptt): walking t = T-1 .. 0, the gradient reaching h_t is the
    output's own gradient plus what step t+1 sends back through U; each step then applies
    ``rnn_step_backward`` and the weight gradients of all steps add up.

    Parameters
    ----------
    dhs : (N, T, H) dL/d(every output), zeros when only the last state is used
    dh_last : (N, H) dL/d(final state)

    Returns
    -------
    dx : (N, T, D)    dW : (D, H)    dU : (H, H)    db : (H,) or None    dh0 : (N, H)
    """
    dx, (dW, dU, db), (dh0,) = scan_backward(rnn_step_backward, dhs, (dh_last,), cache)
    return dx, dW, dU, db, dh0

"""The gated recurrent unit, in both of its forms, and BPTT.

Shape letters (docs/conventions.md): N batch, T time steps, D input features, H hidden units.
Weights in Keras layout, gates side by side in the order **z, r, h** (update, reset,
candidate)::

    W : (D, 3H) "kernel"    U : (H, 3H) "recurrent_kernel"
    b : reset_after=True:  (2, 3H) "bias", row 0 the input bias, row 1 the recurrent bias
        reset_after=False: (3H,)
        or None (no bias)

``reset_after=True`` is the Keras default and PyTorch's form (the reset gate multiplies the
recurrent product); ``reset_after=False`` is Cho et al. (2014) (the reset gate multiplies the
state before the product). Both keep Keras's convention h_t = z h_{t-1} + (1 - z) h~.
"""

from __future__ import annotations

import numpy as np

from nn.functional.activations import sigmoid
from nn.functional.sequence import scan_backward, scan_forward

__all__ = ["gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward"]


def _split_bias(b, H, reset_after):
    """(input bias (3H,), recurrent bias (3H,) or None) from the Keras-shaped bias."""
    if b is None:
        return None, None
    if reset_after:
        if b.shape != (2, 3 * H):
            raise ValueError(f"with reset_after=True the GRU bias is (2, 3H) = (2, {3 * H})")
        return b[0], b[1]
    if b.shape != (3 * H,):
        raise ValueError(f"with reset_after=False the GRU bias is (3H,) = ({3 * H},)")
    return b, None


def gru_step_forward(x_t, h_prev, W, U, b, reset_after=True):
    """One GRU step.

    Math (docs/rnn.md, eqs. G1-G4; subscripts pick a third of the columns)::

        z = sigmoid(x W_z + h_{t-1} U_z + b_z)                        G1 update gate
        r = sigmoid(x W_r + h_{t-1} U_r + b_r)                        G2 reset gate
        reset_after=True:   h~ = tanh(x W_h + b_h + r * (h_{t-1} U_h + b'_h))      G3a
        reset_after=False:  h~ = tanh(x W_h + (r * h_{t-1}) U_h + b_h)             G3b
        h_t = z * h_{t-1} + (1 - z) * h~                              G4

    With reset_after=True each gate has two biases (input b, recurrent b'), as in Keras and
    PyTorch; for z and r they only add up, for h~ the recurrent one sits inside r * (...).

    Parameters
    ----------
    x_t : (N, D)    h_prev : (N, H)    W : (D, 3H)    U : (H, 3H)
    b : (2, 3H) if reset_after else (3H,), or None
    reset_after : bool

    Returns
    -------
    h : (N, H)
    cache : tuple (x_t, h_prev, z, r, hh, rec_h, W, U, has_bias, reset_after); rec_h is
        h_{t-1} U_h + b'_h (reset_after) or r * h_{t-1} (not reset_after)
    """
    H = h_prev.shape[1]
    b_in, b_rec = _split_bias(b, H, reset_after)
    # BEGIN SOLUTION ex=GRU
    xw = x_t @ W if b_in is None else x_t @ W + b_in
    if reset_after:
        rec = h_prev @ U if b_rec is None else h_prev @ U + b_rec
        hu = rec[:, : 2 * H]
    else:
        hu = h_prev @ U[:, : 2 * H]
    z = sigmoid(xw[:, :H] + hu[:, :H])  # eq. G1
    r = sigmoid(xw[:, H : 2 * H] + hu[:, H:])  # eq. G2
    if reset_after:
        rec_h = rec[:, 2 * H :]
        hh = np.tanh(xw[:, 2 * H :] + r * rec_h)  # eq. G3a
    else:
        rec_h = r * h_prev
        hh = np.tanh(xw[:, 2 * H :] + rec_h @ U[:, 2 * H :])  # eq. G3b
    h = z * h_prev + (1.0 - z) * hh  # eq. G4
    # END SOLUTION
    return h, (x_t, h_prev, z, r, hh, rec_h, W, U, b is not None, reset_after)


def gru_step_backward(dh, cache):
    """Gradients of one step, given dL/dh_t.

    Math (docs/rnn.md, eqs. G-b1 .. G-b4)::

        dz = dh (h_{t-1} - h~)      dh~ = dh (1 - z)      da_h = dh~ (1 - h~^2)
        reset_after=True:   dr = da_h rec_h      drec_h = da_h r
        reset_after=False:  d(r h) = da_h U_h^T      dr = d(r h) h_{t-1}
        da_z = dz z (1 - z)      da_r = dr r (1 - r)
        dx_t = [da_z | da_r | da_h] W^T,  dW = x_t^T [da_z | da_r | da_h]
        dh_{t-1} = dh z + (the paths through U, and through r h_{t-1} for reset_after=False)

    Returns
    -------
    dx_t : (N, D)   dh_prev : (N, H)   dW : (D, 3H)   dU : (H, 3H)   db : bias-shaped or None
    """
    x_t, h_prev, z, r, hh, rec_h, W, U, has_bias, reset_after = cache
    H = h_prev.shape[1]
    # BEGIN SOLUTION ex=GRUb
    dz = dh * (h_prev - hh)  # eq. G-b1 (through G4)
    da_h = dh * (1.0 - z) * (1.0 - hh * hh)
    if reset_after:
        dr = da_h * rec_h  # eq. G-b2 (through G3a)
        drec_h = da_h * r
    else:
        d_rh = da_h @ U[:, 2 * H :].T  # eq. G-b2 (through G3b)
        dr = d_rh * h_prev
    da_z = dz * z * (1.0 - z)
    da_r = dr * r * (1.0 - r)
    dxw = np.concatenate([da_z, da_r, da_h], axis=1)  # dL/d(x W + b_in)
    if reset_after:
        drec = np.concatenate([da_z, da_r, drec_h], axis=1)  # dL/d(h U + b_rec)
        dh_prev = dh * z + drec @ U.T  # eq. G-b3
        dU = h_prev.T @ drec
    else:
        da_zr = np.concatenate([da_z, da_r], axis=1)
        dh_prev = dh * z + da_zr @ U[:, : 2 * H].T + d_rh * r  # eq. G-b3
        dU = np.concatenate([h_prev.T @ da_zr, rec_h.T @ da_h], axis=1)
    db = None
    if has_bias:
        db = np.stack([dxw.sum(axis=0), drec.sum(axis=0)]) if reset_after else dxw.sum(axis=0)
    return dxw @ W.T, dh_prev, x_t.T @ dxw, dU, db  # eq. G-b4
    # END SOLUTION


def gru_forward(x, W, U, b, h0, mask=None, reset_after=True):
    """The GRU over a whole sequence (G1-G4 at every step).

    Parameters
    ----------
    x : (N, T, D)    W : (D, 3H)    U : (H, 3H)    b : as ``gru_step_forward``
    h0 : (N, H)    mask : (N, T) of 0/1 or None (eq. R-mask)    reset_after : bool

    Returns
    -------
    (hs, h_last) : (N, T, H), (N, H)
    cache : tuple (list of step caches, mask)

    See Also
    --------
    nn.kernels.gru.gru_forward : the Numba twin.
    """

    def step(x_t, h):
        h_new, step_cache = gru_step_forward(x_t, h, W, U, b, reset_after)
        return (h_new,), step_cache

    hs, (h_last,), cache = scan_forward(step, x, (h0,), mask)
    return (hs, h_last), cache


def gru_backward(dhs, dh_last, cache):
    """Back-propagation through time for ``gru_forward``.

    Returns
    -------
    dx : (N, T, D)   dW : (D, 3H)   dU : (H, 3H)   db : bias-shaped or None   dh0 : (N, H)
    """
    dx, (dW, dU, db), (dh0,) = scan_backward(gru_step_backward, dhs, (dh_last,), cache)
    return dx, dW, dU, db, dh0

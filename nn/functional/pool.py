"""Max and average pooling 2-D, channels last (C2, C3, P-gap2d): the readable reference.

Shape letters (docs/conventions.md): N batch, H/W height/width, C channels, PH x PW pool,
SH x SW strides. The fast twins live in ``nn/kernels/pool.py``.

Ties in max pooling: the gradient goes to the *first* maximum in row-major order within the
window (as ``numpy.argmax``); tests/nn/test_pool.py pins this convention.
Average pooling with ``same`` padding divides by the number of real (unpadded) inputs in the
window, as Keras does.
"""

from __future__ import annotations

import numpy as np

from nn.functional.conv import pad_amounts

__all__ = [
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "global_average_pool2d_forward",
    "global_average_pool2d_backward",
]


def _windows(x, pool, strides, padding, fill):
    N, H, W, C = x.shape
    PH, PW = pool
    SH, SW = strides
    pads = pad_amounts((H, W), pool, strides, padding)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    H_out = (xp.shape[1] - PH) // SH + 1
    W_out = (xp.shape[2] - PW) // SW + 1
    if H_out < 1 or W_out < 1:
        raise ValueError(f"pooling: a {PH}x{PW} window does not fit a {H}x{W} input")
    return xp, pads, H_out, W_out


def maxpool2d_forward(x, *, pool_size=(2, 2), strides=None, padding="valid"):
    """Maximum over each pooling window (the document's C2).

    Math (docs/cnn.md, eq. C2)::

        out[n, i, j, c] = max_{p < PH, q < PW} xp[n, i SH + p, j SW + q, c]

    (``same`` pads with -inf, so padding never wins.) strides default to pool_size.

    Returns
    -------
    out : ndarray, shape (N, H_out, W_out, C)
    cache : tuple (x shape, argmax index within each window (N, H_out, W_out, C), ...)
    """
    strides = tuple(strides or pool_size)
    xp, pads, H_out, W_out = _windows(x, pool_size, strides, padding, -np.inf)
    PH, PW = pool_size
    SH, SW = strides
    # BEGIN SOLUTION ex=C2
    # gather the PH*PW candidates of every window: (N, H_out, W_out, C, PH*PW)
    stack = np.stack(
        [
            xp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :]
            for p in range(PH)
            for q in range(PW)
        ],
        axis=-1,
    )
    arg = stack.argmax(axis=-1)  # the first maximum in row-major order: the tie rule
    out = np.take_along_axis(stack, arg[..., None], axis=-1)[..., 0]  # eq. C2
    # END SOLUTION
    return out, (x.shape, arg, tuple(pool_size), strides, pads)


def maxpool2d_backward(dout, cache):
    """Route each output gradient to the input that was the window's maximum.

    Math (eq. C2-b)::  dx[n, i SH + p*, j SW + q*, c] += dout[n, i, j, c],  (p*, q*) = argmax

    Returns dx, shape (N, H, W, C).
    """
    x_shape, arg, (PH, PW), (SH, SW), pads = cache
    N, H, W, C = x_shape
    _, H_out, W_out, _ = dout.shape
    # BEGIN SOLUTION ex=C2b
    dxp = np.zeros((N, H + sum(pads[0]), W + sum(pads[1]), C), dtype=dout.dtype)
    for k in range(PH * PW):
        p, q = divmod(k, PW)
        dxp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :] += np.where(arg == k, dout, 0)
    return dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + W, :]
    # END SOLUTION


def avgpool2d_forward(x, *, pool_size=(2, 2), strides=None, padding="valid"):
    """Mean over each pooling window (the document's C3).

    Math (docs/cnn.md, eq. C3)::

        out[n, i, j, c] = (1 / K_ij) sum_{p, q} xp[n, i SH + p, j SW + q, c]

    K_ij = PH PW for ``valid``; for ``same`` it counts only the real inputs in the window.

    Returns
    -------
    out : ndarray, shape (N, H_out, W_out, C)
    cache : tuple (x shape, counts (H_out, W_out), pool, strides, pads)
    """
    strides = tuple(strides or pool_size)
    xp, pads, H_out, W_out = _windows(x, pool_size, strides, padding, 0.0)
    PH, PW = pool_size
    SH, SW = strides
    # BEGIN SOLUTION ex=C3
    ones = np.pad(np.ones(x.shape[1:3]), (pads[0], pads[1]))
    total = np.zeros((x.shape[0], H_out, W_out, x.shape[3]), dtype=x.dtype)
    counts = np.zeros((H_out, W_out))
    for p in range(PH):
        for q in range(PW):
            total += xp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :]
            counts += ones[p : p + SH * H_out : SH, q : q + SW * W_out : SW]
    out = total / counts[None, :, :, None].astype(x.dtype)  # eq. C3
    # END SOLUTION
    return out, (x.shape, counts, tuple(pool_size), strides, pads)


def avgpool2d_backward(dout, cache):
    """Spread each output gradient equally over its window: dx += dout / K_ij (eq. C3-b)."""
    x_shape, counts, (PH, PW), (SH, SW), pads = cache
    N, H, W, C = x_shape
    _, H_out, W_out, _ = dout.shape
    # BEGIN SOLUTION ex=C3b
    share = dout / counts[None, :, :, None].astype(dout.dtype)
    dxp = np.zeros((N, H + sum(pads[0]), W + sum(pads[1]), C), dtype=dout.dtype)
    for p in range(PH):
        for q in range(PW):
            dxp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :] += share
    return dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + W, :]
    # END SOLUTION


def global_average_pool2d_forward(x):
    """The mean of each channel over the whole image (Keras ``GlobalAveragePooling2D``).

    Math (docs/cnn.md, eq. P-gap2d)::

        y[n, c] = (1 / (H W)) sum_{i, j} x[n, i, j, c]

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)

    Returns
    -------
    y : ndarray, shape (N, C)
    cache : the input shape (N, H, W, C)
    """
    return x.mean(axis=(1, 2)), x.shape  # eq. P-gap2d


def global_average_pool2d_backward(dout, x_shape):
    """Every input of a channel gets the same share: dx[n, i, j, c] = dout[n, c] / (H W)
    (eq. P-gap2d-b). Returns dx, shape (N, H, W, C), a new array (not a broadcast view)."""
    _, H, W, _ = x_shape
    dx = np.empty(x_shape, dtype=dout.dtype)
    dx[...] = (dout / (H * W))[:, None, None, :]  # eq. P-gap2d-b
    return dx

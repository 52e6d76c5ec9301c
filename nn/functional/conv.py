"""2-D convolution (cross-correlation), channels last: the readable reference (C1).

Shape letters (docs/conventions.md): N batch, H/W height/width (time frames / coefficients
for MFCC input), C input channels, F filters, KH x KW kernel, SH x SW strides.

The fast twin with the same signature lives in ``nn/kernels/conv.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "conv_output_size",
    "same_padding",
    "pad_amounts",
    "output_geometry",
    "pad_input",
    "conv2d_forward",
    "conv2d_backward",
]


def conv_output_size(size: int, k: int, stride: int, padding: str) -> int:
    """Output length along one axis (eq. C-2).

    ``valid``: floor((size - k) / stride) + 1.   ``same``: ceil(size / stride) (TF / Keras).
    """
    if padding == "valid":
        return (size - k) // stride + 1
    if padding == "same":
        return -(-size // stride)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros so that ``same`` gives ceil(size / stride) outputs.

    As TensorFlow / Keras: total = max((out - 1) * stride + k - size, 0), and the odd zero,
    if any, goes after (bottom / right).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def pad_amounts(shape_hw, kernel, strides, padding):
    """((top, bottom), (left, right)) zero padding for ``padding`` on an (H, W) input."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return (
            same_padding(shape_hw[0], kernel[0], strides[0]),
            same_padding(shape_hw[1], kernel[1], strides[1]),
        )
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def output_geometry(x_shape, W_shape, strides, padding):
    """Check that an (N, H, W, C) input and a (KH, KW, C, F) kernel fit; size the output.

    Returns (pads, H_out, W_out) with pads = ((top, bottom), (left, right)).
    """
    H, Wd, C = x_shape[1:]
    KH, KW, C_w, _ = W_shape
    if C != C_w:
        raise ValueError(f"conv2d: input has {C} channels, kernel expects {C_w}")
    pads = pad_amounts((H, Wd), (KH, KW), strides, padding)
    H_out = (H + sum(pads[0]) - KH) // strides[0] + 1
    W_out = (Wd + sum(pads[1]) - KW) // strides[1] + 1
    if H_out < 1 or W_out < 1:
        raise ValueError(f"conv2d: a {KH}x{KW} kernel does not fit a {H}x{Wd} input")
    return pads, H_out, W_out


def pad_input(x, W, strides, padding):
    """Check that x (N, H, W, C) and the kernel (KH, KW, C, F) fit, and zero-pad x.

    Returns (xp, pads, H_out, W_out); shared by the reference and its Numba twin.
    """
    pads, H_out, W_out = output_geometry(x.shape, W.shape, strides, padding)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    return xp, pads, H_out, W_out


def conv2d_forward(x, W, b, *, strides=(1, 1), padding="valid"):
    """Cross-correlate a batch of images with F filters (the document's C1, corrected).

    Math (docs/cnn.md, eq. C1; xp is x zero-padded for ``same``)::

        out[n, i, j, f] = b[f] + sum_{p, q, c} xp[n, i SH + p, j SW + q, c] W[p, q, c, f]

    Each output channel f has its own kernel W[:, :, :, f] and bias b[f]; the sum runs over
    the kernel offsets (p, q) and the *input channels* c. The kernel is not flipped
    (cross-correlation, as Keras and PyTorch; docs/errata.md E3, E4).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    W : ndarray, shape (KH, KW, C, F)      (Keras "kernel")
    b : ndarray, shape (F,), or None
    strides : (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, H_out, W_out, F)
    cache : tuple (x, W, has_bias, strides, pads)
    """
    N = x.shape[0]
    KH, KW, _, F = W.shape
    SH, SW = strides
    xp, pads, H_out, W_out = pad_input(x, W, strides, padding)
    out = np.zeros((N, H_out, W_out, F), dtype=np.result_type(x, W))
    for p in range(KH):  # one term of the sum per kernel offset: a (N,Ho,Wo,C) @ (C,F) product
        for q in range(KW):
            window = xp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :]
            out += window @ W[p, q]  # eq. C1, the sum over c is the matrix product
    if b is not None:
        out += b
    return out, (x, W, b is not None, (SH, SW), pads)


def conv2d_backward(dout, cache, *, need_dx=True):
    """Gradients through ``conv2d_forward``.

    Math (docs/cnn.md, eqs. C1-b .. C1-d)::

        dW[p, q, c, f] = sum_{n, i, j} xp[n, i SH + p, j SW + q, c] dout[n, i, j, f]
        dxp[n, i SH + p, j SW + q, c] += sum_f dout[n, i, j, f] W[p, q, c, f]
        db[f] = sum_{n, i, j} dout[n, i, j, f]

    and dx is dxp without its padding.

    Returns
    -------
    dx : (N, H, W, C), or None when ``need_dx`` is False (the first layer of a network: its
        input needs no gradient)
    dW : (KH, KW, C, F)    db : (F,) or None
    """
    x, W, has_bias, (SH, SW), pads = cache
    KH, KW = W.shape[:2]
    _, H_out, W_out, _ = dout.shape
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    for p in range(KH):
        for q in range(KW):
            rows = slice(p, p + SH * H_out, SH)
            cols = slice(q, q + SW * W_out, SW)
            window = xp[:, rows, cols, :]
            dW[p, q] = np.tensordot(window, dout, axes=([0, 1, 2], [0, 1, 2]))  # eq. C1-b
            if need_dx:
                dxp[:, rows, cols, :] += dout @ W[p, q].T  # eq. C1-c
    H, Wd = x.shape[1:3]
    dx = dxp[:, pads[0][0] : pads[0][0] + H, pads[1][0] : pads[1][0] + Wd, :] if need_dx else None
    db = dout.sum(axis=(0, 1, 2)) if has_bias else None  # eq. C1-d
    return dx, dW, db

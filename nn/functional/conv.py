"""1-D and 2-D convolution (cross-correlation), channels last: the readable reference (C1).

Shape letters (docs/conventions.md): N batch, H/W height/width (time frames / coefficients
for MFCC input), C input channels, F filters, KH x KW kernel, SH x SW strides; for 1-D, T time
steps, K kernel taps, S stride, D dilation.

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
    "conv1d_geometry",
    "conv1d_forward",
    "conv1d_backward",
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
    # BEGIN SOLUTION ex=C1
    out = np.zeros((N, H_out, W_out, F), dtype=np.result_type(x, W))
    for p in range(KH):  # one term of the sum per kernel offset: a (N,Ho,Wo,C) @ (C,F) product
        for q in range(KW):
            window = xp[:, p : p + SH * H_out : SH, q : q + SW * W_out : SW, :]
            out += window @ W[p, q]  # eq. C1, the sum over c is the matrix product
    if b is not None:
        out += b
    # END SOLUTION
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
    # BEGIN SOLUTION ex=C1b
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
    # END SOLUTION
    return dx, dW, db


def conv1d_geometry(x_shape, W_shape, stride, padding, dilation):
    """Check that an (N, T, C) input and a (K, C, F) kernel fit; size the output.

    The kernel's K taps, D steps apart, span (K - 1) D + 1 steps (eq. C1-1d-size); padding
    and output length follow from that span as for a dense kernel of that size (TF / Keras,
    the odd zero after). Returns (pads, T_out) with pads = (before, after).
    """
    if int(stride) != stride or stride < 1 or int(dilation) != dilation or dilation < 1:
        raise ValueError(
            f"conv1d: stride and dilation must be positive ints, got {stride!r}, {dilation!r}"
        )
    T, C = x_shape[1:]
    K, C_w, _ = W_shape
    if C != C_w:
        raise ValueError(f"conv1d: input has {C} channels, kernel expects {C_w}")
    span = (K - 1) * dilation + 1  # eq. C1-1d-size
    if padding == "valid":
        pads = (0, 0)
    elif padding == "same":
        pads = same_padding(T, span, stride)
    else:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    T_out = (T + sum(pads) - span) // stride + 1
    if T_out < 1:
        raise ValueError(
            f"conv1d: a kernel of {K} taps at dilation {dilation} spans {span} steps and "
            f"does not fit {T} steps"
        )
    return pads, T_out


def conv1d_forward(x, W, b, *, stride=1, padding="valid", dilation=1):
    """Cross-correlate a batch of sequences with F filters (Keras ``Conv1D``).

    Math (docs/cnn.md, eq. C1-1d; xpad is x zero-padded in time for ``same``)::

        out[n, t, f] = b[f] + sum_{p, c} xpad[n, t S + p D, c] W[p, c, f]

    The sum runs over the K taps p and the input channels c; tap p reads the step p D after
    the window's start (D = 1: neighbouring steps). Not flipped (cross-correlation, as Keras
    and PyTorch). Output length: floor((T - span) / S) + 1 for ``valid``, ceil(T / S) for
    ``same``, with span = (K - 1) D + 1 (eq. C1-1d-size).

    Parameters
    ----------
    x : ndarray, shape (N, T, C)
    W : ndarray, shape (K, C, F)           (Keras "kernel")
    b : ndarray, shape (F,), or None
    stride : int, S        dilation : int, D       padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, T_out, F)
    cache : tuple (x, W, has_bias, stride, dilation, pads)

    Notes
    -----
    Keras refuses stride > 1 together with dilation > 1 (and so does the ``Conv1D`` layer);
    this function, like PyTorch's ``conv1d``, computes the formula for any pair.

    See Also
    --------
    nn.kernels.conv.conv1d_forward : the fast twin (shifted BLAS products, or im2col).
    """
    N = x.shape[0]
    K, _, F = W.shape
    S, D = int(stride), int(dilation)
    pads, T_out = conv1d_geometry(x.shape, W.shape, S, padding, D)
    xp = np.pad(x, ((0, 0), pads, (0, 0)))
    out = np.zeros((N, T_out, F), dtype=np.result_type(x, W))
    for p in range(K):  # one term of the sum per tap: a (N, T_out, C) @ (C, F) product
        window = xp[:, p * D : p * D + S * T_out : S, :]  # window[n, t] = xpad[n, t S + p D]
        out += window @ W[p]  # eq. C1-1d, the sum over c is the matrix product
    if b is not None:
        out += b
    return out, (x, W, b is not None, S, D, pads)


def conv1d_backward(dout, cache, *, need_dx=True):
    """Gradients through ``conv1d_forward``.

    Math (docs/cnn.md, eqs. C1-1d-b .. C1-1d-d)::

        dW[p, c, f] = sum_{n, t} xpad[n, t S + p D, c] dout[n, t, f]
        dxpad[n, t S + p D, c] += sum_f dout[n, t, f] W[p, c, f]
        db[f] = sum_{n, t} dout[n, t, f]

    and dx is dxpad without its padding.

    Returns
    -------
    dx : (N, T, C), or None when ``need_dx`` is False
    dW : (K, C, F)    db : (F,) or None
    """
    x, W, has_bias, S, D, pads = cache
    K = W.shape[0]
    T_out = dout.shape[1]
    xp = np.pad(x, ((0, 0), pads, (0, 0)))
    dxp = np.zeros_like(xp) if need_dx else None
    dW = np.zeros_like(W)
    for p in range(K):
        rows = slice(p * D, p * D + S * T_out, S)
        dW[p] = np.tensordot(xp[:, rows, :], dout, axes=([0, 1], [0, 1]))  # eq. C1-1d-b
        if need_dx:
            dxp[:, rows, :] += dout @ W[p].T  # eq. C1-1d-c
    T = x.shape[1]
    dx = dxp[:, pads[0] : pads[0] + T, :] if need_dx else None
    db = dout.sum(axis=(0, 1)) if has_bias else None  # eq. C1-1d-d
    return dx, dW, db

"""Time masks for variable-length batches, shared by every recurrent cell.

Shape letters (docs/conventions.md): N batch, T time steps, H hidden units.

A batch of sequences of different lengths is padded to a common T; ``mask[n, t]`` is 1 where
step t of sequence n is real and 0 where it is padding. At a padded step the state is carried
over unchanged and the cell's output is 0, so padding neither changes the state nor receives
gradient (eq. R-mask, docs/rnn.md)::

    h_t = m_t h~_t + (1 - m_t) h_{t-1}        output_t = m_t h_t

where h~_t is what the cell would compute. m_t is exactly 0 or 1, so for a real step this is
h~_t exactly, and the unmasked and masked code give identical numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "time_mask",
    "carry",
    "carry_backward",
    "lengths_to_mask",
    "scan_forward",
    "scan_backward",
]


def time_mask(mask, N: int, T: int, dtype) -> np.ndarray | None:
    """Check a mask and return it as a float array of shape (N, T), or None for no mask."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != (N, T):
        raise ValueError(f"the time mask must have shape (N, T) = {(N, T)}, got {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("the time mask must hold only 0 (padding) and 1 (a real step)")
    return mask.astype(dtype)


def lengths_to_mask(lengths, T: int) -> np.ndarray:
    """(N,) sequence lengths -> (N, T) boolean mask, True for the first ``lengths[n]`` steps."""
    lengths = np.asarray(lengths)
    return np.arange(T)[None, :] < lengths[:, None]


def carry(m_t, new, old):
    """The state after step t: ``new`` where the step is real, ``old`` where it is padding.

    m_t : (N,) of 0/1 or None (every step real); new, old : (N, H).
    """
    if m_t is None:
        return new
    m = m_t[:, None]
    return m * new + (1.0 - m) * old  # eq. R-mask


def carry_backward(m_t, d):
    """Split dL/d(state after step t) into (d new, d old), the two branches of ``carry``."""
    if m_t is None:
        return d, 0.0
    m = m_t[:, None]
    return m * d, (1.0 - m) * d


def scan_forward(step, x, states, mask=None):
    """Run one cell over a whole sequence: the loop every recurrent reference shares.

    Parameters
    ----------
    step : callable ``step(x_t, *states) -> (new_states, step_cache)``, one step of a cell;
        ``new_states`` is a tuple like ``states`` whose first element is the output h_t
    x : (N, T, D)
    states : tuple of (N, H) arrays, the initial states (h0, and c0 or f0)
    mask : (N, T) of 0/1 or None (eq. R-mask)

    Returns
    -------
    hs : (N, T, H) every step's output (0 at padded steps)
    states : tuple, the final states
    cache : (list of step caches, mask as floats or None): what ``scan_backward`` walks
    """
    N, T, _ = x.shape
    m = time_mask(mask, N, T, x.dtype)
    hs = np.zeros((N, T, states[0].shape[1]), dtype=np.result_type(x, states[0]))
    steps = []
    for t in range(T):
        new_states, step_cache = step(x[:, t], *states)
        m_t = None if m is None else m[:, t]
        states = tuple(carry(m_t, new, old) for new, old in zip(new_states, states, strict=True))
        hs[:, t] = states[0] if m_t is None else m_t[:, None] * states[0]  # eq. R-mask
        steps.append(step_cache)
    return hs, states, (steps, m)


def scan_backward(step_backward, dhs, dstates, cache):
    """Back-propagation through time over the step caches of ``scan_forward``.

    Walking t = T-1 .. 0: the gradient reaching h_t is the output's own (dhs[:, t], masked)
    plus what step t+1 sent back; the mask splits each state's gradient into the cell's
    branch and the carried branch (``carry_backward``); the step's weight gradients add up.

    Parameters
    ----------
    step_backward : callable ``step_backward(*d_new_states, step_cache) ->
        (dx_t, *d_previous_states, *d_weights)``; a weight gradient may be None (no bias)
    dhs : (N, T, H) dL/d(every output)
    dstates : tuple of (N, H), dL/d(final states), in the order of ``states``
    cache : from ``scan_forward``

    Returns
    -------
    dx : (N, T, D)    d_weights : list, summed over steps    d_initial_states : tuple
    """
    steps, m = cache
    N, T, n = dhs.shape[0], len(steps), len(dstates)
    dx, d_weights, dstates = None, None, list(dstates)
    for t in range(T - 1, -1, -1):
        m_t = None if m is None else m[:, t]
        dstates[0] = dstates[0] + (dhs[:, t] if m_t is None else m_t[:, None] * dhs[:, t])
        split = [carry_backward(m_t, d) for d in dstates]
        dx_t, *rest = step_backward(*(d_new for d_new, _ in split), steps[t])
        if dx is None:
            dx = np.zeros((N, T, dx_t.shape[1]), dtype=dx_t.dtype)
            d_weights = [None if g is None else g.copy() for g in rest[n:]]
        else:
            for total, g in zip(d_weights, rest[n:], strict=True):
                if total is not None:
                    total += g
        dx[:, t] = dx_t
        dstates = [d_prev + d_old for d_prev, (_, d_old) in zip(rest[:n], split, strict=True)]
    return dx, d_weights, tuple(dstates)

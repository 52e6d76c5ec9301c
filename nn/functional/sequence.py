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

__all__ = ["time_mask", "carry", "carry_backward", "lengths_to_mask"]


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

"""Log compression of filterbank energies (M6), with the floor that keeps silence finite.

Shape letters (docs/conventions.md): T frames, J mel bands.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_compress", "LOG_KINDS"]

LOG_KINDS = ("ln", "db")


def log_compress(
    energies: np.ndarray, *, kind: str = "ln", floor: float = 1e-10, top_db: float | None = None
) -> np.ndarray:
    """Logarithm of non-negative energies, floored so that silence gives finite numbers.

    Math (docs/features.md, eq. M6)::

        kind="ln":   L = ln(max(E, floor))
        kind="db":   L = 10 log10(max(E, floor))                      (librosa power_to_db, ref=1)
        top_db:      L <- max(L, max_over_all(L) - top_db)            (dB only; librosa: 80)

    Parameters
    ----------
    energies : ndarray, shape (T, J) or any shape
        Non-negative energies (power or magnitude).
    kind : {"ln", "db"}
    floor : float
        The smallest energy the log sees (> 0). 1e-10 is both the course default and librosa's
        ``amin``; python_speech_features uses machine epsilon 2.2e-16.
    top_db : float, optional
        dB only: clip everything more than ``top_db`` below the loudest value of the whole
        array, so one utterance's features depend on its own peak (librosa's default is 80).

    Returns
    -------
    ndarray, same shape, float64, always finite for finite input.

    Notes
    -----
    The floor is taken with ``max`` (any energy below it is raised to it). python_speech_features
    replaces only exact zeros by eps; the two differ only for 0 < E < floor.
    """
    if kind not in LOG_KINDS:
        raise ValueError(f"unknown log kind {kind!r}; choose one of {LOG_KINDS}")
    if not floor > 0:
        raise ValueError(f"the log floor must be > 0, got {floor}")
    # BEGIN SOLUTION ex=M6
    floored = np.maximum(np.asarray(energies, dtype=np.float64), floor)
    if kind == "ln":
        if top_db is not None:
            raise ValueError("top_db applies to kind='db' only")
        return np.log(floored)  # eq. M6
    out = 10.0 * np.log10(floored)  # eq. M6 (dB)
    if top_db is not None:
        if top_db < 0:
            raise ValueError(f"top_db must be >= 0, got {top_db}")
        out = np.maximum(out, out.max() - top_db)
    return out
    # END SOLUTION

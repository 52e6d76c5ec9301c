"""DCT-II as an explicit matrix (M7) and the cepstral lifter (M8).

Shape letters (docs/conventions.md): T frames, J mel bands, C cepstral coefficients (C <= J).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["dct_matrix", "dct", "lifter_weights", "lifter"]


@lru_cache(maxsize=32)
def _dct_matrix_cached(n_in: int, n_out: int, norm: str | None) -> np.ndarray:
    # BEGIN SOLUTION ex=M7
    n = np.arange(n_out)[:, None]  # output index (quefrency), rows
    j = np.arange(n_in)[None, :]  # input index (mel band), columns
    basis = np.cos(np.pi * n * (j + 0.5) / n_in)  # eq. M7
    if norm == "ortho":
        scale = np.full((n_out, 1), np.sqrt(2.0 / n_in))
        scale[0] = np.sqrt(1.0 / n_in)
        basis = basis * scale
    else:
        basis = 2.0 * basis  # scipy.fft.dct(norm=None) convention
    # END SOLUTION
    basis.setflags(write=False)
    return basis


def dct_matrix(n_in: int, *, n_out: int | None = None, norm: str | None = "ortho") -> np.ndarray:
    """The DCT-II basis as an (n_out, n_in) matrix D, so that c = D x.

    Math (docs/features.md, eq. M7), n = 0 .. n_out-1, j = 0 .. J-1 with J = n_in::

        norm="ortho":  D[n, j] = s_n cos(pi n (j + 1/2) / J),  s_0 = sqrt(1/J), s_n = sqrt(2/J)
        norm=None:     D[n, j] = 2 cos(pi n (j + 1/2) / J)     (scipy.fft.dct's unnormalised form)

    With ``norm="ortho"`` and n_out = J the matrix is orthogonal: D D^T = I.

    Returns
    -------
    ndarray, shape (n_out, n_in), float64, read-only (cached)
    """
    n_out = n_in if n_out is None else n_out
    if norm not in ("ortho", None):
        raise ValueError(f"unknown DCT norm {norm!r}; choose 'ortho' or None")
    if not 1 <= n_out <= n_in:
        raise ValueError(f"need 1 <= n_out <= n_in = {n_in}, got n_out={n_out}")
    return _dct_matrix_cached(int(n_in), int(n_out), norm)


def dct(x: np.ndarray, *, n_out: int | None = None, norm: str | None = "ortho") -> np.ndarray:
    """DCT-II of the last axis, keeping the first ``n_out`` coefficients (eq. M7).

    Parameters
    ----------
    x : ndarray, shape (T, J)
        Log mel energies, one frame per row.
    n_out : int, optional
        C, how many coefficients to keep (default J).
    norm : {"ortho", None}

    Returns
    -------
    ndarray, shape (T, C), float64; equals ``scipy.fft.dct(x, type=2, norm=norm)[..., :C]``.
    """
    x = np.asarray(x, dtype=np.float64)
    return x @ dct_matrix(x.shape[-1], n_out=n_out, norm=norm).T  # eq. M7, rows are frames


def lifter_weights(n_coeffs: int, *, lifter: float, first_index: int = 0) -> np.ndarray:
    """Sinusoidal lifter weights w[i] for coefficient column i = 0 .. C-1.

    Math (docs/features.md, eq. M8), with n = i + first_index::

        w[i] = 1 + (L / 2) sin(pi n / L)

    ``first_index=0`` is HTK eq. 5.12 as python_speech_features applies it (column 0 is c0,
    weight 1); ``first_index=1`` is librosa's offset (column 0 gets sin(pi / L)).
    ``lifter=0`` gives all ones.

    Returns
    -------
    ndarray, shape (C,), float64
    """
    if lifter < 0:
        raise ValueError(f"lifter must be >= 0, got {lifter}")
    if lifter == 0:
        return np.ones(n_coeffs)
    # BEGIN SOLUTION ex=M8
    n = np.arange(n_coeffs) + first_index
    return 1.0 + (lifter / 2.0) * np.sin(np.pi * n / lifter)  # eq. M8
    # END SOLUTION


def lifter(cepstra: np.ndarray, *, lifter: float, first_index: int = 0) -> np.ndarray:
    """Apply the sinusoidal lifter (eq. M8) to cepstra shaped (T, C); returns (T, C) float64.

    References
    ----------
    The HTK Book (3.4), eq. 5.12; B.-H. Juang et al., "On the use of bandpass liftering in
    speech recognition", IEEE Trans. ASSP 35(7), 1987.
    """
    cepstra = np.asarray(cepstra, dtype=np.float64)
    return cepstra * lifter_weights(cepstra.shape[-1], lifter=lifter, first_index=first_index)

"""M6 log with floor, M7 DCT-II as a matrix, M8 lifter."""

import numpy as np
import pytest
import scipy.fft

from features import dct, dct_matrix, lifter, lifter_weights, log_compress

pytestmark = pytest.mark.ch01_mfcc


@pytest.mark.ex_M7
def test_dct_formula_m7_as_an_explicit_loop(rng):
    x = rng.standard_normal(12)
    J = len(x)
    want = np.array(
        [sum(x[j] * np.cos(np.pi * n * (j + 0.5) / J) for j in range(J)) for n in range(J)]
    )
    want[0] *= np.sqrt(1.0 / J)
    want[1:] *= np.sqrt(2.0 / J)
    np.testing.assert_allclose(dct(x[None, :])[0], want, atol=1e-13)


@pytest.mark.parametrize("norm", ["ortho", None])
@pytest.mark.ex_M7
def test_dct_equals_scipy(rng, norm):
    x = rng.standard_normal((7, 40))
    want = scipy.fft.dct(x, type=2, axis=-1, norm=norm)[:, :13]
    np.testing.assert_allclose(dct(x, n_out=13, norm=norm), want, rtol=1e-12, atol=1e-12)


@pytest.mark.ex_M7
def test_orthonormal_dct_matrix_is_orthogonal():
    D = dct_matrix(26)
    np.testing.assert_allclose(D @ D.T, np.eye(26), atol=1e-13)


@pytest.mark.ex_M7
def test_dct_of_a_constant_is_an_impulse():
    c = dct(np.full((1, 20), 3.0))[0]
    assert c[0] == pytest.approx(3.0 * np.sqrt(20))
    np.testing.assert_allclose(c[1:], 0.0, atol=1e-13)


@pytest.mark.ex_M8
def test_lifter_formula_m8_as_a_loop_from_index_zero():
    """Named convention test: HTK / python_speech_features weight column i with n = i."""
    L, C = 22, 13
    w = lifter_weights(C, lifter=L)
    for i in range(C):
        assert w[i] == pytest.approx(1.0 + (L / 2.0) * np.sin(np.pi * i / L), rel=1e-15)
    assert w[0] == 1.0  # c0 is never liftered in this convention


def test_lifter_index_offset_of_librosa():
    """Named convention test: librosa weights row n of its MFCC with sin(pi (n + 1) / L)."""
    w = lifter_weights(5, lifter=22, first_index=1)
    np.testing.assert_allclose(w, 1.0 + 11.0 * np.sin(np.pi * np.arange(1, 6) / 22))
    librosa = pytest.importorskip("librosa")
    S = np.random.default_rng(0).standard_normal((40, 9))
    plain = librosa.feature.mfcc(S=S, n_mfcc=5, lifter=0)
    lifted = librosa.feature.mfcc(S=S, n_mfcc=5, lifter=22)
    np.testing.assert_allclose(lifted, plain * w[:, None], rtol=1e-10)


@pytest.mark.ex_M8
def test_lifter_applies_weights_and_zero_switches_it_off(rng):
    c = rng.standard_normal((4, 13))
    np.testing.assert_allclose(lifter(c, lifter=22), c * lifter_weights(13, lifter=22))
    np.testing.assert_array_equal(lifter(c, lifter=0), c)


@pytest.mark.ex_M6
def test_log_floor_keeps_silence_finite():
    out = log_compress(np.zeros((3, 4)), floor=1e-10)
    np.testing.assert_allclose(out, np.log(1e-10))


def test_db_log_and_the_80_db_floor_of_librosa():
    """Named convention test: dB (10 log10) and top_db clipping relative to the peak."""
    E = np.array([[1.0, 1e-3, 1e-12]])
    np.testing.assert_allclose(log_compress(E, kind="db"), [[0.0, -30.0, -100.0]], atol=1e-12)
    np.testing.assert_allclose(
        log_compress(E, kind="db", top_db=80.0), [[0.0, -30.0, -80.0]], atol=1e-12
    )
    librosa = pytest.importorskip("librosa")
    np.testing.assert_allclose(
        log_compress(E, kind="db", top_db=80.0), librosa.power_to_db(E), atol=1e-12
    )


@pytest.mark.ex_M6
def test_ln_versus_db_differ_by_a_constant_factor():
    """Named convention test: dB = 10 / ln(10) * ln, so MFCCs scale by 4.34 between them."""
    E = np.array([[0.5, 2.0, 7.0]])
    np.testing.assert_allclose(log_compress(E, kind="db"), 10 / np.log(10) * log_compress(E))


def test_log_compress_rejects_bad_settings():
    with pytest.raises(ValueError, match="floor"):
        log_compress(np.ones(2), floor=0.0)
    with pytest.raises(ValueError, match="top_db applies"):
        log_compress(np.ones(2), kind="ln", top_db=80.0)

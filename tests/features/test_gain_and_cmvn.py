"""A recording's gain and CMVN (docs/errata.md, E2): a gain g moves only c0, by
2 ln g sqrt(n_mels); the file's own statistics remove that exactly (except where the log
floor clips), the training speakers' statistics do not."""

import numpy as np
import pytest

import features as F
from ser.corpus.synth import synthesize_utterance, synthetic_corpus

pytestmark = pytest.mark.ch01_mfcc

SR, GAIN = 16000, 0.1  # -20 dB


FLOOR = 1e-30  # below every band of the noisy signal: the floor clips nothing


@pytest.fixture(scope="module")
def loud_and_quiet():
    """MFCCs of one utterance at 0 dB and at -20 dB, with the log floor out of the way: a
    little noise (-60 dBFS) removes the digital silence and the floor is lowered to 1e-30,
    so every mel band is a plain log, where a gain is exactly a constant."""
    y = synthesize_utterance(emotion="neutral", seed=3, duration=1.0, sr=SR)
    y = y + 1e-3 * np.random.default_rng(0).standard_normal(y.size)
    loud, steps = F.mfcc(y, sr=SR, return_steps=True, log_floor=FLOOR)
    quiet, quiet_steps = F.mfcc(GAIN * y, sr=SR, return_steps=True, log_floor=FLOOR)
    assert quiet_steps.log_mel.min() > np.log(FLOOR) + 1  # no band clipped by the floor
    return loud, quiet, steps.log_mel.shape[1]


def test_a_gain_moves_only_c0_by_2_ln_g_times_sqrt_n_mels(loud_and_quiet):
    """Power scales by g^2, so every log-mel band by 2 ln g; the orthonormal DCT of that
    constant is 2 ln g sqrt(J) in c0 and 0 elsewhere, and the lifter leaves c0 alone."""
    loud, quiet, n_mels = loud_and_quiet
    shift = quiet - loud
    np.testing.assert_allclose(shift[:, 0], 2 * np.log(GAIN) * np.sqrt(n_mels), atol=1e-9)
    np.testing.assert_allclose(shift[:, 1:], 0.0, atol=1e-9)


def test_per_utterance_cmvn_removes_the_gain(loud_and_quiet):
    loud, quiet, _ = loud_and_quiet
    np.testing.assert_allclose(F.cmvn(quiet), F.cmvn(loud), atol=1e-9)


def test_the_log_floor_is_where_per_utterance_cmvn_does_not_remove_a_gain():
    """With the default floor (1e-10) and the synthetic voice's digital silence, the floor
    clips both recordings' silent bands to the same value: there the gain is not a shift, and
    the normalised features differ."""
    y = synthesize_utterance(emotion="neutral", seed=3, duration=1.0, sr=SR)
    loud, quiet = F.mfcc(y, sr=SR), F.mfcc(GAIN * y, sr=SR)
    assert np.abs(F.cmvn(quiet) - F.cmvn(loud)).max() > 0.1


def test_training_speaker_cmvn_keeps_the_gain_in_c0(loud_and_quiet):
    """The document's CNN normalises with the training speakers' statistics (the default
    ``InputSpec(normalisation="training")``): a quieter file arrives with c0 moved by
    2 ln g sqrt(J) / sd_0, several standard deviations at -20 dB, and nothing else moved."""
    loud, quiet, n_mels = loud_and_quiet
    others = synthetic_corpus(n_speakers=2, n_utterances=2, emotions=("neutral", "sad"), seed=1)
    stats = F.fit_cmvn([F.mfcc(u.audio(sr=SR), sr=SR, log_floor=FLOOR) for u in others])
    moved = stats.apply(quiet) - stats.apply(loud)
    expected = 2 * np.log(GAIN) * np.sqrt(n_mels) / stats.std[0]
    np.testing.assert_allclose(moved[:, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(moved[:, 1:], 0.0, atol=1e-9)
    assert expected < -1.0  # more than a standard deviation of the training c0

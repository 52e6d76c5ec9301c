"""``ser mfcc``: features of one file; a bad file is one line on stderr and exit status 2."""

import numpy as np
import pytest

from features import load_audio, mfcc, save_audio
from ser.cli import main
from ser.corpus.synth import synthesize_utterance

pytestmark = pytest.mark.cli


@pytest.fixture
def wav(tmp_path):
    y = synthesize_utterance(seed=1, duration=1.0)
    return save_audio(tmp_path / "voice.wav", y, 16000, subtype="FLOAT"), y


def test_mfcc_of_a_file_prints_the_shape_and_saves_features_and_figure(tmp_path, wav, capsys):
    path, y = wav
    out, fig = tmp_path / "f.npy", tmp_path / "f.png"
    assert main(["mfcc", str(path), "--out", str(out), "--plot", str(fig)]) == 0
    assert "MFCC 98 frames x 13 coefficients" in capsys.readouterr().out
    y_file, sr = load_audio(path)  # the file holds float32 samples: compare with what it holds
    np.testing.assert_array_equal(np.load(out), mfcc(y_file, sr=sr))
    assert fig.stat().st_size > 1000


def test_preset_is_built_for_the_files_own_sample_rate(tmp_path, capsys):
    y = synthesize_utterance(seed=2, duration=1.0, sr=22050)
    path = save_audio(tmp_path / "v22.wav", y, 22050)
    assert main(["mfcc", str(path), "--preset", "librosa"]) == 0
    assert "at 22050 Hz" in capsys.readouterr().out


def test_synthetic_utterance_needs_no_file(capsys):
    assert main(["mfcc", "--synthetic", "--emotion", "angry"]) == 0
    assert "synthetic angry utterance" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file"), (b"", "is empty"), (b"not audio" * 50, "not a readable audio file")],
)
def test_bad_file_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    assert main(["mfcc", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ser mfcc: error: ") and message in err and str(path) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_clip_shorter_than_one_frame_names_the_file_and_both_lengths(tmp_path, capsys):
    path = save_audio(tmp_path / "click.wav", np.full(100, 0.1), 16000)
    assert main(["mfcc", str(path)]) == 2
    err = capsys.readouterr().err
    assert "click.wav" in err and "100 samples" in err and "400 samples" in err


def test_unknown_preset_and_missing_input(capsys):
    assert main(["mfcc", "--synthetic", "--preset", "kaldi"]) == 2
    assert "unknown preset 'kaldi'" in capsys.readouterr().err
    assert main(["mfcc"]) == 2
    assert "give one audio FILE" in capsys.readouterr().err


def test_failed_write_keeps_the_old_features(tmp_path, wav):
    path, _ = wav
    out = tmp_path / "f.npy"
    np.save(out, np.arange(3))
    # the figure path is a folder: refused before anything is computed or written
    assert main(["mfcc", str(path), "--out", str(out), "--plot", str(tmp_path)]) == 2
    np.testing.assert_array_equal(np.load(out), np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy", "voice.wav"]

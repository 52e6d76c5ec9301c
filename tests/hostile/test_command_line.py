"""The command line's error boundary (issue 16, items 3, 7, 8, 11 and the CLI half of 9).

Every mistake a user can make is one line, ``ser <command>: error: <what and where>``, and
exit status 2, without a traceback; Ctrl-C is 130, a closed output pipe 141, a bug 1 with a
line asking for a report. Each test runs ``main([...])`` in-process unless it needs a real
process (a pipe, an encoding, a umask). docs/reliability.md, "The command line".
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from features import AudioError, save_audio
from nn.serialization import ModelFileError
from ser import cli
from ser.cli import main

pytestmark = pytest.mark.cli

TONE = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)


def one_error_line(capsys, argv, command=None, status=2):
    """Run ``ser argv``; assert the exit status and that stderr is one error line."""
    command = command or argv[0]
    got = main(argv)
    captured = capsys.readouterr()
    assert got == status, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"ser {command}: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    """A command that wrongly went ahead would write into the test's own folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny corpus on disk and a model trained on it for one epoch."""
    root = tmp_path_factory.mktemp("trained")
    argv = ["synth", "--out", str(root / "data"), "--speakers", "4", "--utterances", "1",
            "--emotions", "neutral", "sad", "angry"]  # fmt: skip
    assert main(argv) == 0
    argv = ["train", "--data", str(root / "data"), "--corpus", "synthetic", "--epochs", "1",
            "--out", str(root / "m.npz"), "--cache", str(root / "cache")]  # fmt: skip
    assert main(argv) == 0
    return root


@pytest.fixture
def wav(tmp_path):
    return save_audio(tmp_path / "tone.wav", TONE, 16000)


# ---- arguments are checked where they are parsed, and the message names the option ----


@pytest.mark.parametrize("command", ["mfcc --synthetic", "synth --out x", "demo", "train"])
def test_a_negative_seed_names_the_option(capsys, command):
    err = one_error_line(capsys, [*command.split(), "--seed", "-1"])
    assert err.endswith("--seed must be a whole number >= 0, got -1")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--epochs", "0"], "--epochs must be a whole number >= 1, got 0"),
        (["demo", "--epochs", "-5"], "--epochs must be a whole number >= 1, got -5"),
        (["train", "--batch-size", "0"], "--batch-size must be a whole number >= 1, got 0"),
        (["train", "--batch-size", "1.5"], "--batch-size must be a whole number >= 1, got 1.5"),
        (["demo", "--lr", "nan"], "--lr (the learning rate) must be a finite number > 0"),
        (["demo", "--lr", "-1"], "--lr (the learning rate) must be a finite number > 0"),
        (["train", "--lr", "inf"], "--lr (the learning rate) must be a finite number > 0"),
        (["synth", "--out", "x", "--snr", "nan"], "--snr must be a finite number, got nan"),
        (["synth", "--out", "x", "--snr=-inf"], "--snr must be a finite number, got -inf"),
        (["synth", "--out", "x", "--sr", "0"], "--sr must be a whole number from 1000 to"),
        (["synth", "--out", "x", "--sr", "-16000"], "--sr must be a whole number from 1000"),
        (["synth", "--out", "x", "--sr", "1"], "768000 Hz, got 1"),
        (["synth", "--out", "x", "--sr", "1000000"], "768000 Hz, got 1000000"),
        (["synth", "--out", "x", "--speakers", "0"], "--speakers must be a whole number >= 1"),
        (["synth", "--out", "x", "--utterances", "0"], "--utterances must be a whole number"),
        (["demo", "--speakers", "2"], "--speakers must be a whole number >= 3, got 2"),
        (["crossval", "--folds", "1"], "--folds must be a whole number >= 2, got 1"),
        (["corpus", "synthetic", "--show-skipped", "-1"], "--show-skipped must be a whole"),
    ],
)
def test_a_number_out_of_range_is_refused_where_it_is_parsed(capsys, argv, message):
    assert message in one_error_line(capsys, argv)


def test_show_skipped_zero_means_count_only(capsys):
    assert main(["corpus", "synthetic", "--show-skipped", "0"]) == 0


def test_an_unknown_emotion_is_refused_with_the_known_ones(capsys):
    err = one_error_line(capsys, ["mfcc", "--synthetic", "--emotion", "bored"])
    assert "unknown emotion(s) bored" in err and "neutral, happy" in err
    err = one_error_line(capsys, ["synth", "--out", "x", "--emotions", "sad", "bored"])
    assert "unknown emotion(s) bored" in err


@pytest.mark.parametrize("command", ["demo", "train", "crossval"])
def test_one_emotion_is_not_a_classification(capsys, command):
    err = one_error_line(capsys, [command, "--emotions", "angry"])
    assert "at least two emotions" in err


@pytest.mark.parametrize("command", ["demo", "train", "crossval", "synth --out x"])
def test_an_emotion_given_twice_is_refused(capsys, command):
    err = one_error_line(capsys, [*command.split(), "--emotions", "angry", "angry", "sad"])
    assert err.endswith("--emotions names angry more than once")


def test_train_reads_the_built_in_corpus_as_demo_does(capsys, monkeypatch):
    """``demo --emotions fearful`` worked while ``train`` said "synthetic has none": train
    now asks the built-in corpus for the emotions it trains on."""
    import ser.experiment

    seen = {}

    def stop(corpus, **options):
        seen["emotions"] = corpus.emotions
        raise cli.UserError("stopped by the test")

    monkeypatch.setattr(ser.experiment, "train", stop)
    one_error_line(capsys, ["train", "--emotions", "fearful", "sad"])
    assert seen["emotions"] == ["sad", "fearful"]
    err = one_error_line(capsys, ["train", "--emotions", "calm", "sad"])
    assert "built-in synthetic corpus has no calm" in err


def test_mfcc_outputs_are_checked_before_anything_is_computed(capsys, tmp_path, wav):
    (tmp_path / "folder").mkdir()
    for argv, message in [
        (["--out", str(tmp_path / "folder")], "is a folder"),
        (["--plot", str(tmp_path / "folder")], "is a folder"),
        (["--plot", str(tmp_path / "new") + os.sep], "is a folder"),
        (["--plot", str(tmp_path / "x.xyz")], "unknown image type .xyz"),
    ]:
        assert message in one_error_line(capsys, ["mfcc", str(wav), *argv])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "tone.wav"]


@pytest.mark.parametrize("command", ["synth", "demo", "crossval"])
def test_an_output_folder_that_is_a_file_is_refused(capsys, tmp_path, command):
    (tmp_path / "f").write_text("mine")
    err = one_error_line(capsys, [command, "--out", str(tmp_path / "f")])
    assert "is a file; give a folder" in err
    assert (tmp_path / "f").read_text() == "mine"


def test_a_model_path_that_is_a_folder_is_refused(capsys, tmp_path):
    assert "is a folder" in one_error_line(capsys, ["train", "--out", str(tmp_path)])


@pytest.mark.parametrize("sr", [44100, 48000, 192000])
def test_the_psf_preset_at_high_rates_says_why(capsys, tmp_path, sr):
    """python_speech_features' n_fft is 512 whatever the rate: at 44.1 kHz its 25 ms window
    is 1103 samples, longer than the FFT (psf crops it silently; MFCCConfig refuses)."""
    path = save_audio(tmp_path / f"a{sr}.wav", np.resize(TONE, sr // 2), sr)
    err = one_error_line(capsys, ["mfcc", str(path), "--preset", "python_speech_features"])
    assert f"a{sr}.wav" in err and f"{sr} Hz" in err and "n_fft (512)" in err


@pytest.mark.parametrize("sr", [1, 10, 50])
def test_a_file_at_a_few_hertz_is_one_line(capsys, tmp_path, sr):
    path = save_audio(tmp_path / f"a{sr}.wav", TONE[:2000], sr)
    for preset in ("default", "python_speech_features"):
        err = one_error_line(capsys, ["mfcc", str(path), "--preset", preset])
        assert f"a{sr}.wav" in err


def test_evaluate_names_the_speakers_that_exist(capsys, trained):
    err = one_error_line(
        capsys,
        ["evaluate", str(trained / "m.npz"), "--data", str(trained / "data"), "--speakers",
         "NOPE", "S01"],
    )  # fmt: skip
    assert "no speaker(s) NOPE" in err and "it has S01, S02, S03, S04" in err


# ---- ser predict: one bad file never stops a batch ----


def test_predict_reports_each_bad_file_and_predicts_the_others(capsys, trained, tmp_path):
    good = next((trained / "data").rglob("*.wav"))
    absurd = bytearray(good.read_bytes())
    absurd[24:28] = struct.pack("<I", 2**31 - 1)  # the header's sample rate
    (tmp_path / "absurd.wav").write_bytes(bytes(absurd))
    raw = os.fsencode(tmp_path) + b"/caf\xe9\xff.wav"  # not UTF-8
    with open(raw, "wb") as f:
        f.write(good.read_bytes())
    undecodable = Path(os.fsdecode(raw))
    too_long = tmp_path / ("x" * 300 + ".wav")
    files = [tmp_path / "absurd.wav", good, too_long, undecodable, tmp_path, tmp_path / "gone.wav"]
    status = main(["predict", str(trained / "m.npz"), *map(str, files)])
    captured = capsys.readouterr()
    assert status == 2
    out, err = captured.out.splitlines(), captured.err.splitlines()
    assert (
        len(out) == 2
        and out[0].startswith(str(good))
        and out[1].startswith(os.fsencode(undecodable).decode("utf-8", "backslashreplace"))
    )
    assert len(err) == 4 and all(line.startswith("ser predict: error: ") for line in err)
    assert "absurd.wav" in err[0] and "2147483647" in err[0]
    assert "too long" in err[1]
    assert str(tmp_path) in err[2] and "gone.wav" in err[3]
    assert "Traceback" not in captured.err


def test_predict_an_unreadable_file_does_not_stop_the_others(capsys, trained, monkeypatch):
    """Permission denied (simulated: root reads everything) on the first of two files."""
    import ser.experiment

    good = next((trained / "data").rglob("*.wav"))
    real = ser.experiment.load_audio

    def denied(path, **options):
        if Path(path).name == "locked.wav":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, **options)

    monkeypatch.setattr(ser.experiment, "load_audio", denied)
    status = main(["predict", str(trained / "m.npz"), "locked.wav", str(good)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out.startswith(str(good))
    assert captured.err == "ser predict: error: locked.wav: Permission denied\n"


def test_a_prediction_that_is_not_a_number_is_an_error(capsys, trained, monkeypatch):
    import ser.experiment

    def nan_model(model, paths, one_speaker=False, whole=False, report_heard=False):
        for path in paths:
            yield path, np.full(3, np.nan), None, None

    monkeypatch.setattr(ser.experiment, "predict_files", nan_model)
    good = next((trained / "data").rglob("*.wav"))
    err = one_error_line(capsys, ["predict", str(trained / "m.npz"), str(good)])
    assert "not a number" in err and good.name in err
    assert "neutral nan" not in err


# ---- whatever escapes a command: one line, exit 2 ----


@pytest.mark.parametrize(
    "error, message",
    [
        (ValueError("n_mels must be >= 1"), "n_mels must be >= 1"),
        (FileNotFoundError("corpus/: no such folder"), "corpus/: no such folder"),
        (AudioError("a.wav: has zero samples"), "a.wav: has zero samples"),
        (ModelFileError("m.npz: checksum mismatch"), "m.npz: checksum mismatch"),
        (OSError(errno.ENOSPC, "No space left on device", "out/report.md"),
         "out/report.md: No space left on device"),
        (PermissionError(errno.EACCES, "Permission denied", "out"), "out: Permission denied"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/x"), "/ro/x: Read-only file system"),
        (OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300),
         "File name too long"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "cache/ab"),
         "cache/ab: Not a directory"),
        (EOFError("No data left in file"), "No data left in file"),
        (MemoryError(), "not enough memory"),
    ],
)  # fmt: skip
def test_a_user_error_escaping_a_command_is_one_line(capsys, monkeypatch, error, message):
    def fails(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_corpus", fails)
    assert one_error_line(capsys, ["corpus", "synthetic"]).endswith(message)


def test_a_csv_error_is_one_line(capsys, monkeypatch):
    import csv

    def fails(args):
        raise csv.Error("field larger than field limit (131072)")

    monkeypatch.setattr(cli, "_cmd_corpus", fails)
    assert "field limit" in one_error_line(capsys, ["corpus", "synthetic"])


def test_a_real_name_too_long_is_one_line_naming_it(capsys, tmp_path):
    out = tmp_path / ("f" * 300 + ".npy")
    err = one_error_line(capsys, ["mfcc", "--synthetic", "--out", str(out)])
    assert "too long" in err and "fffff" in err


def test_a_read_only_folder_is_one_line(capsys, tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
    else:
        folder = _read_only_mount(tmp_path)
    try:
        err = one_error_line(capsys, ["mfcc", "--synthetic", "--out", str(folder / "f.npy")])
        assert str(folder / "f.npy") in err
        assert "Read-only file system" in err or "Permission denied" in err
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=False)


def _read_only_mount(tmp_path) -> Path:
    folder = tmp_path / "ro"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"running as root and cannot mount a read-only tmpfs: {done.stderr!r}")
    return folder


def test_the_feature_cache_that_is_a_file_costs_no_traceback(capsys, trained, monkeypatch):
    (trained / "cache-file").write_text("not a folder")
    monkeypatch.setenv("SER_CACHE", str(trained / "cache-file"))
    argv = ["evaluate", str(trained / "m.npz"), "--data", str(trained / "data")]
    status = main(argv)
    err = capsys.readouterr().err
    assert status in (0, 2) and "Traceback" not in err
    assert "cache-file" in err  # named, as a warning (features computed without it) or error


# ---- interrupts, pipes, bugs, encodings ----


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_corpus", interrupted)
    assert main(["corpus", "synthetic"]) == 130
    assert capsys.readouterr().err == "ser corpus: interrupted\n"


def test_a_bug_is_one_line_asking_for_a_report_and_debug_shows_the_traceback(capsys, monkeypatch):
    def buggy(args):
        return {}["missing"]

    monkeypatch.setattr(cli, "_cmd_corpus", buggy)
    assert main(["corpus", "synthetic"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("ser corpus: internal error: KeyError") and "bug" in err
    assert "--debug" in err
    assert main(["--debug", "corpus", "synthetic"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("ser corpus: internal error")


def test_debug_shows_the_traceback_of_a_user_error_too(capsys):
    assert main(["--debug", "corpus", "nope", "."]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("ser corpus: error: ")


def test_help_still_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "Exit status" in capsys.readouterr().out


def _ser(*argv, **options):
    env = {**os.environ, **options.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "ser", *argv], capture_output=True, env=env, **options
    )


def test_a_closed_pipe_is_a_quiet_exit_141():
    """``ser ... | head -1``: the reader is gone before we write (its end is closed)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ser", "mfcc", "--synthetic"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert err == b""


def test_ascii_output_and_a_non_utf8_file_name(tmp_path):
    raw = os.fsencode(tmp_path) + "/é-\udcff.wav".encode("utf-8", "surrogateescape")
    os.rename(save_audio(tmp_path / "tone.wav", TONE, 16000), raw)  # soundfile cannot name it
    done = _ser("mfcc", os.fsdecode(raw), env={"PYTHONIOENCODING": "ascii"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"\\xe9-\\xff.wav: 0.50 s at 16000 Hz" in done.stdout  # \xe9: stdout's escape
    done = _ser("mfcc", os.fsdecode(raw) + "x", env={"PYTHONIOENCODING": "ascii"}, timeout=120)
    assert done.returncode == 2 and done.stderr.count(b"\n") == 1
    assert b"Traceback" not in done.stderr and b"\\xff.wavx" in done.stderr


@pytest.mark.parametrize("command", ["demo", "timeline m.npz x.wav", "stream m.npz"])
def test_an_unknown_option_is_named_with_its_command(capsys, command):
    err = one_error_line(capsys, [*command.split(), "--no-such-option"])
    assert err == f"ser {command.split()[0]}: error: unrecognized arguments: --no-such-option"

"""The live stream (issue 14, A3; eq. ST-3): the recogniser's windows are the offline windows
scored by the same WindowScorer, for every chunking; ``ser stream`` on stdin and --file, and
its bad inputs (empty stdin, a stream that stops mid-sample, shorter than one window, a bad
--sr, a missing or tampered model), Ctrl-C and a closed pipe."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from features import resample
from nn.serialization import save_model
from ser.cli import main
from ser.corpus import synthetic_corpus
from ser.experiment import train
from ser.pipeline import compute_features
from ser.stream import FrameRing, Prediction, StreamRecognizer, _Printer, file_chunks
from ser.windows import SILENCE, WindowScorer

pytestmark = pytest.mark.cli
SR = 16000
# The features are the offline ones to 1e-10 (tests/features/test_streaming.py); the model
# computes in float32, and its output for a window moves by ~1e-7 with the number of windows
# that share a forward pass (BLAS picks another summation order): the stream scores one or
# two at a time, the timeline up to 256. So the probabilities agree to float32 rounding.
TOL = 1e-5


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model (the document's CNN, one epoch on 8 synthetic utterances), saved, and a
    recording of four utterances with 1.5 s of digital silence in the middle."""
    root = tmp_path_factory.mktemp("stream")
    corpus = synthetic_corpus(n_speakers=4, n_utterances=1, emotions=("neutral", "angry"))
    run = train(corpus, labels=["neutral", "angry"], recipe="cnn", epochs=1, cache_dir=False,
                verbose=0, log=lambda *a: None)  # fmt: skip
    path = save_model(run.model, root / "m.npz")
    clips = [u.audio(SR) for u in list(corpus)[:4]]
    y = np.concatenate([clips[0], clips[1], np.zeros(int(1.5 * SR)), clips[2], clips[3]])
    y = np.clip(y, -1.0, 1.0 - 2**-15)
    pcm = np.round(y * 32768).astype("<i2")
    return {"root": root, "model": run.model, "path": path, "pcm": pcm, "y": pcm / 32768.0}


def offline_windows(scorer, y):
    """What ``ser timeline`` scores: the windows of the offline features of the whole signal."""
    frames = {k: compute_features(k, [y], scorer.config)[0] for k in scorer.kinds}
    windows = scorer.windows_of(frames)
    probs, speech = scorer.score(windows)
    return probs, speech


def chunk_sizes(rng, total):
    sizes, done = [], 0
    while done < total:
        n = min(total - done, int(rng.choice([0, 1, rng.integers(1, 160), rng.integers(1, 5000)])))
        sizes.append(n)
        done += n
    return sizes


def stream_through(recognizer, y, sizes):
    out, at = [], 0
    for n in sizes:
        out += recognizer.push(y[at : at + n])
        at += n
    return out + recognizer.finish()


@pytest.mark.parametrize("hop_s", [None, 0.32, 3.0])  # default half a window; a hop > window
def test_stream_st3_equals_the_scorer_on_the_offline_windows_for_random_chunkings(setup, hop_s):
    scorer = WindowScorer(setup["model"], hop_s=hop_s)
    want_probs, want_speech = offline_windows(scorer, setup["y"])
    assert len(want_probs) >= 2 and want_speech.any()
    frames = {k: compute_features(k, [setup["y"]], scorer.config)[0] for k in scorer.kinds}
    want_windows = scorer.windows_of(frames)
    seen = []  # what the recogniser hands the scorer: its windows, batch by batch
    score = scorer.score
    scorer.score = lambda windows: (seen.append(windows), score(windows))[1]
    rng = np.random.default_rng(14)
    for _ in range(2):
        seen.clear()
        got = stream_through(
            StreamRecognizer(scorer), setup["y"], chunk_sizes(rng, len(setup["y"]))
        )
        assert [p.index for p in got] == list(range(len(want_probs)))
        for kind in scorer.kinds:  # the windows themselves: the offline frames (ST-1)
            windows = np.concatenate([batch[kind] for batch in seen])
            np.testing.assert_allclose(windows, want_windows[kind], rtol=0, atol=1e-10)
        np.testing.assert_allclose(np.array([p.probabilities for p in got]), want_probs,
                                   rtol=0, atol=TOL)  # fmt: skip
        np.testing.assert_array_equal([p.speech for p in got], want_speech)
        starts, ends = scorer.window_times(np.arange(len(got)))
        np.testing.assert_allclose([p.start for p in got], starts)
        np.testing.assert_allclose([p.end for p in got], ends)
        for p in got:
            assert p.emotion == (scorer.labels[int(p.probabilities.argmax())] if p.speech
                                 else SILENCE)  # fmt: skip


def test_a_silent_stretch_is_reported_as_silence_not_an_emotion(setup):
    scorer = WindowScorer(setup["model"], hop_s=0.32)
    got = stream_through(
        StreamRecognizer(scorer), setup["y"], [4000] * (len(setup["y"]) // 4000 + 1)
    )
    silent = [p for p in got if not p.speech]
    assert silent and all(p.emotion == SILENCE and p.confidence is None for p in silent)
    assert all(0.5 <= p.confidence <= 1 for p in got if p.speech)  # two classes: the max


def test_another_input_rate_is_resampled_as_the_offline_path_would(setup):
    scorer = WindowScorer(setup["model"])
    y8 = resample(setup["y"][: 3 * SR], orig_sr=SR, target_sr=8000)
    want, _ = offline_windows(scorer, resample(y8, orig_sr=8000, target_sr=SR))
    rng = np.random.default_rng(3)
    rec = StreamRecognizer(scorer, input_sr=8000)
    got = stream_through(rec, y8, chunk_sizes(rng, len(y8)))
    np.testing.assert_allclose(np.array([p.probabilities for p in got]), want, rtol=0, atol=TOL)
    assert rec.seconds_heard == pytest.approx(len(y8) / 8000)


def test_the_ring_buffer_keeps_the_last_w_frames_in_order():
    rng = np.random.default_rng(5)
    frames = {"mfcc": rng.standard_normal((500, 3)), "energy": rng.standard_normal(500)}
    ring = FrameRing(7, {"mfcc": (3,), "energy": ()})
    with pytest.raises(ValueError, match="holds 0 of its 7"):
        ring.window()
    at = 0
    while at < 500:
        n = min(500 - at, int(rng.integers(0, 20)))  # batches longer than the ring, too
        ring.write(frames, at, at + n)
        at += n
        if at >= 7:
            w = ring.window()
            np.testing.assert_array_equal(w["mfcc"], frames["mfcc"][at - 7 : at])
            np.testing.assert_array_equal(w["energy"], frames["energy"][at - 7 : at])
    assert ring.data["mfcc"].shape == (7, 3)  # the memory never grows


def test_the_summary_names_the_most_frequent_emotion_and_the_real_time_factor(setup):
    rec = StreamRecognizer(WindowScorer(setup["model"]))
    stream_through(rec, setup["y"], [8000] * (len(setup["y"]) // 8000 + 1))
    line = rec.summary()
    top = max((e for e in rec.counts if e != SILENCE), key=lambda e: rec.counts[e])
    assert line.startswith(f"end of input: heard {len(setup['y']) / SR:.2f} s of audio")
    assert f"{rec.windows} windows" in line and f"mostly {top}" in line
    assert "real-time factor" in line and rec.busy_seconds > 0
    with pytest.raises(RuntimeError, match="after finish"):
        rec.push(np.zeros(10))


def test_the_terminal_line_is_rewritten_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    printer = _Printer(out, jsonl=False)
    p = Prediction(0, 0.0, 1.28, "angry", 0.9, np.array([0.1, 0.9]), True, ("neutral", "angry"))
    printer.show(p)
    printer.show(p)
    printer.close()
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")
    assert out.getvalue().count("\n") == 1


def test_realtime_paces_a_file_at_audio_speed(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(SR // 2), SR)
    now, slept = [0.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s

    blocks = list(file_chunks(tmp_path / "a.wav", sr=SR, realtime=True, clock=lambda: now[0],
                              sleep=sleep))  # fmt: skip
    assert sum(b.size for b in blocks) == SR // 2 and len(blocks) == 25  # 20 ms each
    assert now[0] == pytest.approx(0.5)  # half a second of audio took half a second


# ---- the command line ---------------------------------------------------------------------


class Stdin:
    """A pipe on standard input: raw bytes, not a terminal; ``stop_after`` bytes then
    Ctrl-C."""

    def __init__(self, data: bytes, stop_after=None):
        self.buffer = self
        self._data, self._at, self._stop = data, 0, stop_after

    def read1(self, n):
        if self._stop is not None and self._at >= self._stop:
            raise KeyboardInterrupt
        chunk = self._data[self._at : self._at + n]
        self._at += len(chunk)
        return chunk

    def isatty(self):
        return False


def ser_stream(monkeypatch, capsys, data: bytes, *args, stop_after=None):
    monkeypatch.setattr(sys, "stdin", Stdin(data, stop_after))
    status = main(["stream", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_ser_stream_prints_one_line_per_hop_and_a_summary(setup, monkeypatch, capsys):
    status, out, err = ser_stream(monkeypatch, capsys, setup["pcm"].tobytes(), setup["path"])
    scorer = WindowScorer(setup["model"])
    want, speech = offline_windows(scorer, setup["y"])
    assert status == 0 and len(out) == len(want)
    for line, p, sp in zip(out, want, speech, strict=True):
        label = scorer.labels[int(p.argmax())] if sp else SILENCE
        assert line.split()[4] == label  # "start - end s  emotion confidence"
    assert len(err) == 1 and err[0].startswith("ser stream: end of input: heard")


def test_ser_stream_jsonl_gives_the_timeline_probabilities(setup, monkeypatch, capsys):
    status, out, _ = ser_stream(monkeypatch, capsys, setup["pcm"].tobytes(), setup["path"],
                                "--jsonl", "--hop", "0.32")  # fmt: skip
    want, _ = offline_windows(WindowScorer(setup["model"], hop_s=0.32), setup["y"])
    rows = [json.loads(line) for line in out]
    assert status == 0 and [r["window"] for r in rows] == list(range(len(want)))
    got = np.array([[r["probabilities"][k] for k in ("neutral", "angry")] for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-6)  # JSON rounds to 6 decimals


def test_ser_stream_file_at_another_rate_reads_it_as_if_live(setup, monkeypatch, capsys):
    wav = setup["root"] / "at22k.wav"
    y22 = resample(setup["y"][: 3 * SR], orig_sr=SR, target_sr=22050)
    sf.write(wav, y22, 22050, subtype="FLOAT")
    status, out, err = ser_stream(monkeypatch, capsys, b"", setup["path"], "--file", wav)
    assert status == 0 and len(out) == 3 and "heard 3.00 s" in err[-1]


def test_empty_stdin_is_one_line_saying_no_audio(setup, monkeypatch, capsys):
    status, out, err = ser_stream(monkeypatch, capsys, b"", setup["path"])
    assert status == 2 and out == [] and len(err) == 1
    assert err[0].startswith("ser stream: error: no audio") and "arecord" in err[0]


def test_a_stream_that_stops_mid_sample_drops_the_half_sample_with_a_warning(
    setup, monkeypatch, capsys
):
    data = setup["pcm"][: 2 * SR].tobytes() + b"\x01"
    status, out, err = ser_stream(monkeypatch, capsys, data, setup["path"])
    assert status == 0 and len(out) == 2
    assert err[0] == (
        f"ser stream: warning: the input ended inside a sample ({len(data)} bytes, an odd "
        "number; 16-bit samples take 2): its last byte was dropped"
    )
    assert "heard 2.00 s" in err[1]


def test_input_shorter_than_one_window_is_one_clear_line(setup, monkeypatch, capsys):
    status, out, err = ser_stream(monkeypatch, capsys, setup["pcm"][:SR].tobytes(), setup["path"])
    assert status == 2 and out == [] and len(err) == 1
    assert "1.00 s of audio, shorter than one window of 1.28 s" in err[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sr", "abc"], "--sr must be a whole number from 1000 to 768000 Hz, got abc"),
        (["--sr", "100"], "--sr must be a whole number from 1000 to 768000 Hz, got 100"),
        (["--hop", "nan"], "--hop (seconds) must be a finite number > 0"),
        (["--window", "0.5"], "a window of 0.5 s is shorter than the model's input"),
        (["--realtime"], "--realtime paces --file at audio speed"),
        (["--file", "x.wav", "--sr", "8000"], "--sr is the rate of raw PCM on standard input"),
        (["--file", "missing.wav"], "missing.wav: no such file"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(setup, monkeypatch, capsys, args, message):
    status, out, err = ser_stream(monkeypatch, capsys, b"\0\0" * SR, setup["path"], *args)
    assert status == 2 and out == [] and len(err) == 1 and message in err[0], err


def test_a_missing_or_tampered_model_is_one_line(setup, monkeypatch, capsys, tmp_path):
    status, _, err = ser_stream(monkeypatch, capsys, b"", tmp_path / "none.npz")
    assert status == 2 and len(err) == 1 and "no such model file" in err[0]
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a model at all")
    status, _, err = ser_stream(monkeypatch, capsys, b"", tmp_path / "bad.npz")
    assert status == 2 and len(err) == 1 and "bad.npz" in err[0]


def test_ctrl_c_ends_with_the_summary_and_status_130(setup, monkeypatch, capsys):
    data = setup["pcm"].tobytes()
    stop = 23 * 4096  # bytes read before Ctrl-C, in reads of 4096: 2.94 s of audio
    status, out, err = ser_stream(monkeypatch, capsys, data, setup["path"], stop_after=stop)
    assert status == 130 and len(out) == 3  # windows ending at 1.29, 1.94 and 2.58 s
    assert len(err) == 1 and err[0].startswith("ser stream: interrupted: heard 2.94 s")


def test_a_closed_pipe_ends_with_the_summary_and_status_141(setup, tmp_path):
    """``ser stream MODEL < audio | head -1``, for real: SIGPIPE's BrokenPipeError."""
    raw = tmp_path / "a.raw"
    raw.write_bytes(setup["pcm"].tobytes())
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    with open(raw, "rb") as stdin:
        argv = [sys.executable, "-m", "ser", "stream", str(setup["path"]), "--jsonl"]
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        first = proc.stdout.readline()
        proc.stdout.close()  # the reader goes away after one line, as head -1 does
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=60)
    assert json.loads(first)["window"] == 0
    assert status == 141, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ser stream: output closed: heard")


def test_a_wav_header_on_stdin_is_skipped_and_checked(setup, monkeypatch, capsys, tmp_path):
    """``arecord`` without ``-t raw`` writes a WAV header first: skipped when it announces
    16-bit mono PCM at the rate read, else one line saying what to change."""
    pcm = setup["pcm"][: 3 * SR]
    sf.write(tmp_path / "a.wav", pcm, SR, subtype="PCM_16")
    status, raw_lines, _ = ser_stream(monkeypatch, capsys, pcm.tobytes(), setup["path"])
    wav = (tmp_path / "a.wav").read_bytes()
    status_wav, wav_lines, err = ser_stream(monkeypatch, capsys, wav, setup["path"])
    assert status == status_wav == 0 and wav_lines == raw_lines and "heard 3.00 s" in err[-1]
    sf.write(tmp_path / "b.wav", pcm, 8000, subtype="PCM_16")
    status, _, err = ser_stream(monkeypatch, capsys, (tmp_path / "b.wav").read_bytes(),
                                setup["path"])  # fmt: skip
    assert status == 2 and err == [
        "ser stream: error: standard input is a WAV stream at 8000 Hz, read as 16000 Hz: "
        "pass --sr 8000"
    ]

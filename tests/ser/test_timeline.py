"""Emotion over time (issue 14, A4): windows (T-1), their scores (T-2, T-3), smoothing (T-4),
segments (T-5), ``ser timeline`` and its outputs."""

import itertools
import json

import numpy as np
import pytest

from features import save_audio
from nn.serialization import load_model
from ser.cli import main
from ser.pipeline import compute_features
from ser.smoothing import segments, smooth_labels, viterbi_path
from ser.timeline import timeline_of
from ser.windows import SILENCE, WindowScorer

pytestmark = pytest.mark.cli
SR = 16000


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny corpus on disk, the document's CNN trained on it for one epoch, and a long
    recording made of its files with silences between them."""
    root = tmp_path_factory.mktemp("timeline")
    argv = ["synth", "--out", str(root / "data"), "--speakers", "4", "--utterances", "1",
            "--emotions", "neutral", "sad", "angry"]  # fmt: skip
    assert main(argv) == 0
    argv = ["train", "--data", str(root / "data"), "--corpus", "synthetic", "--epochs", "1",
            "--out", str(root / "m.npz"), "--cache", str(root / "cache")]  # fmt: skip
    assert main(argv) == 0
    from features import load_audio

    clips = [load_audio(p, sr=SR)[0] for p in sorted((root / "data").rglob("*.wav"))[:4]]
    gap = np.zeros(3 * SR)  # 3 s of digital silence: whole windows of it
    y = np.concatenate([clips[0], gap, clips[1], clips[2], gap, clips[3]])
    save_audio(root / "long.wav", y, SR)
    return root, y


def brute_force_path(probs, stay):
    n, k = probs.shape
    a = np.full((k, k), (1 - stay) / (k - 1))
    np.fill_diagonal(a, stay)
    best, arg = -np.inf, None
    for path in itertools.product(range(k), repeat=n):
        score = np.log(probs[0, path[0]]) + sum(
            np.log(a[path[i - 1], path[i]]) + np.log(probs[i, path[i]]) for i in range(1, n)
        )
        if score > best:
            best, arg = score, path
    return np.array(arg)


# ---- eq. T-4: the Viterbi path ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("stay", [0.5, 0.9, 0.99])
def test_viterbi_path_is_the_best_of_all_paths(seed, stay):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3) * 0.7, size=6)
    np.testing.assert_array_equal(viterbi_path(probs, stay=stay), brute_force_path(probs, stay))


def test_viterbi_with_transitions_that_favour_nothing_is_each_windows_argmax():
    probs = np.random.default_rng(3).dirichlet(np.ones(4), size=30)
    np.testing.assert_array_equal(viterbi_path(probs, stay=0.25), probs.argmax(axis=1))


def test_a_sticky_path_removes_a_one_window_blip_that_the_argmax_keeps():
    probs = np.array([[0.9, 0.1]] * 5 + [[0.3, 0.7]] + [[0.9, 0.1]] * 5)
    assert list(probs.argmax(1)).count(1) == 1
    assert list(viterbi_path(probs, stay=0.9)).count(1) == 0


def test_silence_windows_are_never_forced_into_an_emotion_and_runs_are_smoothed_apart():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9], [0.2, 0.8]])
    speech = np.array([True, True, False, True, True])
    labels = smooth_labels(probs, speech, ["calm", "loud"], method="viterbi", stay=0.99)
    assert labels == ["calm", "calm", SILENCE, "loud", "loud"]
    none = smooth_labels(probs, speech, ["calm", "loud"], method="none")
    assert none == ["calm", "calm", SILENCE, "loud", "loud"]
    median = smooth_labels(probs, np.ones(5, bool), ["calm", "loud"], method="median",
                           median_windows=3)  # fmt: skip
    assert median == ["calm", "calm", "calm", "loud", "loud"]  # the median of 0.2, 0.5, 0.9


# ---- eq. T-5: segments ------------------------------------------------------------------------


def test_segments_meet_halfway_between_window_centres_and_cover_the_recording():
    labels = ["a", "a", SILENCE, "b"]
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.5, 0.5], [0.3, 0.7]])
    fraction = np.array([1.0, 0.9, 0.1, 1.0])
    centres = np.array([0.5, 1.0, 1.5, 2.0])
    segs = segments(labels, probs, fraction, centres, labels=["a", "b"], duration=2.6)
    assert [(s.start, s.end, s.emotion) for s in segs] == [
        (0.0, 1.25, "a"),
        (1.25, 1.75, SILENCE),
        (1.75, 2.6, "b"),
    ]
    assert segs[0].confidence == pytest.approx(0.7)  # mean of p[a] over its two windows
    assert segs[1].confidence == pytest.approx(0.9)  # 1 - the speech fraction
    assert segs[2].confidence == pytest.approx(0.7)


# ---- eqs. T-1, T-2: the windows and their scores ----------------------------------------------


def test_windows_are_every_hop_frames_and_their_times_follow_the_frames(trained):
    root, y = trained
    scorer = WindowScorer(load_model(root / "m.npz"), window_s=1.6, hop_s=0.5)
    assert (scorer.window_frames, scorer.hop_frames) == (160, 50)
    frames = {k: compute_features(k, [y[: 3 * SR]], scorer.config)[0] for k in scorer.kinds}
    t = len(frames["energy"])
    windows = scorer.windows_of(frames)
    assert len(windows["energy"]) == scorer.n_windows(t) == (t - 160) // 50 + 1
    for i in (0, 1, len(windows["energy"]) - 1):
        np.testing.assert_array_equal(windows["mfcc"][i], frames["mfcc"][50 * i : 50 * i + 160])
    start, end = scorer.window_times(2)
    assert start == pytest.approx(100 * 160 / SR)
    assert end == pytest.approx((259 * 160 + 400) / SR)  # the last frame's last sample


def test_a_window_shorter_than_the_models_input_is_refused(trained):
    root, _ = trained
    with pytest.raises(ValueError, match="shorter than the model's input, 128 frames"):
        WindowScorer(load_model(root / "m.npz"), window_s=0.5)


def test_a_window_is_scored_as_the_network_reads_it_by_hand(trained):
    """Eq. T-2 for the document's CNN: training CMVN (M10) on the window's 128 frames, one
    crop, the network's softmax; nothing else."""
    root, y = trained
    model = load_model(root / "m.npz")
    scorer = WindowScorer(model)
    frames = {k: compute_features(k, [y[: 2 * SR]], scorer.config)[0] for k in scorer.kinds}
    windows = scorer.windows_of(frames)
    probs, speech = scorer.score(windows)
    cmvn = model.metadata["cmvn"]
    for i in range(len(probs)):
        x = (windows["mfcc"][i] - np.array(cmvn["mean"])) / np.maximum(cmvn["std"], 1e-8)
        by_hand = model.predict(x[None, :, :, None].astype(np.float32))[0]
        np.testing.assert_allclose(probs[i], by_hand, atol=1e-6)
    assert speech.all()


def test_silence_is_marked_and_the_timeline_equals_the_windows_of_the_whole_signal(trained):
    """Read in blocks that cut frames and windows anywhere, the timeline's probabilities are
    those of the whole signal's windows; the 3 s gaps come out as silence segments."""
    root, y = trained
    scorer = WindowScorer(load_model(root / "m.npz"))
    tl = timeline_of(scorer, root / "long.wav", block_seconds=0.37)
    frames = {k: compute_features(k, [y], scorer.config)[0] for k in scorer.kinds}
    probs, speech = scorer.score(scorer.windows_of(frames))
    np.testing.assert_allclose(tl.probs, probs, atol=1e-6)
    np.testing.assert_array_equal(tl.speech, speech)
    assert tl.duration == pytest.approx(len(y) / SR)
    silences = [s for s in tl.segments if s.emotion == SILENCE]
    assert len(silences) == 2 and all(s.end - s.start > 1.0 for s in silences)
    assert tl.segments[0].start == 0.0 and tl.segments[-1].end == pytest.approx(tl.duration)


# ---- the command -----------------------------------------------------------------------------


def test_ser_timeline_writes_csv_json_and_figure(trained, tmp_path, capsys):
    root, _ = trained
    out = tmp_path / "out"
    assert main(["timeline", str(root / "m.npz"), str(root / "long.wav"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "segments" in text and SILENCE in text
    record = json.loads((out / "long" / "timeline.json").read_text())
    assert record["labels"] == ["neutral", "sad", "angry"]
    assert len(record["windows"]) >= 10
    assert all(abs(sum(w["probabilities"].values()) - 1) < 1e-4 for w in record["windows"])
    assert record["settings"]["stay"] == 0.9 and record["settings"]["model"].endswith("m.npz")
    speech = [w for w in record["windows"] if w["speech"]]
    assert all(w["emotion"] == max(w["probabilities"], key=w["probabilities"].get) for w in speech)
    rows = (out / "long" / "timeline.csv").read_text().splitlines()
    assert rows[0] == "start_s,end_s,emotion,confidence"
    assert len(rows) == len(record["segments"]) + 1
    assert (out / "long" / "timeline.png").stat().st_size > 5000


def test_a_bad_file_is_one_line_and_the_others_still_run(trained, tmp_path, capsys):
    root, y = trained
    short = save_audio(tmp_path / "short.wav", y[: SR // 2], SR)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    argv = ["timeline", str(root / "m.npz"), str(short), str(empty), str(tmp_path / "nope.wav"),
            str(root / "long.wav")]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    errors = [e for e in errors if e.startswith("ser timeline: error:")]
    assert len(errors) == 3 and "Traceback" not in captured.err
    assert "shorter than one window" in errors[0] and "short.wav" in errors[0]
    assert "must be at least that long" in errors[0]  # no advice to shorten the window
    assert "empty.wav" in errors[1] and "nope.wav" in errors[2]
    assert "long.wav:" in captured.out  # the good file was still read


@pytest.mark.parametrize(
    "options, message",
    [
        (["--hop", "abc"], "--hop (seconds) must be a finite number > 0, got abc"),
        (["--stay", "1.5"], "--stay must be a number between 0 and 1, got 1.5"),
        (["--window", "0.3"], "shorter than the model's input"),
        (["--smooth", "mean"], "invalid choice"),
        (["--stay", "0.2"], "--stay 0.2 is below 1/3 for the model's 3 classes"),
        (["--silence-db", "10"], "--silence-db must be within -100 .. 0 dBFS, got 10"),
    ],
)
def test_bad_options_are_one_line(trained, capsys, options, message):
    root, _ = trained
    assert main(["timeline", str(root / "m.npz"), str(root / "long.wav"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_ser_stream_and_ser_timeline_give_the_same_windows(trained, tmp_path, capsys):
    """With the same window and hop, the live stream (a file read as if live, in 4096-byte
    reads) and the timeline (10 s blocks) give the same windows, the same speech decisions
    and the same probabilities; float32 forward passes of different batch sizes differ by
    ~1e-7, hence the tolerance."""
    root, _ = trained
    options = ["--window", "1.6", "--hop", "0.4"]
    argv = ["timeline", str(root / "m.npz"), str(root / "long.wav"), "--out", str(tmp_path)]
    assert main([*argv, *options]) == 0
    timeline = json.loads((tmp_path / "long" / "timeline.json").read_text())["windows"]
    capsys.readouterr()
    argv = ["stream", str(root / "m.npz"), "--file", str(root / "long.wav"), "--jsonl"]
    assert main([*argv, *options]) == 0
    stream = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(stream) == len(timeline) > 20
    for s, t in zip(stream, timeline, strict=True):
        assert (s["window"], s["start"], s["end"], s["speech"]) == (
            t["window"], t["start"], t["end"], t["speech"]
        )  # fmt: skip
        assert s["probabilities"].keys() == t["probabilities"].keys()
        np.testing.assert_allclose(list(s["probabilities"].values()),
                                   list(t["probabilities"].values()), atol=1e-5)  # fmt: skip


def test_an_out_folder_that_cannot_be_made_is_refused_before_any_audio_is_read(trained, tmp_path,
                                                                               capsys):  # fmt: skip
    root, _ = trained
    (tmp_path / "afile").write_text("x")
    argv = ["timeline", str(root / "m.npz"), str(root / "long.wav"), "--out",
            str(tmp_path / "afile" / "sub")]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err and "cannot create the folder" in captured.err
    assert "long.wav" not in captured.out  # nothing was read


def test_the_figure_of_a_single_window_shows_its_probabilities(trained, tmp_path, monkeypatch):
    """One window is drawn one hop wide (a zero-width step would leave the panel blank)."""
    import ser.report
    from ser.timeline_report import save_timeline_figure

    root, y = trained
    one = save_audio(tmp_path / "one.wav", y[: int(1.3 * SR)], SR)
    tl = timeline_of(WindowScorer(load_model(root / "m.npz")), one)
    assert len(tl.probs) == 1
    drawn = {}
    monkeypatch.setattr(ser.report, "_save", lambda fig, path: drawn.setdefault("fig", fig))
    save_timeline_figure(tmp_path / "one.png", tl)
    panel = drawn["fig"].axes[1]
    widths = [p.get_paths()[0].get_extents().width for p in panel.collections]
    assert widths and min(widths) > 0.5 * tl.hop_s
    assert "silence (not scored)" in [t.get_text() for t in panel.get_legend().get_texts()]

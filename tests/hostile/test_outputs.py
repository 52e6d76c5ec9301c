"""Atomic, complete outputs (issue 16, item 1 and "Atomic, complete outputs").

Every file ``ser`` writes is its old complete self or its new complete self, with the mode a
plain ``open`` gives (``0o666 & ~umask``); a run's outputs change together; ``kill -9`` at
any moment leaves the old complete outputs or the new ones; a disk that fills after
training keeps the model; ``ser synth`` streams. docs/reliability.md, "Outputs".
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import ser.io
from ser.cli import main
from ser.demo import DEMO_OUTPUTS
from ser.io import (
    TEMP_PREFIX,
    StagedOutputs,
    atomic_write,
    recover_staged_outputs,
    remove_stale_temporaries,
    save_npy,
    write_text,
)

pytestmark = pytest.mark.cli

QUICK_DEMO = ["--speakers", "3", "--utterances", "1", "--epochs", "1"]


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TEMP_PREFIX in p.name]


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


# ---- one file ----


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "report.md", "old report\n")

    def half_then_full_disk(tmp):
        tmp.write_text("half a new rep")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        atomic_write(path, half_then_full_disk)
    assert caught.value.filename == str(path)  # the file asked for, not the temporary
    assert path.read_text() == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_ctrl_c_in_a_write_leaves_no_temporary(tmp_path):
    def interrupted(tmp):
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.npy", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_the_way_is_refused_before_writing(tmp_path):
    (tmp_path / "f.png").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "f.png", lambda tmp: pytest.fail("wrote into a folder"))


def test_the_file_and_its_folder_are_flushed_to_the_disk(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") if os.path.isdir("/proc") else None)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_npy(tmp_path / "a.npy", np.arange(3))
    assert synced[0] is not True and (synced[-1] is True or sys.platform != "linux")


def test_a_name_of_255_bytes_still_gets_its_temporary(tmp_path):
    path = tmp_path / ("n" * 251 + ".npy")
    save_npy(path, np.arange(3))
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_modes_follow_the_umask_not_mkstemps_0600(tmp_path, umask_027):
    """npy, text, figures, WAVs, the manifest and the model: each as open() would make it."""
    from features.audio import save_audio
    from nn.layers import Dense
    from nn.models import Sequential
    from ser.corpus.synth import synthetic_utterances, write_synthetic_corpus
    from ser.io import save_audio as ser_save_audio
    from ser.io import save_model
    from ser.report import save_features_figure

    model = Sequential(seed=0)
    model.add(Dense(2, input_shape=(3,)))
    paths = [
        save_npy(tmp_path / "a.npy", np.arange(3)),
        write_text(tmp_path / "r.md", "report"),
        save_features_figure(tmp_path / "f.png", np.ones((4, 3)), hop_seconds=0.01, title="t"),
        atomic_write(tmp_path / "m.npz", model.save),
        model.save(tmp_path / "direct.npz"),  # nn's own atomic save, outside ser
        save_model(model, tmp_path / "ser.npz"),
        save_audio(tmp_path / "direct.wav", np.zeros(160), 16000),
        ser_save_audio(tmp_path / "ser.wav", np.zeros(160), 16000),
        write_synthetic_corpus(
            synthetic_utterances(n_speakers=1, n_utterances=1, emotions=("sad",)), tmp_path / "c"
        ),
    ]
    paths += list((tmp_path / "c").rglob("*.wav"))
    assert {oct(p.stat().st_mode & 0o777) for p in paths} == {oct(umask_027)}
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_umask_022_gives_0644_in_a_real_process(tmp_path):
    commands = [
        ["synth", "--out", str(tmp_path / "c"), "--speakers", "1", "--utterances", "1",
         "--emotions", "sad"],
        ["mfcc", "--synthetic", "--out", str(tmp_path / "f.npy"), "--plot",
         str(tmp_path / "f.png")],
    ]  # fmt: skip
    script = f"from ser.cli import main; assert [main(a) for a in {commands!r}] == [0, 0]"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts]
    assert len(written) == 4
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}


# ---- temporary files a killed process left ----


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    host = ser.io._HOST
    dead, alive = dead_pid(), os.getppid()
    names = {
        f"{TEMP_PREFIX}{host}-{dead}-0a1b2c3d-model.npz": False,  # killed run: swept
        f".{TEMP_PREFIX}{host}-{dead}-0a1b2c3d-model.x8Yz.npz": False,  # save_model's own
        f"{TEMP_PREFIX}{host}-{alive}-0a1b2c3d-report.md": True,  # a run still writing
        f"{TEMP_PREFIX}ffffff-{dead}-0a1b2c3d-far.png": True,  # another machine, recent
        f"{TEMP_PREFIX}eeeeee-{dead}-0a1b2c3d-old.png": False,  # another machine, an hour old
        "mine.tmp": True,  # not ours
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    hour_ago = time.time() - 2 * 3600
    os.utime(tmp_path / f"{TEMP_PREFIX}eeeeee-{dead}-0a1b2c3d-old.png", (hour_ago, hour_ago))
    ser.io._cleaned.discard(os.fsdecode(os.path.abspath(tmp_path)))
    save_npy(tmp_path / "a.npy", np.arange(3))  # the next write into the folder sweeps it
    kept = {p.name for p in tmp_path.iterdir()} - {"a.npy"}
    assert kept == {name for name, keep in names.items() if keep}
    assert remove_stale_temporaries(tmp_path) == []  # once per process and folder


# ---- a run's outputs change together ----


def staged_run(out: Path, files: dict[str, str]) -> StagedOutputs:
    staged = StagedOutputs(out, ("model.npz", "report.md", "filters.png"))
    for name, text in files.items():
        write_text(staged.path(name), text)
    return staged


class Killed(BaseException):
    """What a kill -9 would do at this point: nothing after it runs."""


@pytest.mark.parametrize("crash_at", range(8))
def test_a_crash_at_any_step_of_publishing_leaves_old_or_new(tmp_path, monkeypatch, crash_at):
    out = tmp_path / "out"
    staged_run(
        out, {"model.npz": "old model", "report.md": "old report", "filters.png": "old"}
    ).publish()
    old = digests(out)
    staged = staged_run(out, {"model.npz": "new model", "report.md": "new report"})
    steps = []

    def step(real):
        def crash_or_do(*args, **options):
            if len(steps) == crash_at:
                raise Killed
            steps.append(args)
            return real(*args, **options)

        return crash_or_do

    monkeypatch.setattr(os, "replace", step(os.replace))
    monkeypatch.setattr(os, "unlink", step(os.unlink))
    try:
        staged.publish()
        finished = True
    except Killed:
        finished = False
    monkeypatch.undo()
    if not finished:
        committed = crash_at > 0  # step 0 puts the commit record in place
        if not committed:
            assert digests(out) == old  # before the commit point: the old outputs, untouched
        monkeypatch.setattr(ser.io, "_pid_alive", lambda pid: False)  # as if it were killed
        recover_staged_outputs(out)  # what the next run into out does first
        monkeypatch.undo()
        if not committed:
            assert digests(out) == old and temporaries(out) == []
            return
    assert {n: (out / n).read_text() for n in digests(out)} == {
        "model.npz": "new model",
        "report.md": "new report",  # and the old run's filters.png is gone
    }
    assert temporaries(out) == []


def test_an_exception_inside_the_run_discards_its_staging(tmp_path):
    with pytest.raises(ValueError), StagedOutputs(tmp_path, ("a.md",)) as staged:
        write_text(staged.path("a.md"), "new")
        raise ValueError("training diverged")
    assert list(tmp_path.iterdir()) == []


# ---- ser demo: kill -9 at random moments ----


def demo_process(out: Path, cache: Path, seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ser", "demo", "--out", str(out), "--cache", str(cache),
         "--seed", str(seed), *QUICK_DEMO],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def complete_set(out: Path) -> bool:
    from nn.serialization import load_model

    names = {p.name for p in out.iterdir() if p.is_file()}
    if names != set(DEMO_OUTPUTS):
        return False
    load_model(out / "model.npz")
    return "unweighted average recall" in (out / "report.md").read_text()


def test_kill_9_at_random_moments_of_ser_demo_leaves_old_or_new(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    rng = random.Random(16)
    assert main(demo_argv(out, cache)) == 0 and complete_set(out)  # the old outputs
    outcomes = []
    for trial in range(1, 4):
        old = digests(out)
        started = time.time()
        process = demo_process(out, cache, seed=trial)
        for line in process.stdout:
            if line.startswith(b"training:"):
                break
        # about 0.3 s of training, 2.5 s writing the model and figures, then the publish:
        # one random moment in each third of [0, 3.6] s after training starts
        time.sleep(1.2 * rng.uniform(trial - 1, trial))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        now = digests(out)
        new = {n for n in now if (out / n).stat().st_mtime >= started}
        if not new:
            assert now == old
            outcomes.append("old")
        elif new == set(now):
            assert complete_set(out)
            outcomes.append("new")
        else:  # only a kill between the renames of a committed run; the next run ends it
            committed = [p for p in out.iterdir() if (p / "COMMIT.json").exists()]
            assert committed, f"trial {trial}: a mix of two runs: {sorted(new)} of {sorted(now)}"
            outcomes.append("committed")
    last = demo_process(out, cache, seed=9)
    last.communicate(timeout=300)
    assert last.returncode == 0 and complete_set(out)
    assert temporaries(out) == [], outcomes  # nothing a killed run left survives the next run


# ---- a full disk ----


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (root and mount needed): room for one set of demo outputs and a model."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    """Write zeros until the file system says it is full."""
    with open(disk / "filler", "ab") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC


def demo_argv(out: Path, cache: Path, seed=0) -> list[str]:
    return ["demo", "--out", str(out), "--cache", str(cache), "--seed", str(seed), *QUICK_DEMO]


def one_error_line(capsys, argv) -> str:
    """Exit 2 and exactly one error line, the last (progress lines may come before it)."""
    status = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith(f"ser {argv[0]}: error: ")]
    assert status == 2 and len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    assert "Traceback" not in err
    return errors[0]


def test_a_full_disk_before_the_model_saves_it_in_the_temporary_folder(
    small_disk, tmp_path, capsys
):
    from nn.serialization import load_model

    fill(small_disk)
    err = one_error_line(capsys, demo_argv(small_disk / "out", tmp_path / "cache"))
    assert "No space left on device" in err and str(small_disk / "out") in err
    kept = Path(err.rsplit("the trained model is saved at ", 1)[1])
    try:
        assert load_model(kept).metadata["labels"] == ["neutral", "sad", "angry"]
    finally:
        kept.unlink()
    assert temporaries(small_disk) == []


@pytest.mark.parametrize("fills_before", ["figures", "report"])
def test_a_disk_that_fills_after_training_keeps_the_model_and_the_old_outputs(
    small_disk, tmp_path, capsys, monkeypatch, fills_before
):
    """The issue's case: the disk full when report.md is written made a 1.5 kB report 0
    bytes. Now the old outputs stay whole and the new model is kept beside them."""
    from nn.serialization import load_model

    out, cache = small_disk / "out", tmp_path / "cache"
    assert main(demo_argv(out, cache)) == 0
    old = digests(out)
    capsys.readouterr()

    def filling(real):
        def write(*args, **options):
            fill(small_disk)
            return real(*args, **options)

        return write

    if fills_before == "figures":
        from ser import report

        monkeypatch.setattr(report, "_save", filling(report._save))
    else:
        monkeypatch.setattr(ser.io, "write_text", filling(ser.io.write_text))
    err = one_error_line(capsys, demo_argv(out, cache, seed=1))
    assert "No space left on device" in err
    kept = Path(err.rsplit("the trained model is saved as ", 1)[1])
    assert kept.parent == out and load_model(kept).metadata["labels"]
    assert digests(out) == {**old, kept.name: digests(out)[kept.name]}  # old set untouched
    assert temporaries(small_disk) == []


def test_train_on_a_full_disk_keeps_the_model_elsewhere(small_disk, tmp_path, capsys):
    from nn.serialization import load_model

    data = tmp_path / "data"
    assert main(["synth", "--out", str(data), "--speakers", "3", "--utterances", "1"]) == 0
    fill(small_disk)
    capsys.readouterr()
    err = one_error_line(
        capsys,
        ["train", "--data", str(data), "--epochs", "1", "--out", str(small_disk / "m.npz"),
         "--cache", str(tmp_path / "cache"), "--emotions", "sad", "angry"],
    )  # fmt: skip
    assert f"cannot write {small_disk / 'm.npz'}: No space left on device" in err
    kept = Path(err.rsplit("the trained model is saved at ", 1)[1])
    try:
        assert load_model(kept).metadata["labels"] == ["sad", "angry"]
    finally:
        kept.unlink()
    assert temporaries(small_disk) == []


# ---- ser synth streams ----


def test_synth_streams_files_as_it_makes_them(tmp_path, monkeypatch):
    """2,000,000 utterances per speaker and emotion: the first files are on the disk long
    before the last is made, and memory does not grow with the corpus."""
    import ser.corpus.synth as synth

    out = tmp_path / "corpus"
    write_text(out / "manifest.csv", "path,emotion\nold.wav,sad\n")  # a corpus written before
    rendered = []

    def render(sr, **options):
        if len(rendered) == 3:
            raise KeyboardInterrupt  # Ctrl-C after three files
        rendered.append(options["emotion"])
        return np.full(1600, 0.1)

    monkeypatch.setattr(synth, "_render", render)
    tracemalloc.start()
    try:
        status = main(["synth", "--out", str(out), "--speakers", "1", "--utterances", "2000000"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 130
    assert sorted(p.name for p in (out / "S01").iterdir()) == [
        f"S01_neutral_{u:03d}.wav" for u in range(3)
    ]
    assert not (out / "manifest.csv").exists()  # the folder says it is incomplete
    assert temporaries(out) == []
    assert peak < 20e6, f"{peak / 1e6:.0f} MB traced"


def test_synth_writes_the_manifest_last_and_whole(tmp_path):
    out = tmp_path / "corpus"
    assert main(["synth", "--out", str(out), "--speakers", "2", "--utterances", "1",
                 "--emotions", "sad", "angry"]) == 0  # fmt: skip
    rows = (out / "manifest.csv").read_text().splitlines()
    assert rows[0].startswith("path,emotion,speaker") and len(rows) == 5
    assert all((out / row.split(",")[0]).is_file() for row in rows[1:])
    assert json.dumps(sorted(p.name for p in out.iterdir())) == '["S01", "S02", "manifest.csv"]'

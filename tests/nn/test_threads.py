"""The thread policy on a shared machine (eq. TH-1, nn/engine/threads.py; issue 17)."""

import subprocess
import sys
import time

import pytest

from nn import backend
from nn.engine import threads


def test_th1_free_cores_are_the_usable_ones_less_other_programs_runnable_threads():
    assert threads.free_of(2, running=1, own=1) == 2  # only us: both cores
    assert threads.free_of(2, running=3, own=1) == 1  # one other program
    assert threads.free_of(2, running=5, own=1) == 1  # never fewer than one
    assert threads.free_of(8, running=4, own=2) == 6  # our two spinning threads are ours
    assert threads.free_of(4, running=1, own=3) == 4  # counts read at different instants


@pytest.mark.parametrize(
    "stat, running",
    [
        (b"123 (python3) R 1 123 123 0 -1", True),
        (b"123 (python3) S 1 123 123 0 -1", False),
        (b"123 (a) R (b) S 1 2 3", False),  # a command name holding ") R ("
        (b"123 (odd ) R name) R 1 2", True),
    ],
)
def test_the_state_is_read_after_the_command_name(stat, running):
    assert threads._is_running(stat) is running


def test_ser_threads_pins_or_fixes_the_count(monkeypatch):
    monkeypatch.setenv("SER_THREADS", "3")
    assert threads.cores_to_use() == 3
    monkeypatch.setenv("SER_THREADS", "fixed")
    assert threads.cores_to_use() == threads.usable_cores()


@pytest.mark.skipif(threads.free_cores() is None, reason="no /proc/loadavg on this system")
def test_busy_programs_leave_one_core():
    """As many spinning processes as cores: the policy runs on one thread."""
    n = threads.usable_cores()
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        seen = [threads.free_cores() for _ in range(5)]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert min(seen) == 1


@pytest.mark.skipif(threads.blas_threads() is None, reason="no OpenBLAS to ask")
def test_a_model_runs_blas_on_the_policys_threads_and_restores_them(monkeypatch):
    before = threads.blas_threads()
    monkeypatch.setenv("SER_THREADS", "1")
    with backend.model_threads():
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before

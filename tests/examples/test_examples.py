"""Every example runs as a script in fast mode, finishes, and writes its figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.examples

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_writes_figures(script, tmp_path):
    env = {
        **os.environ,
        "SER_FAST": "1",
        "SER_EXAMPLES_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
        "SER_CACHE": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = list((tmp_path / script.stem).glob("*.png"))
    assert figures, f"{script.name} wrote no figure"
    assert all(f.stat().st_size > 1000 for f in figures)


def test_there_is_at_least_the_first_lesson():
    assert any(p.name == "01_mfcc_step_by_step.py" for p in EXAMPLES)

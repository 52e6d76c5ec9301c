"""Every example runs as a script in fast mode, finishes, and writes its figures, and every
figure it saves is slide-ready (``ser.plotting.figure_problems``: labelled axes, a labelled
colour bar on every image)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.examples

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("[0-9][0-9]_*.py"))

# Runs a lesson as ``python lesson.py`` would (``__main__``, its folder first on sys.path),
# with every Figure.savefig first checked and logged by ser.plotting.record_figure_problems.
RUN_CHECKED = (
    "import os, runpy, sys\n"
    "from ser.plotting import record_figure_problems\n"
    "log, script = sys.argv[1:3]\n"
    "record_figure_problems(log)\n"
    "sys.argv = [script]\n"
    "sys.path[0] = os.path.dirname(os.path.abspath(script))\n"
    "runpy.run_path(script, run_name='__main__')\n"
)


def run_lesson(script: Path, out: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run ``script`` in fast mode, figures into ``out``; return the process and one record
    ``{"file", "problems"}`` per figure it saved."""
    env = {
        **os.environ,
        "SER_FAST": "1",
        "SER_EXAMPLES_OUT": str(out),
        "MPLBACKEND": "Agg",
        "SER_CACHE": str(out / "cache"),
    }
    log = out / "figure_problems.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", RUN_CHECKED, str(log), str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, records


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def lesson_run(request, tmp_path_factory):
    """Each lesson runs once; both tests below read that run."""
    out = tmp_path_factory.mktemp(request.param.stem)
    done, records = run_lesson(request.param, out)
    return request.param, done, out, records


def test_example_runs_and_writes_figures(lesson_run):
    script, done, tmp_path, _ = lesson_run
    assert done.returncode == 0, done.stderr[-2000:]
    figures = list((tmp_path / script.stem).glob("*.png"))
    assert figures, f"{script.name} wrote no figure"
    assert all(f.stat().st_size > 1000 for f in figures)


def test_every_lesson_figure_is_slide_ready(lesson_run):
    """Labelled x and y axes on every axes with data; a labelled colour bar on every image."""
    script, done, _, records = lesson_run
    assert done.returncode == 0, done.stderr[-2000:]
    assert records, f"{script.name} saved no figure"
    problems = [f"{r['file']}: {p}" for r in records for p in r["problems"]]
    assert not problems, f"{script.name}:\n" + "\n".join(problems)


def test_there_is_at_least_the_first_lesson():
    assert any(p.name == "01_mfcc_step_by_step.py" for p in EXAMPLES)

"""The parts of ``ser course``: solution regions, the exercise table, the student copy and
the command line's refusals. (The proofs that need pytest runs are in test_course.py.)"""

import json
import os
import re
import stat
from pathlib import Path

import pytest

import ser.course.student_copy as student_copy
from ser.cli import main
from ser.course import CHAPTERS, EXERCISES, MANIFEST, write_exercises
from ser.course.grading import GradeSheet, Row, TestResult
from ser.course.regions import RegionError, find_regions, find_stubs, restore, strip
from ser.course.student_copy import solution_regions, source_files, table_problems

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    (ROOT / MANIFEST).exists(),
    reason="a student copy: the course's own checks run in the reference checkout",
)

B, E = "# BEGIN SOLUTION ex=", "# END SOLUTION"  # written in pieces: no marker in this file

SOURCE = f'''"""A module."""


def double(x):
    """Return 2 x (eq. X1).

    {B}X1 inside a docstring is not a marker
    """
    y = 0
    {B}X1
    y = 2 * x
    if y > 10:
        y = 10 + (y - 10)
    {E}
    return y


class Box:
    def area(self, w, h):
        if w < 0:
            raise ValueError("w")
        else:
            {B}X2
            return w * h
            {E}
'''


def _task(path, region):
    return f"the task of {region.exercise} in {region.function}"


def test_regions_are_comments_alone_on_their_line_inside_a_function():
    regions = find_regions(SOURCE, "m.py")
    assert [(r.exercise, r.function, r.indent) for r in regions] == [
        ("X1", "double", "    "),
        ("X2", "Box.area", "            "),
    ]


def test_strip_keeps_the_indentation_and_restore_puts_the_solution_back():
    stripped = strip(SOURCE, "m.py", {"X1", "X2"}, _task)
    assert "y = 2 * x" not in stripped and "w * h" not in stripped
    assert f"{B}X1 inside a docstring" in stripped  # the docstring is kept as it was
    assert "    raise NotImplementedError('exercise X1: the task of X1 in double')\n" in stripped
    assert "            raise NotImplementedError('exercise X2: the task of X2 in Box.area')\n" in (
        stripped
    )
    namespace = {}
    exec(compile(stripped, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="exercise X1"):
        namespace["double"](3)
    assert [s.exercise for s in find_stubs(stripped, "m.py")] == ["X1", "X2"]
    back = restore(restore(stripped, SOURCE, "X1", "m.py"), SOURCE, "X2", "m.py")
    assert back == SOURCE
    only_one = strip(SOURCE, "m.py", {"X2"}, _task)
    assert "y = 2 * x" in only_one and "w * h" not in only_one


@pytest.mark.parametrize(
    "text, message",
    [
        (f"def f():\n    {B}A\n    return 1\n", "without an END"),
        (f"def f():\n    {E}\n    return 1\n", "without a BEGIN"),
        (f"def f():\n    {B}A\n    {B}B\n    x = 1\n    {E}\n    {E}\n", "inside the region"),
        (f"def f():\n    {B}A\n    {E}\n    return 1\n", "is empty"),
        (
            f"def f():\n    if 1:\n        {B}A\n        y = 2\n    x = 1\n        {E}\n",
            "indented less",
        ),
        (f"{B}A\nx = 1\n{E}\n", "not in a function"),
        ("def f():\n    # BEGIN SOLUTION\n    x = 1\n", "malformed marker"),
        (f"def f():\n    x = 1  {B}A\n", "alone on its line"),
    ],
)
def test_malformed_regions_are_refused_with_file_and_line(text, message):
    with pytest.raises(RegionError, match=rf"m\.py:\d+: .*{re.escape(message)}"):
        find_regions(text, "m.py")


def test_a_region_that_is_not_whole_statements_is_refused_when_stripped():
    text = (
        f"def f(x):\n    {B}A\n    if x:\n        return 1\n    {E}\n    else:\n        return 2\n"
    )
    with pytest.raises(RegionError, match="not valid Python once stripped"):
        strip(text, "m.py", {"A"}, _task)


def test_the_exercise_table_and_the_markers_in_the_code_agree():
    assert table_problems(solution_regions(ROOT, source_files(ROOT))) == []


def test_the_exercise_table_is_well_formed():
    ids = [e.id for e in EXERCISES]
    assert len(ids) == len(set(ids))
    assert {e.chapter for e in EXERCISES} == set(CHAPTERS), "every chapter has exercises"
    for e in EXERCISES:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", e.id), e.id
        assert e.points > 0 and e.parts and e.tests and e.hint, e.id
        assert set(e.needs) <= set(ids) - {e.id}, e.id
        assert len(set(e.tests)) == len(e.tests), e.id
        for part in e.parts:
            assert "\n" not in part.task and part.task, (e.id, part)
        for test in e.tests:
            path = test.split("::", 1)[0]
            assert (ROOT / path).is_file(), test
    assert len({t for e in EXERCISES for t in e.tests}) == sum(len(e.tests) for e in EXERCISES)


def test_docs_list_every_exercise_with_its_test_command_and_hint():
    page = (ROOT / "docs" / "exercises.md").read_text()
    for e in EXERCISES:
        row = next((line for line in page.splitlines() if line.startswith(f"| {e.id} |")), None)
        assert row is not None, f"docs/exercises.md has no row for {e.id}"
        assert f"`pytest -m {e.marker}`" in row and f"| {e.chapter} |" in row, row
        assert e.hint.replace("*", "\\*").replace("|", "\\|") in row, e.id
        for part in e.parts:
            assert f"`{part.path}` `{part.function}`" in row, (e.id, part.function)


def test_a_copy_of_one_chapter_strips_only_its_exercises(tmp_path):
    old = os.umask(0o022)
    try:
        report = write_exercises(tmp_path / "ex", chapters=[7])
    finally:
        os.umask(old)
    out = tmp_path / "ex"
    assert [e.id for e in report.exercises] == ["UAR"] and report.regions == 2
    metrics = (out / "nn" / "metrics.py").read_text()
    assert "SOLUTION" not in metrics and metrics.count("ex=UAR") == 2
    conv = (out / "nn" / "functional" / "conv.py").read_text()
    assert conv == (ROOT / "nn" / "functional" / "conv.py").read_text()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["exercises"] == ["UAR"] and manifest["chapters"] == [7]
    # the umask's modes, executables kept executable
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "nn" / "metrics.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / ".ci" / "run").stat().st_mode) == 0o755
    assert not (out / ".venv").exists() and not list(out.rglob("__pycache__"))


def test_a_failure_half_way_leaves_no_half_copy(tmp_path, monkeypatch):
    calls = []

    def failing_strip(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    real = student_copy.strip
    monkeypatch.setattr(student_copy, "strip", failing_strip)
    with pytest.raises(OSError, match="No space left"):
        write_exercises(tmp_path / "ex")
    assert list(tmp_path.iterdir()) == []  # neither the copy nor its temporary folder


def test_an_empty_out_folder_is_filled_and_a_copy_is_never_copied_into_the_next(tmp_path):
    (tmp_path / "ex").mkdir()
    write_exercises(tmp_path / "ex", chapters=[7])
    assert (tmp_path / "ex" / MANIFEST).is_file()
    # a student copy inside a walked tree is left out of the listing
    files = student_copy._walked_files(tmp_path)
    assert "ex/nn/metrics.py" in files
    (tmp_path / "pyproject.toml").write_text("")
    assert not [f for f in source_files(tmp_path) if f.startswith("ex/")]


def test_the_command_line_refuses_an_out_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "notes.txt").write_text("mine")
    assert main(["course", "exercises", "--out", str(tmp_path / "ex")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists and is not an empty folder" in err[0], err
    assert sorted(p.name for p in (tmp_path / "ex").iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["course", "exercises", "--out", "x", "--chapter", "9"], "no chapter '9'"),
        (["course", "grade", "{tmp}"], "is not a copy of the course"),
        (["course", "grade", "{tmp}/nowhere"], "no such folder"),
        (["course"], "required"),
    ],
)
def test_the_command_line_reports_a_mistake_in_one_line(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("ser course"), err
    if len(argv) > 1:  # the subcommand is named: "ser course grade: error: ..."
        assert err[0].startswith(f"ser course {argv[1]}: error: "), err


def test_chapters_are_named_by_number_or_marker(tmp_path, capsys):
    assert main(["course", "exercises", "--out", str(tmp_path / "ex"), "--chapter", "ch07"]) == 0
    assert "chapter 7 · Real speech, evaluated honestly: UAR" in capsys.readouterr().out


def test_the_sheet_adds_up_per_chapter_and_names_what_blocks_a_row():
    by = {e.id: e for e in EXERCISES}
    rows = (
        Row(by["M1"], (TestResult("t.py::a", "passed"), TestResult("t.py::b", "skipped"))),
        Row(by["C1"], (TestResult("t.py::c", "failed", "AssertionError: assert 1 == 2"),)),
        Row(by["C1b"], (TestResult("t.py::d[x]", "failed", "NotImplementedError: e"),), ("C1",)),
        Row(by["M2"], (TestResult("t.py::e", "skipped"),)),
    )
    sheet = GradeSheet(Path("ex"), rows)
    assert [r.passed for r in rows] == [True, False, False, False]  # skipped only: not passed
    data = sheet.to_dict()
    assert data["total"] == {"score": 1, "points": 8, "passed": 1, "exercises": 4}
    assert [(c["chapter"], c["score"], c["points"]) for c in data["chapters"]] == [
        (1, 1, 3),
        (2, 0, 5),
    ]
    assert data["exercises"][1]["first_failure"] == "c: AssertionError: assert 1 == 2"
    text = sheet.to_text(width=80).splitlines()
    assert all(len(line) <= 80 for line in text)
    assert "[needs C1] d[x]: NotImplementedError: e" in next(
        line for line in text if line.startswith("C1b")
    )
    assert text[-1] == "total: 1/8 points, 1 of 4 exercises passed"


def test_a_file_that_does_not_import_is_named_with_its_error_and_line(tmp_path, monkeypatch):
    """A student's syntax error: the sheet shows the error and the student's file and line,
    not pytest's frames or the grader's paths."""
    from types import SimpleNamespace

    from ser.course import _pytest_report

    monkeypatch.chdir(tmp_path)
    (tmp_path / "features").mkdir()
    mel = tmp_path / "features" / "mel.py"
    mel.write_text("def broken(:\n")
    longrepr = "\n".join([
        "/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule",
        "    mod = import_path(",
        f'E     File "{mel}", line 1',
        "E       def broken(:",
        "E                  ^",
        "E   SyntaxError: invalid syntax",
    ])  # fmt: skip
    message = _pytest_report._collect_message(SimpleNamespace(longrepr=longrepr))
    assert message == "SyntaxError: invalid syntax (features/mel.py, line 1)"

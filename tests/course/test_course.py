"""``ser course`` proven both ways (issue 15, "Done means"): on a stripped copy every test of
every exercise fails; copying solutions back turns exactly their rows green; on the
reference every exercise passes, and each test runs its own exercise's solution region and
no other region than those its exercise declares in ``needs``.

Three pytest runs in all (subprocesses of ``ser course grade``), each over the exercises'
tests only.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ser.cli import main
from ser.course import EXERCISES, MANIFEST, by_id, grade
from ser.course.regions import find_regions, find_stubs, restore
from ser.course.student_copy import solution_regions, source_files

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.course,
    pytest.mark.skipif(
        (ROOT / MANIFEST).exists(),
        reason="a student copy: the course's own proofs run in the reference checkout",
    ),
]


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    """``ser course exercises --out ex``, as a user types it (every chapter)."""
    out = tmp_path_factory.mktemp("course") / "ex"
    assert main(["course", "exercises", "--out", str(out)]) == 0
    return out


def _unchanged_since(path: Path, copy: Path) -> bool:
    """The reference file has not changed since the copy was made (others may be editing
    the checkout while the tests run)."""
    return path.stat().st_mtime < (copy / MANIFEST).stat().st_mtime


def _regions_of_root():
    return solution_regions(ROOT, source_files(ROOT))


def test_the_copy_is_the_repository_with_every_solution_replaced_by_a_stub(student_copy):
    regions = _regions_of_root()
    files = source_files(ROOT)
    copied = {
        p.relative_to(student_copy).as_posix() for p in student_copy.rglob("*") if p.is_file()
    }
    assert copied - {MANIFEST} <= set(files) and set(regions) <= copied
    assert not [p for p in copied if "__pycache__" in p or p.startswith(".venv")]
    manifest = json.loads((student_copy / MANIFEST).read_text())
    assert manifest["exercises"] == [e.id for e in EXERCISES]
    for rel in sorted(copied - {MANIFEST}):
        if not _unchanged_since(ROOT / rel, student_copy):
            continue
        ours, theirs = (ROOT / rel).read_bytes(), (student_copy / rel).read_bytes()
        if rel not in regions:
            assert theirs == ours, f"{rel} differs from the reference"
            continue
        text = theirs.decode()
        assert "SOLUTION" not in text, f"{rel} still shows a solution"
        stubs = find_stubs(text, rel)
        assert [s.exercise for s in stubs] == [r.exercise for r in regions[rel]]
        for exercise in {s.exercise for s in stubs}:  # stub and solution, region by region
            text = restore(text, ours.decode(), exercise, rel)
        assert text == ours.decode(), f"{rel}: outside its regions the copy differs"


def test_the_stripped_copy_imports_and_a_stub_raises_only_when_called(student_copy):
    code = (
        "import importlib, pkgutil\n"
        "import numpy as np\n"
        "names = []\n"
        "for package in ('features', 'nn', 'ser'):\n"
        "    module = importlib.import_module(package)\n"
        "    print(module.__file__)\n"
        "    for info in pkgutil.walk_packages(module.__path__, package + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "            names.append(info.name)\n"
        "import features\n"
        "try:\n"
        "    features.preemphasis(np.ones(3))\n"
        "except NotImplementedError as err:\n"
        "    print('raised:', err)\n"
        "print(len(names), 'modules')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(student_copy)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=student_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for path in lines[:3]:  # the copy's own packages, not the installed checkout
        assert Path(path).resolve().is_relative_to(student_copy.resolve()), path
    assert any(line.startswith("raised: exercise M1: pre-emphasis") for line in lines)


def test_every_test_of_every_exercise_fails_on_the_stripped_copy(student_copy, capsys):
    capsys.readouterr()
    assert main(["course", "grade", str(student_copy), "--json"]) == 0
    sheet = json.loads(capsys.readouterr().out)
    for package, origin in sheet["imported_from"].items():  # its own code, proven
        assert Path(origin).resolve().is_relative_to(student_copy.resolve()), (package, origin)
    assert [row["id"] for row in sheet["exercises"]] == [e.id for e in EXERCISES]
    assert sheet["total"]["score"] == 0 and sheet["total"]["passed"] == 0
    for row in sheet["exercises"]:
        assert not row["passed"] and row["results"], row["id"]
        for result in row["results"]:
            assert result["outcome"] == "failed", (row["id"], result)
            assert "NotImplementedError: exercise" in result["message"], (row["id"], result)


def test_copying_solutions_back_turns_exactly_their_rows_green(student_copy, tmp_path):
    """M1 alone; GC, LSTM and LSTMb, a chain (LSTMb needs LSTM and GC); C1b without C1."""
    copy = tmp_path / "ex"
    shutil.copytree(student_copy, copy)
    restored = {"M1", "GC", "LSTM", "LSTMb", "C1b"}
    for exercise in sorted(restored):
        for part in {p.path for p in by_id(exercise).parts}:
            target = copy / part
            target.write_text(
                restore(target.read_text(), (ROOT / part).read_text(), exercise, part)
            )
    sheet = grade(copy)
    green = {row.exercise.id for row in sheet.rows if row.passed}
    assert green == {"M1", "GC", "LSTM", "LSTMb"}
    for row in sheet.rows:
        if row.exercise.id not in green:
            assert all(r.outcome == "failed" for r in row.results), row.exercise.id
    c1b = next(row for row in sheet.rows if row.exercise.id == "C1b")
    assert c1b.blocked_by == ("C1",)
    text = sheet.to_text().splitlines()
    assert next(line for line in text if line.startswith("M1 ")).split()[3] == "passed"
    assert "[needs C1]" in next(line for line in text if line.startswith("C1b "))
    points = sum(e.points for e in EXERCISES)
    assert text[-1] == f"total: 8/{points} points, 4 of {len(EXERCISES)} exercises passed"


def test_on_the_reference_every_exercise_passes_and_runs_only_its_own_regions():
    sheet = grade(ROOT, trace=True)
    for package, origin in sheet.origins.items():
        assert Path(origin).resolve().is_relative_to(ROOT), (package, origin)
    owners: dict[str, list[str]] = {}
    for row in sheet.rows:
        exercise = row.exercise
        allowed = {exercise.id, *exercise.needs}
        assert row.passed, (exercise.id, row.first_failure)
        ran = set()
        for result in row.results:
            owners.setdefault(result.test, []).append(exercise.id)
            assert result.outcome == "passed", (exercise.id, result)  # none skipped either
            regions = set(result.regions)
            assert exercise.id in regions, f"{result.test} never runs {exercise.id}'s region"
            assert regions <= allowed, f"{result.test} runs {regions - allowed}, undeclared"
            ran |= regions
        assert set(exercise.needs) <= ran, f"{exercise.id} needs {set(exercise.needs) - ran}?"
        for listed in exercise.tests:  # the markers and the table agree
            assert any(r.test == listed or r.test.startswith(listed + "[") for r in row.results)
        for result in row.results:
            assert any(
                result.test == t or result.test.startswith(t + "[") for t in exercise.tests
            ), f"{result.test} carries {exercise.marker} but the table does not list it"
    shared = {test: ids for test, ids in owners.items() if len(ids) > 1}
    assert not shared, f"tests that grade two exercises: {shared}"
    assert sheet.score == sheet.points == sum(e.points for e in EXERCISES)


def test_every_region_of_the_reference_is_reached_by_the_trace():
    """The trace is told about every region (so 'runs no other region' means something)."""
    regions = _regions_of_root()
    assert {r.exercise for found in regions.values() for r in found} == {e.id for e in EXERCISES}
    assert sum(len(found) for found in regions.values()) == sum(len(e.parts) for e in EXERCISES)
    for rel, found in regions.items():
        assert find_regions((ROOT / rel).read_text(), rel) == found

"""``ser course grade``: run a copy's exercise tests on the copy's own code, and score them.

One pytest run in the copy's folder, as a subprocess: ``python -m pytest tests -m "ex_M1 or
ex_M2 or ..."`` with the folder as the working directory and first on ``PYTHONPATH``, so
``features``, ``nn`` and ``ser`` are imported from the copy, never from the checkout that
runs the grader (the report says where each package came from, and the grade stops if
one came from elsewhere). A small plugin of the grader's own (``_pytest_report.py``) writes
each test's outcome, its first failure in one line and its ``ex_*`` markers to a JSON
report; a test file that cannot even be imported fails the exercises whose tests it holds.

Each exercise scores its points when all of its tests pass (skipped tests are left out;
a test the table lists that did not run is a failure). The sheet never shows code: only
test names and their first failure message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ser.course.exercises import CHAPTERS, Exercise, in_chapters
from ser.course.student_copy import PACKAGES, read_manifest, solution_regions, source_files

__all__ = ["TestResult", "Row", "GradeSheet", "grade", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 900.0  # seconds for the whole run: an endless loop in a student's code
_PLUGIN = "ser_course_report"  # the module name the plugin gets in its temporary folder


@dataclass(frozen=True)
class TestResult:
    """One test of one exercise.

    Attributes
    ----------
    test : str
        The pytest node ID.
    outcome : {"passed", "failed", "skipped", "not run"}
    message : str
        The first line of its failure (or of the reason it was skipped or not run).
    regions : tuple of str or None
        The IDs of the solution regions it ran (only when graded with ``trace=True``).
    """

    __test__ = False  # not a pytest test class, whatever its name

    test: str
    outcome: str
    message: str = ""
    regions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Row:
    """One exercise's line of the grade sheet."""

    exercise: Exercise
    results: tuple[TestResult, ...]
    blocked_by: tuple[str, ...] = ()  # the exercises of ``needs`` that failed too

    @property
    def passed(self) -> bool:
        counted = [r for r in self.results if r.outcome != "skipped"]
        return bool(counted) and all(r.outcome == "passed" for r in counted)

    @property
    def score(self) -> int:
        return self.exercise.points if self.passed else 0

    @property
    def first_failure(self) -> str | None:
        for r in self.results:
            if r.outcome in ("failed", "not run"):
                return f"{r.test.split('::', 1)[-1]}: {r.message}"
        return None if self.passed else "no test of this exercise ran"

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)


@dataclass(frozen=True)
class GradeSheet:
    """The grade of one folder: a row per exercise, totals per chapter and overall."""

    directory: Path
    rows: tuple[Row, ...]
    origins: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def points(self) -> int:
        return sum(r.exercise.points for r in self.rows)

    @property
    def score(self) -> int:
        return sum(r.score for r in self.rows)

    def chapters(self) -> list[dict]:
        """Per chapter: number, title, score, points, exercises passed, exercises."""
        totals = []
        for chapter, title in CHAPTERS.items():
            rows = [r for r in self.rows if r.exercise.chapter == chapter]
            if rows:
                totals.append(
                    {
                        "chapter": chapter,
                        "title": title,
                        "score": sum(r.score for r in rows),
                        "points": sum(r.exercise.points for r in rows),
                        "passed": sum(r.passed for r in rows),
                        "exercises": len(rows),
                    }
                )
        return totals

    def to_dict(self) -> dict:
        """The sheet as plain JSON data (for an LMS): exercises, chapters, total."""
        return {
            "directory": str(self.directory),
            "imported_from": self.origins,
            "notes": list(self.notes),
            "exercises": [
                {
                    "id": r.exercise.id,
                    "chapter": r.exercise.chapter,
                    "title": r.exercise.title,
                    "formula": r.exercise.formula,
                    "points": r.exercise.points,
                    "score": r.score,
                    "passed": r.passed,
                    "tests": {
                        "total": len(r.results),
                        **{k: r.count(k) for k in ("passed", "failed", "skipped", "not run")},
                    },
                    "first_failure": r.first_failure,
                    "needs": list(r.exercise.needs),
                    "blocked_by": list(r.blocked_by),
                    "results": [
                        {
                            "test": t.test,
                            "outcome": t.outcome,
                            "message": t.message,
                            **({} if t.regions is None else {"regions": list(t.regions)}),
                        }
                        for t in r.results
                    ],
                }
                for r in self.rows
            ],
            "chapters": self.chapters(),
            "total": {
                "score": self.score,
                "points": self.points,
                "passed": sum(r.passed for r in self.rows),
                "exercises": len(self.rows),
            },
        }

    def to_text(self, width: int = 120) -> str:
        """The sheet for a terminal: one line per exercise, lines cut at ``width``."""
        lines = [f"grade sheet of {self.directory} (its own code; {len(self.rows)} exercises)"]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(
            f"{'ID':<6} {'ch':>2} {'points':>6}  {'result':<6}  {'tests':>5}  first failure"
        )
        for r in self.rows:
            counted = len([t for t in r.results if t.outcome != "skipped"])
            failure = r.first_failure or ""
            if r.blocked_by:
                failure = f"[needs {', '.join(r.blocked_by)}] {failure}"
            line = (
                f"{r.exercise.id:<6} {r.exercise.chapter:>2} {r.score:>3}/{r.exercise.points:<2}  "
                f"{'passed' if r.passed else 'failed':<6}  {r.count('passed'):>2}/{counted:<2}  "
                f"{failure}"
            ).rstrip()
            lines.append(line if len(line) <= width else line[: width - 3] + "...")
        for c in self.chapters():
            lines.append(
                f"chapter {c['chapter']} · {c['title']}: {c['score']}/{c['points']} points, "
                f"{c['passed']} of {c['exercises']} passed"
            )
        lines.append(
            f"total: {self.score}/{self.points} points, "
            f"{sum(r.passed for r in self.rows)} of {len(self.rows)} exercises passed"
        )
        return "\n".join(lines)


def _matches(nodeid: str, listed: str) -> bool:
    return nodeid == listed or nodeid.startswith(listed + "[")


def _trace_spec(directory: Path) -> dict:
    """``{"files": {absolute path: [[first, last, id], ...]}}``: the code lines of every
    solution region of the folder, 1-based and inclusive (markers excluded)."""
    files = {}
    for rel, regions in solution_regions(directory, source_files(directory)).items():
        files[str((directory / rel).resolve())] = [
            [r.begin + 2, r.end, r.exercise] for r in regions
        ]
    return {"files": files}


def _environment(directory: Path, plugin_dir: str, report: str, trace: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(directory), plugin_dir])  # the copy first
    env["SER_COURSE_REPORT"] = report
    env.pop("SER_COURSE_TRACE", None)
    if trace:
        env["SER_COURSE_TRACE"] = trace
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def grade(
    directory,
    *,
    chapters=None,
    timeout: float = DEFAULT_TIMEOUT,
    trace: bool = False,
    python: str | None = None,
) -> GradeSheet:
    """Run the exercise tests of ``directory`` on its own code and score them.

    Parameters
    ----------
    directory : path
        A copy written by ``ser course exercises`` (its ``.ser-course.json`` says which
        exercises it strips; only those are graded), or any checkout of the course (every
        exercise is graded: the reference checkout passes them all).
    chapters : iterable of int, optional
        Grade only these chapters' exercises.
    timeout : float
        Seconds the tests may take in all.
    trace : bool
        Also record which solution regions each test ran (slower; the course's own test).
    python : str, optional
        The interpreter (default: this one).

    Returns
    -------
    GradeSheet

    Raises
    ------
    ValueError
        ``directory`` is not a copy of the course; the tests could not be run, did not
        finish in time, or imported a package from outside ``directory``.
    """
    directory = Path(os.path.abspath(directory))
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such folder")
    missing = [p for p in ("tests", *PACKAGES) if not (directory / p).is_dir()]
    if missing:
        raise ValueError(
            f"{directory} is not a copy of the course (no {', '.join(missing)} folder); make "
            "one with: ser course exercises --out DIR"
        )
    if os.pathsep in str(directory):
        raise ValueError(f"{directory}: a folder whose path holds {os.pathsep!r} cannot be graded")
    manifest = read_manifest(directory)
    notes = []
    chosen = list(in_chapters(chapters))
    if manifest is not None:
        stripped = set(manifest["exercises"])
        chosen = [e for e in chosen if e.id in stripped]
    else:
        notes.append(f"no {directory.name}/.ser-course.json: grading every exercise")
    if not chosen:
        raise ValueError(f"{directory} strips no exercise of the chapters chosen")

    with tempfile.TemporaryDirectory(prefix="ser-course-grade-") as work:
        shutil.copyfile(Path(__file__).with_name("_pytest_report.py"), Path(work, _PLUGIN + ".py"))
        report = os.path.join(work, "report.json")
        trace_file = None
        if trace:
            trace_file = os.path.join(work, "trace.json")
            with open(trace_file, "w", encoding="utf-8") as f:
                json.dump(_trace_spec(directory), f)
        # only the files that hold the chosen exercises' tests: collecting the whole suite
        # would import every test module (and what they import) for nothing
        modules = sorted({t.split("::", 1)[0] for e in chosen for t in e.tests})
        present = [m for m in modules if (directory / m).is_file()]
        if not present:
            raise ValueError(f"{directory} holds none of the exercises' test files")
        command = [
            python or sys.executable,
            "-m",
            "pytest",
            *present,
            "-p",
            _PLUGIN,
            "-p",
            "no:cacheprovider",
            "-q",
            "--tb=short",
            "--continue-on-collection-errors",
            "-m",
            " or ".join(e.marker for e in chosen),
        ]
        try:
            done = subprocess.run(
                command,
                cwd=directory,
                env=_environment(directory, work, report, trace_file),
                capture_output=True,
                text=True,
                errors="backslashreplace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as err:
            raise ValueError(
                f"the tests of {directory} did not finish in {timeout:g} s (an endless loop in "
                "an exercise?)"
            ) from err
        if not os.path.exists(report) or done.returncode in (3, 4):
            raise ValueError(
                f"pytest could not run the tests of {directory} (exit status "
                f"{done.returncode}): {_last_line(done.stdout + done.stderr)}"
            )
        with open(report, encoding="utf-8") as f:
            data = json.load(f)
        data["modules"] = present

    origins = {k: v for k, v in data["origins"].items() if v}
    strays = {
        name: origin
        for name, origin in origins.items()
        if not Path(origin).resolve().is_relative_to(directory.resolve())
    }
    if strays:
        where = ", ".join(f"{name} from {origin}" for name, origin in strays.items())
        raise ValueError(f"the tests of {directory} imported {where}, not the copy's own code")
    return GradeSheet(directory, _rows(chosen, data), origins, tuple(notes))


def _rows(chosen: list[Exercise], data: dict) -> tuple[Row, ...]:
    tests, errors = data["tests"], data["collect_errors"]
    rows = []
    for exercise in chosen:
        results = [
            TestResult(
                nodeid,
                entry["outcome"],
                entry.get("message", ""),
                None if entry.get("regions") is None else tuple(entry["regions"]),
            )
            for nodeid, entry in tests.items()
            if exercise.id in entry.get("exercises", ())
        ]
        for listed in exercise.tests:  # a listed test that did not run is a failure
            if any(_matches(r.test, listed) for r in results):
                continue
            module = listed.split("::", 1)[0]
            reason = errors.get(module)
            if reason:
                message = f"{module} could not be collected: {reason}"
            elif module not in data.get("modules", [module]):
                message = f"{module} is missing"
            else:
                message = (
                    f"not collected (no test of that name carries the marker {exercise.marker})"
                )
            results.append(TestResult(listed, "not run", message))
        rows.append(Row(exercise, tuple(results)))
    passed = {row.exercise.id for row in rows if row.passed}
    graded = {row.exercise.id for row in rows}
    return tuple(
        Row(
            row.exercise,
            row.results,
            tuple(n for n in row.exercise.needs if n in graded and n not in passed)
            if not row.passed
            else (),
        )
        for row in rows
    )

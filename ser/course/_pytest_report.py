"""The pytest plugin of ``ser course grade``: what each test did, as JSON.

The grader copies this file out of its own checkout into a temporary folder and loads it
with ``-p``, so the report comes from the grader's code even though the tests, and the code
they import, are the student copy's. It imports nothing of the project.

Environment:

- ``SER_COURSE_REPORT``: where to write the report (required);
- ``SER_COURSE_TRACE`` (optional): a JSON file ``{"files": {path: [[first, last, id],
  ...]}}`` of solution-region lines (1-based, inclusive). Each test then records the IDs of
  the regions whose lines it ran (``sys.settrace``; the functools caches of the modules that
  hold regions are cleared before each test, so a cached result does not hide a region).
  The course's own test uses it to prove that each exercise's tests run only the regions
  they are meant to.

The report: ``{"tests": {nodeid: {"outcome", "message", "exercises", "regions"}},
"collect_errors": {nodeid: message}, "origins": {package: file}, "exitstatus": int}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys

import pytest

_PACKAGES = ("features", "nn", "ser")
_tests: dict[str, dict] = {}
_collect_errors: dict[str, str] = {}
_origins: dict[str, str | None] = {}
_trace_files: dict[str, list] = {}


def _first_line(text: str) -> str:
    """The first line of a failure that says something (``AssertionError:`` alone does not:
    numpy's assertions put their message on the next line)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line = f"{line} {lines[1]}"
    return line[:500]


def _message(report) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return _first_line(crash.message)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        return _first_line(longrepr[2])
    return _first_line(longrepr)


def pytest_configure(config):
    for name in _PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        _origins[name] = getattr(spec, "origin", None)
    trace = os.environ.get("SER_COURSE_TRACE")
    if trace:
        with open(trace, encoding="utf-8") as f:
            files = json.load(f)["files"]
        _trace_files.update({os.path.realpath(k): v for k, v in files.items()})


_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_ERROR_LINE = re.compile(r"^E?\s*([A-Za-z_][\w.]*(?:Error|Exception)\b.*)$")


def _collect_message(report) -> str:
    """What stopped a test file from importing, as a student needs it: the error and the
    student's file and line (``SyntaxError: invalid syntax (features/mel.py, line 197)``),
    never pytest's own frames or the grader's paths."""
    text = str(report.longrepr)
    errors = [m.group(1).strip() for line in text.splitlines() if (m := _ERROR_LINE.match(line))]
    places = [
        (path, line)
        for path, line in _FILE_LINE.findall(text)
        if os.path.realpath(path).startswith(os.getcwd() + os.sep)
    ]
    if not errors:
        return _message(report)
    where = ""
    if places:
        path, line = places[-1]
        where = f" ({os.path.relpath(os.path.realpath(path))}, line {line})"
    return f"{errors[-1]}{where}"[:500]


def pytest_collectreport(report):
    if report.failed:
        _collect_errors[report.nodeid] = _collect_message(report)


def pytest_collection_finish(session):
    for item in session.items:
        exercises = sorted({m.name[3:] for m in item.iter_markers() if m.name.startswith("ex_")})
        _tests[item.nodeid] = {
            "outcome": "not run",
            "message": "",
            "exercises": exercises,
            "regions": None,
        }


def pytest_runtest_logreport(report):
    entry = _tests.setdefault(
        report.nodeid, {"outcome": "not run", "message": "", "exercises": [], "regions": None}
    )
    if report.failed:
        if entry["outcome"] != "failed":  # the first failure of the test is the one to show
            where = "" if report.when == "call" else f"error in {report.when}: "
            entry.update(outcome="failed", message=where + _message(report))
    elif report.skipped and entry["outcome"] == "not run":
        entry.update(outcome="skipped", message=_message(report))
    elif report.when == "call" and report.passed and entry["outcome"] == "not run":
        entry["outcome"] = "passed"


# ---- tracing: which solution regions did each test run? ----

_spans_of_code: dict = {}


def _spans(code):
    """The region spans (first, last, id) that overlap ``code``'s lines, or () (cached)."""
    try:
        return _spans_of_code[code]
    except KeyError:
        pass
    spans = ()
    regions = _trace_files.get(os.path.realpath(code.co_filename))
    if regions:
        lines = [line for _, _, line in code.co_lines() if line is not None]
        if lines:
            low, high = min(lines), max(lines)
            spans = tuple(r for r in regions if r[0] <= high and r[1] >= low)
    _spans_of_code[code] = spans
    return spans


def _tracer(hits):
    def local(frame, event, arg):
        if event == "line":
            line = frame.f_lineno
            for first, last, exercise in _spans(frame.f_code):
                if first <= line <= last:
                    hits.add(exercise)
        return local

    def global_(frame, event, arg):
        if event == "call" and _spans(frame.f_code):
            return local
        return None

    return global_


def _clear_caches():
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or os.path.realpath(path) not in _trace_files:
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _trace_files:
        yield
        return
    hits: set[str] = set()
    _clear_caches()
    previous = sys.gettrace()
    sys.settrace(_tracer(hits))
    try:
        yield
    finally:
        sys.settrace(previous)
        _tests.setdefault(item.nodeid, {"outcome": "not run", "message": "", "exercises": []})
        _tests[item.nodeid]["regions"] = sorted(hits)


def pytest_sessionfinish(session, exitstatus):
    for name in _PACKAGES:  # what was really imported, where it was
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            _origins[name] = module.__file__
    report = {
        "tests": _tests,
        "collect_errors": _collect_errors,
        "origins": _origins,
        "exitstatus": int(exitstatus),
    }
    path = os.environ["SER_COURSE_REPORT"]
    with open(path + ".part", "w", encoding="utf-8") as f:
        json.dump(report, f)
    os.replace(path + ".part", path)

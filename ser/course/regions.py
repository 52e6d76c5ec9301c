"""Solution regions in source text: find them, replace them by stubs, put them back.

A region is the lines between two comment lines of their own::

    <indent># BEGIN SOLUTION ex=<ID>
    ... the reference code ...
    <indent># END SOLUTION

Only real comments count (the file is tokenised), so a marker quoted in a string or a
docstring is not one. The code of a region is indented at least as far as its markers, and
the markers sit at the indentation of the statements they enclose, so a region can be
replaced by one ``raise`` at that indentation and the file stays valid Python.

In a student copy the region becomes a stub between *exercise* markers, which say where
the student's code goes and let a solution be put back region by region::

    <indent># BEGIN EXERCISE ex=<ID>: replace the raise with your code (docs/exercises.md)
    <indent>raise NotImplementedError("exercise <ID>: <task>")
    <indent># END EXERCISE
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

__all__ = ["Region", "RegionError", "find_regions", "find_stubs", "strip", "restore"]

_BEGIN = re.compile(r"# BEGIN SOLUTION ex=(?P<id>[A-Za-z][A-Za-z0-9]*)\s*$")
_END = re.compile(r"# END SOLUTION\s*$")
_STUB_BEGIN = re.compile(r"# BEGIN EXERCISE ex=(?P<id>[A-Za-z][A-Za-z0-9]*)(:.*)?$")
_STUB_END = re.compile(r"# END EXERCISE\s*$")
_ANY_MARKER = re.compile(r"#\s*(BEGIN|END)\s+(SOLUTION|EXERCISE)\b")


class RegionError(ValueError):
    """Markers that do not make well-formed regions (the message names the file and line)."""


@dataclass(frozen=True)
class Region:
    """One solution (or stub) region of a source file.

    Attributes
    ----------
    exercise : str
        The ID after ``ex=``.
    begin, end : int
        0-based indices of the BEGIN and END marker lines in ``text.splitlines()``.
    indent : str
        The markers' indentation, which the stub keeps.
    function : str
        The qualified name of the function that holds the region (``"CMVNStats.apply"``).
    """

    exercise: str
    begin: int
    end: int
    indent: str
    function: str


def _marker_comments(text: str, path: str):
    """(0-based line, indent, comment) of every comment alone on its line that looks like a
    marker; a near-miss (``# BEGIN SOLUTION`` without ``ex=``) is returned too, so that it
    is reported instead of silently ignored."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.COMMENT or not _ANY_MARKER.match(token.string):
                continue
            line = token.line.rstrip("\r\n")
            indent = line[: len(line) - len(line.lstrip())]
            if line.strip() != token.string.strip():
                raise RegionError(f"{path}:{token.start[0]}: a marker must be alone on its line")
            found.append((token.start[0] - 1, indent, token.string.strip()))
    except (tokenize.TokenError, SyntaxError) as err:
        raise RegionError(f"{path}: cannot be tokenised: {err}") from err
    return found


def _functions(text: str, path: str):
    """(first line, last line, qualified name) of every function, 0-based, innermost last."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as err:
        raise RegionError(f"{path}:{err.lineno}: not valid Python: {err.msg}") from err
    spans = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno - 1, child.end_lineno - 1, name))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return spans


def _enclosing(spans, begin):
    """The innermost function whose body holds the BEGIN marker (the END marker may follow
    the function's last statement, which is where the function ends for ``ast``)."""
    inside = [(first, name) for first, last, name in spans if first < begin <= last]
    return max(inside)[1] if inside else ""


def _regions(text, path, begin_re, end_re, what):
    lines = text.splitlines()
    spans = _functions(text, path)
    regions, open_ = [], None
    for index, indent, comment in _marker_comments(text, path):
        begin, end = begin_re.match(comment), end_re.match(comment)
        if begin is None and end is None:
            if what in comment:  # a near-miss of this kind of marker
                raise RegionError(
                    f"{path}:{index + 1}: malformed marker {comment!r}; write "
                    f"'# BEGIN {what} ex=<ID>' and '# END {what}'"
                )
            continue
        if begin is not None:
            if open_ is not None:
                raise RegionError(
                    f"{path}:{index + 1}: BEGIN {what} inside the region opened on line "
                    f"{open_[0] + 1}"
                )
            open_ = (index, indent, begin.group("id"))
            continue
        if open_ is None:
            raise RegionError(f"{path}:{index + 1}: END {what} without a BEGIN")
        first, first_indent, exercise = open_
        open_ = None
        if indent != first_indent:
            raise RegionError(
                f"{path}:{index + 1}: END {what} is not indented as its BEGIN (line {first + 1})"
            )
        body = [line for line in lines[first + 1 : index] if line.strip()]
        if not body:
            raise RegionError(f"{path}:{first + 1}: the region of exercise {exercise} is empty")
        for offset, line in enumerate(lines[first + 1 : index], start=first + 2):
            if line.strip() and not line.startswith(first_indent):
                raise RegionError(
                    f"{path}:{offset}: a line of exercise {exercise}'s region is indented less "
                    "than its markers"
                )
        function = _enclosing(spans, first)
        if not function:
            raise RegionError(f"{path}:{first + 1}: the region of {exercise} is not in a function")
        regions.append(Region(exercise, first, index, first_indent, function))
    if open_ is not None:
        raise RegionError(f"{path}:{open_[0] + 1}: BEGIN {what} without an END")
    return regions


def find_regions(text: str, path: str = "<text>") -> list[Region]:
    """Every solution region of a source text, in order.

    Raises
    ------
    RegionError
        A marker that is malformed, not alone on its line, nested, unterminated, an empty
        region, a region line indented less than its markers, or a region outside any
        function; the message names ``path`` and the line.
    """
    return _regions(text, path, _BEGIN, _END, "SOLUTION")


def find_stubs(text: str, path: str = "<text>") -> list[Region]:
    """Every stub (exercise) region of a student copy's source text, in order."""
    return _regions(text, path, _STUB_BEGIN, _STUB_END, "EXERCISE")


def _stub(region: Region, task: str) -> list[str]:
    message = f"exercise {region.exercise}: {task}"
    return [
        f"{region.indent}# BEGIN EXERCISE ex={region.exercise}: replace the raise with your code"
        " (docs/exercises.md)",
        f"{region.indent}raise NotImplementedError({message!r})",
        f"{region.indent}# END EXERCISE",
    ]


def _splice(text: str, replacements) -> str:
    """``text`` with lines [begin, end] replaced, for each (begin, end, new lines)."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for begin, end, new in sorted(replacements, reverse=True):
        lines[begin : end + 1] = [line + newline for line in new]
    return "".join(lines)


def strip(text: str, path: str, exercises, task) -> str:
    """The source text with the regions of ``exercises`` replaced by stubs.

    Parameters
    ----------
    text : str
        A reference source file.
    path : str
        Its name, for error messages and for ``task``.
    exercises : collection of str
        The IDs whose regions are stripped; other regions keep their code and markers.
    task : callable (path, region) -> str
        The one-line task of a region, for the stub's message.

    Returns
    -------
    str
        Valid Python (checked by compiling it): docstrings and every line outside the
        stripped regions unchanged.
    """
    replacements = [
        (region.begin, region.end, _stub(region, task(path, region)))
        for region in find_regions(text, path)
        if region.exercise in exercises
    ]
    stripped = _splice(text, replacements)
    try:
        compile(stripped, path, "exec")
    except SyntaxError as err:  # a region that was not a block of whole statements
        raise RegionError(
            f"{path}:{err.lineno}: the file is not valid Python once stripped: {err.msg}"
        ) from err
    return stripped


def restore(student_text: str, reference_text: str, exercise: str, path: str = "<text>") -> str:
    """Put the reference's solution back into a student copy's file, for one exercise.

    The k-th stub of ``exercise`` in ``student_text`` is replaced by the k-th solution
    region of ``exercise`` in ``reference_text`` (markers included), whatever the student
    wrote between the stub's markers. Everything else of ``student_text`` is kept.

    Raises
    ------
    RegionError
        If the two files do not hold the same number of regions of ``exercise``.
    """
    stubs = [r for r in find_stubs(student_text, path) if r.exercise == exercise]
    solutions = [r for r in find_regions(reference_text, path) if r.exercise == exercise]
    if len(stubs) != len(solutions):
        raise RegionError(
            f"{path}: {len(stubs)} stub(s) of exercise {exercise} but {len(solutions)} "
            "solution region(s) in the reference"
        )
    reference_lines = reference_text.splitlines()
    replacements = [
        (stub.begin, stub.end, reference_lines[solution.begin : solution.end + 1])
        for stub, solution in zip(stubs, solutions, strict=True)
    ]
    return _splice(student_text, replacements)

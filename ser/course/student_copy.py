"""``ser course exercises``: a student copy of the repository, the solutions stripped.

The copy holds the repository's files (``git ls-files``, tracked and untracked-but-not-
ignored, in a git checkout; otherwise the project's folders walked, without virtual
environments, caches and outputs), with every solution region of the chosen exercises
replaced by a stub that raises ``NotImplementedError("exercise <ID>: <task>")``
(``ser.course.regions``). Docstrings, formulas, shapes and tests are kept: the exercise is
the formula, and the tests grade it.

The copy is written into a temporary folder beside ``out`` and renamed into place at the
end, so a failure (a full disk, Ctrl-C) leaves no half copy. Files and folders get the
modes a plain ``open`` and ``mkdir`` give (the umask's); executable files stay executable.
A manifest, ``.ser-course.json``, records which exercises the copy strips, for
``ser course grade``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ser.course.exercises import EXERCISES, Exercise, by_id, in_chapters
from ser.course.regions import Region, find_regions, strip

__all__ = [
    "MANIFEST",
    "CopyReport",
    "repository_root",
    "source_files",
    "solution_regions",
    "table_problems",
    "write_exercises",
    "read_manifest",
]

MANIFEST = ".ser-course.json"
PACKAGES = ("features", "nn", "ser")  # the folders whose .py files may hold regions
_TMP_PREFIX = ".ser-course-tmp-"
_TMP_NAME = re.compile(re.escape(_TMP_PREFIX) + r"(\d+)-[0-9a-f]{8}-")
# walked when there is no git: never these folders, files or suffixes
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build",
              "dist", "ser_output"}  # fmt: skip
_SKIP_PATHS = {"examples/output", "benchmarks/output"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".npy", ".egg-info")


@dataclass(frozen=True)
class CopyReport:
    """What ``write_exercises`` wrote.

    Attributes
    ----------
    out : Path
    files : int
        Files copied (the manifest not counted).
    exercises : tuple of Exercise
        The exercises stripped, in table order.
    regions : int
        Solution regions replaced by stubs.
    """

    out: Path
    files: int
    exercises: tuple[Exercise, ...]
    regions: int


def repository_root() -> Path:
    """The checkout this ``ser`` runs from (the folder holding ``ser/``).

    Raises
    ------
    ValueError
        If it is not a full checkout (no ``tests/`` or ``pyproject.toml``: an installed copy
        in site-packages), or if it is itself a student copy.
    """
    root = Path(__file__).resolve().parents[2]
    if not ((root / "pyproject.toml").is_file() and (root / "tests").is_dir()):
        raise ValueError(
            f"{root} holds no tests/ and pyproject.toml: make the exercises from a clone of "
            "the course installed with pip install -e ."
        )
    if (root / MANIFEST).exists():
        raise ValueError(
            f"{root} is a student copy (it has {MANIFEST}): make the exercises from the "
            "reference checkout"
        )
    return root


def _git_files(root: Path) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return [os.fsdecode(name) for name in done.stdout.split(b"\0") if name]


def _walked_files(root: Path) -> list[str]:
    files = []
    for folder, dirs, names in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.endswith(_SKIP_SUFFIXES)
            and (f"{rel}/{d}" if rel != "." else d) not in _SKIP_PATHS
        )
        for name in sorted(names):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            if name.endswith(".png") and rel != "docs/img":  # figures are regenerated
                continue
            files.append(name if rel == "." else f"{rel}/{name}")
    return files


def source_files(root: Path, *, exclude: Path | None = None) -> list[str]:
    """The repository's files, relative POSIX paths, sorted.

    In a git checkout: what git tracks or would track (``git ls-files --cached --others
    --exclude-standard``), so ``.gitignore`` keeps out virtual environments, caches and
    outputs. Elsewhere: the folders walked, skipping the same. Never: other student copies
    (folders with a ``.ser-course.json``), the temporary folders of copies being written,
    anything inside ``exclude``, symbolic links, and files that no longer exist.
    """
    root = Path(root)
    listed = _git_files(root)
    if listed is None:
        listed = _walked_files(root)
    copies = {
        Path(p).parent for p in listed if Path(p).name == MANIFEST and Path(p).parent != Path(".")
    }
    skip = set(copies)
    if exclude is not None:
        with contextlib.suppress(ValueError):
            skip.add(Path(os.path.abspath(exclude)).relative_to(root))
    files = []
    for rel in sorted(set(listed)):
        path = Path(rel)
        if any(part.startswith(_TMP_PREFIX) for part in path.parts):
            continue
        if any(folder == path or folder in path.parents for folder in skip):
            continue
        full = root / path
        if full.is_symlink() or not full.is_file():
            continue
        files.append(path.as_posix())
    return files


def solution_regions(root: Path, files) -> dict[str, list[Region]]:
    """``{path: regions}`` for every Python file of the packages that holds a region."""
    found = {}
    for rel in files:
        if not rel.endswith(".py") or rel.split("/", 1)[0] not in PACKAGES:
            continue
        text = (Path(root) / rel).read_text(encoding="utf-8")
        if "SOLUTION" not in text:
            continue
        regions = find_regions(text, rel)
        if regions:
            found[rel] = regions
    return found


def table_problems(regions: dict[str, list[Region]]) -> list[str]:
    """Where the exercise table and the markers in the code disagree (empty: they agree).

    Every region must belong to an exercise of the table and sit in a function that the
    exercise lists for that file; every listed part must hold exactly one region.
    """
    problems = []
    parts = {(p.path, p.function, e.id) for e in EXERCISES for p in e.parts}
    counts: dict[tuple, int] = {}
    for path, found in regions.items():
        for region in found:
            key = (path, region.function, region.exercise)
            counts[key] = counts.get(key, 0) + 1
            if key not in parts:
                problems.append(
                    f"{path}:{region.begin + 1}: a region of {region.exercise} in "
                    f"{region.function}, which the exercise table does not list"
                )
    for key in sorted(parts):
        if counts.get(key, 0) != 1:
            problems.append(
                f"{key[0]}: {key[1]} holds {counts.get(key, 0)} regions of {key[2]}, not one"
            )
    return problems


def _task(path: str, region: Region) -> str:
    for part in by_id(region.exercise).parts:
        if part.path == path and part.function == region.function:
            return part.task
    raise ValueError(f"{path}: no task for exercise {region.exercise} in {region.function}")


def _executable_mode() -> int:
    """The mode of a new executable file: the umask's file mode, executable where readable
    (0o755 for umask 022, 0o700 for 077)."""
    from ser.io import file_mode

    mode = file_mode()
    return mode | ((mode & 0o444) >> 2)


def _remove_dead_temporaries(folder: Path) -> None:
    """Remove the temporary folders of copies whose process was killed (``kill -9``)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TMP_NAME.match(entry.name)
            if not match or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                os.kill(int(match.group(1)), 0)
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def write_exercises(out, *, chapters=None, exercises=None, root=None) -> CopyReport:
    """Write a student copy of the repository into ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        A folder that does not exist yet, or is empty.
    chapters : iterable of int, optional
        Strip only these chapters' exercises (``ser.course.exercises.CHAPTERS``); the
        others keep their reference code. Default: every chapter.
    exercises : iterable of str, optional
        Strip only these exercise IDs (within ``chapters``, if given too).
    root : path, optional
        The reference checkout (default: ``repository_root()``).

    Returns
    -------
    CopyReport

    Raises
    ------
    ValueError
        ``out`` exists and is not an empty folder; an unknown chapter or exercise; the
        markers in the code and the exercise table disagree.
    OSError
        Whatever the file system says; nothing is left behind (no half copy).
    """
    out = Path(os.path.abspath(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; give a new folder")
    root = repository_root() if root is None else Path(root).resolve()
    chosen = list(in_chapters(chapters))
    if exercises is not None:
        wanted = {by_id(e).id for e in exercises}
        chosen = [e for e in chosen if e.id in wanted]
    if not chosen:
        raise ValueError("no exercise to strip in the chapters chosen")
    ids = {e.id for e in chosen}

    files = source_files(root, exclude=out)
    regions = solution_regions(root, files)
    problems = table_problems(regions)
    if problems:
        raise ValueError("the exercise table and the code disagree: " + "; ".join(problems))

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_temporaries(out.parent)
    tmp = out.parent / f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{out.name}"
    os.mkdir(tmp)  # the umask's mode, as every folder inside
    stripped = 0
    try:
        executable = _executable_mode()
        for rel in files:
            source, target = root / rel, tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in regions and any(r.exercise in ids for r in regions[rel]):
                text = source.read_text(encoding="utf-8")
                data = strip(text, rel, ids, _task).encode("utf-8")
                stripped += sum(r.exercise in ids for r in regions[rel])
            else:
                data = source.read_bytes()
            with open(target, "xb") as f:
                f.write(data)
            if source.stat().st_mode & 0o111:
                os.chmod(target, executable)
        manifest = {
            "format": 1,
            "made_by": "ser course exercises",
            "exercises": [e.id for e in chosen],
            "chapters": sorted({e.chapter for e in chosen}),
            "commit": _git_commit(root) if (root / ".git").exists() else None,
        }
        with open(tmp / MANIFEST, "x", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        os.replace(tmp, out)  # an empty folder at out is replaced in the same step
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CopyReport(out, len(files), tuple(chosen), stripped)


def read_manifest(directory) -> dict | None:
    """The manifest of a student copy, or None if ``directory`` has none.

    Raises
    ------
    ValueError
        A manifest that is not the JSON ``write_exercises`` writes.
    """
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        ids = manifest["exercises"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise TypeError("exercises is not a list of IDs")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a manifest of ser course exercises ({err})") from err
    return manifest

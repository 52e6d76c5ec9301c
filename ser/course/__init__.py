"""The course as coursework: exercises cut out of the reference code, graded by its tests.

- ``ser.course.exercises``: the exercise table (ID, chapter, points, the functions that
  hold its solution regions, the tests that grade it, what else they need, a hint);
- ``ser.course.regions``: the ``BEGIN SOLUTION ex=<ID>`` / ``END SOLUTION`` regions of
  the reference code, stripped into stubs and put back;
- ``ser.course.student_copy``: ``ser course exercises --out DIR``, the student copy;
- ``ser.course.grading``: ``ser course grade DIR``, the grade sheet.

docs/exercises.md is the instructor's and the student's guide.
"""

from ser.course.exercises import CHAPTERS, EXERCISES, Exercise, Part, by_id, in_chapters
from ser.course.grading import GradeSheet, grade
from ser.course.student_copy import MANIFEST, CopyReport, write_exercises

__all__ = [
    "CHAPTERS",
    "EXERCISES",
    "Exercise",
    "Part",
    "by_id",
    "in_chapters",
    "GradeSheet",
    "grade",
    "MANIFEST",
    "CopyReport",
    "write_exercises",
]

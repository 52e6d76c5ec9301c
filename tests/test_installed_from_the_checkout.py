"""The code that runs is the code in this checkout: a student's change to a source file is
what pytest and the lessons import (an `pip install .` copy in site-packages would shadow it;
the README installs the checkout editable)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "nn", "ser")


@pytest.mark.parametrize("name", PACKAGES)
def test_pytest_imports_the_checkout(name):
    module = __import__(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT), (
        f"{name} comes from {module.__file__}, not from {ROOT}: reinstall with pip install -e ."
    )


def test_a_lesson_run_from_anywhere_imports_the_checkout(tmp_path):
    code = "import features, nn, ser; print(features.__file__, nn.__file__, ser.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    for path in done.stdout.split():
        assert Path(path).resolve().is_relative_to(ROOT), done.stdout

"""docs/formulas.md names a test for every formula: each name must be a test that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_test_named_in_the_formula_table_exists():
    table = (ROOT / "docs" / "formulas.md").read_text()
    missing, current = [], None
    refs = re.findall(r"`([\w/]*\.py)?::(test_\w+)(?:\[[^\]`]*\])?`", table)
    assert len(refs) > 40, "the table should name a test for every formula"
    for ref in refs:
        file, name = ref
        current = file or current  # "`::test_x`" continues the file named before it
        source = (ROOT / "tests" / current).read_text()
        if not re.search(rf"^def {name}\(", source, flags=re.M):
            missing.append(f"{current}::{name}")
    assert not missing, f"docs/formulas.md names tests that do not exist: {missing}"

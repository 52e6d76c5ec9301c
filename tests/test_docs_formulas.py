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


def test_the_formula_key_is_in_the_repository_and_defines_every_id_the_table_cites():
    """A clone has the key (docs/formula-key.md), and each of the document's IDs that
    docs/formulas.md cites (C1, R0, L1, M10, P2, ...) is defined in it."""
    key = (ROOT / "docs" / "formula-key.md").read_text()
    defined = set(re.findall(r"\*\*([A-Z]\d+(?:\.\d+)?)\b", key))
    assert {"C1", "R1", "L1", "M10", "P2", "S2.5"} <= defined
    table = (ROOT / "docs" / "formulas.md").read_text()
    cited = set(re.findall(r"^\| ((?:C|R|L|P|M|A|Q)\d+) \|", table, flags=re.M))
    assert cited and cited <= defined, sorted(cited - defined)

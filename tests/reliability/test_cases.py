"""docs/RELIABILITY.md's table and the tests of tests/reliability/ describe the same cases."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reliability.cases import cases

HERE = Path(__file__).resolve().parent


def _sources() -> str:
    return "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != "test_cases.py")


def test_every_case_of_the_table_has_a_test_and_every_test_a_row():
    # A row is tested where its id is named: case("<id>"), or a key of a table of cases.
    named = set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', _sources()))
    called = set(re.findall(r'case\("([\w-]+)"\)', _sources()))
    assert not set(cases()) - named, f"rows without a test: {sorted(set(cases()) - named)}"
    assert not called - set(cases()), f"tests without a row: {sorted(called - set(cases()))}"


def test_the_table_is_well_formed():
    for row in cases().values():
        assert 1 <= row.finding <= 8, row
        assert row.exit in (None, 0, 1, 2), row
        if row.exit in (1, 2):
            assert row.line, f"{row.id}: an error exit needs its line"
            re.compile(row.line)
        if row.exit == 0:
            assert row.line is None, row

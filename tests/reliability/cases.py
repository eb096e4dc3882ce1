"""The reliability cases of docs/RELIABILITY.md, read from its table: each test names its row
with :func:`case` and checks the exit and the one line the table promises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/RELIABILITY.md"


@dataclass(frozen=True)
class Case:
    """One row: its id, the audit finding, what is tried, the exit and the line's pattern."""

    id: str
    finding: int
    tried: str
    exit: int | None  # None: no command (a function's error or a property)
    line: str | None  # a regular expression; None: no error line

    def check(self, line: str) -> None:
        """``line`` is one line and matches this case's pattern."""
        assert "\n" not in line.strip(), line
        assert self.line is not None and re.search(self.line, line), (self.line, line)


def _cells(row: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", row.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def _code(cell: str) -> str | None:
    return None if cell == "—" else cell.strip("`")


@cache
def cases() -> dict[str, Case]:
    """Every row of the table between ``<!-- cases -->`` and ``<!-- /cases -->``."""
    text = DOC.read_text()
    table = text.split("<!-- cases -->", 1)[1].split("<!-- /cases -->", 1)[0]
    rows = [r for r in table.strip().splitlines()[2:] if r.startswith("|")]
    found = {}
    for row in rows:
        name, finding, tried, exit_code, line = _cells(row)
        key = name.strip("`")
        assert key not in found, f"case {key} twice in {DOC.name}"
        found[key] = Case(key, int(finding), tried, None if exit_code == "—" else int(exit_code),
                          _code(line))  # fmt: skip
    return found


def case(name: str) -> Case:
    """The row ``name`` of the table."""
    return cases()[name]

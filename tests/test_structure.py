"""The package's import graph: which parts of ``src/epoch_kedro`` may import which.

A room is a top-level module or subpackage (``geometry``, ``data``, ``inference``, ...), each
pipeline its own room. Every import counts, those inside functions too: a lazy import still
ties two rooms together.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "epoch_kedro"


def _room(name: str) -> str | None:
    """The room of a dotted module name inside the package (None outside it)."""
    parts = name.split(".")
    if parts[0] != "epoch_kedro" or len(parts) < 2:
        return None
    depth = 3 if parts[1] == "pipelines" and len(parts) >= 3 else 2
    room = parts[:depth]
    base = SRC.joinpath(*room)
    return ".".join(room) if base.is_dir() or base.with_suffix(".py").is_file() else None


def _imports(path: Path) -> set[str]:
    """Dotted names imported by a source file (relative imports resolved)."""
    package = ".".join(path.relative_to(SRC).parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *filter(None, [base])])
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    """Room -> the other rooms it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        room = _room(module.removesuffix(".__init__"))
        if room is None:  # the package's own __init__
            continue
        targets = {_room(name) for name in _imports(path)}
        graph.setdefault(room, set()).update(t for t in targets if t and t != room)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle (rooms, first repeated at the end), or [] when there is none."""
    done: set[str] = set()

    def visit(room: str, path: list[str]) -> list[str]:
        if room in path:
            return [*path[path.index(room) :], room]
        if room in done:
            return []
        for target in sorted(graph.get(room, ())):
            found = visit(target, [*path, room])
            if found:
                return found
        done.add(room)
        return []

    for room in sorted(graph):
        found = visit(room, [])
        if found:
            return found
    return []


def test_the_rooms_import_each_other_without_a_circle():
    assert _cycle(import_graph()) == []


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_data_never_imports_inference_and_the_api_is_a_facade():
    graph = import_graph()
    assert "epoch_kedro.inference" not in graph["epoch_kedro.data"]
    # Nothing below the public API reaches back up into it.
    users = sorted(room for room, targets in graph.items() if "epoch_kedro.api" in targets)
    assert users == [], users
    assert "epoch_kedro.chain" not in graph["epoch_kedro.predict"]

"""The packages show their layers: the emulator stands apart from the loader and its modules
import each other without a circle; terminal presentation lives in loader/cli/ only."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Library modules that still build a terminal table, with the reason; remove the entry when
# the table moves to loader/cli/.
PRESENTATION_OUTSIDE_CLI = {
    # render_table (the `loader status` table) stays while the state store is being rewritten
    "loader/status.py",
}
PRESENTATION_PACKAGES = {"rich", "typer", "click"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top, in a function or under TYPE_CHECKING (a circle
    hidden behind TYPE_CHECKING is still a circle)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str) -> dict[str, set[str]]:
    files = sorted((REPO / package).rglob("*.py"))
    modules = {module_name(f): f for f in files}
    return {name: {m for m in imports(f) if m in modules and m != name}
            for name, f in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_emulator_imports_nothing_from_the_loader() -> None:
    offenders = {module_name(f): sorted(m for m in imports(f) if m.split(".")[0] == "loader")
                 for f in (REPO / "klaviyo_emulator").rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_emulator_modules_import_each_other_without_a_circle() -> None:
    graph = import_graph("klaviyo_emulator")
    assert "klaviyo_emulator.handlers" in graph and "klaviyo_emulator.server" in graph
    cycle = find_cycle({k: v - {"klaviyo_emulator"} for k, v in graph.items()})
    assert cycle is None, " -> ".join(cycle or [])


def test_presentation_lives_in_loader_cli() -> None:
    offenders = []
    for f in sorted((REPO / "loader").rglob("*.py")):
        rel = f.relative_to(REPO).as_posix()
        if rel.startswith("loader/cli/") or rel in PRESENTATION_OUTSIDE_CLI:
            continue
        used = sorted(m for m in imports(f) if m.split(".")[0] in PRESENTATION_PACKAGES)
        if used:
            offenders.append(f"{rel}: {', '.join(used)}")
    assert not offenders, "terminal presentation outside loader/cli/:\n" + "\n".join(offenders)

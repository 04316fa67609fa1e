"""The shape of the code: `sync/` never imports `bot/`, its packages import only the
floors below them, nothing imports in a circle, and every folder says what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "sync")
# sync/'s floors, bottom first: a module imports only from its own floor or below.
FLOORS = {
    "sync.config": 0,
    "sync.clock": 0,
    "sync.notices": 0,
    "sync.store": 1,
    "sync.codex": 2,
    "sync.org": 2,
    "sync.ingest": 3,
    "sync.reports": 4,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every project module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    known = modules()
    return {name for name in found if name in known and name.split(".")[0] in PACKAGES}


def floor_of(module: str) -> int | None:
    for prefix, floor in FLOORS.items():
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return None


def test_sync_never_imports_bot():
    offenders = {
        name: sorted(i for i in imports_of(path) if i.startswith("bot"))
        for name, path in modules().items()
        if name.startswith("sync")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_codexbot_try_imports_the_fake_slack():
    # The fake Slack (bot/cli/fake_slack.py) is for `codexbot try` and the tests: the app
    # that answers real Slack must never reach it.
    importers = sorted(
        name
        for name, path in modules().items()
        if "bot.cli.fake_slack" in imports_of(path) and name != "bot.cli.fake_slack"
    )
    assert importers == ["bot.cli.try_it"]


def test_sync_packages_import_only_their_floor_or_below():
    upward = []
    for name, path in modules().items():
        floor = floor_of(name)
        if floor is None:
            continue
        for imported in imports_of(path):
            target = floor_of(imported)
            if target is not None and target > floor:
                upward.append(f"{name} -> {imported}")
    assert upward == []


def test_no_module_imports_in_a_circle():
    graph = {name: imports_of(path) - {name} for name, path in modules().items()}
    # A package's __init__ importing its own modules is how packages present themselves.
    for name in graph:
        graph[name] = {i for i in graph[name] if not name.startswith(i + ".")}
    cycles = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize(
    "folder",
    sorted(
        str(p.parent.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("__init__.py")
    ),
)
def test_every_folder_says_what_it_owns(folder):
    docstring = ast.get_docstring(ast.parse((ROOT / folder / "__init__.py").read_text()))
    assert docstring and len(docstring.split()) >= 8, f"{folder}/__init__.py needs a docstring"

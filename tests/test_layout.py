"""The house by role: imports run one way, from the wiring down to the store, in no circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "smartmail"

# Lower layers never import from higher ones; a layer may use its own and any below it.
LAYERS: list[set[str]] = [
    {"errors", "config"},
    {"store"},
    {"mail", "rules", "desk", "outbound"},
    {"pipeline"},
    {"app"},
    {"inbound", "clock", "web"},
    {"daemon", "cli", "privacy_cli", "__main__", "entry", "ingest", "admin", "starting"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """smartmail modules `path` imports, TYPE_CHECKING and function-level ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != "smartmail"}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(path, known) for name, path in modules.items()}
    # A package's __init__ is imported on the way to any of its modules: not an edge.
    return {
        name: {dep for dep in deps if not name.startswith(dep + ".")}
        for name, deps in graph.items()
    }


def _layer(module: str) -> int:
    room = module.split(".")[1] if module.count(".") else ""
    for index, rooms in enumerate(LAYERS):
        if room in rooms:
            return index
    raise AssertionError(f"{module} is in no layer: add its room to LAYERS")


def test_every_module_lives_in_a_known_room() -> None:
    for module in _modules():
        if module != "smartmail":
            _layer(module)


def test_imports_run_one_way_down_the_layers() -> None:
    wrong = [
        f"{module} imports {dep}"
        for module, deps in _graph().items()
        if module != "smartmail"
        for dep in deps
        if _layer(dep) > _layer(module)
    ]
    assert wrong == []


def test_no_two_modules_import_each_other_in_a_circle() -> None:
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[str] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            circles.append(" -> ".join([*visiting[visiting.index(module) :], module]))
            return
        visiting.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []

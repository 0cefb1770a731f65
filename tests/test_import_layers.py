"""Imports run one way, down the layers: no module of the package imports, directly or through
others, one that imports it back. Every import counts, those under `if TYPE_CHECKING:` and those
inside functions too: a loop there is a layer that knows the one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import docker_credential_convox

PACKAGE_DIR = Path(docker_credential_convox.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def package_modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    modules = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports anywhere in its text."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pkg import module` imports the module
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules.keys()


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    graph = {name: imported_modules(path, modules) - {name} for name, path in modules.items()}
    # A package naming its own submodules is how Python packages are built; a loop through
    # anything else is a layer that reaches back up.
    return {
        name: {target for target in targets if not target.startswith(name + ".")}
        for name, targets in graph.items()
    }


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in sorted(graph[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_the_package_has_no_import_loop() -> None:
    assert loops(import_graph()) == []


def test_the_aws_call_layer_knows_no_source_backend_or_router() -> None:
    graph = import_graph()
    aws_layer = [name for name in graph if name.startswith(f"{PACKAGE}.aws")]
    above = (f"{PACKAGE}.sources", f"{PACKAGE}.backends", f"{PACKAGE}.helper")
    reaching_up = {
        name: sorted(target for target in graph[name] if target.startswith(above))
        for name in aws_layer
    }
    assert aws_layer
    assert {name: targets for name, targets in reaching_up.items() if targets} == {}


def test_the_registries_commands_do_not_import_the_protocol_cli() -> None:
    graph = import_graph()
    importers = sorted(name for name, targets in graph.items() if f"{PACKAGE}.cli" in targets)
    assert [name for name in importers if name.startswith(f"{PACKAGE}.registries")] == []

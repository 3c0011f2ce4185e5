"""The import graph of vaegrade's own code, read with ``ast`` (every import counts: at module
level, inside functions, and for type checking alone): no module imports another that imports
it back by any path, no stage folder imports a stage that imports it back, and no module
imports more than 15 of the project's modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

#: Where each of the distribution's packages lives in the repository (pyproject's package-dir).
FOLDERS = {"vaegrade": ROOT / "vaegrade", "vaegrade.grader": ROOT / "grader", "vaegrade.reference": ROOT / "reference"}
MAX_IMPORTS = 15


def modules() -> dict[str, Path]:
    """Every module of the distribution, by dotted name."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            found[".".join((package, *parts)).removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from a.b import c`` is ``a.b.c`` when that is a module, else ``a.b``)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                        for alias in node.names}
    return {target for target in targets if target in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, set(known)) - {name} for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def stage(module: str) -> str:
    """A module's stage: its folder under ``vaegrade.grader`` (``vaegrade.grader.run``), else the module itself."""
    parts = module.split(".")
    if parts[:2] == ["vaegrade", "grader"] and len(parts) > 3:
        return ".".join(parts[:3])
    if parts[:2] == ["vaegrade", "reference"]:
        return "vaegrade.reference"
    return module


def test_no_module_is_in_an_import_circle():
    assert circles(graph()) == []


def test_no_stage_imports_a_stage_that_imports_it():
    stages: dict[str, set[str]] = {}
    for module, targets in graph().items():
        stages.setdefault(stage(module), set()).update(stage(t) for t in targets if stage(t) != stage(module))
    assert circles(stages) == []


def test_no_module_imports_more_than_15_of_the_projects_modules():
    crowded = {module: len(targets) for module, targets in graph().items() if len(targets) > MAX_IMPORTS}
    assert crowded == {}


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_folder_is_listed_in_pyproject():
    listed = ROOT.joinpath("pyproject.toml").read_text(encoding="utf-8")
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert all(f'"{package}"' in listed for package in packages), packages

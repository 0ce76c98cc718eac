"""The layering holds: dependencies point inward, no import cycle, no module too long to read.

Layers, outermost first: ``app.py`` · ``api`` and ``consumers`` (the edges) · ``wiring``
(composition) · ``services`` (use cases and their ports) · ``adapters`` · ``domain``. An edge
may import wiring, services and domain; services import services and domain; adapters import
the domain only; the domain imports nothing of ours but itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
MAX_LINES = 400

ALLOWED = {
    "domain": {"domain"},
    "adapters": {"domain", "adapters"},
    "connectors": {"domain", "connectors"},  # pure mappings of platforms' payloads
    "services": {"domain", "services", "connectors"},
    "wiring": {"domain", "services", "adapters", "config", "wiring"},
    "api": {"domain", "services", "api", "wiring", "config"},
    "consumers": {"domain", "services", "api", "consumers", "wiring", "config"},
}


def _modules(root: Path = ROOT) -> dict[str, Path]:
    """``chalicelib.x.y`` -> its file, for every module of the package under ``root``."""
    found = {}
    for path in (root / "chalicelib").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The chalicelib module an import names (a name imported from a package may be one)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path, modules: dict[str, Path], *, runtime_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:  # names imported only for type checkers never run
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("chalicelib."):
                target = _resolve(name, modules)
                if target:
                    found.add(target)
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "chalicelib"


def _outward(modules: dict[str, Path]) -> list[str]:
    return [
        f"{module} imports {target}"
        for module, path in sorted(modules.items())
        if _layer(module) in ALLOWED
        for target in sorted(_imports(path, modules, runtime_only=False))
        if _layer(target) not in ALLOWED[_layer(module)]
    ]


def _cycles(modules: dict[str, Path]) -> list[list[str]]:
    graph = {m: _imports(p, modules, runtime_only=True) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_every_layer_imports_only_what_lies_inward():
    assert _outward(_modules()) == []


def test_services_never_import_adapters():
    assert [v for v in _outward(_modules()) if "services" in v.split()[0]] == []


def test_there_is_no_import_cycle():
    assert _cycles(_modules()) == []


@pytest.mark.parametrize("suffix", [".py", ".js"])
def test_no_module_is_over_the_line_limit(suffix):
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob(f"*{suffix}")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_see_an_outward_import_and_a_cycle(tmp_path):
    files = {
        "chalicelib/__init__.py": "",
        "chalicelib/domain/__init__.py": "",
        "chalicelib/domain/a.py": "from chalicelib.domain import b\n",
        "chalicelib/domain/b.py": "import chalicelib.domain.a\n",
        "chalicelib/services/__init__.py": "",
        "chalicelib/services/c.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from chalicelib.adapters.d import D\n"
        ),
        "chalicelib/adapters/__init__.py": "",
        "chalicelib/adapters/d.py": "from chalicelib.services.c import C\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    modules = _modules(tmp_path)
    assert _outward(modules) == [
        "chalicelib.adapters.d imports chalicelib.services.c",
        "chalicelib.services.c imports chalicelib.adapters.d",
    ]
    assert _cycles(modules) == [
        ["chalicelib.domain.a", "chalicelib.domain.b", "chalicelib.domain.a"]
    ]

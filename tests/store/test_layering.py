"""The store is a lower layer than packages and trust: it imports neither.

Function-level and type-checking imports count too: a cycle hidden in a
function is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import mppoci.store

ABOVE_THE_STORE = ("mppoci.package", "mppoci.trust")


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_store_imports_neither_packages_nor_trust() -> None:
    folder = Path(mppoci.store.__file__).parent
    modules = sorted(folder.rglob("*.py"))
    assert modules
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imported(path)
        if any(name == above or name.startswith(f"{above}.") for above in ABOVE_THE_STORE)
    }
    assert offending == set()

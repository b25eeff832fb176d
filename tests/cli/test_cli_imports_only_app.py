"""The CLI is a front end: argument parsing, formatting and exit codes.
Everything it does goes through the application layer (mppoci.app), so a
Python host gets the same checks and audit records (issue #18)."""

from __future__ import annotations

import ast
from pathlib import Path

import mppoci.cli

CLI = Path(mppoci.cli.__file__).parent


def _core_imports(path: Path) -> list[tuple[int, str]]:
    """Every mppoci module ``path`` imports, at any depth (function-level too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "mppoci":
                found += [(node.lineno, f"mppoci.{a.name}") for a in node.names]
            elif node.module.startswith("mppoci."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("mppoci")]
    return found


def _allowed(module: str) -> bool:
    return module in ("mppoci.app", "mppoci.cli") or module.startswith(
        ("mppoci.app.", "mppoci.cli.")
    )


def test_cli_modules_import_nothing_of_the_core_but_the_application_layer() -> None:
    outside = [
        f"{path.name}:{line}: {module}"
        for path in sorted(CLI.glob("*.py"))
        for line, module in _core_imports(path)
        if not _allowed(module)
    ]
    assert outside == [], "\n".join(outside)


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "probe.py"
    sample.write_text("import os\n\n\ndef f() -> None:\n    from mppoci.store import Store\n")
    assert _core_imports(sample) == [(5, "mppoci.store")]
    assert not _allowed("mppoci.store") and _allowed("mppoci.app.session")

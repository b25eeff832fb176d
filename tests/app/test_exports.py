"""mppoci.app lists its names three times (lazy table, __all__, and the
imports type checkers read); they must agree, and every name must load."""

from __future__ import annotations

import ast
from pathlib import Path

import mppoci.app as app


def _type_checking_names() -> set[str]:
    tree = ast.parse(Path(app.__file__).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    names |= {a.asname or a.name for a in stmt.names}
    return names


def test_all_the_lazy_table_and_the_typed_imports_name_the_same_things() -> None:
    table = set(app._EXPORTS)
    assert set(app.__all__) == table | {"__version__"}
    assert len(app.__all__) == len(set(app.__all__)), "a name is listed twice in __all__"
    assert _type_checking_names() == table


def test_no_exported_name_is_shadowed_by_a_submodule_of_the_same_name() -> None:
    # Importing mppoci.app.X sets the package's attribute X to the module.
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(app.__path__)}
    assert submodules & set(app._EXPORTS) == set()


def test_every_exported_name_loads_from_the_module_the_table_names() -> None:
    for name, module in app._EXPORTS.items():
        value = getattr(app, name)
        assert value is not None, name
        assert getattr(__import__(module, fromlist=[name]), name) is value, name

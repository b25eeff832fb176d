"""The tool names an MCP client sees. Pure.

With one package, tools keep their declared names. With several, each name
is prefixed with its package's short name (the part after the ``/``) and
:data:`SEPARATOR`: ``acme/echo`` + ``say`` -> ``echo_say``. Names are looked up
in a table, never split, so a ``_`` inside a name is harmless; two packages
whose names would collide are refused at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mppoci.errors import UserInputError
from mppoci.manifest import Manifest, Tool

SEPARATOR = "_"


@dataclass(frozen=True, slots=True)
class Exposed:
    """One tool as a client sees it: ``name``, and where it comes from."""

    name: str
    package: int  # index into the served packages
    tool: Tool


def short_name(package_name: str) -> str:
    """``acme/word-count`` -> ``word-count``."""
    return package_name.split("/", 1)[1]


def expose(manifests: Sequence[Manifest]) -> dict[str, Exposed]:
    """Exposed name -> tool, in the packages' order.

    Raises UserInputError when a package is served twice or two exposed names
    collide."""
    seen: dict[str, str] = {}
    for m in manifests:
        if m.name in seen:
            raise UserInputError(
                f"{m.name} is named twice (versions {seen[m.name]} and {m.version})",
                hint="serve one version of a package",
            )
        seen[m.name] = m.version
    prefixed = len(manifests) > 1
    out: dict[str, Exposed] = {}
    for index, m in enumerate(manifests):
        for tool in m.tools:
            name = f"{short_name(m.name)}{SEPARATOR}{tool.name}" if prefixed else tool.name
            if name in out:
                other = manifests[out[name].package]
                raise UserInputError(
                    f"the tool name {name!r} would mean both {other.name} "
                    f"({out[name].tool.name}) and {m.name} ({tool.name})",
                    hint="serve these packages from two `mppoci serve` processes",
                )
            out[name] = Exposed(name, index, tool)
    return out

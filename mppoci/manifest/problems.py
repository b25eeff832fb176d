"""Collecting every problem of a manifest, each named by the path of its field."""

from __future__ import annotations

import json
import re

from mppoci.errors import ManifestError

# Beyond this many problems the rest is summarised: a hostile file with
# thousands of unknown keys should not turn into a thousand-line message.
MAX_REPORTED = 100

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]{0,63}", re.ASCII)
_SHOWN_KEY_CHARS = 64


def child(path: str, key: str) -> str:
    """The path of field ``key`` inside the mapping at ``path``.

    Keys that would be ambiguous in a dotted path (dots, brackets, spaces) are
    written as a quoted JSON string, and long keys are shortened: the path ends
    up in a terminal, and the key came from outside.
    """
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    shown = key if len(key) <= _SHOWN_KEY_CHARS else key[:_SHOWN_KEY_CHARS] + "..."
    return f"{path}[{json.dumps(shown)}]"


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


class Problems:
    """An ordered list of (path, message) found so far.

    The empty path stands for the whole document (syntax errors, size).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._found: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self._found.append((path, message))

    def mark(self) -> int:
        """A bookmark for :meth:`since`."""
        return len(self._found)

    def since(self, mark: int) -> bool:
        """Whether any problem was added after ``mark`` was taken."""
        return len(self._found) > mark

    def __bool__(self) -> bool:
        return bool(self._found)

    def error(self) -> ManifestError:
        found = self._found
        if len(found) > MAX_REPORTED:
            more = len(found) - MAX_REPORTED
            found = [*found[:MAX_REPORTED], ("", f"... and {more} more problems")]
        return ManifestError(found, source=self.source)

    def raise_if_any(self) -> None:
        """Raises: ManifestError carrying every problem added so far, if any."""
        if self._found:
            raise self.error()

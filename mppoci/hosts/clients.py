"""Registering `mppoci serve` with MCP clients: the JSON each client reads,
where it reads it, and a merge that keeps every other entry.

Formats and locations (sources in docs/mcp.md):

- Claude Desktop: ``claude_desktop_config.json``, servers under
  ``mcpServers``; in ``~/Library/Application Support/Claude/`` on macOS and
  ``%APPDATA%\\Claude\\`` on Windows. There is no documented location on
  Linux: the snippet is printed, never written to a guessed path.
- VS Code: ``.vscode/mcp.json`` in the workspace, servers under ``servers``,
  each with ``"type": "stdio"``.
- Cursor: ``~/.cursor/mcp.json`` (global) or ``.cursor/mcp.json`` in the
  project, servers under ``mcpServers``.

Everything here is pure except :func:`install`, which writes atomically and
keeps a backup of the file it replaces.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from mppoci.errors import UserInputError
from mppoci.fsutil import atomic_write, write_new


class ClientName(StrEnum):
    CLAUDE = "claude"
    VSCODE = "vscode"
    CURSOR = "cursor"


class Scope(StrEnum):
    GLOBAL = "global"
    PROJECT = "project"


_KEY = {
    ClientName.CLAUDE: "mcpServers",
    ClientName.VSCODE: "servers",
    ClientName.CURSOR: "mcpServers",
}
_TITLE = {
    ClientName.CLAUDE: "Claude Desktop",
    ClientName.VSCODE: "VS Code",
    ClientName.CURSOR: "Cursor",
}


def title(client: ClientName) -> str:
    return _TITLE[client]


def servers_key(client: ClientName) -> str:
    """The top-level key that holds the servers in this client's file."""
    return _KEY[client]


def server_entry(
    client: ClientName,
    command: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One server's entry: how the client starts `mppoci serve`."""
    entry: dict[str, Any] = {"type": "stdio"} if client is ClientName.VSCODE else {}
    entry["command"] = command
    entry["args"] = list(args)
    if env:
        entry["env"] = dict(env)
    return entry


def snippet(client: ClientName, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest file that registers ``entry`` as ``name``."""
    return {servers_key(client): {name: dict(entry)}}


def merge(
    existing: Mapping[str, Any], client: ClientName, name: str, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """``existing`` with ``name`` set to ``entry``; every other key and server kept,
    in order.

    Raises UserInputError when the servers key holds something else than an object."""
    key = servers_key(client)
    merged = dict(existing)
    servers = merged.get(key, {})
    if not isinstance(servers, dict):
        raise UserInputError(
            f"{key!r} in the existing file is not a JSON object; it was left as it is",
            hint="fix the file by hand, or add the entry printed without --write",
        )
    merged[key] = {**servers, name: dict(entry)}
    return merged


def config_path(
    client: ClientName,
    *,
    platform: str,
    environ: Mapping[str, str],
    home: PurePath,
    workspace: PurePath,
    scope: Scope = Scope.GLOBAL,
) -> PurePath | None:
    """Where this client reads its servers, or None where no location is documented.
    Pure: ``platform`` is ``sys.platform``, paths are given."""
    if client is ClientName.CLAUDE:
        if platform == "darwin":
            return PurePosixPath(home, "Library", "Application Support", "Claude").joinpath(
                "claude_desktop_config.json"
            )
        if platform == "win32":
            appdata = environ.get("APPDATA")
            if not appdata:
                return None
            return PureWindowsPath(appdata, "Claude", "claude_desktop_config.json")
        return None
    if client is ClientName.VSCODE:
        return workspace / ".vscode" / "mcp.json"
    if scope is Scope.PROJECT:
        return workspace / ".cursor" / "mcp.json"
    return home / ".cursor" / "mcp.json"


def render(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a \ud800 escape in an existing file) has no UTF-8
        # form; JSON's own escapes keep it, and the document means the same.
        text = json.dumps(document, indent=2) + "\n"
    return text


@dataclass(frozen=True, slots=True)
class Installed:
    path: Path
    backup: Path | None  # the file as it was, when there was one
    replaced: bool  # an entry of that name was there before


def install(
    path: Path, client: ClientName, name: str, entry: Mapping[str, Any], *, create_folder: bool
) -> Installed:
    """Merge ``entry`` into the file at ``path``: backup first, then one atomic write.

    Raises UserInputError when the file is not plain JSON or its folder is
    missing (and may not be created)."""
    folder = path.parent
    if not folder.is_dir():
        if not create_folder:
            raise UserInputError(
                f"{folder} does not exist, so {title(client)} does not seem to be installed here",
                hint="install and start it once, or add the entry printed without --write by hand",
            )
        folder.mkdir(parents=True, exist_ok=True)
    existing: dict[str, Any] = {}
    backup: Path | None = None
    mode = 0o600
    if path.exists():
        raw = path.read_bytes()
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError) as e:
            raise UserInputError(
                f"{path} is not plain JSON ({e}); it may hold comments or trailing commas, "
                "so it was not changed",
                hint="add the entry printed without --write by hand",
            ) from None
        if not isinstance(parsed, dict):
            raise UserInputError(f"{path} does not hold a JSON object; it was not changed")
        existing = parsed
        mode = path.stat().st_mode & 0o777
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # A new file every time (O_EXCL, a counter when the stamp is taken):
        # a second install in the same microsecond never overwrites a backup.
        backup = write_new(folder, f"{path.name}.{stamp}", ".bak", raw, mode=mode)
    servers = existing.get(servers_key(client))
    replaced = isinstance(servers, dict) and name in servers
    merged = merge(existing, client, name, entry)
    atomic_write(path, render(merged).encode(), mode=mode)
    return Installed(path=path, backup=backup, replaced=replaced)


def default_command() -> tuple[str, list[str]]:
    """How a client starts this mppoci: the console script beside the running
    interpreter when there is one, else ``python -m mppoci``."""
    script = Path(sys.executable).parent / ("mppoci.exe" if os.name == "nt" else "mppoci")
    if script.is_file():
        return str(script), []
    return sys.executable, ["-m", "mppoci"]

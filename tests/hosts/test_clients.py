"""Client configuration for `mppoci serve`: each client's format and file,
merges that keep everything else, and writes that never lose the old file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

import mppoci.hosts.clients as clients_module
from mppoci.errors import UserInputError
from mppoci.fsutil import write_new
from mppoci.hosts.clients import (
    ClientName,
    Scope,
    config_path,
    install,
    merge,
    render,
    server_entry,
    snippet,
)

CMD = "/opt/venv/bin/mppoci"
ARGS = ["serve", "acme/echo"]
HOME = PurePosixPath("/home/ada")
WORK = PurePosixPath("/work/proj")


def test_claude_and_cursor_use_mcp_servers_and_vscode_servers_with_stdio_type() -> None:
    claude = snippet(ClientName.CLAUDE, "mppoci-echo", server_entry(ClientName.CLAUDE, CMD, ARGS))
    assert claude == {"mcpServers": {"mppoci-echo": {"command": CMD, "args": ARGS}}}
    cursor = snippet(ClientName.CURSOR, "m", server_entry(ClientName.CURSOR, CMD, ARGS))
    assert cursor == {"mcpServers": {"m": {"command": CMD, "args": ARGS}}}
    vscode = snippet(ClientName.VSCODE, "m", server_entry(ClientName.VSCODE, CMD, ARGS))
    assert vscode == {"servers": {"m": {"type": "stdio", "command": CMD, "args": ARGS}}}


def test_env_is_written_only_when_given() -> None:
    entry = server_entry(ClientName.CLAUDE, CMD, ARGS, {"MPPOCI_HOME": "/srv/mppoci"})
    assert entry["env"] == {"MPPOCI_HOME": "/srv/mppoci"}
    assert "env" not in server_entry(ClientName.CLAUDE, CMD, ARGS, {})


def test_render_is_indented_json_with_a_final_newline() -> None:
    text = render({"mcpServers": {}})
    assert text.endswith("}\n") and json.loads(text) == {"mcpServers": {}}


def test_merge_keeps_other_servers_and_keys_in_order() -> None:
    existing = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {"files": {"command": "npx", "args": ["fs"]}},
        "theme": "dark",
    }
    merged = merge(existing, ClientName.CLAUDE, "mppoci-echo", {"command": CMD, "args": ARGS})
    assert list(merged) == ["globalShortcut", "mcpServers", "theme"]
    assert merged["mcpServers"]["files"] == {"command": "npx", "args": ["fs"]}
    assert merged["mcpServers"]["mppoci-echo"] == {"command": CMD, "args": ARGS}
    assert existing["mcpServers"] == {"files": {"command": "npx", "args": ["fs"]}}  # not mutated


def test_merge_replaces_an_entry_of_the_same_name_and_adds_a_missing_key() -> None:
    merged = merge({"servers": {"m": {"old": 1}}}, ClientName.VSCODE, "m", {"new": 2})
    assert merged == {"servers": {"m": {"new": 2}}}
    assert merge({"inputs": []}, ClientName.VSCODE, "m", {"a": 1}) == {
        "inputs": [],
        "servers": {"m": {"a": 1}},
    }


def test_merge_refuses_a_servers_key_that_is_not_an_object() -> None:
    with pytest.raises(UserInputError, match="not a JSON object"):
        merge({"mcpServers": []}, ClientName.CURSOR, "m", {})


def test_claude_locations_are_the_documented_ones_and_none_on_linux() -> None:
    mac = config_path(ClientName.CLAUDE, platform="darwin", environ={}, home=HOME, workspace=WORK)
    assert mac == PurePosixPath(
        "/home/ada/Library/Application Support/Claude/claude_desktop_config.json"
    )
    windows = config_path(
        ClientName.CLAUDE,
        platform="win32",
        environ={"APPDATA": "C:\\Users\\ada\\AppData\\Roaming"},
        home=PureWindowsPath("C:\\Users\\ada"),
        workspace=WORK,
    )
    assert windows == PureWindowsPath(
        "C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json"
    )
    for platform in ("win32", "linux"):  # no APPDATA; no documented location
        where = config_path(
            ClientName.CLAUDE, platform=platform, environ={}, home=HOME, workspace=WORK
        )
        assert where is None


def test_vscode_uses_the_workspace_and_cursor_global_or_project() -> None:
    args = {"platform": "linux", "environ": {}, "home": HOME, "workspace": WORK}
    assert config_path(ClientName.VSCODE, **args) == WORK / ".vscode" / "mcp.json"
    assert config_path(ClientName.CURSOR, **args) == HOME / ".cursor" / "mcp.json"
    assert config_path(ClientName.CURSOR, scope=Scope.PROJECT, **args) == WORK / ".cursor/mcp.json"


def test_install_merges_keeps_a_backup_and_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    before = {"mcpServers": {"files": {"command": "npx"}}, "other": True}
    path.write_text(json.dumps(before))
    path.chmod(0o640)
    done = install(path, ClientName.CLAUDE, "mppoci-echo", {"command": CMD}, create_folder=False)
    after = json.loads(path.read_text())
    assert after == {
        "mcpServers": {"files": {"command": "npx"}, "mppoci-echo": {"command": CMD}},
        "other": True,
    }
    assert done.backup is not None and json.loads(done.backup.read_text()) == before
    assert not done.replaced and path.stat().st_mode & 0o777 == 0o640
    again = install(path, ClientName.CLAUDE, "mppoci-echo", {"command": "x"}, create_folder=False)
    assert again.replaced and again.backup != done.backup
    assert json.loads(path.read_text())["mcpServers"]["mppoci-echo"] == {"command": "x"}
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temp file


def test_install_refuses_json_with_comments_and_leaves_it_untouched(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    text = '{\n  // my servers\n  "servers": {}\n}\n'
    path.write_text(text)
    with pytest.raises(UserInputError, match="not plain JSON"):
        install(path, ClientName.VSCODE, "m", {}, create_folder=True)
    assert path.read_text() == text
    assert list(tmp_path.iterdir()) == [path]


def test_install_creates_a_project_folder_but_not_an_application_folder(tmp_path: Path) -> None:
    vscode = tmp_path / "proj" / ".vscode" / "mcp.json"
    install(vscode, ClientName.VSCODE, "m", {"type": "stdio"}, create_folder=True)
    assert json.loads(vscode.read_text()) == {"servers": {"m": {"type": "stdio"}}}
    claude = tmp_path / "Library" / "Claude" / "claude_desktop_config.json"
    with pytest.raises(UserInputError, match="does not seem to be installed"):
        install(claude, ClientName.CLAUDE, "m", {}, create_folder=False)
    assert not claude.parent.exists()


def test_two_installs_in_the_same_microsecond_keep_both_backups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup name is a timestamp; a clock that does not move (a fast
    machine, a coarse clock) must not make the second backup overwrite the first."""
    frozen = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(frozen.timestamp(), tz)

    monkeypatch.setattr(clients_module, "datetime", Frozen)
    path = tmp_path / "mcp.json"
    path.write_text('{"servers": {"first": {}}}')
    one = install(path, ClientName.VSCODE, "a", {"command": "x"}, create_folder=False)
    two = install(path, ClientName.VSCODE, "b", {"command": "y"}, create_folder=False)
    assert one.backup is not None and two.backup is not None
    assert one.backup.name == "mcp.json.20260102T030405678901Z.bak"
    assert two.backup.name == "mcp.json.20260102T030405678901Z-1.bak"
    assert json.loads(one.backup.read_text()) == {"servers": {"first": {}}}
    assert set(json.loads(two.backup.read_text())["servers"]) == {"first", "a"}


def test_a_backup_is_never_written_through_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "f.bak").symlink_to(target)
    written = write_new(tmp_path, "f", ".bak", b"data")
    assert written.name == "f-1.bak" and written.read_bytes() == b"data"
    assert not target.exists()

"""`mppoci mcp config`: the snippet for each client, and --write that merges."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import CliRunner, write_package


@pytest.fixture
def built(cli: CliRunner, tmp_path: Path) -> str:
    result = cli("build", str(write_package(tmp_path / "pkg")))
    assert result.returncode == 0, result.stderr
    return "acme/word-count"


def test_vscode_snippet_is_printed_and_written_into_the_workspace(
    cli: CliRunner, built: str, tmp_path: Path, home: Path
) -> None:
    work = tmp_path / "proj"
    work.mkdir()
    shown = cli("mcp", "config", "--client", "vscode", "--workspace", str(work), built)
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)["servers"]["mppoci-word-count"]
    assert entry["type"] == "stdio" and entry["args"][-2:] == ["serve", built]
    assert Path(entry["command"]).name == "mppoci" or entry["args"][:2] == ["-m", "mppoci"]
    engine = {"DOCKER_HOST": os.environ["DOCKER_HOST"]} if os.environ.get("DOCKER_HOST") else {}
    assert entry["env"] == {"MPPOCI_HOME": str(home), **engine}
    assert not (work / ".vscode").exists()  # printing writes nothing

    (work / ".vscode").mkdir()
    (work / ".vscode" / "mcp.json").write_text('{"servers": {"other": {"type": "stdio"}}}')
    written = cli("mcp", "config", "--client", "vscode", "--workspace", str(work), "--write", built)
    assert written.returncode == 0, written.stderr
    assert "added 'mppoci-word-count'" in written.stderr and "kept as" in written.stderr
    servers = json.loads((work / ".vscode" / "mcp.json").read_text())["servers"]
    assert set(servers) == {"other", "mppoci-word-count"}


def test_the_entry_carries_the_engine_the_server_must_use_and_nothing_else(
    cli: CliRunner, built: str, tmp_path: Path, home: Path
) -> None:
    """MCP clients start servers with a minimal environment: a non-default
    DOCKER_HOST must be in the entry, other variables (a secret) must not."""
    shown = cli(
        "mcp", "config", "--client", "vscode", "--workspace", str(tmp_path), built,
        env={"DOCKER_HOST": "unix:///run/other-engine/docker.sock", "API_TOKEN": "s3cret"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)["servers"]["mppoci-word-count"]
    assert entry["env"] == {
        "MPPOCI_HOME": str(home),
        "DOCKER_HOST": "unix:///run/other-engine/docker.sock",
    }
    assert "s3cret" not in shown.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="Linux has no documented Claude file")
def test_claude_on_linux_prints_the_snippet_and_writes_nothing(
    cli: CliRunner, built: str, tmp_path: Path
) -> None:
    shown = cli("mcp", "config", "--client", "claude", "--pool", "1", built)
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)["mcpServers"]["mppoci-word-count"]
    assert entry["args"][-4:] == ["serve", "--pool", "1", built]
    assert "documents no configuration file on linux" in shown.stderr
    refused = cli("mcp", "config", "--client", "claude", "--write", built)
    assert refused.returncode == 1
    assert "mcpServers" in refused.stdout and "nothing was written" in refused.stderr


def test_unknown_client_and_missing_package_are_refused(cli: CliRunner, built: str) -> None:
    assert cli("mcp", "config", "--client", "zed", built).returncode == 1
    missing = cli("mcp", "config", "--client", "cursor", "acme/nothing")
    assert missing.returncode == 1 and "not" in missing.stderr

"""`mppoci run` on the node runtime gets Node's seccomp group, and a tool the
seccomp filter kills (SIGSYS) is told so, on stderr and in the audit record."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_mppoci
from tests.integration.test_seccomp_in_docker import INT80_SCRIPT, NODE_SCRIPT

pytestmark = pytest.mark.integration
PASSWORD = "syscall-tests"

MANIFEST = """\
schemaVersion: 1
name: acme/{name}
version: 1.0.0
description: A tool that exercises its runtime.
authors: [Ada]
license: MIT
runtime: {runtime}
entrypoint: {entrypoint}
protocol: cli
tools: [{{name: run, description: Runs, annotations: {{readOnlyHint: true}}}}]
"""


def _mppoci(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mppoci(home, *args, password=PASSWORD)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _approved(
    tmp_path: Path, name: str, runtime: str, entrypoint: str, files: dict[str, str]
) -> Path:
    home, key = tmp_path / "home", tmp_path / "acme"
    _ok(_mppoci(home, "key", "generate", "--output-key-prefix", str(key)))
    _ok(_mppoci(home, "trust", "add", f"{key}.pub", "--publisher", "acme"))
    folder = tmp_path / name
    folder.mkdir()
    manifest = MANIFEST.format(name=name, runtime=runtime, entrypoint=entrypoint)
    (folder / "mpp.yaml").write_text(manifest)
    for relpath, text in files.items():
        (folder / relpath).write_text(text)
    _ok(_mppoci(home, "build", str(folder)))
    _ok(_mppoci(home, "sign", f"acme/{name}:1.0.0", "--key", f"{key}.key"))
    _ok(_mppoci(home, "approve", f"acme/{name}", "--yes"))
    return home


def _last_run(home: Path) -> dict[str, Any]:
    shown = json.loads(_ok(_mppoci(home, "audit", "show", "--event", "run", "--json")))
    record: dict[str, Any] = shown[-1]["data"]
    return record


def test_a_node_package_runs_its_workload_through_mppoci_run(
    tmp_path: Path, node_image: str
) -> None:
    home = _approved(
        tmp_path, "node-tool", "node", '["node", "/pkg/main.js"]', {"main.js": NODE_SCRIPT}
    )
    result = _mppoci(home, "run", "acme/node-tool")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "listen: EPERM\nOK\n" and result.stderr == ""
    record = _last_run(home)
    assert record["exitCode"] == 0 and "signal" not in record and "error" not in record


def test_a_tool_the_seccomp_filter_kills_is_told_so(tmp_path: Path) -> None:
    assert platform.machine() == "x86_64", "the probe is x86_64 machine code"
    home = _approved(
        tmp_path, "int80", "python3", '["python3", "/pkg/main.py"]', {"main.py": INT80_SCRIPT}
    )
    result = _mppoci(home, "run", "acme/int80")
    assert result.returncode == 159
    assert (
        "mppoci: acme/int80 was stopped by the sandbox's seccomp filter "
        "(a system call it did not declare): exit 159 (SIGSYS)"
    ) in result.stderr
    record = _last_run(home)
    assert record["outcome"] == "exited" and record["exitCode"] == 159
    assert record["signal"] == "SIGSYS"
    assert record["error"] == (
        "stopped by the sandbox's seccomp filter (a system call it did not declare)"
    )

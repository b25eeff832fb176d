"""The embedded-host example of docs/python-api.md runs as written: a host
with its own prompter opens a signed package, its user approves, it calls
the tool and reads the audit; a "no" and an untrusted signer stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MPPOCI

pytestmark = pytest.mark.integration

HOST = Path(__file__).resolve().parents[2] / "examples" / "python-host" / "host.py"

MANIFEST = """\
schemaVersion: 1
name: acme/shout
version: 1.0.0
description: Upper-cases what it reads.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/sh", "-c", "tr a-z A-Z"]
protocol: cli
tools: [{name: shout, description: Shout, annotations: {readOnlyHint: true}}]
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "example-host"}


def _mppoci(home: Path, *args: str) -> str:
    done = subprocess.run(
        [str(MPPOCI), *args], env=_env(home), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _host(home: Path, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HOST), *args],
        input=answer,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _published(tmp_path: Path, *, trusted: bool = True) -> Path:
    home = tmp_path / "home"
    folder = tmp_path / "shout"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST)
    key = tmp_path / "acme"
    _mppoci(home, "runtime", "build", "busybox")
    _mppoci(home, "key", "generate", "--output-key-prefix", str(key))
    if trusted:
        _mppoci(home, "trust", "add", f"{key}.pub", "--publisher", "acme")
    _mppoci(home, "build", str(folder))
    _mppoci(home, "sign", "acme/shout", "--key", f"{key}.key")
    return home


def _audit(home: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(_mppoci(home, "audit", "show", "--json"))
    return records


def test_the_host_approves_through_its_own_prompter_calls_the_tool_and_reads_the_audit(
    tmp_path: Path,
) -> None:
    home = _published(tmp_path)
    done = _host(home, "y\n", "acme/shout", "hello")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acme/shout 1.0.0 asks to:" in done.stdout
    assert "exit code 0" in done.stdout
    assert "output: HELLO" in done.stdout
    assert "audit: approval" in done.stdout and "audit: run" in done.stdout
    grants = [r for r in _audit(home) if r["event"] == "approval.grant"]
    assert [g["data"]["how"] for g in grants] == ["example host"]
    # Approved once: the second call asks nothing and runs.
    again = _host(home, "", "acme/shout", "again")
    assert again.returncode == 0 and "asks to:" not in again.stdout
    assert "output: AGAIN" in again.stdout


def test_the_hosts_user_saying_no_runs_nothing(tmp_path: Path) -> None:
    home = _published(tmp_path)
    done = _host(home, "n\n", "acme/shout", "hello")
    assert done.returncode == 1
    assert "not approved: acme/shout will not run" in done.stdout
    events = [r["event"] for r in _audit(home)]
    assert "run" not in events and "approval.grant" not in events


def test_a_package_from_a_signer_the_host_does_not_trust_is_refused(tmp_path: Path) -> None:
    home = _published(tmp_path, trusted=False)
    done = _host(home, "y\n", "acme/shout", "hello")
    assert done.returncode == 1
    assert "refused:" in done.stdout and "asks to:" not in done.stdout
    refused = [r for r in _audit(home) if r["event"] == "verify"]
    assert refused and refused[-1]["data"]["outcome"] == "refused"

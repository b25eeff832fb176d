"""SIGTERM during a state change that must be recorded (approve, revoke,
trust add/remove/revoke, a finished run): the change and its audit record
land together or not at all.

Two ways in. At the exact point: a small driver runs the real CLI in its own
process and sends itself SIGTERM the moment the state file was written,
before its record (the window the red team found). At seeded points: the
real console script, SIGTERMed from outside across its run, many times."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mppoci.audit.log import records, verify_log
from mppoci.locations import Locations, locate
from tests.conftest import MPPOCI, SAMPLE_MANIFEST, run_mppoci, write_package
from tests.faults.conftest import ok

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
REPETITIONS = 16
GUARD = 120  # a hang guard for each command

# Runs the CLI in this process; SIGTERM right after the state file is written.
DRIVER = """
import os, signal, sys
import importlib
module = importlib.import_module(sys.argv[1])
real = getattr(module, sys.argv[2])
def written_then_terminated(*args, **kwargs):
    result = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return result
setattr(module, sys.argv[2], written_then_terminated)
from mppoci.cli.app import main
sys.argv = ["mppoci", *sys.argv[3:]]
main()
"""


@pytest.fixture
def home(tmp_path: Path, runtime_images: None) -> Path:
    home = tmp_path / "home"
    folder = write_package(tmp_path / "pkg", SAMPLE_MANIFEST)
    for args in (
        ("build", str(folder)),
        ("key", "generate", "--output-key-prefix", str(tmp_path / "k")),
        ("trust", "add", str(tmp_path / "k.pub"), "--publisher", "acme"),
        ("sign", "acme/word-count", "--key", str(tmp_path / "k.key")),
    ):
        ok(run_mppoci(home, *args))
    ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(tmp_path / "other")))
    return home


def _where(home: Path) -> Locations:
    return locate({"MPPOCI_HOME": str(home)})


def _events(home: Path, prefix: str) -> list[dict[str, Any]]:
    return [r for r in records(_where(home)) if str(r.get("event", "")).startswith(prefix)]


def _state(home: Path, name: str) -> bytes | None:
    path = home / name
    return path.read_bytes() if path.exists() else None


def _terminated_after_write(home: Path, module: str, function: str, *argv: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, module, function, *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "pw"},
        timeout=GUARD,
        check=False,
    )
    # The signal is delivered once the record is written: it still ends the process.
    assert result.returncode == -signal.SIGTERM, result


APPROVALS = "data/approvals.json"
POLICY = "config/trust.json"


def test_sigterm_right_after_approve_writes_approvals_still_leaves_its_record(
    home: Path,
) -> None:
    _terminated_after_write(
        home, "mppoci.approval.files", "update_approvals", "approve", "acme/word-count", "--yes"
    )
    assert b"acme/word-count" in (_state(home, APPROVALS) or b"")
    [grant] = _events(home, "approval.grant")
    assert grant["data"]["package"] == "acme/word-count"
    assert verify_log(_where(home)).intact


def test_sigterm_right_after_revoke_writes_approvals_still_leaves_its_record(
    home: Path,
) -> None:
    ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    _terminated_after_write(
        home,
        "mppoci.approval.files",
        "update_approvals",
        "approvals",
        "revoke",
        "acme/word-count",
    )
    assert "acme/word-count" not in ok(run_mppoci(home, "approvals", "list"))
    assert len(_events(home, "approval.revoke")) == 1


@pytest.mark.parametrize("action", ["add", "remove", "revoke"])
def test_sigterm_right_after_a_trust_change_still_leaves_its_record(
    home: Path, tmp_path: Path, action: str
) -> None:
    other = tmp_path / "other.pub"
    if action == "add":
        argv: tuple[str, ...] = ("trust", "add", str(other), "--publisher", "beta")
    else:
        ok(run_mppoci(home, "trust", "add", str(other), "--publisher", "beta"))
        listed = json.loads(ok(run_mppoci(home, "trust", "list", "--json")))
        [key_id] = [k["keyId"] for k in listed["keys"] if k["publisher"] == "beta"]
        argv = ("trust", action, key_id)
    before = len(_events(home, f"trust.{action}"))
    policy_before = _state(home, POLICY)
    _terminated_after_write(home, "mppoci.trust.files", "update_policy", *argv)
    assert _state(home, POLICY) != policy_before
    assert len(_events(home, f"trust.{action}")) == before + 1
    assert verify_log(_where(home)).intact


def _sigterm_at(argv: list[str], home: Path, delay: float) -> bool:
    """Start, SIGTERM after ``delay`` s; True when it was still running then."""
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "MPPOCI_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    time.sleep(delay)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=GUARD)
    return running


def test_sigterm_at_seeded_points_never_leaves_an_approval_change_unrecorded(
    home: Path,
) -> None:
    approve = [str(MPPOCI), "approve", "acme/word-count", "--yes"]
    revoke = [str(MPPOCI), "approvals", "revoke", "acme/word-count"]
    start = time.monotonic()
    ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    duration = time.monotonic() - start
    ok(run_mppoci(home, "approvals", "revoke", "acme/word-count"))
    rng = random.Random(20261203)
    for i in range(REPETITIONS):
        command = approve if i % 2 == 0 else revoke
        state = _state(home, APPROVALS)
        records_before = len(_events(home, "approval."))
        _sigterm_at(command, home, rng.uniform(duration * 0.3, duration * 1.1))
        changed = _state(home, APPROVALS) != state
        written = len(_events(home, "approval.")) - records_before
        # A change has exactly its record; no change, no grant or revoke record.
        assert written == (1 if changed else 0), (i, changed, written)
        assert verify_log(_where(home)).intact


def test_sigterm_after_the_tool_finished_still_records_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: launch has returned; SIGTERM arrives while the run's
    records are written. They are written, then the signal stops mppoci."""
    from mppoci.app import Session, running
    from mppoci.errors import Terminated
    from mppoci.manifest import parse_source
    from mppoci.sandbox import launch as launch_module
    from mppoci.sandbox.docker_runner import RunResult
    from mppoci.sandbox.launch import RunRequest

    where = locate({"MPPOCI_HOME": str(tmp_path / "home")})

    class Escaped(BaseException):
        """The signal reached the test's own handler: nothing held it."""

    def finished(*args: object, **kwargs: object) -> RunResult:
        event = {"kind": "dns", "decision": "allowed", "name": "api.example.com"}
        return RunResult(0, False, False, 0.1, network_events=(event,))

    def escaped(signum: int, frame: object) -> None:
        raise Escaped

    real_network = running.events.network

    def network_then_sigterm(*args: Any, **kwargs: Any) -> None:
        real_network(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(launch_module, "launch", finished)
    monkeypatch.setattr(running.events, "network", network_then_sigterm)
    manifest = parse_source(SAMPLE_MANIFEST.encode())
    verified = SimpleNamespace(
        digest="sha256:" + "a" * 64,
        package=SimpleNamespace(manifest=manifest),
        verdict=SimpleNamespace(accepted=None),
    )
    previous = signal.signal(signal.SIGTERM, escaped)
    try:
        with pytest.raises(Terminated):
            running.execute(
                Session(where),
                verified,  # type: ignore[arg-type]
                RunRequest(mounts={}, env={}, args=()),
                stdin=None,
                stdout=sys.stdout.buffer,
                stderr=sys.stderr.buffer,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    runs = [r for r in records(where) if r["event"] == "run"]
    assert [r["data"]["outcome"] for r in runs] == ["exited"]
    assert [r["event"] for r in records(where)] == ["network.dns", "run"]

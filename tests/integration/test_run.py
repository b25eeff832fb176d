"""`mppoci run` and the Python API with the real engine: streams, exit codes,
approvals (and their re-approval on changed permissions), the lock file as CI's
approval, and `policy show`."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
import tty
from pathlib import Path
from typing import Any

import pytest

from mppoci import api
from mppoci.errors import NotApprovedError
from mppoci.locations import locate
from tests.conftest import MPPOCI, run_mppoci

pytestmark = pytest.mark.integration
PASSWORD = "run-tests"

MANIFEST = """\
schemaVersion: 1
name: acme/echo
version: {version}
description: Echo stdin, then exit with the code given as argument.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/sh", "/pkg/run.sh"]
protocol: cli
tools: [{{name: echo, description: Echo, annotations: {{readOnlyHint: true}}}}]
permissions:
  env:
    - {{name: GREETING, why: says hello}}
{extra}
"""

SCRIPT = '#!/bin/sh\necho "greeting=${GREETING:-none}"\ncat\necho "to stderr" >&2\nexit "${1:-0}"\n'


def _mppoci(home: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_mppoci(home, *args, password=PASSWORD, **kwargs)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def busybox_runtime() -> None:
    subprocess.run([str(MPPOCI), "runtime", "build", "busybox"], check=True, capture_output=True)


@pytest.fixture
def signed(tmp_path: Path, busybox_runtime: None) -> dict[str, Path]:
    home = tmp_path / "home"
    key = tmp_path / "acme"
    _ok(_mppoci(home, "key", "generate", "--output-key-prefix", str(key)))
    _ok(_mppoci(home, "trust", "add", f"{key}.pub", "--publisher", "acme"))
    return {"home": home, "key": Path(f"{key}.key"), "tmp": tmp_path}


def _publish(
    s: dict[str, Path], version: str = "1.0.0", extra: str = "", script: str = SCRIPT
) -> str:
    folder = s["tmp"] / f"pkg-{version}"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST.format(version=version, extra=extra))
    (folder / "run.sh").write_text(script)
    digest = _ok(_mppoci(s["home"], "build", str(folder)))
    _ok(_mppoci(s["home"], "sign", f"acme/echo:{version}", "--key", str(s["key"])))
    return digest


def test_run_streams_io_and_returns_the_tools_exit_code(signed: dict[str, Path]) -> None:
    _publish(signed)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    result = _mppoci(
        signed["home"], "run", "acme/echo", "--env", "GREETING=hi", "--", "3", stdin="from stdin\n"
    )
    assert result.returncode == 3
    assert result.stdout == "greeting=hi\nfrom stdin\n"
    assert "to stderr" in result.stderr


def test_unapproved_package_is_refused_without_a_terminal(signed: dict[str, Path]) -> None:
    _publish(signed)
    result = _mppoci(signed["home"], "run", "acme/echo")
    assert result.returncode == 125
    assert "has not been approved" in result.stderr and "mppoci approve acme/echo" in result.stderr


def test_update_with_same_permissions_keeps_approval_and_more_needs_a_new_one(
    signed: dict[str, Path],
) -> None:
    _publish(signed, "1.0.0")
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    _publish(signed, "1.1.0")  # same permissions, new digest
    assert _mppoci(signed["home"], "run", "acme/echo").returncode == 0
    more = "    - {name: TOKEN, why: calls an API, secret: true}"
    _publish(signed, "1.2.0", extra=more)
    result = _mppoci(signed["home"], "run", "acme/echo")
    assert result.returncode == 125
    assert "asks for other permissions than you approved" in result.stderr
    assert "+ Receive the secret environment variable TOKEN: calls an API" in result.stderr
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    assert _mppoci(signed["home"], "run", "acme/echo").returncode == 0


def test_revoked_approval_stops_the_next_run(signed: dict[str, Path]) -> None:
    _publish(signed)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    listed = json.loads(_ok(_mppoci(signed["home"], "approvals", "list", "--json")))
    assert listed[0]["package"] == "acme/echo" and listed[0]["how"] == "--yes (scripted)"
    _ok(_mppoci(signed["home"], "approvals", "revoke", "acme/echo"))
    assert _mppoci(signed["home"], "run", "acme/echo").returncode == 125


def _audit(home: Path, event: str) -> list[dict[str, Any]]:
    shown = json.loads(_ok(_mppoci(home, "audit", "show", "--event", event, "--json")))
    return [r["data"] for r in shown]


def _write_lock(path: Path, entries: dict[str, dict[str, str]]) -> None:
    path.write_text(json.dumps({"version": 1, "packages": entries}))


def _publish_admin(s: dict[str, Path]) -> str:
    """Another trusted package, one that prints what only it prints."""
    folder = s["tmp"] / "admin"
    folder.mkdir()
    text = MANIFEST.format(version="1.0.0", extra="").replace("name: acme/echo", "name: acme/admin")
    (folder / "mpp.yaml").write_text(text)
    (folder / "run.sh").write_text("#!/bin/sh\necho ADMIN-RAN\n")
    digest = _ok(_mppoci(s["home"], "build", str(folder)))
    _ok(_mppoci(s["home"], "sign", "acme/admin:1.0.0", "--key", str(s["key"])))
    return digest


def test_reviewed_lock_file_is_the_approval_in_ci_with_approved_by_lock(
    signed: dict[str, Path],
) -> None:
    # Changed by issue #17: the lock approves only with --lock FILE --approved-by-lock.
    digest = _publish(signed)
    work = signed["tmp"] / "ci"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    ci = ("--lock", "mppoci.lock", "--approved-by-lock")
    result = _mppoci(signed["home"], *ci, "run", "acme/echo:1.0.0", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "pins acme/echo:1.0.0 to " + digest in result.stderr
    [taken] = _audit(signed["home"], "approval.lock")
    assert taken["package"] == "acme/echo" and taken["digest"] == digest
    assert taken["lockFile"] == str(work / "mppoci.lock") and taken["entry"] == "acme/echo:1.0.0"


def test_lock_in_working_folder_does_not_approve_a_never_approved_package(
    signed: dict[str, Path],
) -> None:
    _publish(signed)
    work = signed["tmp"] / "cloned-repo"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    for opts in ((), ("--lock", str(work / "mppoci.lock"))):  # found, or named without opt-in
        result = _mppoci(signed["home"], *opts, "run", "acme/echo:1.0.0", cwd=work)
        assert result.returncode == 125, result.stderr
        assert "has not been approved" in result.stderr
        assert "greeting=" not in result.stdout
    assert _audit(signed["home"], "approval.lock") == []


def test_approved_by_lock_without_naming_the_lock_file_is_a_usage_error(
    signed: dict[str, Path],
) -> None:
    _publish(signed)
    work = signed["tmp"] / "cloned-repo"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    result = _mppoci(signed["home"], "--approved-by-lock", "run", "acme/echo:1.0.0", cwd=work)
    assert result.returncode == 2
    assert "--approved-by-lock needs --lock FILE" in result.stderr
    assert "greeting=" not in result.stdout


def test_serve_in_a_cloned_repository_is_not_approved_by_its_lock(
    signed: dict[str, Path],
) -> None:
    _publish(signed)
    work = signed["tmp"] / "ide-workspace"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    result = _mppoci(signed["home"], "serve", "acme/echo:1.0.0", cwd=work, stdin="")
    assert result.returncode == 1
    assert "has not been approved" in result.stderr
    assert "serving MCP" not in result.stderr


def test_lock_pin_to_another_packages_digest_is_refused(signed: dict[str, Path]) -> None:
    _publish(signed)
    admin = _publish_admin(signed)
    _ok(_mppoci(signed["home"], "approve", "acme/admin", "--yes"))
    admin_approval = json.loads(_ok(_mppoci(signed["home"], "approvals", "list", "--json")))
    work = signed["tmp"] / "cloned-repo"
    work.mkdir()
    lock = work / "mppoci.lock"
    _write_lock(
        lock,
        {"acme/echo:1.0.0": {"digest": admin, "permissions": admin_approval[0]["permissions"]}},
    )
    for opts in ((), ("--lock", str(lock), "--approved-by-lock")):
        result = _mppoci(signed["home"], *opts, "run", "acme/echo:1.0.0", cwd=work)
        assert result.returncode == 125, result.stderr
        assert "pins acme/echo:1.0.0 to another package" in result.stderr
        assert "ADMIN-RAN" not in result.stdout
    # Every front end that resolves through the lock refuses the same way.
    commands = (["inspect"], ["verify"], ["policy", "show"], ["approve", "--yes"])
    for command in commands:
        other = _mppoci(signed["home"], *command, "acme/echo:1.0.0", cwd=work)
        assert other.returncode == 1, (command, other.stderr)
        assert "pins acme/echo:1.0.0 to another package" in other.stderr, command
    assert [
        a["package"]
        for a in json.loads(_ok(_mppoci(signed["home"], "approvals", "list", "--json")))
    ] == ["acme/admin"]


def test_lock_pin_to_another_version_of_the_same_package_is_refused(
    signed: dict[str, Path],
) -> None:
    _publish(signed, "1.0.0")
    newer = _publish(signed, "1.1.0")
    work = signed["tmp"] / "cloned-repo"
    work.mkdir()
    _write_lock(work / "mppoci.lock", {"acme/echo:1.0.0": {"digest": newer}})
    result = _mppoci(signed["home"], "inspect", "acme/echo:1.0.0", cwd=work)
    assert result.returncode == 1
    assert "is acme/echo 1.1.0, not version 1.0.0" in result.stderr


def test_revoked_approval_is_not_revived_by_a_lock(signed: dict[str, Path]) -> None:
    _publish(signed)
    work = signed["tmp"] / "ci"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    _ok(_mppoci(signed["home"], "approvals", "revoke", "acme/echo"))
    ci = ("--lock", "mppoci.lock", "--approved-by-lock")
    result = _mppoci(signed["home"], *ci, "run", "acme/echo:1.0.0", cwd=work)
    assert result.returncode == 125
    assert "you revoked the approval of acme/echo" in result.stderr
    assert "greeting=" not in result.stdout
    assert _audit(signed["home"], "approval.lock") == []
    [refused] = [a for a in _audit(signed["home"], "approval.missing") if a["status"] == "revoked"]
    assert refused["entry"] == "acme/echo:1.0.0"
    # A person's new approval (not the lock) brings it back; then the lock works again.
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    _ok(_mppoci(signed["home"], "approvals", "revoke", "acme/echo"))
    assert _mppoci(signed["home"], *ci, "run", "acme/echo:1.0.0", cwd=work).returncode == 125


def test_update_that_drops_confirmation_needs_a_new_approval(signed: dict[str, Path]) -> None:
    confirming = MANIFEST.replace("readOnlyHint: true", "readOnlyHint: false")
    for version, text in (("1.0.0", confirming), ("1.1.0", MANIFEST)):
        folder = signed["tmp"] / f"tool-{version}"
        folder.mkdir()
        (folder / "mpp.yaml").write_text(text.format(version=version, extra=""))
        (folder / "run.sh").write_text(SCRIPT)
        _ok(_mppoci(signed["home"], "build", str(folder)))
        _ok(_mppoci(signed["home"], "sign", f"acme/echo:{version}", "--key", str(signed["key"])))
        if version == "1.0.0":
            _ok(_mppoci(signed["home"], "approve", "acme/echo:1.0.0", "--yes"))
            assert _mppoci(signed["home"], "run", "acme/echo:1.0.0").returncode == 0
    # Same permission set, but the tool no longer asks before each call.
    result = _mppoci(signed["home"], "run", "acme/echo:1.1.0")
    assert result.returncode == 125
    assert "asks for other permissions than you approved" in result.stderr
    assert "- Tool echo may change things: each call needs your confirmation" in result.stderr
    assert "+ Tool echo runs without asking you" in result.stderr
    assert "greeting=" not in result.stdout
    approved = _mppoci(signed["home"], "approve", "acme/echo:1.1.0", "--yes")
    assert "- Tool echo may change things" in approved.stderr  # the difference is shown
    assert _mppoci(signed["home"], "run", "acme/echo:1.1.0").returncode == 0


def test_approval_recorded_with_the_old_permission_digest_is_asked_again(
    signed: dict[str, Path],
) -> None:
    from mppoci.approval.words import permission_lines
    from mppoci.manifest import parse_source, permissions_digest

    digest = _publish(signed)
    manifest = parse_source(MANIFEST.format(version="1.0.0", extra="").encode())
    record = {
        "publisher": "acme",
        "digest": digest,
        "permissions": permissions_digest(manifest),  # how mppoci before #17 bound it
        "lines": list(permission_lines(manifest)),
        "approvedAt": "2026-01-01T00:00:00Z",
        "approvedBy": "someone",
        "how": "terminal",
    }
    path = signed["home"] / "data" / "approvals.json"
    path.write_text(json.dumps({"version": 1, "approvals": {"acme/echo": record}}))
    result = _mppoci(signed["home"], "run", "acme/echo")
    assert result.returncode == 125
    assert "asks for other permissions than you approved" in result.stderr
    assert "greeting=" not in result.stdout


def test_symlinked_mppoci_home_cannot_be_bound_into_a_sandbox(signed: dict[str, Path]) -> None:
    writes = "  filesystem:\n    - {name: data, path: /data, access: read-write, why: writes}"
    _publish(signed, extra=writes)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    link = signed["tmp"] / "home-link"
    link.symlink_to(signed["home"])
    approvals = signed["home"] / "data" / "approvals.json"
    before = approvals.read_bytes()
    # mppoci runs with MPPOCI_HOME through the symlink; the tool asks for the
    # real folder (or the folder through the link), where the approvals live.
    for target in (signed["home"] / "data", link / "data", signed["home"]):
        result = _mppoci(link, "run", "acme/echo", "--mount", f"data={target}")
        assert result.returncode == 125, (target, result.stderr)
        assert "is refused: it holds or is inside mppoci's own folder" in result.stderr
        assert "greeting=" not in result.stdout
    assert approvals.read_bytes() == before


def test_python_api_runs_approved_packages_and_refuses_others(
    signed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish(signed)
    monkeypatch.setenv("MPPOCI_HOME", str(signed["home"]))
    monkeypatch.chdir(signed["tmp"])
    with pytest.raises(NotApprovedError):
        api.run("acme/echo")
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    outcome = api.run(
        "acme/echo", args=["4"], stdin=b"abc", env={"GREETING": "api"}, locations=locate()
    )
    assert outcome.exit_code == 4
    assert outcome.stdout == b"greeting=api\nabc"
    assert not outcome.timed_out and not outcome.oom_killed


def test_python_api_is_not_approved_by_a_lock_in_the_working_folder(
    signed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish(signed)
    work = signed["tmp"] / "workspace"
    work.mkdir()
    _ok(_mppoci(signed["home"], "lock", "add", "acme/echo:1.0.0", cwd=work))
    monkeypatch.setenv("MPPOCI_HOME", str(signed["home"]))
    monkeypatch.chdir(work)
    with pytest.raises(NotApprovedError):
        api.run("acme/echo:1.0.0")
    # The caller names the lock file as the approval record: then it approves.
    outcome = api.run("acme/echo:1.0.0", approved_by_lock=work / "mppoci.lock")
    assert outcome.exit_code == 0 and outcome.stdout == b"greeting=none\n"


def test_missing_runtime_image_is_a_clear_refusal(signed: dict[str, Path]) -> None:
    folder = signed["tmp"] / "ghost"
    folder.mkdir()
    ghost = MANIFEST.format(version="1.0.0", extra="").replace(
        "runtime: busybox", "runtime: busybox@sha256:" + "0" * 64
    )
    (folder / "mpp.yaml").write_text(ghost)
    (folder / "run.sh").write_text(SCRIPT)
    _ok(_mppoci(signed["home"], "build", str(folder)))
    _ok(_mppoci(signed["home"], "sign", "acme/echo", "--key", str(signed["key"])))
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    result = _mppoci(signed["home"], "run", "acme/echo")
    assert result.returncode == 125
    assert "is not on this machine" in result.stderr and "runtime" in result.stderr


def test_policy_show_renders_what_will_be_enforced(signed: dict[str, Path]) -> None:
    _publish(signed)
    text = _ok(_mppoci(signed["home"], "policy", "show", "acme/echo"))
    assert "read-only root" in text and "network none" in text
    docker = _ok(_mppoci(signed["home"], "policy", "show", "acme/echo", "--format", "docker"))
    for flag in (
        "--read-only",
        "--cap-drop=ALL",
        "--network=none",
        "--user=65534:65534",
        "--security-opt=no-new-privileges:true",
        "--pids-limit=64",
    ):
        assert flag in docker
    profile = json.loads(
        _ok(_mppoci(signed["home"], "policy", "show", "acme/echo", "--format", "seccomp"))
    )
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    as_json = json.loads(
        _ok(_mppoci(signed["home"], "policy", "show", "acme/echo", "--format", "json"))
    )
    assert as_json["docker"]["read_only"] is True and as_json["docker"]["cap_drop"] == ["ALL"]


# The tool retitles the window, clears the screen, and overwrites its own
# line with one that reads as mppoci's; the last bytes are not UTF-8.
FORGING_SCRIPT = (
    "#!/bin/sh\n"
    "printf '\\033]0;pwned\\007out\\rmppoci: approved by your administrator\\n'\n"
    "printf '\\033[2J\\rmppoci: sandbox disabled\\n\\tindented\\n\\377' >&2\n"
)
FORGED_STDOUT = b"\x1b]0;pwned\x07out\rmppoci: approved by your administrator\n"
FORGED_STDERR = b"\x1b[2J\rmppoci: sandbox disabled\n\tindented\n\xff"


def _run_on_pty(home: Path, *args: str) -> tuple[int, bytes]:
    """``mppoci ARGS`` with a raw pseudo-terminal as stdout and stderr (raw, so
    the terminal driver adds no carriage returns of its own)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [str(MPPOCI), *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "MPPOCI_HOME": str(home)},
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120  # hang guard, not a timing assertion
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the last writer closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, seen


def test_a_tool_cannot_send_terminal_commands_or_forge_mppoci_lines_on_a_terminal(
    signed: dict[str, Path],
) -> None:
    _publish(signed, script=FORGING_SCRIPT)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    code, seen = _run_on_pty(signed["home"], "run", "acme/echo")
    assert code == 0, seen
    assert b"\x1b" not in seen and b"\r" not in seen and b"\xff" not in seen
    assert b"\\x1b]0;pwned\\x07out\\x0dmppoci: approved" in seen
    assert b"\\x1b[2J\\x0dmppoci: sandbox disabled\n\tindented\n\\xff" in seen


def test_a_tools_output_through_a_pipe_keeps_its_exact_bytes(signed: dict[str, Path]) -> None:
    _publish(signed, script=FORGING_SCRIPT)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    result = subprocess.run(
        [str(MPPOCI), "run", "acme/echo"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPPOCI_HOME": str(signed["home"])},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == FORGED_STDOUT
    assert result.stderr == FORGED_STDERR


def test_raw_output_passes_the_tools_bytes_to_the_terminal_unchanged(
    signed: dict[str, Path],
) -> None:
    _publish(signed, script=FORGING_SCRIPT)
    _ok(_mppoci(signed["home"], "approve", "acme/echo", "--yes"))
    code, seen = _run_on_pty(signed["home"], "run", "--raw-output", "acme/echo")
    assert code == 0, seen
    assert FORGED_STDOUT in seen and FORGED_STDERR in seen

"""The audit trail with real runs: 50 concurrent `mppoci run`, and no secret
ever written."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mppoci.audit.events import args_digest
from tests.conftest import run_mppoci

pytestmark = pytest.mark.integration

MANIFEST = """\
schemaVersion: 1
name: acme/audited
version: 1.0.0
description: Prints a line.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/sh", "/pkg/run.sh"]
protocol: cli
tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]
permissions:
  env:
    - {name: API_TOKEN, why: calls an API, secret: true}
"""


_mppoci = run_mppoci


@pytest.fixture
def ready(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST)
    (folder / "run.sh").write_text('test -n "$API_TOKEN" && echo token-received\n')
    for args in (
        ("runtime", "build", "busybox"),
        ("build", str(folder)),
        ("key", "generate", "--output-key-prefix", str(tmp_path / "k")),
        ("trust", "add", str(tmp_path / "k.pub"), "--publisher", "acme"),
        ("sign", "acme/audited", "--key", str(tmp_path / "k.key")),
        ("approve", "acme/audited", "--yes"),
        ("audit", "key"),
    ):
        result = _mppoci(home, *args)
        assert result.returncode == 0, (args, result.stderr)
    return home


def test_fifty_concurrent_runs_leave_an_intact_chain(ready: Path) -> None:
    def one(i: int) -> subprocess.CompletedProcess[str]:
        return _mppoci(ready, "run", "acme/audited", "--env", f"API_TOKEN=t{i}", "--", str(i))

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert [r.returncode for r in results] == [0] * 50, [r.stderr for r in results if r.returncode]
    assert all(r.stdout.strip() == "token-received" for r in results)
    verified = _mppoci(ready, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    runs = json.loads(_mppoci(ready, "audit", "show", "--event", "run", "--json").stdout)
    assert len(runs) == 50
    assert all(r["data"]["outcome"] == "exited" and r["data"]["exitCode"] == 0 for r in runs)
    record = runs[0]
    assert record["actor"]["user"] and record["actor"]["host"]
    assert record["data"]["signer"] and record["data"]["permissions"].startswith("sha256:")
    assert record["data"]["argsDigest"].startswith("sha256:") and "args" not in record["data"]
    assert record["sig"]  # signed by the local audit key
    assert "signatures checked" in verified.stdout


def test_no_secret_value_reaches_the_log(ready: Path) -> None:
    secret = "s3cr3t-value-that-must-never-be-logged"
    result = _mppoci(ready, "run", "acme/audited", "--env", "API_TOKEN", env={"API_TOKEN": secret})
    assert result.returncode == 0, result.stderr
    log = (ready / "state" / "audit.log").read_text()
    assert secret not in log
    [run] = json.loads(_mppoci(ready, "audit", "show", "--event", "run", "--json").stdout)
    assert run["data"]["env"] == ["API_TOKEN"]


def test_trust_approval_and_refusals_are_recorded(ready: Path, tmp_path: Path) -> None:
    events = [r["event"] for r in json.loads(_mppoci(ready, "audit", "show", "--json").stdout)]
    assert "trust.add" in events and "approval.grant" in events and "verify" in events
    _mppoci(ready, "approvals", "revoke", "acme/audited")
    refused = _mppoci(ready, "run", "acme/audited")
    assert refused.returncode == 125
    events = [r["event"] for r in json.loads(_mppoci(ready, "audit", "show", "--json").stdout)]
    assert events[-2:] == ["verify", "approval.missing"]
    exported = _mppoci(ready, "audit", "export", "--package", "acme/audited")
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines and all({"seq", "time", "event", "actor", "data", "prev"} <= set(r) for r in lines)


def test_huge_audited_args_still_leave_a_run_record(ready: Path) -> None:
    # Three arguments of 100 KiB each: kept whole, the record would pass the
    # 64 KiB a record may take, and the append would fail after the tool ran.
    args = [c * (100 * 1024) for c in "abc"]
    result = _mppoci(
        ready, "run", "acme/audited", "--audit-args", "--env", "API_TOKEN=t", "--", *args
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "token-received"
    [run] = json.loads(_mppoci(ready, "audit", "show", "--event", "run", "--json").stdout)
    data = run["data"]
    assert data["outcome"] == "exited" and data["exitCode"] == 0
    assert data["argsTruncated"] is True
    assert data["argsDigest"] == args_digest(args)  # covers all of them
    kept = data["args"]
    assert kept and all(args[i].startswith(part) for i, part in enumerate(kept))
    assert sum(map(len, kept)) < sum(map(len, args))
    assert _mppoci(ready, "audit", "verify").returncode == 0


def test_run_after_the_log_was_cut_is_refused_before_the_tool_starts(ready: Path) -> None:
    log = ready / "state" / "audit.log"
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"".join(line + b"\n" for line in lines[:3]))
    result = _mppoci(ready, "run", "acme/audited", "--env", "API_TOKEN=t")
    assert result.returncode == 125, result
    assert "token-received" not in result.stdout
    assert "records were cut off the end" in result.stderr
    assert len(log.read_bytes().split(b"\n")) == 4  # nothing appended

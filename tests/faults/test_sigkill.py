"""SIGKILL at random points (seeded) during a pull through a slow proxy and
during approval writes, many times over. After every kill: the store is whole
(no partial blob visible, the index names only blobs that are there), what the
store holds still verifies, the approvals file parses, the audit chain
verifies; and the operation, run again, succeeds.

(SIGKILL in the middle of a store write and of audit appends, at the level of
single functions, is in tests/store/test_layout.py and tests/audit.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mppoci.approval.files import load_approvals
from mppoci.audit.log import verify_log
from mppoci.locations import locate
from tests.conftest import MPPOCI, run_mppoci
from tests.faults.conftest import FaultProxy, Published, assert_store_whole, ok, store_state

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
REPETITIONS = 20


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MPPOCI_HOME": str(home)}


def _timed(argv: list[str], home: Path) -> float:
    start = time.monotonic()
    ok(subprocess.run(argv, env=_env(home), capture_output=True, text=True, check=False))
    return time.monotonic() - start


def _kill_at(argv: list[str], home: Path, delay: float) -> bool:
    """Start, SIGKILL after ``delay`` s; True when it was still running then."""
    proc = subprocess.Popen(
        argv, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return running


def _after_kill(home: Path, *, verify_package: bool = True) -> None:
    """Checked in-process (the CLI's own checks, without its start-up time)."""
    assert_store_whole(home)
    locations = locate({"MPPOCI_HOME": str(home)})
    assert verify_log(locations).intact
    load_approvals(locations)  # parses, or raises
    if verify_package and store_state(home)["index"]:
        ok(run_mppoci(home, "verify", "acme/word-count"))


def test_sigkill_during_pulls_never_leaves_a_partial_package(
    published: Published, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    fault_proxy.mode, fault_proxy.match, fault_proxy.delay = "slow", "/blobs/", 0.01
    argv = [str(MPPOCI), "pull", published.ref(fault_proxy.host)]
    # Measure one pull (into a throwaway home) to aim the kills across it.
    scratch = tmp_path / "scratch"
    ok(run_mppoci(scratch, "trust", "add", str(published.root / "acme.pub"), "--publisher", "acme"))
    duration = _timed(argv, scratch)
    rng = random.Random(20261124)
    mid = 0
    for _ in range(REPETITIONS):
        # A kill may land before, during or after a pull: each store must stay whole.
        mid += _kill_at(argv, published.consumer, rng.uniform(0.0, duration * 1.2))
        _after_kill(published.consumer)
        # Forget the package so the next pull downloads everything again.
        if store_state(published.consumer)["index"]:
            ok(run_mppoci(published.consumer, "remove", "acme/word-count"))
            blobs = published.consumer / "data" / "store" / "blobs" / "sha256"
            for blob in blobs.iterdir():
                blob.unlink()
    print(f"\n{mid} of {REPETITIONS} kills landed during a pull")
    assert mid >= REPETITIONS // 2, f"only {mid} kills landed during a pull"
    ok(run_mppoci(published.consumer, "audit", "verify"))
    assert ok(run_mppoci(published.consumer, "pull", published.ref(fault_proxy.host))) == (
        published.digest
    )
    _after_kill(published.consumer)


def test_sigkill_during_approval_writes_leaves_old_or_new_never_torn(
    published: Published,
) -> None:
    home = published.consumer
    ok(run_mppoci(home, "pull", published.ref()))
    argv = [str(MPPOCI), "approve", "acme/word-count", "--yes"]
    duration = _timed(argv, home)
    revoke = [str(MPPOCI), "approvals", "revoke", "acme/word-count"]
    rng = random.Random(7)
    mid = 0
    for i in range(REPETITIONS):
        # Alternate between writing an approval and removing it.
        command = argv if i % 2 == 0 else revoke
        mid += _kill_at(command, home, rng.uniform(duration * 0.5, duration * 1.1))
        _after_kill(home, verify_package=False)
    print(f"\n{mid} of {REPETITIONS} kills landed during approve or revoke")
    assert mid >= REPETITIONS // 3, f"only {mid} kills landed during a write"
    listed = run_mppoci(home, "approvals", "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    assert "acme/word-count" in ok(run_mppoci(home, "approvals", "list"))
    ok(run_mppoci(home, "audit", "verify"))

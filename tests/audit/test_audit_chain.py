"""The audit chain: each kind of tampering is detected and located."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.audit.chain import line_hash, make_line, verify_lines
from mppoci.audit.log import append, log_path, read_lines, verify_log
from mppoci.locations import Locations, locate


def _lines(n: int, key: ec.EllipticCurvePrivateKey | None = None) -> list[bytes]:
    lines: list[bytes] = []
    prev = "sha256:" + "0" * 64
    for seq in range(1, n + 1):
        line = make_line(
            seq=seq,
            prev=prev,
            time=f"2026-01-01T00:00:{seq:02d}Z",
            event="run",
            actor={"user": "u"},
            data={"package": "acme/x", "n": seq},
            key=key,
        )
        lines.append(line)
        prev = line_hash(line)
    return lines


def test_an_untouched_chain_verifies() -> None:
    report = verify_lines(_lines(5))
    assert report.intact and report.records == 5 and report.head_seq == 5


def test_edited_record_is_detected_and_located() -> None:
    lines = _lines(5)
    lines[2] = lines[2].replace(b'"n":3', b'"n":4')
    [problem] = verify_lines(lines).problems
    assert problem.seq == 4 and "record 3 (line 3) was edited" in problem.what


def test_deleted_record_is_detected_and_located() -> None:
    lines = _lines(5)
    del lines[1]
    [problem] = verify_lines(lines).problems
    assert problem.line == 2 and "records 2..2 are missing" in problem.what


def test_inserted_record_is_detected() -> None:
    lines = _lines(5)
    lines.insert(3, lines[1])
    problems = verify_lines(lines).problems
    assert any("inserted or reordered" in p.what for p in problems)


def test_reordered_records_are_detected() -> None:
    lines = _lines(5)
    lines[1], lines[2] = lines[2], lines[1]
    problems = verify_lines(lines).problems
    assert problems and problems[0].line == 2


def test_truncation_is_detected_against_a_checkpoint() -> None:
    lines = _lines(5)
    checkpoint = (5, line_hash(lines[4]))
    assert verify_lines(lines, checkpoint=checkpoint).intact
    [problem] = verify_lines(lines[:3], checkpoint=checkpoint).problems
    assert "checkpoint saw record 5" in problem.what and "cut off the end" in problem.what


def test_editing_the_last_record_needs_the_key_when_signed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    lines = _lines(3, key)
    assert verify_lines(lines, key=key.public_key()).signed == 3
    # An attacker rewrites the last record consistently but cannot re-sign it.
    forged = json.loads(lines[2])
    forged["data"]["n"] = 99
    lines[2] = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()
    [problem] = verify_lines(lines, key=key.public_key()).problems
    assert problem.seq == 3 and "signature does not verify" in problem.what


def test_a_record_forged_with_another_key_is_detected() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    lines = _lines(2, key)
    extra = make_line(
        seq=3, prev=line_hash(lines[1]), time="t", event="run", actor={}, data={}, key=other
    )
    problems = verify_lines([*lines, extra], key=key.public_key()).problems
    assert [p.seq for p in problems] == [3]


@pytest.fixture
def where(tmp_path: Path) -> Locations:
    return locate({"MPPOCI_HOME": str(tmp_path / "home")})


def _append_many(home: str, worker: int, count: int) -> None:
    where = locate({"MPPOCI_HOME": home})
    for i in range(count):
        append(where, "run", {"worker": worker, "i": i})


def test_concurrent_writers_never_interleave_or_break_the_chain(where: Locations) -> None:
    home = str(where.state.parent)
    with ProcessPoolExecutor(max_workers=10) as pool:
        for f in [pool.submit(_append_many, home, w, 20) for w in range(10)]:
            f.result()
    report = verify_log(where)
    assert report.intact and report.records == 200
    seen = {(r["data"]["worker"], r["data"]["i"]) for r in map(json.loads, read_lines(where)[0])}
    assert len(seen) == 200


def test_torn_last_line_does_not_break_what_came_before(where: Locations) -> None:
    for i in range(3):
        append(where, "run", {"i": i})
    with log_path(where).open("ab") as f:
        f.write(b'{"seq":4,"prev":"sha256:')  # a crash mid-write
    report = verify_log(where)
    assert report.intact and report.records == 3 and report.torn_tail
    append(where, "run", {"i": 3})
    report = verify_log(where)
    assert report.intact and report.records == 4 and not report.torn_tail
    last = json.loads(read_lines(where)[0][-1])
    assert last["seq"] == 4 and last["data"]["recoveredTornBytes"] > 0


_APPENDER = """
import sys
from mppoci.audit.log import append
from mppoci.locations import locate
where = locate({"MPPOCI_HOME": sys.argv[1]})
print("ready", flush=True)
i = 0
while True:
    append(where, "run", {"i": i, "pad": "x" * 2000})
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.11, 0.23, 0.31])
def test_sigkill_during_appends_leaves_a_verifiable_chain(where: Locations, delay: float) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(where.state.parent)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    time.sleep(delay)
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    report = verify_log(where)
    assert report.intact, report.problems
    append(where, "run", {"after": True})
    assert verify_log(where).intact


def test_records_are_private_to_the_user(where: Locations) -> None:
    append(where, "run", {})
    assert log_path(where).stat().st_mode & 0o077 == 0


def test_after_the_key_record_every_record_must_be_signed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    before = _lines(2)
    key_record = make_line(
        seq=3, prev=line_hash(before[1]), time="t", event="audit.key", actor={}, data={}, key=key
    )
    after = make_line(
        seq=4, prev=line_hash(key_record), time="t", event="run", actor={}, data={}, key=key
    )
    lines = [*before, key_record, after]
    assert verify_lines(lines, key=key.public_key()).intact
    # Stripping the signature of a later record (and re-linking) is caught.
    stripped = json.loads(after)
    del stripped["sig"]
    lines[3] = json.dumps(stripped, sort_keys=True, separators=(",", ":")).encode()
    [problem] = verify_lines(lines, key=key.public_key()).problems
    assert problem.seq == 4 and "signature" in problem.what

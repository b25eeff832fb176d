"""The head kept beside the audit log (``audit.head``): records cut off the
end, or the whole log emptied or removed, are caught without a checkpoint
made by hand. And records forwarded to syslog or journald as written."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from mppoci.audit.chain import line_hash
from mppoci.audit.head import head_path, read_head
from mppoci.audit.log import append, log_path, read_lines, verify_log
from mppoci.errors import AuditLogCutError, UserInputError
from mppoci.locations import Locations, locate
from mppoci.settings import settings_path
from tests.conftest import CliRunner


@pytest.fixture
def where(home: Path) -> Locations:
    return locate({"MPPOCI_HOME": str(home)})


def _append(where: Locations, count: int) -> None:
    for i in range(count):
        append(where, "run", {"i": i})


def test_records_cut_off_the_end_of_the_log_are_detected(where: Locations, cli: CliRunner) -> None:
    _append(where, 5)
    lines, _ = read_lines(where)
    # The attack: drop the last two records; what is left is a valid chain.
    log_path(where).write_bytes(b"".join(line + b"\n" for line in lines[:3]))
    report = verify_log(where)
    [problem] = report.problems
    assert "cut off the end" in problem.what
    assert "2 records missing, 4..5" in problem.what, problem.what
    result = cli("audit", "verify")
    assert result.returncode == 1, result
    assert "the log ends at record 3, but the head file saw record 5" in result.stderr


def test_truncated_log_file_is_detected(where: Locations, cli: CliRunner) -> None:
    _append(where, 4)
    log_path(where).write_bytes(b"")  # the attack: empty the whole file
    [problem] = verify_log(where).problems
    assert "the log holds no record, but the head file saw record 4" in problem.what
    assert "4 records missing" in problem.what
    result = cli("audit", "verify")
    assert result.returncode == 1 and "cut off the end" in result.stderr, result


def test_removed_log_file_is_detected(where: Locations) -> None:
    _append(where, 2)
    log_path(where).unlink()
    [problem] = verify_log(where).problems
    assert "cut off the end" in problem.what and "2 records missing" in problem.what


def test_last_record_replaced_by_a_relinked_one_is_detected(where: Locations) -> None:
    # Without an audit key the last record can be rewritten and re-linked;
    # the head kept outside still holds the original's hash.
    _append(where, 3)
    lines, _ = read_lines(where)
    last = json.loads(lines[-1])
    last["data"] = {"i": 999}
    forged = json.dumps(last, sort_keys=True, separators=(",", ":")).encode()
    log_path(where).write_bytes(b"".join(line + b"\n" for line in [*lines[:-1], forged]))
    [problem] = verify_log(where).problems
    assert problem.seq == 3 and "differs from what the head file saw" in problem.what


def test_damaged_head_file_fails_verification(where: Locations) -> None:
    _append(where, 2)
    head_path(where).write_text("{not json")
    [problem] = verify_log(where).problems
    assert "audit.head is damaged" in problem.what


def test_head_follows_every_append(where: Locations) -> None:
    _append(where, 3)
    lines, _ = read_lines(where)
    head = read_head(where)
    assert head is not None and (head.seq, head.hash) == (3, line_hash(lines[-1]))
    assert head_path(where).stat().st_mode & 0o077 == 0
    report = verify_log(where)
    assert report.intact and report.head_checked


def test_removed_head_file_fails_verification_and_stops_recording(
    where: Locations, cli: CliRunner
) -> None:
    # Was: a log without audit.head verified with a note. Removing the head
    # file was then a way to hide a cut, so it now fails closed.
    _append(where, 2)
    head_path(where).unlink()
    assert not verify_log(where).intact
    result = cli("audit", "verify")
    assert result.returncode == 1, result
    assert "there is no" in result.stderr and "acknowledge-cut" in result.stderr
    with pytest.raises(AuditLogCutError, match=r"no audit\.head beside it"):
        append(where, "run", {"i": 2})
    assert not head_path(where).exists() and len(read_lines(where)[0]) == 2


def _cut_with_head_n(where: Locations, keep: int) -> None:
    """The red team's cut: `head -n 3 audit.log > t; cat t > audit.log`."""
    lines = log_path(where).read_bytes().split(b"\n")
    log_path(where).write_bytes(b"".join(line + b"\n" for line in lines[:keep]))


def test_cut_log_is_not_hidden_by_the_next_command(where: Locations, cli: CliRunner) -> None:
    _append(where, 6)
    _cut_with_head_n(where, 3)
    # The next ordinary command that records (here: trusting a key) is refused
    # before it changes anything, instead of writing head 4 over head 6.
    key = cli(
        "key",
        "generate",
        "--output-key-prefix",
        str(where.state.parent / "k"),
        env={"MPPOCI_PASSWORD": "pw"},
    )
    assert key.returncode == 0, key
    trusted = cli("trust", "add", str(where.state.parent / "k.pub"), "--publisher", "acme")
    assert trusted.returncode == 1, trusted
    assert "cut off the end (3 records missing)" in trusted.stderr
    assert "mppoci audit acknowledge-cut" in trusted.stderr
    assert "acme" not in cli("trust", "list").stdout + cli("trust", "list").stderr
    with pytest.raises(AuditLogCutError):
        append(where, "run", {"i": 6})
    assert len(read_lines(where)[0]) == 3
    head = read_head(where)
    assert head is not None and head.seq == 6
    result = cli("audit", "verify")
    assert result.returncode == 1 and "the head file saw record 6" in result.stderr, result


def test_deleted_log_does_not_restart_at_record_1(where: Locations) -> None:
    _append(where, 3)
    log_path(where).unlink()
    with pytest.raises(AuditLogCutError, match="the log holds no record, but the head file saw"):
        append(where, "run", {"i": 3})
    assert read_lines(where)[0] == []
    assert not verify_log(where).intact


def test_relinked_last_record_is_refused_at_the_next_append(where: Locations) -> None:
    _append(where, 3)
    lines, _ = read_lines(where)
    last = json.loads(lines[-1])
    last["data"] = {"i": 999}
    forged = json.dumps(last, sort_keys=True, separators=(",", ":")).encode()
    log_path(where).write_bytes(b"".join(line + b"\n" for line in [*lines[:-1], forged]))
    with pytest.raises(AuditLogCutError, match="record 3 differs"):
        append(where, "run", {"i": 3})


def test_acknowledged_cut_is_recorded_and_recording_resumes(
    where: Locations, cli: CliRunner
) -> None:
    _append(where, 6)
    _cut_with_head_n(where, 3)
    result = cli("audit", "acknowledge-cut")
    assert result.returncode == 0, result
    assert "recorded the cut as record 4" in result.stderr
    cut = json.loads(read_lines(where)[0][-1])
    assert cut["seq"] == 4 and cut["event"] == "audit.cut"
    assert cut["data"]["headSeq"] == 6 and cut["data"]["logEndsAt"] == 3
    assert "cut off the end" in cut["data"]["reason"]
    assert append(where, "run", {"i": 6}) == 5
    verified = cli("audit", "verify")
    assert verified.returncode == 0, verified
    assert "record 4 acknowledges a cut" in verified.stderr
    # Nothing to acknowledge now: the command refuses rather than writing a record.
    again = cli("audit", "acknowledge-cut")
    assert again.returncode == 1 and "no cut to acknowledge" in again.stderr, again
    assert len(read_lines(where)[0]) == 5


def test_head_lagging_after_repeated_crashes_still_appends(where: Locations) -> None:
    # Two crashes in a row, each between a record's fsync and its head: the
    # head names record 2 while the log holds 4. Not a cut.
    _append(where, 2)
    kept = head_path(where).read_bytes()
    _append(where, 2)
    head_path(where).write_bytes(kept)
    assert append(where, "run", {"i": 4}) == 5
    assert verify_log(where).intact


def _append_many(home: str, worker: int, count: int) -> None:
    where = locate({"MPPOCI_HOME": home})
    for i in range(count):
        append(where, "run", {"worker": worker, "i": i})


def test_head_stays_consistent_with_20_concurrent_writers(where: Locations) -> None:
    with ProcessPoolExecutor(max_workers=20) as pool:
        for f in [pool.submit(_append_many, str(where.state.parent), w, 5) for w in range(20)]:
            f.result()
    lines, _ = read_lines(where)
    head = read_head(where)
    assert head is not None and (head.seq, head.hash) == (100, line_hash(lines[-1]))
    assert verify_log(where).intact


# --- forwarding ---------------------------------------------------------------


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    """A Unix datagram socket the test binds, standing in for /dev/log."""
    path = tmp_path / "log.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)  # a hang guard, not a timing assertion
    try:
        yield sock, path
    finally:
        sock.close()


def _configure(where: Locations, audit: dict[str, str]) -> None:
    settings_path(where).parent.mkdir(parents=True, exist_ok=True)
    settings_path(where).write_text(json.dumps({"audit": audit}))


def test_records_are_forwarded_to_syslog_as_written(
    where: Locations, listener: tuple[socket.socket, Path]
) -> None:
    sock, path = listener
    _configure(where, {"forward": "syslog", "socket": str(path)})
    for i in range(3):
        seq = append(where, "run", {"i": i})
        # Each record arrives as it is written, before the next one exists.
        datagram = sock.recv(1 << 17)
        line = read_lines(where)[0][-1]
        assert datagram.startswith(b"<86>")  # authpriv.info
        prefix, sep, message = datagram.partition(b"]: ")
        assert sep and b" mppoci[" in prefix
        assert message == line and json.loads(message)["seq"] == seq


def test_records_are_forwarded_to_journald_as_written(
    where: Locations, listener: tuple[socket.socket, Path]
) -> None:
    sock, path = listener
    _configure(where, {"forward": "journald", "socket": str(path)})
    seq = append(where, "trust.add", {"keyId": "abc"})
    fields = dict(entry.split(b"=", 1) for entry in sock.recv(1 << 17).split(b"\n") if entry)
    assert fields[b"MESSAGE"] == read_lines(where)[0][-1]
    assert fields[b"SYSLOG_IDENTIFIER"] == b"mppoci"
    assert fields[b"MPPOCI_AUDIT_SEQ"] == str(seq).encode()


def test_unreachable_forwarding_socket_keeps_the_local_record(
    where: Locations, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _configure(where, {"forward": "syslog", "socket": str(tmp_path / "nobody-listens")})
    with caplog.at_level(logging.WARNING, logger="mppoci.audit"):
        append(where, "run", {})
    assert len(read_lines(where)[0]) == 1 and verify_log(where).intact
    assert "audit record 1 was not forwarded to syslog" in caplog.text


def test_misspelt_forwarding_setting_refuses_to_write_unforwarded(where: Locations) -> None:
    settings_path(where).parent.mkdir(parents=True, exist_ok=True)
    settings_path(where).write_text(json.dumps({"audit": {"froward": "syslog"}}))
    with pytest.raises(UserInputError, match="unknown field"):
        append(where, "run", {})
    assert read_lines(where)[0] == []

"""The audit log file: appends that never interleave or half-land, and reads.

Appends take an exclusive lock on the log itself, read the last record to
link to it, write the new line with one ``write`` and fsync before releasing
the lock: many `mppoci run` at once produce one unbroken chain. A crash
mid-write can leave only an unterminated last line; the next append cuts it
off (it was never a complete record) and notes how many bytes it dropped.
Still under the lock, the new head is written to ``audit.head`` (so records
cut off the end are noticed) and the record is forwarded when the settings
ask for it. Verification reads the log and the head under a shared lock.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.audit.chain import (
    GENESIS,
    MAX_RECORD_BYTES,
    Report,
    line_hash,
    make_line,
    verify_lines,
)
from mppoci.audit.forward import forward
from mppoci.audit.head import (
    Head,
    HeadDamagedError,
    head_mismatch,
    head_path,
    parse_head,
    write_head,
)
from mppoci.errors import AuditLogCutError, StoreError, UserInputError
from mppoci.fsutil import read_optional
from mppoci.locations import Locations
from mppoci.settings import load_settings


def log_path(locations: Locations) -> Path:
    return locations.state / "audit.log"


def key_path(locations: Locations) -> Path:
    return locations.config / "audit.key"


def actor() -> dict[str, Any]:
    return {
        "user": getpass.getuser(),
        "uid": os.getuid(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load_signing_key(locations: Locations) -> ec.EllipticCurvePrivateKey | None:
    try:
        data = key_path(locations).read_bytes()
    except FileNotFoundError:
        return None
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UserInputError(f"{key_path(locations)} is not an ECDSA key")
    return key


def create_signing_key(locations: Locations) -> Path:
    """A local audit key (ECDSA P-256), readable only by its owner."""
    path = key_path(locations)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserInputError(f"{path} already exists") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        os.fsync(f.fileno())
    return path


def _last_line(fd: int, size: int) -> tuple[bytes | None, int]:
    """(the last complete line, the offset where complete lines end).

    Records are at most MAX_RECORD_BYTES, so the last complete line and any
    torn tail after it lie within the final three such spans."""
    start = max(0, size - 3 * MAX_RECORD_BYTES)
    window = os.pread(fd, size - start, start)
    end = window.rfind(b"\n")
    if end < 0:
        return None, start  # nothing complete: all of it is a torn tail
    body = window[:end]
    previous = body.rfind(b"\n")
    if previous < 0 and start > 0:
        raise ValueError("the last audit record is larger than records can be")
    return body[previous + 1 :], start + end + 1


def _fields_of(line: bytes) -> tuple[int, str | None]:
    """The sequence number and ``prev`` link of a record line. Raises
    ValueError when it has no sequence number."""
    try:
        record = json.loads(line)
    except RecursionError:
        record = None
    seq = record.get("seq") if isinstance(record, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("the last record has no sequence number (the log was edited)")
    prev = record.get("prev") if isinstance(record, dict) else None
    return seq, prev if isinstance(prev, str) else None


def _cut_error(path: Path, why: str) -> AuditLogCutError:
    return AuditLogCutError(
        f"the audit log {path} was cut or its head removed: {why}; nothing more is "
        "recorded (and nothing audited runs) until this is looked at",
        hint="run `mppoci audit verify` to see what is missing; keep the files as evidence "
        "and compare them with an exported copy, a checkpoint or the forwarded records. "
        "Once you accept the log as it is, `mppoci audit acknowledge-cut` writes a record "
        "saying where it was cut and lets mppoci record again",
    )


def _open_log(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as e:
        raise StoreError(f"cannot open the audit log {path}: {e.strerror}") from None


def _read_head_bytes(locations: Locations) -> Head | str | None:
    """The head, None when there is none, or why it cannot be read."""
    try:
        data = read_optional(head_path(locations))
        return None if data is None else parse_head(data)
    except HeadDamagedError as e:
        return f"{head_path(locations)} is damaged ({e})"


def _tail_state(
    locations: Locations, fd: int, *, trim: bool
) -> tuple[bytes | None, int, str | None]:
    """(last complete line, torn bytes cut off, why the head does not match).
    Call with the log locked; ``trim`` cuts a torn tail off (exclusive lock)."""
    size = os.fstat(fd).st_size
    last, end = _last_line(fd, size)
    torn = size - end
    if torn and trim:
        os.ftruncate(fd, end)  # a torn, never-completed record
    head = _read_head_bytes(locations)
    if isinstance(head, str):
        return last, torn, head
    if last is None:
        return last, torn, head_mismatch(head, None, None, lambda _: None)
    seq, _ = _fields_of(last)
    return last, torn, head_mismatch(head, seq, line_hash(last), lambda s: _hash_at(fd, end, s))


def _hash_at(fd: int, end: int, seq: int) -> str | None:
    """The hash of the record numbered ``seq`` in the log's first ``end``
    bytes, or None. Reads the log whole: only needed when the head lags
    (after a crash between a record and its head)."""
    data = os.pread(fd, end, 0)
    for line in reversed(data.split(b"\n")[:-1]):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and record.get("seq") == seq:
            return line_hash(line)
    return None


def ensure_appendable(locations: Locations) -> None:
    """Refuse now what an append would refuse later: an operation that must be
    recorded (a run) checks this before it starts. Raises AuditLogCutError,
    StoreError."""
    path = log_path(locations)
    fd = _open_log(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        _, _, why = _tail_state(locations, fd, trim=False)
    except (OSError, ValueError) as e:
        raise StoreError(f"cannot read the audit log {path}: {e}") from None
    finally:
        os.close(fd)
    if why is not None:
        raise _cut_error(path, why)


def append(
    locations: Locations,
    event: str,
    data: dict[str, Any],
    *,
    signing_key: ec.EllipticCurvePrivateKey | None = None,
) -> int:
    """Append one record; return its sequence number. Raises StoreError,
    AuditLogCutError (the log no longer reaches its head: the head never
    moves backwards on its own)."""
    return _append(locations, event, data, signing_key=signing_key, acknowledge=False)[0]


def acknowledge_cut(locations: Locations) -> tuple[int, str]:
    """Record that a person accepted the log as it is now, cut or without its
    head: an ``audit.cut`` record saying where the head was and where the log
    ends, and a new head at that record. Returns (its seq, what was
    acknowledged). Raises UserInputError when the log reaches its head."""
    seq, why = _append(locations, "audit.cut", {}, signing_key=None, acknowledge=True)
    assert why is not None
    return seq, why


def _append(
    locations: Locations,
    event: str,
    data: dict[str, Any],
    *,
    signing_key: ec.EllipticCurvePrivateKey | None,
    acknowledge: bool,
) -> tuple[int, str | None]:
    path = log_path(locations)
    key = signing_key if signing_key is not None else load_signing_key(locations)
    # Read before the record is written: a broken settings file stops the
    # operation rather than silently not forwarding.
    forwarding = load_settings(locations).audit_forwarding
    fd = _open_log(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last, torn, why = _tail_state(locations, fd, trim=True)
        if torn:
            data = {**data, "recoveredTornBytes": torn}
        if acknowledge:
            if why is None:
                raise UserInputError(
                    f"the audit log {path} reaches its head: there is no cut to acknowledge",
                    hint="`mppoci audit verify` checks the whole chain",
                )
            head = _read_head_bytes(locations)
            data = {
                **data,
                "reason": why,
                "headSeq": head.seq if isinstance(head, Head) else None,
                "headHash": head.hash if isinstance(head, Head) else None,
                "logEndsAt": _fields_of(last)[0] if last is not None else 0,
            }
        elif why is not None:
            raise _cut_error(path, why)
        seq = 1
        prev = GENESIS
        if last is not None:
            seq = _fields_of(last)[0] + 1
            prev = line_hash(last)
        line = make_line(
            seq=seq, prev=prev, time=_now(), event=event, actor=actor(), data=data, key=key
        )
        os.write(fd, line + b"\n")
        os.fsync(fd)
        write_head(locations, Head(seq, line_hash(line)))
        if forwarding is not None:
            forward(forwarding, line, seq=seq)
        return seq, why
    except (OSError, ValueError, KeyError) as e:
        raise StoreError(f"cannot append to the audit log {path}: {e}") from None
    finally:
        os.close(fd)


def _split(data: bytes) -> tuple[list[bytes], bool]:
    torn = bool(data) and not data.endswith(b"\n")
    return data.split(b"\n")[:-1], torn


def read_lines(locations: Locations) -> tuple[list[bytes], bool]:
    """All complete lines, and whether an incomplete last line was found."""
    try:
        data = log_path(locations).read_bytes()
    except FileNotFoundError:
        return [], False
    return _split(data)


def _snapshot(locations: Locations) -> tuple[bytes, bytes | None]:
    """The log's bytes and the head file's, read together under a shared lock
    on the log, so that no append lands between the two reads."""
    try:
        fd = os.open(log_path(locations), os.O_RDONLY)
    except FileNotFoundError:
        # No log at all: a head file then means the whole log was removed.
        try:
            return b"", head_path(locations).read_bytes()
        except FileNotFoundError:
            return b"", None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        try:
            head = head_path(locations).read_bytes()
        except FileNotFoundError:
            head = None
        return b"".join(chunks), head
    finally:
        os.close(fd)


def verify_log(
    locations: Locations,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    checkpoint: tuple[int, str] | None = None,
) -> Report:
    """Check the chain, the checkpoint if given, and the head kept in ``audit.head``."""
    try:
        data, head_bytes = _snapshot(locations)
    except OSError as e:
        raise StoreError(f"cannot read the audit log {log_path(locations)}: {e.strerror}") from None
    lines, torn = _split(data)
    head: tuple[int, str] | str | None = None
    if head_bytes is None and lines:
        # Fail closed: removing the head file must not be a way to hide a cut.
        head = (
            f"there is no {head_path(locations)} beside the log "
            "(removed, or last written by an older mppoci)"
        )
    elif head_bytes is not None:
        try:
            kept = parse_head(head_bytes)
            head = (kept.seq, kept.hash)
        except HeadDamagedError as e:
            head = f"{head_path(locations)} is damaged ({e})"
    if key is None:
        signer = load_signing_key(locations)
        key = signer.public_key() if signer is not None else None
    return verify_lines(lines, key=key, checkpoint=checkpoint, torn_tail=torn, head=head)


def records(locations: Locations) -> Iterator[dict[str, Any]]:
    lines, _ = read_lines(locations)
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            yield record
